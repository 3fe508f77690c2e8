-- Government-ID verifications with both sides of the document: the class and issuing country the
-- person chose, the photo of the back, and the attributes read from the document (sealed with
-- the data key, erased by redaction).
ALTER TABLE verifications ADD COLUMN country_code TEXT;
ALTER TABLE verifications ADD COLUMN id_class TEXT;
ALTER TABLE verifications ADD COLUMN back_document_id TEXT REFERENCES documents (id);
ALTER TABLE verifications ADD COLUMN extracted TEXT;
