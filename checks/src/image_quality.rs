//! Quality checks on a photo of an identity document: can we open it, is it big enough, sharp
//! enough, and free of glare.
//!
//! Every measurement runs on one grey copy of the photo scaled to a long side of 1024 px (see
//! [`QualityPolicy`] for the thresholds and how they were calibrated).

mod decode;
mod measure;

pub use decode::{sniff_image_kind, ImageKind};

use decode::Unreadable;
use domain::checks::{CheckName, CheckOutcome, CheckStatus};
use image::GrayImage;
use serde_json::json;

/// Thresholds for the image quality checks; [`QualityPolicy::default`] holds calibrated values.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityPolicy {
    /// Smallest accepted long side of the uploaded image, in pixels.
    pub min_long_side_px: u32,
    /// Smallest accepted short side of the uploaded image, in pixels.
    pub min_short_side_px: u32,
    /// Smallest accepted variance of the Laplacian, measured on the grey copy whose long side
    /// is 1024 px (or the image itself when smaller).
    pub min_sharpness: f64,
    /// Largest accepted area of the biggest saturated (grey ≥ 250) patch, as a fraction of the
    /// whole image.
    pub max_glare_fraction: f64,
}

impl Default for QualityPolicy {
    /// Values calibrated on the synthetic ID card photos of [`crate::fixtures`]; the figures
    /// behind them are in the comments on each field.
    fn default() -> QualityPolicy {
        QualityPolicy {
            // A phone's lowest photo setting is VGA-class or better; 800×500 still leaves an ID-1
            // card filling most of the frame ~10 px per millimetre, enough to read its print.
            min_long_side_px: 800,
            min_short_side_px: 500,
            // Sharp card photos measure 765 (4000×3000 JPEG q85) to 1170 (1200×800); the same
            // cards out of focus (Gaussian σ = 4–6 px at 1600 px wide) measure 5–13, σ = 2 px
            // 56–73 and σ = 1.5 px 117–160. 100, the customary Laplacian-variance cut-off, sits
            // at the geometric middle of sharp and σ = 4: a margin of about 7× either way.
            min_sharpness: 100.0,
            // Card photos on dark, mid-grey and light-grey tables measure 0; a glare spot over
            // a fifth of the card 0.15–0.19, an over-exposed card 0.29–0.41, a reflection over
            // 5 % of the card 0.038–0.046 (passes). 0.05 of the frame is a tenth of a card
            // that fills half of it.
            max_glare_fraction: 0.05,
        }
    }
}

/// Runs, in order: id_unprocessable_submission_detection, id_low_resolution_detection,
/// id_blur_detection, id_glare_detection.
///
/// Always returns exactly these four outcomes. When the image cannot be decoded the first fails
/// (reason `unsupported_format`, `corrupt_image` or `image_too_large`) and the others are
/// not applicable (reason `image_unreadable`). A too-small image fails the resolution check and
/// is still measured for blur and glare, so the person learns everything at once.
pub fn run_id_image_checks(bytes: &[u8], policy: &QualityPolicy) -> Vec<CheckOutcome> {
    analyse(bytes, policy).outcomes
}

/// One analysed photo: the four image-check outcomes, plus the decoded image and its grey
/// analysis copy when it could be decoded (the document checks go on from these).
pub(crate) struct Analysed {
    pub(crate) outcomes: Vec<CheckOutcome>,
    pub(crate) image: Option<(image::DynamicImage, GrayImage)>,
}

/// [`run_id_image_checks`], keeping the decoded pixels for the document checks.
pub(crate) fn analyse(bytes: &[u8], policy: &QualityPolicy) -> Analysed {
    let decoded = match sniff_image_kind(bytes) {
        None => Err((Unreadable::UnsupportedFormat, None)),
        Some(kind) => decode::decode(bytes, kind)
            .map(|image| (kind, image))
            .map_err(|unreadable| (unreadable, Some(kind))),
    };
    let (kind, image) = match decoded {
        Ok(decoded) => decoded,
        Err((unreadable, kind)) => {
            return Analysed {
                outcomes: unreadable_outcomes(bytes, unreadable, kind),
                image: None,
            }
        }
    };
    let (width, height) = (image.width(), image.height());
    let gray = measure::analysis_image(&image);
    let outcomes = vec![
        outcome(
            CheckName::IdUnprocessableSubmissionDetection,
            None,
            json!({
                "mime_type": kind.mime_type(),
                "width": width,
                "height": height,
                "byte_length": bytes.len(),
            }),
        ),
        resolution_outcome(width, height, policy),
        blur_outcome(&gray, policy),
        glare_outcome(&gray, policy),
    ];
    Analysed {
        outcomes,
        image: Some((image, gray)),
    }
}

fn unreadable_outcomes(
    bytes: &[u8],
    unreadable: Unreadable,
    kind: Option<ImageKind>,
) -> Vec<CheckOutcome> {
    let mut outcomes = vec![outcome(
        CheckName::IdUnprocessableSubmissionDetection,
        Some(unreadable.reason()),
        json!({
            "mime_type": kind.map(ImageKind::mime_type),
            "byte_length": bytes.len(),
        }),
    )];
    outcomes.extend(
        CheckName::IMAGE_QUALITY[1..]
            .iter()
            .map(|&name| CheckOutcome {
                name,
                status: CheckStatus::NotApplicable,
                reasons: vec!["image_unreadable".to_owned()],
                metadata: json!({}),
            }),
    );
    outcomes
}

fn resolution_outcome(width: u32, height: u32, policy: &QualityPolicy) -> CheckOutcome {
    let (long, short) = (width.max(height), width.min(height));
    let too_low = long < policy.min_long_side_px || short < policy.min_short_side_px;
    outcome(
        CheckName::IdLowResolutionDetection,
        too_low.then_some("resolution_too_low"),
        json!({
            "width": width,
            "height": height,
            "min_long_side_px": policy.min_long_side_px,
            "min_short_side_px": policy.min_short_side_px,
        }),
    )
}

fn blur_outcome(gray: &GrayImage, policy: &QualityPolicy) -> CheckOutcome {
    let Some(sharpness) = measure::laplacian_variance(gray) else {
        return too_small_to_measure(CheckName::IdBlurDetection);
    };
    outcome(
        CheckName::IdBlurDetection,
        (sharpness < policy.min_sharpness).then_some("image_too_blurry"),
        json!({
            "sharpness": sharpness,
            "min_sharpness": policy.min_sharpness,
            "analysed_width": gray.width(),
            "analysed_height": gray.height(),
        }),
    )
}

fn glare_outcome(gray: &GrayImage, policy: &QualityPolicy) -> CheckOutcome {
    if gray.width() < 3 || gray.height() < 3 {
        return too_small_to_measure(CheckName::IdGlareDetection);
    }
    let glare = measure::glare(gray);
    outcome(
        CheckName::IdGlareDetection,
        (glare.largest_patch_fraction > policy.max_glare_fraction).then_some("glare_detected"),
        json!({
            "glare_fraction": glare.largest_patch_fraction,
            "max_glare_fraction": policy.max_glare_fraction,
            "saturated_fraction": glare.saturated_fraction,
        }),
    )
}

/// A degenerate image (a pixel row, a 2×2 dot) has nothing to measure; it has already failed
/// the resolution check, which says what the person can do.
fn too_small_to_measure(name: CheckName) -> CheckOutcome {
    CheckOutcome {
        name,
        status: CheckStatus::NotApplicable,
        reasons: vec!["image_too_small_to_measure".to_owned()],
        metadata: json!({}),
    }
}

/// A passed outcome when `failure` is `None`, otherwise a failed one with that reason.
fn outcome(name: CheckName, failure: Option<&str>, metadata: serde_json::Value) -> CheckOutcome {
    CheckOutcome {
        name,
        status: if failure.is_some() {
            CheckStatus::Failed
        } else {
            CheckStatus::Passed
        },
        reasons: failure.into_iter().map(str::to_owned).collect(),
        metadata,
    }
}
