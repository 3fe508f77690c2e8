//! The engine's services for the individual's flow: create an inquiry from a template, open it
//! with a session token, take the details and the ID photo, and say which step comes next.

use crate::clock::{Clock, SystemClock};
use crate::documents::DocumentStorage;
use crate::error::EngineError;
use crate::lifecycle;
use crate::records::{
    AccountRecord, DocumentRecord, InquiryRecord, SessionRecord, VerificationRecord,
};
use crate::secrets::DataKey;
use crate::store::{SqliteStore, Store, Write};
use crate::templates::{TemplateRegistry, TemplateVersion};
use anyhow::Context;
use base64::Engine as _;
use bytes::Bytes;
use checks::{ImageKind, QualityPolicy};
use domain::checks::CheckResult;
use domain::flow::{DocumentSide, FieldView, FlowStep, FlowView, StartView};
use domain::ids::{
    AccountId, DocumentId, InquiryId, SessionId, TemplateId, TemplateVersionId, VerificationId,
};
use domain::inquiry::{InquiryCause, InquiryStatus};
use domain::template::{Template, VerificationKind, VerificationSpec};
use domain::verification::{VerificationCause, VerificationStatus};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// Limits and policies of one engine.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The largest document upload accepted.
    pub max_upload_bytes: u64,
    /// Image quality thresholds for ID photos.
    pub quality: QualityPolicy,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            max_upload_bytes: 15 * 1024 * 1024,
            quality: QualityPolicy::default(),
        }
    }
}

/// What creating an inquiry returns: the inquiry and the one secret that opens it.
#[derive(Debug, Clone)]
pub struct CreatedInquiry {
    pub inquiry: InquiryRecord,
    /// Shown once; only its hash is stored.
    pub session_token: String,
}

/// Input for creating an inquiry.
#[derive(Debug, Clone, Default)]
pub struct NewInquiry {
    pub template_id: Option<TemplateId>,
    /// Pins a specific version instead of the template's current one.
    pub template_version_id: Option<TemplateVersionId>,
    pub reference_id: Option<String>,
    pub account_id: Option<AccountId>,
    /// Values the organization already knows; shown to the person to confirm.
    pub prefill: BTreeMap<String, String>,
    /// Refuse unknown or invalid prefill values (the API) instead of dropping unknown keys (links).
    pub strict_prefill: bool,
    pub redirect_uri: Option<String>,
    pub note: Option<String>,
    pub tags: Vec<String>,
}

/// Refuses reference ids that are empty, too long or hold control characters.
pub fn validate_reference_id(reference: &str) -> Result<(), EngineError> {
    if reference.is_empty()
        || reference.chars().count() > 255
        || reference.chars().any(char::is_control)
    {
        return Err(EngineError::InvalidInput(
            "reference-id must be 1 to 255 printable characters".into(),
        ));
    }
    Ok(())
}

/// The result of submitting the details step.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldsOutcome {
    /// Accepted; the inquiry is pending.
    Accepted,
    /// Refused; what was typed is kept and each field says why.
    Invalid(BTreeMap<String, String>),
}

/// The result of one ID photo.
#[derive(Debug, Clone, PartialEq)]
pub struct GovernmentIdOutcome {
    pub verification_id: VerificationId,
    pub status: VerificationStatus,
    pub inquiry_status: InquiryStatus,
    pub checks: Vec<CheckResult>,
}

/// The engine: one per process, shared by every front door.
#[derive(Clone)]
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) templates: TemplateRegistry,
    pub(crate) documents: DocumentStorage,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: EngineSettings,
    /// Seals secrets the server must read back (webhook signing secrets).
    pub(crate) data_key: DataKey,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

const SESSION_TOKEN_PREFIX: &str = "vst_";

pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn new_session_token() -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!(
        "{SESSION_TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    )
}

pub(crate) fn extension_of(kind: ImageKind) -> &'static str {
    match kind {
        ImageKind::Jpeg => "jpg",
        ImageKind::Png => "png",
        ImageKind::Webp => "webp",
    }
}

pub(crate) fn government_id_spec(template: &Template) -> Option<&VerificationSpec> {
    template
        .verifications
        .iter()
        .find(|spec| spec.kind == VerificationKind::GovernmentId)
}

impl Engine {
    /// An engine over the given parts.
    pub fn new(
        store: Arc<dyn Store>,
        templates: TemplateRegistry,
        documents: DocumentStorage,
        clock: Arc<dyn Clock>,
        settings: EngineSettings,
        data_key: DataKey,
    ) -> Engine {
        Engine {
            store,
            templates,
            documents,
            clock,
            settings,
            data_key,
        }
    }

    /// The embedded default: `<data_dir>/verity.sqlite3` and `<data_dir>/documents/`, templates from
    /// `templates_dir`. Migrations run now; a failed one is an error the process must stop on.
    pub async fn open_local(
        data_dir: &Path,
        database_url: Option<&str>,
        templates_dir: &Path,
        clock: Arc<dyn Clock>,
        settings: EngineSettings,
    ) -> anyhow::Result<Engine> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data folder {}", data_dir.display()))?;
        let store = match database_url {
            Some(url) if url.starts_with("sqlite:") => SqliteStore::open_url(url).await?,
            Some(_) => anyhow::bail!("only sqlite:// database URLs are supported in this version"),
            None => SqliteStore::open(&data_dir.join("verity.sqlite3")).await?,
        };
        let templates = TemplateRegistry::load_dir(templates_dir)?;
        templates.persist(&store, clock.as_ref()).await?;
        let documents = DocumentStorage::local(&data_dir.join("documents"))?;
        let data_key = DataKey::load_or_create(&data_dir.join("data.key"))?;
        Ok(Engine::new(
            Arc::new(store),
            templates,
            documents,
            clock,
            settings,
            data_key,
        ))
    }

    /// An engine on the system clock with default settings.
    pub async fn open_default(data_dir: &Path, templates_dir: &Path) -> anyhow::Result<Engine> {
        Engine::open_local(
            data_dir,
            None,
            templates_dir,
            Arc::new(SystemClock),
            EngineSettings::default(),
        )
        .await
    }

    /// The loaded templates.
    pub fn templates(&self) -> &TemplateRegistry {
        &self.templates
    }

    /// The limits in force.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Readiness: the database answers.
    pub async fn ready(&self) -> Result<(), EngineError> {
        self.store.ping().await.map_err(EngineError::from)
    }

    /// The start screen of a template (a GET creates nothing).
    pub fn start_view(&self, template_id: &TemplateId) -> Result<StartView, EngineError> {
        let version = self
            .templates
            .current(template_id)
            .ok_or(EngineError::NotFound {
                kind: "inquiry template",
            })?;
        let template = &version.template;
        let mut steps = Vec::new();
        if !template.fields.is_empty() {
            steps.push("Your details".to_owned());
        }
        match government_id_spec(template) {
            Some(spec) if !spec.id_classes.is_empty() => {
                steps.push("Photos of your ID".to_owned());
            }
            Some(_) => steps.push("A photo of your ID".to_owned()),
            None => {}
        }
        Ok(StartView {
            template_id: template.id.to_string(),
            title: template.title.clone(),
            description: template.description.clone(),
            steps,
        })
    }

    /// Creates an inquiry (`created`, with `inquiry.created`) and a session for it.
    pub async fn create_inquiry(&self, input: NewInquiry) -> Result<CreatedInquiry, EngineError> {
        self.create_inquiry_recording(input, |_| Vec::new()).await
    }

    /// Creates an inquiry like [`Engine::create_inquiry`], committing the writes `also` returns
    /// for it in the same transaction (the API stores its idempotent response this way).
    pub async fn create_inquiry_recording(
        &self,
        input: NewInquiry,
        also: impl Fn(&CreatedInquiry) -> Vec<Write>,
    ) -> Result<CreatedInquiry, EngineError> {
        let version = match (&input.template_version_id, &input.template_id) {
            (Some(version_id), _) => self
                .templates
                .version(self.store.as_ref(), version_id)
                .await
                .map_err(|_| EngineError::NotFound {
                    kind: "inquiry template version",
                })?,
            (None, Some(template_id)) => {
                self.templates
                    .current(template_id)
                    .ok_or(EngineError::NotFound {
                        kind: "inquiry template",
                    })?
            }
            (None, None) => {
                return Err(EngineError::InvalidInput(
                    "an inquiry template id (or template version id) is required".into(),
                ))
            }
        };
        if let Some(reference) = &input.reference_id {
            validate_reference_id(reference)?;
        }
        if let Some(uri) = &input.redirect_uri {
            if !version.template.allows_redirect_uri(uri) {
                return Err(EngineError::InvalidInput(
                    "redirect-uri is not one the template allows (its redirect-uris)".into(),
                ));
            }
        }
        let prefill: BTreeMap<String, String> = if input.strict_prefill {
            let today = self.clock.now().date();
            let mut errors = BTreeMap::new();
            for (key, value) in &input.prefill {
                match version.template.field(key) {
                    None => {
                        errors.insert(
                            key.clone(),
                            domain::fields::FieldError::UnknownField { key: key.clone() },
                        );
                    }
                    Some(field) if !value.trim().is_empty() => {
                        if let Err(error) = field.validate(value, today) {
                            errors.insert(key.clone(), error);
                        }
                    }
                    Some(_) => {}
                }
            }
            if !errors.is_empty() {
                return Err(EngineError::InvalidFields(errors));
            }
            input.prefill
        } else {
            input
                .prefill
                .into_iter()
                .filter(|(key, _)| version.template.field(key).is_some())
                .map(|(key, value)| (key, value.chars().take(200).collect()))
                .collect()
        };
        for attempt in 0..2 {
            let now = self.clock.now();
            let mut writes = Vec::new();
            let account_id = match (&input.account_id, &input.reference_id) {
                (Some(account_id), _) => {
                    let account = self
                        .store
                        .account(account_id)
                        .await?
                        .ok_or(EngineError::NotFound { kind: "account" })?;
                    Some(account.id)
                }
                (None, Some(reference)) => {
                    // First try without a read: the account is known, or a new one is inserted,
                    // which the writer refuses (Conflict, then the second attempt reads it) when
                    // the reference-id has one already.
                    let found = match self.store.known_account_by_reference(reference) {
                        Some(account) => Some(account),
                        None if attempt == 0 => None,
                        None => self.store.account_by_reference(reference).await?,
                    };
                    match found {
                        Some(account) => Some(account.id),
                        None => {
                            let account = AccountRecord {
                                id: AccountId::new(),
                                reference_id: Some(reference.clone()),
                                created_at: now,
                                updated_at: now,
                            };
                            let id = account.id.clone();
                            writes.push(Write::InsertAccount(account));
                            Some(id)
                        }
                    }
                }
                (None, None) => None,
            };
            let expires_at = now + Duration::hours(i64::from(version.template.expires_after_hours));
            let inquiry = InquiryRecord {
                // The id carries the creation time, so lists by time can use the id's index.
                id: InquiryId::at_millis(crate::clock::id_millis(now)),
                template_id: version.template.id.clone(),
                template_version_id: version.version_id.clone(),
                status: InquiryStatus::INITIAL,
                reference_id: input.reference_id.clone(),
                account_id,
                note: input.note.clone(),
                tags: input.tags.clone(),
                redirect_uri: input.redirect_uri.clone(),
                fields: prefill.clone(),
                field_draft: None,
                fields_submitted_at: None,
                created_at: now,
                started_at: None,
                completed_at: None,
                failed_at: None,
                expired_at: None,
                decisioned_at: None,
                redacted_at: None,
                expires_at,
                updated_at: now,
            };
            let session_token = new_session_token();
            writes.extend(lifecycle::create_inquiry(inquiry.clone()));
            writes.push(Write::InsertSession(SessionRecord {
                id: SessionId::new(),
                inquiry_id: inquiry.id.clone(),
                token_hash: hash_token(&session_token),
                created_at: now,
                expires_at,
                revoked_at: None,
            }));
            let created = CreatedInquiry {
                inquiry,
                session_token,
            };
            writes.extend(also(&created));
            match self.store.commit(writes).await {
                Ok(()) => {
                    tracing::info!(inquiry.id = %created.inquiry.id, template.id = %created.inquiry.template_id, "inquiry created");
                    return Ok(created);
                }
                // Another request created the account for this reference-id first: use it.
                Err(crate::store::StoreError::Conflict) if attempt == 0 => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EngineError::Internal(anyhow::anyhow!(
            "could not create the inquiry's account"
        )))
    }

    /// Opens an inquiry with a session token: the token must belong to exactly this inquiry and
    /// not be revoked. A session lives as long as its inquiry, so an expired inquiry still opens
    /// (to show that it expired); expiry is applied on the way.
    pub async fn open_with_session(
        &self,
        inquiry_id: &InquiryId,
        token: &str,
    ) -> Result<InquiryRecord, EngineError> {
        if !token.starts_with(SESSION_TOKEN_PREFIX) {
            return Err(EngineError::Unauthorized);
        }
        let session = self
            .store
            .session_of(inquiry_id, &hash_token(token))
            .await?
            .ok_or(EngineError::Unauthorized)?;
        if &session.inquiry_id != inquiry_id {
            return Err(EngineError::Unauthorized);
        }
        let inquiry = self.touch(inquiry_id).await?;
        // Expiry revokes sessions; the person may still see that it expired, and nothing else.
        let revoked = session.revoked_at.is_some()
            && !(inquiry.status == InquiryStatus::Expired && inquiry.redacted_at.is_none());
        if revoked {
            return Err(EngineError::Unauthorized);
        }
        Ok(inquiry)
    }

    /// Loads an inquiry, expiring it first when its time has passed.
    pub async fn touch(&self, inquiry_id: &InquiryId) -> Result<InquiryRecord, EngineError> {
        let inquiry = self
            .store
            .inquiry(inquiry_id)
            .await?
            .ok_or(EngineError::NotFound { kind: "inquiry" })?;
        let now = self.clock.now();
        if inquiry.status.is_open() && now >= inquiry.expires_at {
            match lifecycle::apply_inquiry_cause(
                self.store.as_ref(),
                &inquiry,
                InquiryCause::Expire,
                now,
            )
            .await
            {
                Ok(()) | Err(EngineError::Conflict { .. }) => {}
                Err(other) => return Err(other),
            }
            tracing::info!(inquiry.id = %inquiry.id, "inquiry expired");
            return self
                .store
                .inquiry(inquiry_id)
                .await?
                .ok_or(EngineError::NotFound { kind: "inquiry" });
        }
        Ok(inquiry)
    }

    /// Expires every open inquiry whose time has passed; returns how many it expired.
    pub async fn expire_overdue(&self) -> Result<usize, EngineError> {
        let mut expired = 0;
        for id in self.store.overdue_inquiries(self.clock.now(), 500).await? {
            if self.touch(&id).await?.status == InquiryStatus::Expired {
                expired += 1;
            }
        }
        Ok(expired)
    }

    async fn template_of(
        &self,
        inquiry: &InquiryRecord,
    ) -> Result<Arc<TemplateVersion>, EngineError> {
        Ok(self
            .templates
            .version(self.store.as_ref(), &inquiry.template_version_id)
            .await?)
    }

    /// Takes the details step. Valid values move the inquiry from `created` to `pending`
    /// (`inquiry.started`) in the same transaction that saves them; refused values are kept as a
    /// draft so the person sees what they typed next to the reasons.
    pub async fn submit_fields(
        &self,
        inquiry_id: &InquiryId,
        raw: BTreeMap<String, String>,
    ) -> Result<FieldsOutcome, EngineError> {
        let inquiry = self.touch(inquiry_id).await?;
        if inquiry.fields_submitted_at.is_some() {
            return Err(EngineError::WrongStep("your details were already received"));
        }
        if !inquiry.status.is_open() {
            return Err(EngineError::WrongStep("this verification is finished"));
        }
        let version = self.template_of(&inquiry).await?;
        let now = self.clock.now();
        match version.template.validate_fields(&raw, now.date()) {
            Ok(values) => {
                let mut writes = vec![Write::SubmitInquiryFields {
                    id: inquiry.id.clone(),
                    fields: values,
                    at: now,
                }];
                if inquiry.status == InquiryStatus::Created {
                    writes.extend(lifecycle::transition_inquiry(
                        &inquiry,
                        InquiryCause::Start,
                        now,
                    )?);
                }
                lifecycle::commit(self.store.as_ref(), &inquiry, writes).await?;
                tracing::info!(inquiry.id = %inquiry.id, "details accepted");
                Ok(FieldsOutcome::Accepted)
            }
            Err(errors) => {
                let draft = version
                    .template
                    .fields
                    .iter()
                    .map(|field| {
                        let value = raw.get(&field.key).map(String::as_str).unwrap_or("");
                        (
                            field.key.clone(),
                            value.chars().take(200).collect::<String>(),
                        )
                    })
                    .collect();
                lifecycle::commit(
                    self.store.as_ref(),
                    &inquiry,
                    vec![Write::SaveFieldDraft {
                        id: inquiry.id.clone(),
                        draft,
                    }],
                )
                .await?;
                tracing::info!(inquiry.id = %inquiry.id, invalid_fields = errors.len(), "details refused");
                Ok(FieldsOutcome::Invalid(
                    errors
                        .into_iter()
                        .map(|(key, error)| (key, error.to_string()))
                        .collect(),
                ))
            }
        }
    }

    /// Takes one photo of the front of a government ID, runs the checks and records the
    /// verification; passing completes the inquiry, and failing the last allowed attempt fails it.
    pub async fn submit_government_id(
        &self,
        inquiry_id: &InquiryId,
        upload: Bytes,
    ) -> Result<GovernmentIdOutcome, EngineError> {
        if upload.len() as u64 > self.settings.max_upload_bytes {
            return Err(EngineError::TooLarge {
                limit_bytes: self.settings.max_upload_bytes,
            });
        }
        let inquiry = self.touch(inquiry_id).await?;
        if inquiry.status != InquiryStatus::Pending || inquiry.fields_submitted_at.is_none() {
            return Err(EngineError::WrongStep("the ID photo step is not open"));
        }
        let version = self.template_of(&inquiry).await?;
        let spec = government_id_spec(&version.template)
            .ok_or(EngineError::WrongStep("this template takes no ID photo"))?;
        if !spec.id_classes.is_empty() {
            // Such templates read the whole document: see `Engine::capture_government_id_side`.
            return Err(EngineError::WrongStep(
                "this template asks for the type of ID and both sides",
            ));
        }
        let previous: Vec<VerificationRecord> = self
            .store
            .verifications_of(&inquiry.id)
            .await?
            .into_iter()
            .filter(|v| v.kind == VerificationKind::GovernmentId.as_str())
            .collect();
        if previous
            .iter()
            .any(|v| v.status == VerificationStatus::Passed)
        {
            return Err(EngineError::WrongStep("your ID photo was already accepted"));
        }
        let attempt = previous.len() as u32 + 1;
        if attempt > u32::from(spec.max_attempts) {
            return Err(EngineError::WrongStep("no attempts are left"));
        }
        let kind = checks::sniff_image_kind(&upload).ok_or(EngineError::UnsupportedMediaType)?;

        let document_id = DocumentId::new();
        let stored = self
            .documents
            .put(
                &inquiry.id,
                &document_id,
                extension_of(kind),
                upload.clone(),
            )
            .await?;
        let policy = self.settings.quality.clone();
        let outcomes =
            tokio::task::spawn_blocking(move || checks::run_id_image_checks(&upload, &policy))
                .await
                .context("running the ID image checks")?;
        let results: Vec<CheckResult> = outcomes
            .into_iter()
            .map(|outcome| {
                let requirement = spec.requirement(outcome.name);
                CheckResult::from_outcome(outcome, requirement)
            })
            .collect();
        let passed = !results.iter().any(CheckResult::fails_verification);

        let now = self.clock.now();
        let mut writes = vec![Write::InsertDocument(DocumentRecord {
            id: document_id.clone(),
            inquiry_id: inquiry.id.clone(),
            kind: "government_id".into(),
            side: "front".into(),
            object_key: stored.object_key.clone(),
            content_type: kind.mime_type().into(),
            byte_size: stored.byte_size,
            sha256: stored.sha256,
            created_at: now,
        })];
        let mut verification = VerificationRecord {
            id: VerificationId::new(),
            inquiry_id: inquiry.id.clone(),
            kind: VerificationKind::GovernmentId.as_str().into(),
            attempt,
            status: VerificationStatus::INITIAL,
            document_id: Some(document_id),
            checks: Vec::new(),
            created_at: now,
            submitted_at: None,
            completed_at: None,
            country_code: None,
            id_class: None,
            back_document_id: None,
            extracted_sealed: None,
        };
        writes.extend(lifecycle::create_verification(verification.clone()));
        writes.extend(lifecycle::transition_verification(
            &mut verification,
            VerificationCause::Submit,
            now,
            None,
        )?);
        let verdict = if passed {
            VerificationCause::Pass
        } else {
            VerificationCause::Fail
        };
        writes.extend(lifecycle::transition_verification(
            &mut verification,
            verdict,
            now,
            Some(results.clone()),
        )?);
        let inquiry_cause = if passed {
            Some(InquiryCause::Complete)
        } else if attempt >= u32::from(spec.max_attempts) {
            Some(InquiryCause::Fail)
        } else {
            None
        };
        let mut inquiry_status = inquiry.status;
        if let Some(cause) = inquiry_cause {
            let checks = previous
                .iter()
                .flat_map(|v| v.checks.iter())
                .chain(results.iter());
            let (finish, status) =
                lifecycle::finish_inquiry(&inquiry, cause, &version.template, checks, now)?;
            writes.extend(finish);
            inquiry_status = status;
        }
        if let Err(error) = lifecycle::commit(self.store.as_ref(), &inquiry, writes).await {
            if let Err(cleanup) = self.documents.delete(&stored.object_key).await {
                tracing::warn!(inquiry.id = %inquiry.id, error = %cleanup, "could not remove an unreferenced document file");
            }
            return Err(error);
        }
        tracing::info!(
            inquiry.id = %inquiry.id,
            verification.id = %verification.id,
            verification.status = %verification.status,
            attempt,
            "government id checked"
        );
        Ok(GovernmentIdOutcome {
            verification_id: verification.id,
            status: verification.status,
            inquiry_status,
            checks: results,
        })
    }

    /// Which step the person is on, with everything the page needs to render it.
    pub async fn flow_view(&self, inquiry: &InquiryRecord) -> Result<FlowView, EngineError> {
        let version = self.template_of(inquiry).await?;
        let template = &version.template;
        let verifications = self.store.verifications_of(&inquiry.id).await?;
        let failure_hints = |v: &VerificationRecord| -> Vec<String> {
            let mut hints: Vec<String> = v
                .checks
                .iter()
                .filter(|check| check.fails_verification())
                .filter_map(|check| check.name.retry_hint_for(&check.reasons))
                .map(str::to_owned)
                .collect();
            hints.dedup();
            hints
        };
        let step = match inquiry.status {
            InquiryStatus::Expired => FlowStep::Expired,
            InquiryStatus::Failed => FlowStep::Failed {
                hints: verifications.last().map(failure_hints).unwrap_or_default(),
            },
            InquiryStatus::Completed
            | InquiryStatus::NeedsReview
            | InquiryStatus::Approved
            | InquiryStatus::Declined => FlowStep::Completed,
            InquiryStatus::Created | InquiryStatus::Pending
                if inquiry.fields_submitted_at.is_none() =>
            {
                let today = self.clock.now().date();
                let fields = template
                    .fields
                    .iter()
                    .map(|field| {
                        let drafted = inquiry
                            .field_draft
                            .as_ref()
                            .and_then(|draft| draft.get(&field.key));
                        let value = drafted
                            .or_else(|| inquiry.fields.get(&field.key))
                            .cloned()
                            .unwrap_or_default();
                        let error = drafted
                            .and_then(|value| field.validate(value, today).err())
                            .map(|e| e.to_string());
                        FieldView {
                            spec: field.clone(),
                            value,
                            error,
                        }
                    })
                    .collect();
                FlowStep::Details { fields }
            }
            InquiryStatus::Created | InquiryStatus::Pending => match government_id_spec(template) {
                Some(spec) if !spec.id_classes.is_empty() => {
                    let attempts: Vec<&VerificationRecord> = verifications
                        .iter()
                        .filter(|v| v.kind == VerificationKind::GovernmentId.as_str())
                        .collect();
                    let finished: Vec<&&VerificationRecord> = attempts
                        .iter()
                        .filter(|v| v.status != VerificationStatus::Created)
                        .collect();
                    let open = attempts
                        .iter()
                        .find(|v| v.status == VerificationStatus::Created);
                    let attempt = u8::try_from(finished.len() + 1).unwrap_or(u8::MAX);
                    let hints = finished
                        .last()
                        .map(|v| failure_hints(v))
                        .unwrap_or_default();
                    match open {
                        Some(open) => {
                            let side = if open.document_id.is_some()
                                && crate::document_capture::needs_back(open)
                            {
                                DocumentSide::Back
                            } else {
                                DocumentSide::Front
                            };
                            let class = open
                                .id_class
                                .as_deref()
                                .and_then(domain::checks::IdClass::parse);
                            FlowStep::DocumentSide {
                                side,
                                id_class: open.id_class.clone().unwrap_or_default(),
                                class_label: class
                                    .map(crate::document_capture::id_class_label)
                                    .unwrap_or("ID")
                                    .to_owned(),
                                country_label: crate::document_capture::country_label(
                                    open.country_code.as_deref().unwrap_or(""),
                                ),
                                attempt,
                                max_attempts: spec.max_attempts,
                                hints,
                                max_upload_bytes: self.settings.max_upload_bytes,
                            }
                        }
                        None => {
                            let (countries, classes) =
                                crate::document_capture::document_choices(spec);
                            let last = finished.last();
                            FlowStep::ChooseDocument {
                                attempt,
                                max_attempts: spec.max_attempts,
                                hints,
                                countries,
                                classes,
                                selected_country: last.and_then(|v| v.country_code.clone()),
                                selected_class: last.and_then(|v| v.id_class.clone()),
                            }
                        }
                    }
                }
                Some(spec) => {
                    let attempts: Vec<&VerificationRecord> = verifications
                        .iter()
                        .filter(|v| v.kind == VerificationKind::GovernmentId.as_str())
                        .collect();
                    FlowStep::GovernmentId {
                        attempt: u8::try_from(attempts.len() + 1).unwrap_or(u8::MAX),
                        max_attempts: spec.max_attempts,
                        hints: attempts
                            .last()
                            .map(|v| failure_hints(v))
                            .unwrap_or_default(),
                        max_upload_bytes: self.settings.max_upload_bytes,
                    }
                }
                None => FlowStep::Completed,
            },
        };
        Ok(FlowView {
            inquiry_id: inquiry.id.to_string(),
            title: template.title.clone(),
            step,
        })
    }

    /// Events about an inquiry, oldest first (for tests, the API and the dashboard).
    pub async fn events_of(
        &self,
        inquiry_id: &InquiryId,
    ) -> Result<Vec<crate::records::EventRecord>, EngineError> {
        Ok(self.store.events_of(inquiry_id).await?)
    }

    /// Verifications of an inquiry, oldest first.
    pub async fn verifications_of(
        &self,
        inquiry_id: &InquiryId,
    ) -> Result<Vec<VerificationRecord>, EngineError> {
        Ok(self.store.verifications_of(inquiry_id).await?)
    }

    /// Documents of an inquiry, oldest first.
    pub async fn documents_of(
        &self,
        inquiry_id: &InquiryId,
    ) -> Result<Vec<DocumentRecord>, EngineError> {
        Ok(self.store.documents_of(inquiry_id).await?)
    }

    /// The stored bytes of a document.
    pub async fn document_bytes(&self, document: &DocumentRecord) -> Result<Bytes, EngineError> {
        Ok(self.documents.get(&document.object_key).await?)
    }

    /// Applies an organization's or the scheduler's cause (approve, decline, mark for review,
    /// expire) through the lifecycle service.
    pub async fn apply_cause(
        &self,
        inquiry_id: &InquiryId,
        cause: InquiryCause,
    ) -> Result<InquiryRecord, EngineError> {
        let inquiry = self.touch(inquiry_id).await?;
        lifecycle::apply_inquiry_cause(self.store.as_ref(), &inquiry, cause, self.clock.now())
            .await?;
        self.store
            .inquiry(inquiry_id)
            .await?
            .ok_or(EngineError::NotFound { kind: "inquiry" })
    }
}
