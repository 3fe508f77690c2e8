//! The API's JSON:API resources, built from engine records. Attribute names are kebab-case and
//! times are RFC 3339 in UTC.

use domain::checks::CheckResult;
use engine::records::{
    AccountRecord, DocumentRecord, EventRecord, InquiryRecord, ObjectSnapshot, VerificationRecord,
    WebhookAttemptRecord, WebhookRecord,
};
use engine::templates::TemplateVersion;
use serde::Serialize;
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// An RFC 3339 timestamp in UTC.
pub fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn optional_timestamp(at: Option<OffsetDateTime>) -> Option<String> {
    at.map(timestamp)
}

/// Points at another resource.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ResourceIdentifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

impl ResourceIdentifier {
    pub fn new(kind: &str, id: impl ToString) -> ResourceIdentifier {
        ResourceIdentifier {
            kind: kind.to_owned(),
            id: id.to_string(),
        }
    }
}

/// A to-one relationship.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ToOne {
    pub data: Option<ResourceIdentifier>,
}

/// A to-many relationship.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ToMany {
    pub data: Vec<ResourceIdentifier>,
}

/// Links of a page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PageLinks {
    /// The newer page, when there is one.
    pub prev: Option<String>,
    /// The older page, when there is one.
    pub next: Option<String>,
}

/// What an inquiry shows.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct InquiryAttributes {
    /// `created`, `pending`, `completed`, `failed`, `expired`, `needs_review`, `approved` or `declined`.
    pub status: String,
    pub reference_id: Option<String>,
    pub note: Option<String>,
    pub tags: Vec<String>,
    /// Field values by key (`name-first`, `birthdate`, …); empty after redaction.
    pub fields: BTreeMap<String, String>,
    pub redirect_uri: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub failed_at: Option<String>,
    pub expired_at: Option<String>,
    pub decisioned_at: Option<String>,
    pub redacted_at: Option<String>,
    pub expires_at: String,
    pub updated_at: String,
}

/// What an inquiry points at.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct InquiryRelationships {
    pub account: ToOne,
    pub inquiry_template: ToOne,
    pub inquiry_template_version: ToOne,
    pub verifications: ToMany,
    pub documents: ToMany,
    pub reports: ToMany,
}

/// An inquiry.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Inquiry {
    /// Always `inquiry`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub attributes: InquiryAttributes,
    pub relationships: InquiryRelationships,
}

impl Inquiry {
    pub fn new(
        record: &InquiryRecord,
        verifications: &[VerificationRecord],
        documents: &[DocumentRecord],
    ) -> Inquiry {
        Inquiry {
            kind: "inquiry".into(),
            id: record.id.to_string(),
            attributes: InquiryAttributes {
                status: record.status.as_str().into(),
                reference_id: record.reference_id.clone(),
                note: record.note.clone(),
                tags: record.tags.clone(),
                fields: record.fields.clone(),
                redirect_uri: record.redirect_uri.clone(),
                created_at: timestamp(record.created_at),
                started_at: optional_timestamp(record.started_at),
                completed_at: optional_timestamp(record.completed_at),
                failed_at: optional_timestamp(record.failed_at),
                expired_at: optional_timestamp(record.expired_at),
                decisioned_at: optional_timestamp(record.decisioned_at),
                redacted_at: optional_timestamp(record.redacted_at),
                expires_at: timestamp(record.expires_at),
                updated_at: timestamp(record.updated_at),
            },
            relationships: InquiryRelationships {
                account: ToOne {
                    data: record
                        .account_id
                        .as_ref()
                        .map(|id| ResourceIdentifier::new("account", id)),
                },
                inquiry_template: ToOne {
                    data: Some(ResourceIdentifier::new(
                        "inquiry-template",
                        &record.template_id,
                    )),
                },
                inquiry_template_version: ToOne {
                    data: Some(ResourceIdentifier::new(
                        "inquiry-template-version",
                        &record.template_version_id,
                    )),
                },
                verifications: ToMany {
                    data: verifications
                        .iter()
                        .map(|v| ResourceIdentifier::new(&verification_type(v), &v.id))
                        .collect(),
                },
                documents: ToMany {
                    data: documents
                        .iter()
                        .map(|d| ResourceIdentifier::new(&document_type(d), &d.id))
                        .collect(),
                },
                reports: ToMany { data: Vec::new() },
            },
        }
    }
}

fn verification_type(v: &VerificationRecord) -> String {
    format!("verification/{}", v.kind)
}

fn document_type(d: &DocumentRecord) -> String {
    format!("document/{}", d.kind.replace('_', "-"))
}

/// One check of a verification.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Check {
    /// The check's name, e.g. `id_blur_detection`.
    pub name: String,
    /// `passed`, `failed` or `not_applicable`.
    pub status: String,
    /// `required` or `not_required`.
    pub requirement: String,
    pub reasons: Vec<String>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// What the individual can do when this check failed, in plain language.
    #[serde(rename = "retry-hint")]
    pub retry_hint: Option<String>,
}

impl From<&CheckResult> for Check {
    fn from(check: &CheckResult) -> Check {
        let wire = |value: &dyn erased::Wire| value.wire();
        Check {
            name: check.name.as_str().into(),
            status: wire(&check.status),
            requirement: wire(&check.requirement),
            reasons: check.reasons.clone(),
            metadata: check.metadata.clone(),
            retry_hint: (check.status == domain::checks::CheckStatus::Failed)
                .then(|| check.name.retry_hint().map(str::to_owned))
                .flatten(),
        }
    }
}

mod erased {
    /// The serde name of a unit enum value.
    pub trait Wire {
        fn wire(&self) -> String;
    }
    impl<T: serde::Serialize> Wire for T {
        fn wire(&self) -> String {
            serde_json::to_value(self)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default()
        }
    }
}

/// What a verification shows.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct VerificationAttributes {
    /// `created`, `submitted`, `passed`, `failed` or `canceled`.
    pub status: String,
    /// 1 for the first attempt of its kind on the inquiry, 2 for the retry, …
    pub attempt: u32,
    pub checks: Vec<Check>,
    pub created_at: String,
    pub submitted_at: Option<String>,
    pub completed_at: Option<String>,
    /// The issuing country the person chose (government IDs captured front and back).
    pub country_code: Option<String>,
    /// `dl`, `id` or `pp`, as the person chose.
    pub id_class: Option<String>,
    /// What was read from the document (barcode or MRZ); `null` before submission, when
    /// nothing could be read, and after redaction. Not included in webhook events.
    pub extracted: Option<ExtractedAttributes>,
}

/// What a government ID says about its holder and itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ExtractedAttributes {
    /// `barcode` or `mrz`.
    pub source: Option<String>,
    pub id_class: Option<String>,
    pub name_first: Option<String>,
    pub name_middle: Option<String>,
    pub name_last: Option<String>,
    /// `YYYY-MM-DD`.
    pub birthdate: Option<String>,
    pub identification_number: Option<String>,
    pub issuing_country: Option<String>,
    pub issuing_subdivision: Option<String>,
    pub nationality: Option<String>,
    pub expiration_date: Option<String>,
    pub issue_date: Option<String>,
    pub sex: Option<String>,
    pub address_street_1: Option<String>,
    pub address_street_2: Option<String>,
    pub address_city: Option<String>,
    pub address_subdivision: Option<String>,
    pub address_postal_code: Option<String>,
    pub address_country_code: Option<String>,
}

impl ExtractedAttributes {
    /// From the engine's stored form (snake_case keys, an `address` object).
    pub fn from_stored(stored: &serde_json::Value) -> ExtractedAttributes {
        let text = |value: Option<&serde_json::Value>| {
            value.and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            })
        };
        let top = |key: &str| text(stored.get(key));
        let address = |key: &str| text(stored.get("address").and_then(|a| a.get(key)));
        ExtractedAttributes {
            source: top("source"),
            id_class: top("id_class"),
            name_first: top("name_first"),
            name_middle: top("name_middle"),
            name_last: top("name_last"),
            birthdate: top("birthdate"),
            identification_number: top("identification_number"),
            issuing_country: top("issuing_country"),
            issuing_subdivision: top("issuing_subdivision"),
            nationality: top("nationality"),
            expiration_date: top("expiration_date"),
            issue_date: top("issue_date"),
            sex: top("sex"),
            address_street_1: address("street_1"),
            address_street_2: address("street_2"),
            address_city: address("city"),
            address_subdivision: address("subdivision"),
            address_postal_code: address("postal_code"),
            address_country_code: address("country_code"),
        }
    }
}

/// What a verification points at.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct VerificationRelationships {
    pub inquiry: ToOne,
    /// The front of the document (or the only photo).
    pub document: ToOne,
    /// The back of the document, when one was taken.
    pub back_document: ToOne,
}

/// One run of one check family.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Verification {
    /// `verification/government-id`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub attributes: VerificationAttributes,
    pub relationships: VerificationRelationships,
}

impl Verification {
    /// A verification without what was read from its document (as events carry it).
    pub fn new(v: &VerificationRecord) -> Verification {
        Verification::with_extracted(v, None)
    }

    /// A verification with what was read from its document, opened by the engine.
    pub fn with_extracted(
        v: &VerificationRecord,
        extracted: Option<serde_json::Value>,
    ) -> Verification {
        Verification {
            kind: verification_type(v),
            id: v.id.to_string(),
            attributes: VerificationAttributes {
                status: v.status.as_str().into(),
                attempt: v.attempt,
                checks: v.checks.iter().map(Check::from).collect(),
                created_at: timestamp(v.created_at),
                submitted_at: optional_timestamp(v.submitted_at),
                completed_at: optional_timestamp(v.completed_at),
                country_code: v.country_code.clone(),
                id_class: v.id_class.clone(),
                extracted: extracted.as_ref().map(ExtractedAttributes::from_stored),
            },
            relationships: VerificationRelationships {
                inquiry: ToOne {
                    data: Some(ResourceIdentifier::new("inquiry", &v.inquiry_id)),
                },
                document: ToOne {
                    data: v
                        .document_id
                        .as_ref()
                        .map(|id| ResourceIdentifier::new("document/government-id", id)),
                },
                back_document: ToOne {
                    data: v
                        .back_document_id
                        .as_ref()
                        .map(|id| ResourceIdentifier::new("document/government-id", id)),
                },
            },
        }
    }
}

/// One file of a document.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct DocumentFile {
    /// The file's id within its document (the side: `front`, `back`).
    pub id: String,
    /// Where to download it with the API key; `null` after redaction.
    pub url: Option<String>,
    pub content_type: String,
    pub byte_size: u64,
    pub sha256: String,
}

/// What a document shows.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct DocumentAttributes {
    pub kind: String,
    pub files: Vec<DocumentFile>,
    pub created_at: String,
    pub redacted_at: Option<String>,
}

/// What a document points at.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DocumentRelationships {
    pub inquiry: ToOne,
}

/// Something the individual provided, such as a photo of an ID.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Document {
    /// `document/government-id`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub attributes: DocumentAttributes,
    pub relationships: DocumentRelationships,
}

impl Document {
    pub fn new(d: &DocumentRecord, redacted_at: Option<OffsetDateTime>) -> Document {
        Document {
            kind: document_type(d),
            id: d.id.to_string(),
            attributes: DocumentAttributes {
                kind: d.kind.replace('_', "-"),
                files: vec![DocumentFile {
                    id: d.side.clone(),
                    url: redacted_at
                        .is_none()
                        .then(|| format!("/api/v1/documents/{}/files/{}", d.id, d.side)),
                    content_type: d.content_type.clone(),
                    byte_size: d.byte_size,
                    sha256: d.sha256.clone(),
                }],
                created_at: timestamp(d.created_at),
                redacted_at: optional_timestamp(redacted_at),
            },
            relationships: DocumentRelationships {
                inquiry: ToOne {
                    data: Some(ResourceIdentifier::new("inquiry", &d.inquiry_id)),
                },
            },
        }
    }
}

/// What an account shows.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct AccountAttributes {
    pub reference_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A user in the organization's own system.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Account {
    /// Always `account`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub attributes: AccountAttributes,
}

impl Account {
    pub fn new(a: &AccountRecord) -> Account {
        Account {
            kind: "account".into(),
            id: a.id.to_string(),
            attributes: AccountAttributes {
                reference_id: a.reference_id.clone(),
                created_at: timestamp(a.created_at),
                updated_at: timestamp(a.updated_at),
            },
        }
    }
}

/// A resource in `included`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Included {
    Verification(Box<Verification>),
    Document(Document),
    Account(Account),
}

/// A field of a template.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct TemplateField {
    pub key: String,
    pub label: String,
    /// `name`, `birthdate` or `country`.
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
    pub minimum_age: Option<u8>,
}

/// A verification a template runs.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct TemplateVerification {
    /// `government-id`.
    #[serde(rename = "type")]
    pub kind: String,
    pub max_attempts: u8,
}

/// What an inquiry template shows.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct TemplateAttributes {
    pub name: String,
    pub title: String,
    pub description: String,
    pub expires_after_hours: u32,
    pub fields: Vec<TemplateField>,
    pub verifications: Vec<TemplateVerification>,
}

/// What a template points at.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct TemplateRelationships {
    /// The current version (`itmplv_…`), derived from the template's content.
    pub latest_published_version: ToOne,
}

/// An inquiry template.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InquiryTemplate {
    /// Always `inquiry-template`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub attributes: TemplateAttributes,
    pub relationships: TemplateRelationships,
}

impl InquiryTemplate {
    pub fn new(version: &TemplateVersion) -> InquiryTemplate {
        let t = &version.template;
        InquiryTemplate {
            kind: "inquiry-template".into(),
            id: t.id.to_string(),
            attributes: TemplateAttributes {
                name: t.name.clone(),
                title: t.title.clone(),
                description: t.description.clone(),
                expires_after_hours: t.expires_after_hours,
                fields: t
                    .fields
                    .iter()
                    .map(|f| TemplateField {
                        key: f.key.clone(),
                        label: f.label.clone(),
                        kind: erased::Wire::wire(&f.kind),
                        required: f.required,
                        minimum_age: f.minimum_age,
                    })
                    .collect(),
                verifications: t
                    .verifications
                    .iter()
                    .map(|v| TemplateVerification {
                        kind: v.kind.as_str().into(),
                        max_attempts: v.max_attempts,
                    })
                    .collect(),
            },
            relationships: TemplateRelationships {
                latest_published_version: ToOne {
                    data: Some(ResourceIdentifier::new(
                        "inquiry-template-version",
                        &version.version_id,
                    )),
                },
            },
        }
    }
}

/// What an event shows.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct EventAttributes {
    /// e.g. `inquiry.completed`.
    pub name: String,
    pub created_at: String,
    /// Increasing per object, so receivers can order and de-duplicate.
    pub sequence: i64,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventRelationships {
    pub object: ToOne,
    /// The inquiry the object belongs to; `null` for webhooks.
    pub inquiry: ToOne,
}

/// An immutable record of a change.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Event {
    /// Always `event`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub attributes: EventAttributes,
    pub relationships: EventRelationships,
}

impl Event {
    /// The event with its object as the API showed it when the event was written.
    pub fn new(e: &EventRecord) -> Event {
        let object_type = match &e.object {
            Some(ObjectSnapshot::Verification(v)) => verification_type(v),
            _ if e.object_type == "verification" => "verification/government-id".to_owned(),
            _ => e.object_type.clone(),
        };
        let object = match &e.object {
            Some(ObjectSnapshot::Inquiry(inquiry)) => {
                serde_json::to_value(Inquiry::new(inquiry, &[], &[]))
            }
            Some(ObjectSnapshot::Verification(v)) => serde_json::to_value(Verification::new(v)),
            Some(ObjectSnapshot::Webhook(webhook)) => serde_json::to_value(Webhook::new(webhook)),
            // Events written before snapshots were stored name their object only.
            None => {
                Ok(serde_json::json!({ "type": object_type, "id": e.object_id, "attributes": {} }))
            }
        }
        .unwrap_or(serde_json::Value::Null);
        Event {
            kind: "event".into(),
            id: e.id.to_string(),
            attributes: EventAttributes {
                name: e.name.clone(),
                created_at: timestamp(e.created_at),
                sequence: e.sequence,
                payload: serde_json::json!({ "data": object }),
            },
            relationships: EventRelationships {
                object: ToOne {
                    data: Some(ResourceIdentifier::new(&object_type, &e.object_id)),
                },
                inquiry: ToOne {
                    data: e
                        .inquiry_id
                        .as_ref()
                        .map(|id| ResourceIdentifier::new("inquiry", id)),
                },
            },
        }
    }
}

/// What a webhook shows (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct WebhookAttributes {
    pub url: String,
    /// Event names, or `*` for all.
    pub enabled_events: Vec<String>,
    /// `enabled` or `disabled`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub disabled_at: Option<String>,
}

/// An endpoint subscribed to events.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Webhook {
    /// Always `webhook`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub attributes: WebhookAttributes,
}

impl Webhook {
    pub fn new(w: &WebhookRecord) -> Webhook {
        Webhook {
            kind: "webhook".into(),
            id: w.id.to_string(),
            attributes: WebhookAttributes {
                url: w.url.clone(),
                enabled_events: w.enabled_events.clone(),
                status: w.status.as_str().into(),
                created_at: timestamp(w.created_at),
                updated_at: timestamp(w.updated_at),
                disabled_at: optional_timestamp(w.disabled_at),
            },
        }
    }
}

/// The signing secret, shown when a webhook is created or its secret rotated, never again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct WebhookMeta {
    /// `whsec_…`: verify deliveries with it (Standard Webhooks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// How many events a replay queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed_events: Option<u64>,
}

/// One webhook.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WebhookDocument {
    pub data: Webhook,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<WebhookMeta>,
}

/// A page of webhooks.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WebhookList {
    pub data: Vec<Webhook>,
    pub links: PageLinks,
}

/// What one delivery attempt found.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct WebhookAttemptAttributes {
    pub event_id: String,
    pub event_name: String,
    /// 1 for the first try of this delivery, then 2, 3, …
    pub attempt: u32,
    pub attempted_at: String,
    /// The endpoint's answer; `null` when none came.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// A 2xx within 10 s.
    pub succeeded: bool,
}

/// One attempt to deliver one event.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WebhookAttempt {
    /// Always `webhook-attempt`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub attributes: WebhookAttemptAttributes,
}

impl WebhookAttempt {
    pub fn new(a: &WebhookAttemptRecord) -> WebhookAttempt {
        WebhookAttempt {
            kind: "webhook-attempt".into(),
            id: a.id.to_string(),
            attributes: WebhookAttemptAttributes {
                event_id: a.event_id.to_string(),
                event_name: a.event_name.clone(),
                attempt: a.attempt,
                attempted_at: timestamp(a.attempted_at),
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error.clone(),
                succeeded: a.succeeded,
            },
        }
    }
}

/// A page of delivery attempts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WebhookAttemptList {
    pub data: Vec<WebhookAttempt>,
    pub links: PageLinks,
}

/// A single inquiry, with what `include` asked for.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InquiryDocument {
    pub data: Inquiry,
    pub included: Vec<Included>,
    pub meta: InquiryMeta,
}

/// Secrets and links shown once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct InquiryMeta {
    /// Opens this inquiry's flow: `/verify?inquiry-id=…&session-token=…`. Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// A single-use `/verify?code=…` URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_link: Option<String>,
}

/// A page of inquiries.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InquiryList {
    pub data: Vec<Inquiry>,
    pub links: PageLinks,
}

/// One account.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AccountDocument {
    pub data: Account,
}

/// A page of accounts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AccountList {
    pub data: Vec<Account>,
    pub links: PageLinks,
}

/// One verification.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct VerificationDocument {
    pub data: Verification,
}

/// One document.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DocumentDocument {
    pub data: Document,
}

/// One template.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InquiryTemplateDocument {
    pub data: InquiryTemplate,
}

/// Every template.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InquiryTemplateList {
    pub data: Vec<InquiryTemplate>,
    pub links: PageLinks,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventDocument {
    pub data: Event,
}

/// A page of events.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventList {
    pub data: Vec<Event>,
    pub links: PageLinks,
}
