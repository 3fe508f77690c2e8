//! The vocabulary of verification checks: names, outcomes and the plain-language hints a person sees.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A named check, spelled as the industry spells it (`id_blur_detection`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// The upload is an image we can decode (JPEG, PNG or WebP).
    IdUnprocessableSubmissionDetection,
    /// The image has enough pixels to read a document from.
    IdLowResolutionDetection,
    /// The image is sharp enough (variance of the Laplacian).
    IdBlurDetection,
    /// The image is not washed out by glare (fraction of saturated pixels).
    IdGlareDetection,
    /// The document's four corners are in the photo (so nothing is cut off) and could be found.
    IdCornerDetection,
    /// The PDF417 barcode on the back of a US or Canadian licence or ID card can be read and
    /// holds AAMVA data.
    IdBarcodeDetection,
    /// The barcode's data agrees with itself: dates valid and in order, issuer number and
    /// jurisdiction plausible, required elements present.
    IdBarcodeInconsistencyDetection,
    /// The machine-readable zone (MRZ) of a passport or ID card can be read.
    IdMrzDetection,
    /// The MRZ's check digits and fields agree with themselves.
    IdMrzInconsistencyDetection,
    /// What the document says (names, birthdate) matches what the person typed.
    IdExtractionInconsistencyDetection,
    /// The document has not expired.
    IdExpiredDetection,
    /// The document's dates make sense: birth and issue in the past, issue before expiry.
    IdValidDatesDetection,
    /// The person is at least the minimum age the template asks for, by the document's birthdate.
    IdAgeComparison,
    /// The document was issued by a country the template accepts.
    IdDisallowedCountryDetection,
    /// The document is of a class (driver licence, ID card, passport) the template accepts.
    IdDisallowedTypeDetection,
}

impl CheckName {
    /// Every check name, in the order checks run.
    pub const ALL: [CheckName; 15] = [
        CheckName::IdUnprocessableSubmissionDetection,
        CheckName::IdLowResolutionDetection,
        CheckName::IdBlurDetection,
        CheckName::IdGlareDetection,
        CheckName::IdCornerDetection,
        CheckName::IdBarcodeDetection,
        CheckName::IdBarcodeInconsistencyDetection,
        CheckName::IdMrzDetection,
        CheckName::IdMrzInconsistencyDetection,
        CheckName::IdExtractionInconsistencyDetection,
        CheckName::IdExpiredDetection,
        CheckName::IdValidDatesDetection,
        CheckName::IdAgeComparison,
        CheckName::IdDisallowedCountryDetection,
        CheckName::IdDisallowedTypeDetection,
    ];

    /// The image checks run on every uploaded photo, in order (a prefix of [`CheckName::ALL`]).
    pub const IMAGE_QUALITY: [CheckName; 4] = [
        CheckName::IdUnprocessableSubmissionDetection,
        CheckName::IdLowResolutionDetection,
        CheckName::IdBlurDetection,
        CheckName::IdGlareDetection,
    ];

    /// The wire name, e.g. `id_blur_detection`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::IdUnprocessableSubmissionDetection => {
                "id_unprocessable_submission_detection"
            }
            CheckName::IdLowResolutionDetection => "id_low_resolution_detection",
            CheckName::IdBlurDetection => "id_blur_detection",
            CheckName::IdGlareDetection => "id_glare_detection",
            CheckName::IdCornerDetection => "id_corner_detection",
            CheckName::IdBarcodeDetection => "id_barcode_detection",
            CheckName::IdBarcodeInconsistencyDetection => "id_barcode_inconsistency_detection",
            CheckName::IdMrzDetection => "id_mrz_detection",
            CheckName::IdMrzInconsistencyDetection => "id_mrz_inconsistency_detection",
            CheckName::IdExtractionInconsistencyDetection => {
                "id_extraction_inconsistency_detection"
            }
            CheckName::IdExpiredDetection => "id_expired_detection",
            CheckName::IdValidDatesDetection => "id_valid_dates_detection",
            CheckName::IdAgeComparison => "id_age_comparison",
            CheckName::IdDisallowedCountryDetection => "id_disallowed_country_detection",
            CheckName::IdDisallowedTypeDetection => "id_disallowed_type_detection",
        }
    }

    /// Parses a wire name; unknown names are `None`, never a default.
    pub fn parse(name: &str) -> Option<CheckName> {
        CheckName::ALL
            .into_iter()
            .find(|check| check.as_str() == name)
    }

    /// What the person can do when this check fails, in plain language; `None` when they cannot fix it.
    pub fn retry_hint(self) -> Option<&'static str> {
        match self {
            CheckName::IdUnprocessableSubmissionDetection => Some(
                "We could not open that file as a photo. Please upload a JPEG, PNG or WebP picture of your ID.",
            ),
            CheckName::IdLowResolutionDetection => Some(
                "Your photo is too small to read. Move closer so the ID fills the frame, or use a higher camera resolution.",
            ),
            CheckName::IdBlurDetection => Some(
                "Your photo is blurry. Hold the camera steady, let it focus, and make sure the text on the ID is sharp.",
            ),
            CheckName::IdGlareDetection => Some(
                "There is too much glare on your photo. Move away from direct light or turn off the flash, then try again.",
            ),
            CheckName::IdCornerDetection => Some(
                "Part of your ID is cut off. Place it on a plain, darker surface and make sure all four corners are inside the photo.",
            ),
            CheckName::IdBarcodeDetection => Some(
                "We could not read the barcode on the back of your ID. Photograph the back (the side with the large barcode), flat, in focus and without glare.",
            ),
            CheckName::IdMrzDetection => Some(
                "We could not read the lines of letters and <<< at the bottom of your ID. Photograph the page with those lines fully visible, flat, in focus and without glare.",
            ),
            CheckName::IdExtractionInconsistencyDetection => Some(
                "The name or date of birth you entered does not match your ID. Check them for typos and enter them exactly as printed on your ID.",
            ),
            CheckName::IdExpiredDetection => Some(
                "Your ID has expired. Please use an ID that is still valid.",
            ),
            CheckName::IdDisallowedCountryDetection => Some(
                "We cannot accept an ID from this country here. Please use an ID issued by one of the countries offered.",
            ),
            CheckName::IdDisallowedTypeDetection => Some(
                "We cannot accept this kind of ID here. Please use one of the kinds of ID offered.",
            ),
            // Nothing the person can change about the document's own data or their age.
            CheckName::IdBarcodeInconsistencyDetection
            | CheckName::IdMrzInconsistencyDetection
            | CheckName::IdValidDatesDetection
            | CheckName::IdAgeComparison => None,
        }
    }

    /// Like [`CheckName::retry_hint`], but more precise when the failed check's reasons say
    /// exactly what went wrong (the name alone, the birthdate alone, the wrong side).
    pub fn retry_hint_for(self, reasons: &[String]) -> Option<&'static str> {
        let has = |reason: &str| reasons.iter().any(|r| r == reason);
        match self {
            CheckName::IdExtractionInconsistencyDetection
                if has("name_mismatch") && !has("birthdate_mismatch") =>
            {
                Some("The name you entered does not match your ID. Enter your first and last name exactly as printed on your ID.")
            }
            CheckName::IdExtractionInconsistencyDetection
                if has("birthdate_mismatch") && !has("name_mismatch") =>
            {
                Some("The date of birth you entered does not match your ID. Check it for typos (day, month and year).")
            }
            CheckName::IdBarcodeDetection if has("back_image_missing") => Some(
                "Please also photograph the back of your ID (the side with the large barcode).",
            ),
            // The server could not run its text recognition: nothing the person can do.
            CheckName::IdMrzDetection if has("mrz_ocr_unavailable") => None,
            _ => self.retry_hint(),
        }
    }
}

/// A class of identity document, as templates name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IdClass {
    /// `dl`: a driver licence (or learner's permit).
    #[serde(rename = "dl")]
    DriverLicence,
    /// `id`: a national or state identity card.
    #[serde(rename = "id")]
    IdCard,
    /// `pp`: a passport (booklet data page).
    #[serde(rename = "pp")]
    Passport,
}

impl IdClass {
    /// Every class.
    pub const ALL: [IdClass; 3] = [IdClass::DriverLicence, IdClass::IdCard, IdClass::Passport];

    /// The wire name: `dl`, `id` or `pp`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdClass::DriverLicence => "dl",
            IdClass::IdCard => "id",
            IdClass::Passport => "pp",
        }
    }

    /// Parses a wire name; unknown names are `None`.
    pub fn parse(name: &str) -> Option<IdClass> {
        IdClass::ALL
            .into_iter()
            .find(|class| class.as_str() == name)
    }
}

impl fmt::Display for IdClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    Failed,
    NotApplicable,
}

/// Whether a failed check fails its verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CheckRequirement {
    #[default]
    Required,
    NotRequired,
}

/// What one check found on one submission, before the template decides whether it is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckOutcome {
    pub name: CheckName,
    pub status: CheckStatus,
    /// Machine-readable reasons, e.g. `"image_too_blurry"`; empty when passed.
    pub reasons: Vec<String>,
    /// Measurements behind the decision (sharpness score, pixel sizes, …); never personal data.
    pub metadata: serde_json::Value,
}

/// A check as recorded on a verification: its outcome plus whether the template requires it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: CheckName,
    pub status: CheckStatus,
    pub requirement: CheckRequirement,
    pub reasons: Vec<String>,
    pub metadata: serde_json::Value,
}

impl CheckResult {
    /// Attaches the template's requirement to an outcome.
    pub fn from_outcome(outcome: CheckOutcome, requirement: CheckRequirement) -> CheckResult {
        CheckResult {
            name: outcome.name,
            status: outcome.status,
            requirement,
            reasons: outcome.reasons,
            metadata: outcome.metadata,
        }
    }

    /// True when this check makes its verification fail.
    pub fn fails_verification(&self) -> bool {
        self.status == CheckStatus::Failed && self.requirement == CheckRequirement::Required
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_parse_and_serde() {
        for check in CheckName::ALL {
            assert_eq!(CheckName::parse(check.as_str()), Some(check));
            let json = serde_json::to_string(&check).unwrap();
            assert_eq!(json, format!("\"{}\"", check.as_str()));
        }
        assert_eq!(CheckName::parse("id_made_up_detection"), None);
    }

    #[test]
    fn image_quality_checks_lead_the_list() {
        assert_eq!(CheckName::ALL[..4], CheckName::IMAGE_QUALITY);
    }

    #[test]
    fn fixable_checks_have_hints_and_precise_reasons_refine_them() {
        for check in [
            CheckName::IdBlurDetection,
            CheckName::IdGlareDetection,
            CheckName::IdCornerDetection,
            CheckName::IdBarcodeDetection,
            CheckName::IdMrzDetection,
            CheckName::IdExpiredDetection,
            CheckName::IdExtractionInconsistencyDetection,
        ] {
            assert!(check.retry_hint().is_some(), "{check}");
        }
        assert_eq!(CheckName::IdAgeComparison.retry_hint(), None);
        let reasons = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let check = CheckName::IdExtractionInconsistencyDetection;
        assert!(check
            .retry_hint_for(&reasons(&["name_mismatch"]))
            .unwrap()
            .contains("name you entered"));
        assert!(check
            .retry_hint_for(&reasons(&["birthdate_mismatch"]))
            .unwrap()
            .contains("date of birth you entered"));
        assert_eq!(
            check.retry_hint_for(&reasons(&["name_mismatch", "birthdate_mismatch"])),
            check.retry_hint()
        );
        assert_eq!(CheckName::IdAgeComparison.retry_hint_for(&[]), None);
        assert_eq!(
            CheckName::IdMrzDetection.retry_hint_for(&reasons(&["mrz_ocr_unavailable"])),
            None
        );
    }

    #[test]
    fn id_classes_round_trip() {
        for class in IdClass::ALL {
            assert_eq!(IdClass::parse(class.as_str()), Some(class));
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{class}\""));
        }
        assert_eq!(IdClass::parse("xx"), None);
    }

    #[test]
    fn only_required_failed_checks_fail_a_verification() {
        let outcome = |status| CheckOutcome {
            name: CheckName::IdBlurDetection,
            status,
            reasons: vec![],
            metadata: serde_json::Value::Null,
        };
        let failed_required =
            CheckResult::from_outcome(outcome(CheckStatus::Failed), CheckRequirement::Required);
        let failed_optional =
            CheckResult::from_outcome(outcome(CheckStatus::Failed), CheckRequirement::NotRequired);
        let passed =
            CheckResult::from_outcome(outcome(CheckStatus::Passed), CheckRequirement::Required);
        assert!(failed_required.fails_verification());
        assert!(!failed_optional.fails_verification());
        assert!(!passed.fails_verification());
    }
}
