//! The store seam: what the engine needs from a database, so SQLite and PostgreSQL can both serve it.
//!
//! Writes go through [`Store::commit`], which applies a batch of [`Write`]s atomically: every
//! guarded write checks the state it expects, and if any guard fails nothing is written
//! ([`StoreError::Conflict`]). Only the lifecycle service builds status-changing writes.

pub mod sqlite;

use crate::records::{
    DocumentRecord, EventRecord, InquiryRecord, SessionRecord, TemplateVersionRecord,
    VerificationRecord,
};
use async_trait::async_trait;
use domain::checks::CheckResult;
use domain::ids::{EventId, InquiryId, TemplateVersionId, VerificationId};
use domain::inquiry::InquiryStatus;
use domain::verification::VerificationStatus;
use std::collections::BTreeMap;
use thiserror::Error;
use time::OffsetDateTime;

pub use sqlite::SqliteStore;

/// A store failure.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A guarded write found the row in another state; the whole batch was rolled back.
    #[error("a guarded write found the row changed; nothing was written")]
    Conflict,
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

/// An event to append; the store gives it the next `sequence` of its object.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: EventId,
    pub name: &'static str,
    pub object_type: &'static str,
    pub object_id: String,
    pub inquiry_id: InquiryId,
    pub payload: serde_json::Value,
    pub created_at: OffsetDateTime,
}

/// One write in an atomic batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    InsertInquiry(InquiryRecord),
    /// `UPDATE … SET status = to WHERE id = ? AND status = from`, stamping the status's time column.
    TransitionInquiry {
        id: InquiryId,
        from: InquiryStatus,
        to: InquiryStatus,
        at: OffsetDateTime,
    },
    /// Saves the submitted fields once: guarded on no fields having been submitted before.
    SubmitInquiryFields {
        id: InquiryId,
        fields: BTreeMap<String, String>,
        at: OffsetDateTime,
    },
    /// Keeps what the person typed when it was refused, so nothing is lost (guarded like above).
    SaveFieldDraft {
        id: InquiryId,
        draft: BTreeMap<String, String>,
    },
    InsertSession(SessionRecord),
    InsertDocument(DocumentRecord),
    InsertVerification(VerificationRecord),
    /// Guarded like `TransitionInquiry`; `checks` replaces the stored check results when given.
    TransitionVerification {
        id: VerificationId,
        from: VerificationStatus,
        to: VerificationStatus,
        at: OffsetDateTime,
        checks: Option<Vec<CheckResult>>,
    },
    InsertEvent(NewEvent),
}

/// What the engine needs from a database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies every write or none.
    async fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    /// Records a template version (no-op when it is already known).
    async fn save_template_version(
        &self,
        version: &TemplateVersionRecord,
    ) -> Result<(), StoreError>;
    async fn template_version(
        &self,
        id: &TemplateVersionId,
    ) -> Result<Option<TemplateVersionRecord>, StoreError>;
    async fn inquiry(&self, id: &InquiryId) -> Result<Option<InquiryRecord>, StoreError>;
    async fn session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Verifications of an inquiry, oldest first.
    async fn verifications_of(
        &self,
        inquiry_id: &InquiryId,
    ) -> Result<Vec<VerificationRecord>, StoreError>;
    /// Documents of an inquiry, oldest first.
    async fn documents_of(&self, inquiry_id: &InquiryId)
        -> Result<Vec<DocumentRecord>, StoreError>;
    /// Events about an inquiry and its verifications, oldest first.
    async fn events_of(&self, inquiry_id: &InquiryId) -> Result<Vec<EventRecord>, StoreError>;
    /// Open inquiries whose expiry time has passed, at most `limit`.
    async fn overdue_inquiries(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<InquiryId>, StoreError>;
    /// True when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}
