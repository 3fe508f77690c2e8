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
}

impl CheckName {
    /// Every check name, in the order checks run.
    pub const ALL: [CheckName; 4] = [
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
        }
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
