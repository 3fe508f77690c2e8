//! Rows as the engine sees them: typed ids and statuses, times as `OffsetDateTime`.

use domain::checks::CheckResult;
use domain::ids::{
    AccountId, ApiKeyId, DocumentId, EventId, InquiryId, SessionId, TemplateId, TemplateVersionId,
    VerificationId,
};
use domain::inquiry::InquiryStatus;
use domain::verification::VerificationStatus;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// One inquiry.
#[derive(Debug, Clone, PartialEq)]
pub struct InquiryRecord {
    pub id: InquiryId,
    pub template_id: TemplateId,
    pub template_version_id: TemplateVersionId,
    pub status: InquiryStatus,
    pub reference_id: Option<String>,
    pub account_id: Option<AccountId>,
    pub note: Option<String>,
    pub tags: Vec<String>,
    pub redirect_uri: Option<String>,
    pub fields: BTreeMap<String, String>,
    /// What the person last typed when it was refused; cleared when the fields are accepted.
    pub field_draft: Option<BTreeMap<String, String>>,
    pub fields_submitted_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
    pub failed_at: Option<OffsetDateTime>,
    pub expired_at: Option<OffsetDateTime>,
    pub decisioned_at: Option<OffsetDateTime>,
    pub redacted_at: Option<OffsetDateTime>,
    pub expires_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One session of the individual on one inquiry. Only the token's hash is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub inquiry_id: InquiryId,
    pub token_hash: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// One stored file the individual provided.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentRecord {
    pub id: DocumentId,
    pub inquiry_id: InquiryId,
    pub kind: String,
    pub side: String,
    pub object_key: String,
    pub content_type: String,
    pub byte_size: u64,
    pub sha256: String,
    pub created_at: OffsetDateTime,
}

/// One verification attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct VerificationRecord {
    pub id: VerificationId,
    pub inquiry_id: InquiryId,
    pub kind: String,
    pub attempt: u32,
    pub status: VerificationStatus,
    pub document_id: Option<DocumentId>,
    pub checks: Vec<CheckResult>,
    pub created_at: OffsetDateTime,
    pub submitted_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
}

/// One immutable event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: EventId,
    pub name: String,
    pub object_type: String,
    pub object_id: String,
    pub inquiry_id: InquiryId,
    pub sequence: i64,
    pub payload: serde_json::Value,
    pub created_at: OffsetDateTime,
}

/// A template version as pinned by inquiries.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateVersionRecord {
    pub id: TemplateVersionId,
    pub template_id: TemplateId,
    pub content: String,
    pub created_at: OffsetDateTime,
}

/// An API key of the organization; only its hash is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub name: String,
    pub key_hash: String,
    pub key_prefix: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A user in the organization's own system.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRecord {
    pub id: AccountId,
    pub reference_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}
