//! Rows as the engine sees them: typed ids and statuses, times as `OffsetDateTime`.

use domain::checks::CheckResult;
use domain::ids::{
    AccountId, ApiKeyId, DocumentId, EventId, InquiryId, SessionId, TemplateId, TemplateVersionId,
    VerificationId, WebhookAttemptId, WebhookId,
};
use domain::inquiry::InquiryStatus;
use domain::verification::VerificationStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// One inquiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The issuing country (alpha-2) the person chose, for government IDs.
    #[serde(default)]
    pub country_code: Option<String>,
    /// The class of document the person chose (`dl`, `id`, `pp`).
    #[serde(default)]
    pub id_class: Option<String>,
    /// The photo of the back of the document, when the document has one worth reading.
    #[serde(default)]
    pub back_document_id: Option<DocumentId>,
    /// What was read from the document (JSON), sealed with the data key; never part of event
    /// snapshots, erased by redaction.
    #[serde(skip)]
    pub extracted_sealed: Option<String>,
}

/// One immutable event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: EventId,
    pub name: String,
    pub object_type: String,
    pub object_id: String,
    /// The inquiry the object belongs to; `None` for objects outside inquiries (webhooks).
    pub inquiry_id: Option<InquiryId>,
    pub sequence: i64,
    /// The object as it was when the event was written (`None` for events written before
    /// snapshots were stored).
    pub object: Option<ObjectSnapshot>,
    /// The status the object left, when the event is a status change.
    pub previous_status: Option<String>,
    pub created_at: OffsetDateTime,
}

/// An object as it was when an event about it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectSnapshot {
    Inquiry(Box<InquiryRecord>),
    Verification(Box<VerificationRecord>),
    Webhook(Box<WebhookRecord>),
}

/// Whether a webhook receives deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    Enabled,
    Disabled,
}

impl WebhookStatus {
    /// The stored and API form.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookStatus::Enabled => "enabled",
            WebhookStatus::Disabled => "disabled",
        }
    }

    /// Reads the stored form.
    pub fn parse(value: &str) -> Option<WebhookStatus> {
        match value {
            "enabled" => Some(WebhookStatus::Enabled),
            "disabled" => Some(WebhookStatus::Disabled),
            _ => None,
        }
    }
}

/// An endpoint subscribed to events. Its signing secrets are kept apart (sealed) and never part
/// of this record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookRecord {
    pub id: WebhookId,
    pub url: String,
    /// Event names, or `*` for every event.
    pub enabled_events: Vec<String>,
    pub status: WebhookStatus,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
}

/// One attempt to deliver one event to one webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttemptRecord {
    pub id: WebhookAttemptId,
    pub webhook_id: WebhookId,
    pub delivery_id: i64,
    pub event_id: EventId,
    pub event_name: String,
    pub attempt: u32,
    pub attempted_at: OffsetDateTime,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub succeeded: bool,
}

/// A delivery the worker claimed: the event, where it goes, and the sealed secrets that sign it.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub delivery_id: i64,
    pub webhook_id: WebhookId,
    pub url: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub first_attempt_at: Option<OffsetDateTime>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    pub event: EventRecord,
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
