//! Document files: collected under a size limit while streaming, typed by their bytes, hashed,
//! and stored through `object_store` (a local folder by default).

use crate::error::EngineError;
use anyhow::Context;
use bytes::{Bytes, BytesMut};
use domain::ids::{DocumentId, InquiryId};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// Gathers an upload chunk by chunk and refuses it as soon as it passes the limit, so a client
/// cannot make the server buffer more than `limit` bytes.
#[derive(Debug)]
pub struct UploadBuffer {
    bytes: BytesMut,
    limit: u64,
}

impl UploadBuffer {
    /// An empty buffer that accepts at most `limit` bytes.
    pub fn new(limit: u64) -> UploadBuffer {
        UploadBuffer {
            bytes: BytesMut::new(),
            limit,
        }
    }

    /// Appends a chunk, or refuses when the total would pass the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), EngineError> {
        if self.bytes.len() as u64 + chunk.len() as u64 > self.limit {
            return Err(EngineError::TooLarge {
                limit_bytes: self.limit,
            });
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// Bytes gathered so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when nothing arrived.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The whole upload.
    pub fn finish(self) -> Bytes {
        self.bytes.freeze()
    }
}

/// Where document files live.
#[derive(Debug, Clone)]
pub struct DocumentStorage {
    objects: Arc<dyn ObjectStore>,
}

/// What storing a file produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub object_key: String,
    pub sha256: String,
    pub byte_size: u64,
}

impl DocumentStorage {
    /// Files in a local folder (created when missing).
    pub fn local(dir: &Path) -> anyhow::Result<DocumentStorage> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the documents folder {}", dir.display()))?;
        let objects = LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("opening the documents folder {}", dir.display()))?;
        Ok(DocumentStorage {
            objects: Arc::new(objects),
        })
    }

    /// Any object store (S3-compatible, in memory, …).
    pub fn with_store(objects: Arc<dyn ObjectStore>) -> DocumentStorage {
        DocumentStorage { objects }
    }

    /// Stores a document's file under `inquiries/<inquiry>/<document>.<extension>`.
    pub async fn put(
        &self,
        inquiry_id: &InquiryId,
        document_id: &DocumentId,
        extension: &str,
        bytes: Bytes,
    ) -> anyhow::Result<StoredFile> {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let byte_size = bytes.len() as u64;
        let object_key = format!("inquiries/{inquiry_id}/{document_id}.{extension}");
        self.objects
            .put(
                &ObjectPath::from(object_key.as_str()),
                PutPayload::from_bytes(bytes),
            )
            .await
            .context("storing a document file")?;
        Ok(StoredFile {
            object_key,
            sha256,
            byte_size,
        })
    }

    /// Reads a stored file back.
    pub async fn get(&self, object_key: &str) -> anyhow::Result<Bytes> {
        let result = self
            .objects
            .get(&ObjectPath::from(object_key))
            .await
            .context("reading a document file")?;
        result.bytes().await.context("reading a document file")
    }

    /// Removes a stored file (used when the database write that should reference it failed).
    pub async fn delete(&self, object_key: &str) -> anyhow::Result<()> {
        self.objects
            .delete(&ObjectPath::from(object_key))
            .await
            .context("deleting a document file")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_past_the_limit_are_refused_early() {
        let mut buffer = UploadBuffer::new(10);
        buffer.push(b"12345").unwrap();
        buffer.push(b"67890").unwrap();
        assert!(matches!(
            buffer.push(b"x"),
            Err(EngineError::TooLarge { limit_bytes: 10 })
        ));
        assert_eq!(buffer.finish().as_ref(), b"1234567890");
    }

    #[tokio::test]
    async fn files_round_trip_with_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let storage = DocumentStorage::local(dir.path()).unwrap();
        let inquiry = InquiryId::new();
        let document = DocumentId::new();
        let stored = storage
            .put(&inquiry, &document, "jpg", Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(stored.byte_size, 5);
        assert_eq!(
            stored.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(
            storage.get(&stored.object_key).await.unwrap().as_ref(),
            b"hello"
        );
        assert!(dir.path().join(&stored.object_key).exists());
    }
}
