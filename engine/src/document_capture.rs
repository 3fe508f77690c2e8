//! The hosted flow's capture of a whole government ID, step by step, for templates whose
//! government-ID verification lists `id-classes`: the person chooses the issuing country and the
//! type of document, photographs the front, then the back when the document has one worth
//! reading; the checks then run like an integrator's `submit`.
//!
//! Between steps the attempt is a `created` verification holding the choice and the photos taken
//! so far (created through the lifecycle service, with `verification.created`); the last photo
//! submits it through [`Engine::submit_government_id_verification`].

use crate::error::EngineError;
use crate::flow::{extension_of, government_id_spec, Engine, GovernmentIdOutcome};
use crate::lifecycle;
use crate::records::{DocumentRecord, InquiryRecord, VerificationRecord};
use crate::store::Write;
use bytes::Bytes;
use checks::DocumentLayout;
use domain::checks::IdClass;
use domain::fields::CountryCode;
use domain::flow::{Choice, DocumentSide};
use domain::ids::{DocumentId, InquiryId, VerificationId};
use domain::inquiry::InquiryStatus;
use domain::template::{VerificationKind, VerificationSpec};
use domain::verification::VerificationStatus;

/// What a photo of one side led to.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureOutcome {
    /// The front was kept; the back is next.
    NeedsBack,
    /// Every photo was in; the checks ran.
    Checked(GovernmentIdOutcome),
}

/// The plain name of a class of document.
pub fn id_class_label(class: IdClass) -> &'static str {
    match class {
        IdClass::DriverLicence => "Driver's licence",
        IdClass::IdCard => "ID card",
        IdClass::Passport => "Passport",
    }
}

/// The English name of a country, for the ones templates commonly allow; the code otherwise.
pub fn country_label(code: &str) -> String {
    let name = match code {
        "US" => "United States",
        "CA" => "Canada",
        "MX" => "Mexico",
        "GB" => "United Kingdom",
        "IE" => "Ireland",
        "FR" => "France",
        "DE" => "Germany",
        "ES" => "Spain",
        "IT" => "Italy",
        "NL" => "Netherlands",
        "BE" => "Belgium",
        "CH" => "Switzerland",
        "AT" => "Austria",
        "PT" => "Portugal",
        "SE" => "Sweden",
        "NO" => "Norway",
        "DK" => "Denmark",
        "FI" => "Finland",
        "PL" => "Poland",
        "AU" => "Australia",
        "NZ" => "New Zealand",
        "JP" => "Japan",
        "IN" => "India",
        "BR" => "Brazil",
        _ => return code.to_owned(),
    };
    name.to_owned()
}

/// The countries and classes a template offers, as choices.
pub(crate) fn document_choices(spec: &VerificationSpec) -> (Vec<Choice>, Vec<Choice>) {
    let countries = spec
        .allowed_countries
        .iter()
        .filter_map(|code| CountryCode::parse(code).ok())
        .map(|code| Choice {
            value: code.as_str().to_owned(),
            label: country_label(code.as_str()),
        })
        .collect();
    let classes = spec
        .id_classes
        .iter()
        .map(|class| Choice {
            value: class.as_str().to_owned(),
            label: id_class_label(*class).to_owned(),
        })
        .collect();
    (countries, classes)
}

/// Whether a verification still needs the back of its document.
pub(crate) fn needs_back(verification: &VerificationRecord) -> bool {
    let country = CountryCode::parse(verification.country_code.as_deref().unwrap_or(""));
    let class = IdClass::parse(verification.id_class.as_deref().unwrap_or(""));
    match (country, class) {
        (Ok(country), Some(class)) => DocumentLayout::of(&country, class).needs_back(),
        _ => false,
    }
}

impl Engine {
    /// The open inquiry at the ID steps of the flow, its template's government-ID spec (one with
    /// `id-classes`) and its government-ID verifications so far.
    async fn at_document_steps(
        &self,
        inquiry_id: &InquiryId,
    ) -> Result<(InquiryRecord, VerificationSpec, Vec<VerificationRecord>), EngineError> {
        let inquiry = self.touch(inquiry_id).await?;
        if inquiry.status != InquiryStatus::Pending || inquiry.fields_submitted_at.is_none() {
            return Err(EngineError::WrongStep("the ID steps are not open"));
        }
        let version = self
            .templates
            .version(self.store.as_ref(), &inquiry.template_version_id)
            .await?;
        let spec = government_id_spec(&version.template)
            .filter(|spec| !spec.id_classes.is_empty())
            .cloned()
            .ok_or(EngineError::WrongStep(
                "this template does not ask for the type of ID",
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
            return Err(EngineError::WrongStep("your ID was already accepted"));
        }
        Ok((inquiry, spec, previous))
    }

    /// The person chose the issuing country and the type of their ID: opens a new attempt (a
    /// `created` verification) or, when one is open, changes its choice and forgets its photos.
    /// A country or type the template does not offer is `InvalidInput`.
    pub async fn choose_government_id(
        &self,
        inquiry_id: &InquiryId,
        country_code: &str,
        id_class: &str,
    ) -> Result<VerificationId, EngineError> {
        let (inquiry, spec, previous) = self.at_document_steps(inquiry_id).await?;
        let country = CountryCode::parse(country_code).map_err(|_| {
            EngineError::InvalidInput("choose the country that issued your ID".into())
        })?;
        let allowed_country = spec.allowed_countries.is_empty()
            || spec
                .allowed_countries
                .iter()
                .any(|code| code.eq_ignore_ascii_case(country.as_str()));
        if !allowed_country {
            return Err(EngineError::InvalidInput(
                "that country is not one this verification accepts".into(),
            ));
        }
        let class = IdClass::parse(id_class)
            .filter(|class| spec.id_classes.contains(class))
            .ok_or_else(|| EngineError::InvalidInput("choose the type of your ID".into()))?;
        let now = self.clock.now();
        let writes = match previous
            .iter()
            .find(|v| v.status == VerificationStatus::Created)
        {
            Some(open) => vec![Write::SetPendingGovernmentId {
                id: open.id.clone(),
                country_code: country.as_str().to_owned(),
                id_class: class.as_str().to_owned(),
                document_id: None,
                back_document_id: None,
            }],
            None => {
                let attempt = previous.len() as u32 + 1;
                if attempt > u32::from(spec.max_attempts) {
                    return Err(EngineError::WrongStep("no attempts are left"));
                }
                lifecycle::create_verification(VerificationRecord {
                    id: VerificationId::new(),
                    inquiry_id: inquiry.id.clone(),
                    kind: VerificationKind::GovernmentId.as_str().into(),
                    attempt,
                    status: VerificationStatus::INITIAL,
                    document_id: None,
                    checks: Vec::new(),
                    created_at: now,
                    submitted_at: None,
                    completed_at: None,
                    country_code: Some(country.as_str().to_owned()),
                    id_class: Some(class.as_str().to_owned()),
                    back_document_id: None,
                    extracted_sealed: None,
                })
            }
        };
        let id = match &writes[0] {
            Write::SetPendingGovernmentId { id, .. } => id.clone(),
            Write::InsertVerification(v) => v.id.clone(),
            _ => unreachable!("the first write names the verification"),
        };
        lifecycle::commit(self.store.as_ref(), &inquiry, writes).await?;
        tracing::info!(inquiry.id = %inquiry.id, verification.id = %id, "government id chosen");
        Ok(id)
    }

    /// Takes a photo of one side of the chosen ID. The front of a document with a back to read
    /// waits for it; the last photo runs every check and records the verdict.
    pub async fn capture_government_id_side(
        &self,
        inquiry_id: &InquiryId,
        side: DocumentSide,
        upload: Bytes,
    ) -> Result<CaptureOutcome, EngineError> {
        if upload.len() as u64 > self.settings.max_upload_bytes {
            return Err(EngineError::TooLarge {
                limit_bytes: self.settings.max_upload_bytes,
            });
        }
        let (inquiry, _spec, previous) = self.at_document_steps(inquiry_id).await?;
        let open = previous
            .into_iter()
            .find(|v| v.status == VerificationStatus::Created)
            .ok_or(EngineError::WrongStep("choose your type of ID first"))?;
        let back_needed = needs_back(&open);
        let (document_id, back_document_id) = match side {
            DocumentSide::Front => (None, None),
            DocumentSide::Back if !back_needed => {
                return Err(EngineError::WrongStep("this ID needs no photo of its back"))
            }
            DocumentSide::Back => match &open.document_id {
                Some(front) => (Some(front.clone()), None),
                None => return Err(EngineError::WrongStep("photograph the front first")),
            },
        };
        let kind = checks::sniff_image_kind(&upload).ok_or(EngineError::UnsupportedMediaType)?;
        let new_document = DocumentId::new();
        let stored = self
            .documents
            .put(&inquiry.id, &new_document, extension_of(kind), upload)
            .await?;
        let (document_id, back_document_id) = match side {
            DocumentSide::Front => (Some(new_document.clone()), back_document_id),
            DocumentSide::Back => (document_id, Some(new_document.clone())),
        };
        let writes = vec![
            Write::InsertDocument(DocumentRecord {
                id: new_document,
                inquiry_id: inquiry.id.clone(),
                kind: "government_id".into(),
                side: side.as_str().into(),
                object_key: stored.object_key.clone(),
                content_type: kind.mime_type().into(),
                byte_size: stored.byte_size,
                sha256: stored.sha256,
                created_at: self.clock.now(),
            }),
            Write::SetPendingGovernmentId {
                id: open.id.clone(),
                country_code: open.country_code.clone().unwrap_or_default(),
                id_class: open.id_class.clone().unwrap_or_default(),
                document_id,
                back_document_id,
            },
        ];
        if let Err(error) = lifecycle::commit(self.store.as_ref(), &inquiry, writes).await {
            if let Err(cleanup) = self.documents.delete(&stored.object_key).await {
                tracing::warn!(inquiry.id = %inquiry.id, error = %cleanup, "could not remove an unreferenced document file");
            }
            return Err(error);
        }
        tracing::info!(inquiry.id = %inquiry.id, verification.id = %open.id, side = side.as_str(), "government id photo taken");
        if side == DocumentSide::Front && back_needed {
            return Ok(CaptureOutcome::NeedsBack);
        }
        self.submit_government_id_verification(&open.id)
            .await
            .map(CaptureOutcome::Checked)
    }
}
