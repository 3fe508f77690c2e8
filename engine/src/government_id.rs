//! Government-ID verifications with both sides of a document, as integrators with their own
//! capture UI use them through the API: the person's choice of country and class of document,
//! the photos stored, every check run on submit (image quality, corners, barcode or MRZ, data
//! consistency, expiry, age, allowed countries and classes), what was read sealed at rest, and
//! the verdict applied through the lifecycle service like the hosted flow's.

use crate::error::EngineError;
use crate::flow::{extension_of, government_id_spec, Engine, GovernmentIdOutcome};
use crate::lifecycle;
use crate::records::{DocumentRecord, InquiryRecord, VerificationRecord};
use crate::store::Write;
use anyhow::Context;
use bytes::Bytes;
use checks::{GovernmentIdInput, GovernmentIdPolicy};
use domain::checks::{CheckResult, IdClass};
use domain::fields::{BirthDate, CountryCode, PersonName};
use domain::ids::{DocumentId, InquiryId, VerificationId};
use domain::inquiry::{InquiryCause, InquiryStatus};
use domain::template::{Template, VerificationKind};
use domain::verification::{VerificationCause, VerificationStatus};

/// The photos of one document and what the person said it is.
#[derive(Debug, Clone)]
pub struct GovernmentIdCapture {
    pub inquiry_id: InquiryId,
    /// ISO 3166-1 alpha-2.
    pub country_code: String,
    /// `dl`, `id` or `pp`.
    pub id_class: String,
    pub front: Bytes,
    pub back: Option<Bytes>,
}

/// Whether every required field of the template has a value on the inquiry.
fn fields_complete(template: &Template, inquiry: &InquiryRecord) -> bool {
    template
        .fields
        .iter()
        .filter(|field| field.required)
        .all(|field| inquiry.fields.contains_key(&field.key))
}

impl Engine {
    /// Stores the photos and creates a `created` government-ID verification on an open inquiry
    /// (starting the inquiry when it was `created`); [`Engine::submit_government_id_verification`]
    /// runs the checks.
    pub async fn create_government_id_verification(
        &self,
        capture: GovernmentIdCapture,
    ) -> Result<VerificationRecord, EngineError> {
        let country = CountryCode::parse(&capture.country_code).map_err(|_| {
            EngineError::InvalidInput("country-code must be an ISO 3166-1 alpha-2 code".into())
        })?;
        let id_class = IdClass::parse(&capture.id_class).ok_or_else(|| {
            EngineError::InvalidInput("id-class must be `dl`, `id` or `pp`".into())
        })?;
        for photo in std::iter::once(&capture.front).chain(capture.back.as_ref()) {
            if photo.len() as u64 > self.settings.max_upload_bytes {
                return Err(EngineError::TooLarge {
                    limit_bytes: self.settings.max_upload_bytes,
                });
            }
        }
        let front_kind =
            checks::sniff_image_kind(&capture.front).ok_or(EngineError::UnsupportedMediaType)?;
        let back_kind = match &capture.back {
            Some(back) => {
                Some(checks::sniff_image_kind(back).ok_or(EngineError::UnsupportedMediaType)?)
            }
            None => None,
        };
        let layout = checks::DocumentLayout::of(&country, id_class);
        if layout.needs_back() && capture.back.is_none() {
            return Err(EngineError::InvalidInput(format!(
                "back-photo is required for a {} from {}",
                id_class.as_str(),
                country.as_str()
            )));
        }

        let inquiry = self.touch(&capture.inquiry_id).await?;
        if !inquiry.status.is_open() {
            return Err(EngineError::WrongStep("the inquiry is not open"));
        }
        let version = self
            .templates
            .version(self.store.as_ref(), &inquiry.template_version_id)
            .await?;
        let spec = government_id_spec(&version.template).ok_or(EngineError::WrongStep(
            "this template takes no government ID",
        ))?;
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
            return Err(EngineError::WrongStep(
                "a government ID was already accepted",
            ));
        }
        if previous
            .iter()
            .any(|v| v.status == VerificationStatus::Created)
        {
            return Err(EngineError::WrongStep(
                "a government-ID verification is waiting to be submitted",
            ));
        }
        let attempt = previous.len() as u32 + 1;
        if attempt > u32::from(spec.max_attempts) {
            return Err(EngineError::WrongStep("no attempts are left"));
        }

        let mut stored_keys = Vec::new();
        let mut writes = Vec::new();
        let now = self.clock.now();
        let sides = [
            Some(("front", capture.front.clone(), front_kind)),
            capture
                .back
                .clone()
                .zip(back_kind)
                .map(|(bytes, kind)| ("back", bytes, kind)),
        ];
        let mut document_ids = Vec::new();
        for (side, bytes, kind) in sides.into_iter().flatten() {
            let document_id = DocumentId::new();
            let stored = self
                .documents
                .put(&inquiry.id, &document_id, extension_of(kind), bytes)
                .await?;
            stored_keys.push(stored.object_key.clone());
            writes.push(Write::InsertDocument(DocumentRecord {
                id: document_id.clone(),
                inquiry_id: inquiry.id.clone(),
                kind: "government_id".into(),
                side: side.into(),
                object_key: stored.object_key,
                content_type: kind.mime_type().into(),
                byte_size: stored.byte_size,
                sha256: stored.sha256,
                created_at: now,
            }));
            document_ids.push(document_id);
        }
        let verification = VerificationRecord {
            id: VerificationId::new(),
            inquiry_id: inquiry.id.clone(),
            kind: VerificationKind::GovernmentId.as_str().into(),
            attempt,
            status: VerificationStatus::INITIAL,
            document_id: document_ids.first().cloned(),
            checks: Vec::new(),
            created_at: now,
            submitted_at: None,
            completed_at: None,
            country_code: Some(country.as_str().to_owned()),
            id_class: Some(id_class.as_str().to_owned()),
            back_document_id: document_ids.get(1).cloned(),
            extracted_sealed: None,
        };
        writes.extend(lifecycle::create_verification(verification.clone()));
        if inquiry.status == InquiryStatus::Created {
            writes.extend(lifecycle::transition_inquiry(
                &inquiry,
                InquiryCause::Start,
                now,
            )?);
        }
        if let Err(error) = lifecycle::commit(self.store.as_ref(), &inquiry, writes).await {
            for key in stored_keys {
                if let Err(cleanup) = self.documents.delete(&key).await {
                    tracing::warn!(inquiry.id = %inquiry.id, error = %cleanup, "could not remove an unreferenced document file");
                }
            }
            return Err(error);
        }
        tracing::info!(inquiry.id = %inquiry.id, verification.id = %verification.id, "government-id verification created");
        Ok(verification)
    }

    /// Runs every government-ID check on a `created` verification's photos and records the
    /// verdict: passing completes the inquiry once its required fields are in, failing the last
    /// allowed attempt fails it; the template's decision rules follow in the same transaction.
    pub async fn submit_government_id_verification(
        &self,
        id: &VerificationId,
    ) -> Result<GovernmentIdOutcome, EngineError> {
        let mut verification = self
            .store
            .verification(id)
            .await?
            .ok_or(EngineError::NotFound {
                kind: "verification",
            })?;
        if verification.status != VerificationStatus::Created {
            return Err(EngineError::IllegalVerificationTransition(
                domain::verification::transition(verification.status, VerificationCause::Submit)
                    .err()
                    .ok_or(EngineError::WrongStep(
                        "this verification was already submitted",
                    ))?,
            ));
        }
        let inquiry = self.touch(&verification.inquiry_id).await?;
        if !inquiry.status.is_open() {
            return Err(EngineError::WrongStep("the inquiry is not open"));
        }
        let version = self
            .templates
            .version(self.store.as_ref(), &inquiry.template_version_id)
            .await?;
        let template = &version.template;
        let spec = government_id_spec(template)
            .ok_or(EngineError::WrongStep(
                "this template takes no government ID",
            ))?
            .clone();
        let front = match &verification.document_id {
            Some(document_id) => self.document_bytes_by_id(document_id).await?,
            None => return Err(EngineError::WrongStep("the verification has no photo")),
        };
        let back = match &verification.back_document_id {
            Some(document_id) => Some(self.document_bytes_by_id(document_id).await?),
            None => None,
        };
        let now = self.clock.now();
        let today = now.date();
        let typed = |key: &str| inquiry.fields.get(key).map(String::as_str);
        let minimum_age = spec
            .minimum_age
            .or_else(|| template.fields.iter().find_map(|field| field.minimum_age));
        let input = GovernmentIdInput {
            country: CountryCode::parse(verification.country_code.as_deref().unwrap_or(""))
                .map_err(|_| EngineError::Internal(anyhow::anyhow!("stored country code")))?,
            id_class: IdClass::parse(verification.id_class.as_deref().unwrap_or(""))
                .ok_or_else(|| EngineError::Internal(anyhow::anyhow!("stored id class")))?,
            name_first: typed("name-first").and_then(|v| PersonName::parse(v, "first name").ok()),
            name_last: typed("name-last").and_then(|v| PersonName::parse(v, "last name").ok()),
            birthdate: typed("birthdate")
                .and_then(|v| BirthDate::parse(v, today, "date of birth").ok()),
            today,
            policy: GovernmentIdPolicy {
                allowed_countries: spec
                    .allowed_countries
                    .iter()
                    .filter_map(|code| CountryCode::parse(code).ok())
                    .collect(),
                allowed_id_classes: spec.id_classes.clone(),
                minimum_age,
                quality: self.settings.quality.clone(),
            },
        };
        let report = tokio::task::spawn_blocking(move || {
            checks::run_government_id_checks(&front, back.as_deref(), &input)
        })
        .await
        .context("running the government-ID checks")?;
        let results: Vec<CheckResult> = report
            .checks
            .into_iter()
            .map(|outcome| {
                let requirement = spec.requirement(outcome.name);
                CheckResult::from_outcome(outcome, requirement)
            })
            .collect();
        let passed = !results.iter().any(CheckResult::fails_verification);
        let now = self.clock.now();
        let mut writes = lifecycle::transition_verification(
            &mut verification,
            VerificationCause::Submit,
            now,
            None,
        )?;
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
        if let Some(extracted) = &report.extracted {
            let json = serde_json::to_string(extracted).context("serializing what was read")?;
            writes.push(Write::SetVerificationExtracted {
                id: verification.id.clone(),
                sealed: self.data_key.seal(&json),
            });
        }
        let attempts_so_far = verification.attempt;
        let cause = if passed && fields_complete(template, &inquiry) {
            Some(InquiryCause::Complete)
        } else if !passed && attempts_so_far >= u32::from(spec.max_attempts) {
            Some(InquiryCause::Fail)
        } else {
            None
        };
        let mut inquiry_status = inquiry.status;
        if let Some(cause) = cause {
            let earlier = self.store.verifications_of(&inquiry.id).await?;
            let checks = earlier
                .iter()
                .flat_map(|v| v.checks.iter())
                .chain(results.iter());
            let (finish, status) =
                lifecycle::finish_inquiry(&inquiry, cause, template, checks, now)?;
            writes.extend(finish);
            inquiry_status = status;
        }
        lifecycle::commit(self.store.as_ref(), &inquiry, writes).await?;
        tracing::info!(
            inquiry.id = %inquiry.id,
            verification.id = %verification.id,
            verification.status = %verification.status,
            "government-id verification submitted"
        );
        Ok(GovernmentIdOutcome {
            verification_id: verification.id,
            status: verification.status,
            inquiry_status,
            checks: results,
        })
    }

    /// What was read from a verification's document, opened (`None` when nothing was read or
    /// its inquiry was redacted).
    pub fn extracted_attributes(
        &self,
        verification: &VerificationRecord,
    ) -> Result<Option<serde_json::Value>, EngineError> {
        verification
            .extracted_sealed
            .as_deref()
            .map(|sealed| {
                let json = self.data_key.open(sealed)?;
                serde_json::from_str(&json).context("reading what was read from a document")
            })
            .transpose()
            .map_err(EngineError::Internal)
    }

    async fn document_bytes_by_id(&self, id: &DocumentId) -> Result<Bytes, EngineError> {
        let document = self
            .store
            .document(id)
            .await?
            .ok_or(EngineError::NotFound { kind: "document" })?;
        self.document_bytes(&document).await
    }
}
