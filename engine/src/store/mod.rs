//! The store seam: what the engine needs from a database, so SQLite and PostgreSQL can both serve it.
//!
//! Writes go through [`Store::commit`], which applies a batch of [`Write`]s atomically: every
//! guarded write checks the state it expects, and if any guard fails nothing is written
//! ([`StoreError::Conflict`]). Only the lifecycle service builds status-changing writes.

pub mod sqlite;
mod sqlite_read_cache;
mod sqlite_writer;

use crate::records::{
    AccountRecord, ApiKeyRecord, DocumentRecord, DueDelivery, EventRecord, InquiryRecord,
    SessionRecord, TemplateVersionRecord, VerificationRecord, WebhookAttemptRecord, WebhookRecord,
    WebhookStatus,
};
use async_trait::async_trait;
use domain::checks::CheckResult;
use domain::ids::{
    AccountId, ApiKeyId, DocumentId, EventId, InquiryId, TemplateId, TemplateVersionId,
    VerificationId, WebhookId,
};
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
    /// A statement on one of the store's rusqlite connections (the writer thread, point reads)
    /// failed.
    #[error("database error: {0}")]
    Rusqlite(#[from] rusqlite::Error),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The store cannot take writes now (its writer stopped, or a grouped commit failed).
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

/// An event to append; the store gives it the next `sequence` of its object, stores a snapshot
/// of the object as the batch left it at this point, and queues a delivery for every enabled
/// webhook that subscribes to the event's name.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: EventId,
    pub name: &'static str,
    /// `inquiry`, `verification` or `webhook`: which table holds the object.
    pub object_type: &'static str,
    pub object_id: String,
    pub inquiry_id: Option<InquiryId>,
    pub previous_status: Option<&'static str>,
    pub created_at: OffsetDateTime,
}

/// What became of a delivery after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryNext {
    Succeeded,
    RetryAt(OffsetDateTime),
    /// Every scheduled attempt failed.
    GiveUp,
}

/// Where a replay starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayFrom {
    /// This event and every later one.
    Event(EventId),
    /// Events created at or after this time.
    Time(OffsetDateTime),
}

/// One write in an atomic batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    InsertInquiry(Box<InquiryRecord>),
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
    InsertAccount(AccountRecord),
    /// Stamps an API key's `last_used_at` with `at`, unless it was stamped after `unless_since`.
    TouchApiKey {
        id: ApiKeyId,
        at: OffsetDateTime,
        unless_since: OffsetDateTime,
    },
    /// Replaces the organization-set attributes of an open inquiry (guarded on `created`/`pending`).
    UpdateInquiryAttributes {
        id: InquiryId,
        fields: BTreeMap<String, String>,
        tags: Vec<String>,
        note: Option<String>,
        at: OffsetDateTime,
    },
    /// Erases personal data (fields, drafts) and stamps `redacted_at`; guarded on not yet redacted.
    RedactInquiry {
        id: InquiryId,
        at: OffsetDateTime,
    },
    /// Replaces stored idempotent responses that carried this resource with a 410 envelope, so
    /// a replay after redaction serves no personal data.
    EraseIdempotentResponses {
        resource_id: String,
    },
    /// Ends every session of an inquiry.
    RevokeSessions {
        inquiry_id: InquiryId,
        at: OffsetDateTime,
    },
    InsertOneTimeLink {
        code_hash: String,
        inquiry_id: InquiryId,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    },
    /// Sets what a `created` government-ID verification holds while the flow collects it: the
    /// chosen country and class and the photos taken so far. Guarded on `created`.
    SetPendingGovernmentId {
        id: VerificationId,
        country_code: String,
        id_class: String,
        document_id: Option<DocumentId>,
        back_document_id: Option<DocumentId>,
    },
    /// Stores what was read from a government ID, sealed with the data key.
    SetVerificationExtracted {
        id: VerificationId,
        sealed: String,
    },
    /// Stores the response of a claimed idempotency key in the batch that made the resource, so a
    /// crash between the two cannot make a retry run the request again.
    CompleteIdempotencyKey {
        api_key_id: ApiKeyId,
        key: String,
        status: u16,
        body: Vec<u8>,
        resource_id: Option<String>,
    },
    /// A new webhook with its sealed signing secret.
    InsertWebhook {
        webhook: WebhookRecord,
        sealed_secret: String,
    },
    /// Replaces a webhook's settings (guarded on the webhook existing).
    UpdateWebhook {
        id: WebhookId,
        url: String,
        enabled_events: Vec<String>,
        status: WebhookStatus,
        at: OffsetDateTime,
    },
    /// Removes a webhook with its pending deliveries and attempts (guarded on it existing).
    DeleteWebhook {
        id: WebhookId,
    },
    /// A new signing secret; the old one keeps signing until `previous_expires_at`.
    RotateWebhookSecret {
        id: WebhookId,
        sealed_secret: String,
        sealed_previous: String,
        previous_expires_at: OffsetDateTime,
        at: OffsetDateTime,
    },
    /// Disables a webhook that has not succeeded since `failing_since` (guarded on that and on
    /// it being enabled).
    DisableFailingWebhook {
        id: WebhookId,
        failing_since: OffsetDateTime,
        at: OffsetDateTime,
    },
    /// Records one attempt and moves its delivery on (a delivery of a deleted webhook is
    /// skipped, not refused).
    RecordDeliveryAttempt {
        attempt: WebhookAttemptRecord,
        next: DeliveryNext,
    },
}

/// Newest-first cursor pagination by id (ids sort by creation time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// 1 to 100.
    pub size: u32,
    /// Items older than this id.
    pub after: Option<String>,
    /// Items newer than this id.
    pub before: Option<String>,
}

/// One page, newest first, and whether more lie beyond it in the direction of travel.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

/// Filters of the inquiry list; empty means no filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InquiryFilter {
    pub statuses: Vec<InquiryStatus>,
    pub reference_id: Option<String>,
    pub account_id: Option<AccountId>,
    pub template_id: Option<TemplateId>,
    pub created_after: Option<OffsetDateTime>,
    pub created_before: Option<OffsetDateTime>,
}

/// Filters of the event feed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    pub names: Vec<String>,
    pub object_id: Option<String>,
}

/// How long a claimed idempotency key may stay without a response before a retry takes it over
/// (its request's process is presumed dead: no API request runs this long).
pub const IDEMPOTENCY_IN_FLIGHT_LIMIT: time::Duration = time::Duration::seconds(15);

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyClaim {
    /// This request is the first with the key: run it, then complete the key.
    Claimed,
    /// A request with the key is still running.
    InFlight { request_hash: String },
    /// A request with the key finished; replay its response.
    Completed {
        request_hash: String,
        status: u16,
        body: Vec<u8>,
    },
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
    /// The session of `inquiry_id` whose token hashes to `token_hash` (compared in constant
    /// time), if any.
    async fn session_of(
        &self,
        inquiry_id: &InquiryId,
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

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revokes a key; false when no such unrevoked key exists.
    async fn revoke_api_key(&self, id: &ApiKeyId, at: OffsetDateTime) -> Result<bool, StoreError>;

    async fn account(&self, id: &AccountId) -> Result<Option<AccountRecord>, StoreError>;
    async fn account_by_reference(
        &self,
        reference_id: &str,
    ) -> Result<Option<AccountRecord>, StoreError>;
    /// The account of `reference_id` if the store knows it without reading the database (a
    /// store may remember the accounts it read); `None` says nothing about whether one exists.
    fn known_account_by_reference(&self, _reference_id: &str) -> Option<AccountRecord> {
        None
    }
    async fn list_accounts(
        &self,
        reference_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AccountRecord>, StoreError>;

    async fn list_inquiries(
        &self,
        filter: &InquiryFilter,
        page: &PageRequest,
    ) -> Result<Page<InquiryRecord>, StoreError>;
    async fn verification(
        &self,
        id: &VerificationId,
    ) -> Result<Option<VerificationRecord>, StoreError>;
    async fn document(&self, id: &DocumentId) -> Result<Option<DocumentRecord>, StoreError>;
    async fn event(&self, id: &EventId) -> Result<Option<EventRecord>, StoreError>;
    async fn list_events(
        &self,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> Result<Page<EventRecord>, StoreError>;

    /// Claims `(api_key_id, key)` for a request, or reports who has it.
    async fn claim_idempotency_key(
        &self,
        api_key_id: &ApiKeyId,
        key: &str,
        request_hash: &str,
        now: OffsetDateTime,
    ) -> Result<IdempotencyClaim, StoreError>;
    /// Stores the response of a claimed key.
    async fn complete_idempotency_key(
        &self,
        api_key_id: &ApiKeyId,
        key: &str,
        status: u16,
        body: &[u8],
        resource_id: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Releases a claimed key whose request failed on our side, so it can be retried.
    async fn release_idempotency_key(
        &self,
        api_key_id: &ApiKeyId,
        key: &str,
    ) -> Result<(), StoreError>;
    /// Forgets keys older than `before`.
    async fn purge_idempotency_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// Spends a one-time link: returns its inquiry the first time, `None` afterwards or when expired.
    async fn redeem_one_time_link(
        &self,
        code_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<InquiryId>, StoreError>;

    async fn webhook(&self, id: &WebhookId) -> Result<Option<WebhookRecord>, StoreError>;
    async fn list_webhooks(&self, page: &PageRequest) -> Result<Page<WebhookRecord>, StoreError>;
    /// The sealed current secret, and the sealed previous one with the end of its grace time.
    async fn webhook_secrets(
        &self,
        id: &WebhookId,
    ) -> Result<Option<(String, Option<(String, OffsetDateTime)>)>, StoreError>;
    /// Claims up to `limit` due deliveries (pending, due, not leased) until `lease_until`, so
    /// no other worker on this database sends them meanwhile.
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// When the next pending delivery falls due (ignoring leases), if any is pending.
    async fn next_delivery_due(&self) -> Result<Option<OffsetDateTime>, StoreError>;
    /// Delivery attempts of a webhook, newest first.
    async fn list_webhook_attempts(
        &self,
        webhook_id: &WebhookId,
        event_id: Option<&EventId>,
        page: &PageRequest,
    ) -> Result<Page<WebhookAttemptRecord>, StoreError>;
    /// Queues the webhook's matching events again from `from`; returns how many.
    async fn replay_events(
        &self,
        webhook_id: &WebhookId,
        from: &ReplayFrom,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// Woken whenever deliveries were queued, so the worker need not poll for new ones.
    fn deliveries_queued(&self) -> std::sync::Arc<tokio::sync::Notify>;
}
