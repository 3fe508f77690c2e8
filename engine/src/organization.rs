//! The organization's operations behind the REST API: API keys, inquiries (list, update,
//! decisions, resume, one-time links, redaction), accounts, and read access to verifications,
//! documents and events.

use crate::api_keys;
use crate::error::EngineError;
use crate::flow::{hash_token, new_session_token, validate_reference_id, Engine};
use crate::lifecycle;
use crate::records::{
    AccountRecord, ApiKeyRecord, DocumentRecord, EventRecord, InquiryRecord, SessionRecord,
    VerificationRecord,
};
use crate::store::{
    EventFilter, IdempotencyClaim, InquiryFilter, Page, PageRequest, StoreError, Write,
};
use base64::Engine as _;
use domain::ids::{AccountId, ApiKeyId, DocumentId, EventId, InquiryId, SessionId, VerificationId};
use domain::inquiry::InquiryCause;
use rand::RngCore;
use std::collections::BTreeMap;

/// Changes to an open inquiry's organization-set attributes; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InquiryPatch {
    /// Field values to set (merged into the existing ones), validated against the template.
    pub fields: Option<BTreeMap<String, String>>,
    pub tags: Option<Vec<String>>,
    /// `Some(None)` clears the note.
    pub note: Option<Option<String>>,
}

/// The most tags an inquiry carries, and the longest tag and note.
pub const MAX_TAGS: usize = 50;
const MAX_TAG_CHARS: usize = 100;
const MAX_NOTE_CHARS: usize = 5_000;

/// Checks tags and a note the organization sets.
pub fn validate_tags_and_note(tags: &[String], note: Option<&str>) -> Result<(), EngineError> {
    if tags.len() > MAX_TAGS {
        return Err(EngineError::InvalidInput(format!(
            "at most {MAX_TAGS} tags"
        )));
    }
    if tags.iter().any(|tag| {
        tag.trim().is_empty()
            || tag.chars().count() > MAX_TAG_CHARS
            || tag.chars().any(char::is_control)
    }) {
        return Err(EngineError::InvalidInput(format!(
            "tags must be 1 to {MAX_TAG_CHARS} printable characters"
        )));
    }
    if note.is_some_and(|note| note.chars().count() > MAX_NOTE_CHARS) {
        return Err(EngineError::InvalidInput(format!(
            "note must be at most {MAX_NOTE_CHARS} characters"
        )));
    }
    Ok(())
}

/// How stale an API key's `last_used_at` may be.
pub const LAST_USED_PRECISION: time::Duration = time::Duration::minutes(1);

impl Engine {
    /// A new session on an inquiry, living as long as the inquiry; returns its token (only the
    /// hash is stored).
    async fn open_session(&self, inquiry: &InquiryRecord) -> Result<String, EngineError> {
        let token = new_session_token();
        let session = SessionRecord {
            id: SessionId::new(),
            inquiry_id: inquiry.id.clone(),
            token_hash: hash_token(&token),
            created_at: self.clock.now(),
            expires_at: inquiry.expires_at,
            revoked_at: None,
        };
        lifecycle::commit(
            self.store.as_ref(),
            inquiry,
            vec![Write::InsertSession(session)],
        )
        .await?;
        Ok(token)
    }

    /// Creates an API key; the key itself is returned once and only its hash is stored.
    pub async fn create_api_key(&self, name: &str) -> Result<(ApiKeyRecord, String), EngineError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(EngineError::InvalidInput(
                "the key's name must be 1 to 100 printable characters".into(),
            ));
        }
        let key = api_keys::generate();
        let record = ApiKeyRecord {
            id: ApiKeyId::new(),
            name: name.to_owned(),
            key_hash: api_keys::hash(&key),
            key_prefix: api_keys::display_prefix(&key),
            created_at: self.clock.now(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.insert_api_key(&record).await?;
        Ok((record, key))
    }

    /// Every API key, oldest first (without their secrets, which are not stored).
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, EngineError> {
        Ok(self.store.api_keys().await?)
    }

    /// Revokes a key; false when there was no such active key.
    pub async fn revoke_api_key(&self, id: &ApiKeyId) -> Result<bool, EngineError> {
        Ok(self.store.revoke_api_key(id, self.clock.now()).await?)
    }

    /// The active key a bearer token names, or `None` (malformed, unknown or revoked). A key's
    /// `last_used_at` is kept to within [`LAST_USED_PRECISION`]: stamped on its first use and
    /// then at most once in that time, so that authenticating is not a write per request.
    pub async fn authenticate_api_key(
        &self,
        key: &str,
    ) -> Result<Option<ApiKeyRecord>, EngineError> {
        if !api_keys::is_well_formed(key) {
            return Ok(None);
        }
        let hash = api_keys::hash(key);
        let found = self.store.api_key_by_hash(&hash).await?;
        let Some(mut record) = found.filter(|record| {
            api_keys::hashes_match(&record.key_hash, &hash) && record.revoked_at.is_none()
        }) else {
            return Ok(None);
        };
        let now = self.clock.now();
        let unless_since = now - LAST_USED_PRECISION;
        if record.last_used_at.is_none_or(|used| used < unless_since) {
            let touch = Write::TouchApiKey {
                id: record.id.clone(),
                at: now,
                unless_since,
            };
            // The request goes on even if the stamp could not be written.
            match self.store.commit(vec![touch]).await {
                Ok(()) => record.last_used_at = Some(now),
                Err(error) => {
                    tracing::warn!(api_key.id = %record.id, error = %error, "could not stamp the API key's last use")
                }
            }
        }
        Ok(Some(record))
    }

    /// An inquiry by id, expired first when its time has passed.
    pub async fn inquiry(&self, id: &InquiryId) -> Result<InquiryRecord, EngineError> {
        self.touch(id).await
    }

    /// A page of inquiries, newest first.
    pub async fn list_inquiries(
        &self,
        filter: &InquiryFilter,
        page: &PageRequest,
    ) -> Result<Page<InquiryRecord>, EngineError> {
        Ok(self.store.list_inquiries(filter, page).await?)
    }

    /// Updates fields, tags or note of an inquiry that is still open (`created` or `pending`).
    pub async fn update_inquiry(
        &self,
        id: &InquiryId,
        patch: InquiryPatch,
    ) -> Result<InquiryRecord, EngineError> {
        let inquiry = self.touch(id).await?;
        if !inquiry.status.is_open() || inquiry.redacted_at.is_some() {
            return Err(EngineError::Conflict {
                current: inquiry.status,
            });
        }
        let version = self
            .templates
            .version(self.store.as_ref(), &inquiry.template_version_id)
            .await?;
        let mut fields = inquiry.fields.clone();
        if let Some(changes) = patch.fields {
            let today = self.clock.now().date();
            let mut errors = BTreeMap::new();
            for (key, value) in changes {
                match version.template.field(&key) {
                    None => {
                        errors.insert(
                            key.clone(),
                            domain::fields::FieldError::UnknownField { key },
                        );
                    }
                    Some(field) => match field.validate(&value, today) {
                        Ok(Some(normalized)) => {
                            fields.insert(key, normalized);
                        }
                        Ok(None) => {
                            fields.remove(&key);
                        }
                        Err(error) => {
                            errors.insert(key, error);
                        }
                    },
                }
            }
            if !errors.is_empty() {
                return Err(EngineError::InvalidFields(errors));
            }
        }
        let tags = patch.tags.unwrap_or_else(|| inquiry.tags.clone());
        let note = patch.note.unwrap_or_else(|| inquiry.note.clone());
        validate_tags_and_note(&tags, note.as_deref())?;
        let write = Write::UpdateInquiryAttributes {
            id: inquiry.id.clone(),
            fields,
            tags,
            note,
            at: self.clock.now(),
        };
        lifecycle::commit(self.store.as_ref(), &inquiry, vec![write]).await?;
        self.touch(id).await
    }

    /// Approve, decline, mark for review or expire, through the lifecycle service.
    pub async fn decide(
        &self,
        id: &InquiryId,
        cause: InquiryCause,
    ) -> Result<InquiryRecord, EngineError> {
        self.apply_cause(id, cause).await
    }

    /// A new session token for an open inquiry, so the individual can resume it.
    pub async fn resume_inquiry(
        &self,
        id: &InquiryId,
    ) -> Result<(InquiryRecord, String), EngineError> {
        let inquiry = self.touch(id).await?;
        if !inquiry.status.is_open() || inquiry.redacted_at.is_some() {
            return Err(EngineError::Conflict {
                current: inquiry.status,
            });
        }
        let token = self.open_session(&inquiry).await?;
        Ok((inquiry, token))
    }

    /// A single-use code for `/verify?code=…`, valid until the inquiry expires; only its hash is kept.
    pub async fn generate_one_time_link(
        &self,
        id: &InquiryId,
    ) -> Result<(InquiryRecord, String), EngineError> {
        let inquiry = self.touch(id).await?;
        if !inquiry.status.is_open() || inquiry.redacted_at.is_some() {
            return Err(EngineError::Conflict {
                current: inquiry.status,
            });
        }
        let mut secret = [0u8; 24];
        rand::rng().fill_bytes(&mut secret);
        let code = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let write = Write::InsertOneTimeLink {
            code_hash: hash_token(&code),
            inquiry_id: inquiry.id.clone(),
            created_at: self.clock.now(),
            expires_at: inquiry.expires_at,
        };
        lifecycle::commit(self.store.as_ref(), &inquiry, vec![write]).await?;
        Ok((inquiry, code))
    }

    /// Spends a one-time code: the first time, a new session on its inquiry; then never again.
    pub async fn redeem_one_time_link(
        &self,
        code: &str,
    ) -> Result<(InquiryRecord, String), EngineError> {
        if code.is_empty() || code.len() > 100 {
            return Err(EngineError::Unauthorized);
        }
        let inquiry_id = self
            .store
            .redeem_one_time_link(&hash_token(code), self.clock.now())
            .await?
            .ok_or(EngineError::Unauthorized)?;
        let inquiry = self.touch(&inquiry_id).await?;
        let token = self.open_session(&inquiry).await?;
        Ok((inquiry, token))
    }

    /// Redacts an inquiry: erases its personal fields and its document files, ends its sessions
    /// and links, keeps ids, statuses and timestamps, and records `inquiry.redacted`.
    pub async fn redact_inquiry(&self, id: &InquiryId) -> Result<InquiryRecord, EngineError> {
        let inquiry = self.touch(id).await?;
        if inquiry.redacted_at.is_some() {
            return Ok(inquiry);
        }
        let documents = self.store.documents_of(&inquiry.id).await?;
        match lifecycle::commit(
            self.store.as_ref(),
            &inquiry,
            lifecycle::redact_inquiry(&inquiry, self.clock.now()),
        )
        .await
        {
            Ok(()) | Err(EngineError::Conflict { .. }) => {}
            Err(other) => return Err(other),
        }
        for document in documents {
            // A file that is already gone is what we want; anything else is logged and retried
            // by the next redaction request.
            if let Err(error) = self.documents.delete(&document.object_key).await {
                tracing::warn!(document.id = %document.id, error = %error, "could not delete a redacted document file");
            }
        }
        tracing::info!(inquiry.id = %inquiry.id, "inquiry redacted");
        self.touch(id).await
    }

    /// Creates an account, or returns the existing one for the same reference id.
    pub async fn create_account(
        &self,
        reference_id: Option<String>,
    ) -> Result<(AccountRecord, bool), EngineError> {
        if let Some(reference) = &reference_id {
            validate_reference_id(reference)?;
            if let Some(existing) = self.store.account_by_reference(reference).await? {
                return Ok((existing, false));
            }
        }
        let now = self.clock.now();
        let account = AccountRecord {
            id: AccountId::new(),
            reference_id: reference_id.clone(),
            created_at: now,
            updated_at: now,
        };
        match self
            .store
            .commit(vec![Write::InsertAccount(account.clone())])
            .await
        {
            Ok(()) => Ok((account, true)),
            Err(StoreError::Conflict) => {
                let reference = reference_id.unwrap_or_default();
                let existing = self
                    .store
                    .account_by_reference(&reference)
                    .await?
                    .ok_or(EngineError::NotFound { kind: "account" })?;
                Ok((existing, false))
            }
            Err(error) => Err(error.into()),
        }
    }

    pub async fn account(&self, id: &AccountId) -> Result<AccountRecord, EngineError> {
        self.store
            .account(id)
            .await?
            .ok_or(EngineError::NotFound { kind: "account" })
    }

    pub async fn list_accounts(
        &self,
        reference_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AccountRecord>, EngineError> {
        Ok(self.store.list_accounts(reference_id, page).await?)
    }

    pub async fn verification(
        &self,
        id: &VerificationId,
    ) -> Result<VerificationRecord, EngineError> {
        self.store
            .verification(id)
            .await?
            .ok_or(EngineError::NotFound {
                kind: "verification",
            })
    }

    pub async fn document(&self, id: &DocumentId) -> Result<DocumentRecord, EngineError> {
        self.store
            .document(id)
            .await?
            .ok_or(EngineError::NotFound { kind: "document" })
    }

    pub async fn event(&self, id: &EventId) -> Result<EventRecord, EngineError> {
        self.store
            .event(id)
            .await?
            .ok_or(EngineError::NotFound { kind: "event" })
    }

    pub async fn list_events(
        &self,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> Result<Page<EventRecord>, EngineError> {
        Ok(self.store.list_events(filter, page).await?)
    }

    /// Claims an idempotency key for a request (see [`IdempotencyClaim`]).
    pub async fn claim_idempotency_key(
        &self,
        api_key: &ApiKeyId,
        key: &str,
        request_hash: &str,
    ) -> Result<IdempotencyClaim, EngineError> {
        Ok(self
            .store
            .claim_idempotency_key(api_key, key, request_hash, self.clock.now())
            .await?)
    }

    /// Stores the response of a claimed idempotency key.
    pub async fn complete_idempotency_key(
        &self,
        api_key: &ApiKeyId,
        key: &str,
        status: u16,
        body: &[u8],
        resource_id: Option<&str>,
    ) -> Result<(), EngineError> {
        Ok(self
            .store
            .complete_idempotency_key(api_key, key, status, body, resource_id)
            .await?)
    }

    /// Releases a claimed key whose request failed on our side.
    pub async fn release_idempotency_key(
        &self,
        api_key: &ApiKeyId,
        key: &str,
    ) -> Result<(), EngineError> {
        Ok(self.store.release_idempotency_key(api_key, key).await?)
    }

    /// Forgets idempotency keys older than `age` (at least 24 hours are kept).
    pub async fn purge_idempotency_keys(&self, age: time::Duration) -> Result<u64, EngineError> {
        let age = age.max(time::Duration::hours(24));
        Ok(self
            .store
            .purge_idempotency_keys(self.clock.now() - age)
            .await?)
    }
}
