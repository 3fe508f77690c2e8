//! The image quality checks end to end, on synthetic ID card photos generated here.

use checks::fixtures::{
    blurred, encode_jpeg, encode_png, encode_webp_lossless, id_card_image, id_card_image_on_table,
    overexposed, with_glare,
};
use checks::{run_id_image_checks, sniff_image_kind, ImageKind, QualityPolicy};
use domain::checks::{CheckName, CheckOutcome, CheckStatus};
use proptest::prelude::*;
use std::sync::OnceLock;

/// Statuses in check order: unprocessable, resolution, blur, glare.
fn statuses(outcomes: &[CheckOutcome]) -> Vec<CheckStatus> {
    outcomes.iter().map(|outcome| outcome.status).collect()
}

fn run(bytes: &[u8]) -> Vec<CheckOutcome> {
    let outcomes = run_id_image_checks(bytes, &QualityPolicy::default());
    let names: Vec<CheckName> = outcomes.iter().map(|outcome| outcome.name).collect();
    assert_eq!(names, CheckName::IMAGE_QUALITY, "four outcomes, in order");
    for outcome in &outcomes {
        assert_eq!(
            outcome.reasons.is_empty(),
            outcome.status == CheckStatus::Passed,
            "reasons exactly when not passed: {outcome:?}"
        );
    }
    outcomes
}

fn metric(outcome: &CheckOutcome, key: &str) -> f64 {
    outcome.metadata[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {outcome:?}"))
}

/// The 1600×1000 sharp card most tests start from (drawing it takes a while in debug builds).
fn sharp_card() -> &'static image::RgbImage {
    static CARD: OnceLock<image::RgbImage> = OnceLock::new();
    CARD.get_or_init(|| id_card_image(1600, 1000))
}

const PASSED: CheckStatus = CheckStatus::Passed;
const FAILED: CheckStatus = CheckStatus::Failed;
const NOT_APPLICABLE: CheckStatus = CheckStatus::NotApplicable;

#[test]
fn a_sharp_card_photo_passes_every_check() {
    let outcomes = run(&encode_jpeg(sharp_card(), 85));
    assert_eq!(statuses(&outcomes), [PASSED; 4], "{outcomes:#?}");
    let policy = QualityPolicy::default();
    assert_eq!(outcomes[0].metadata["mime_type"], "image/jpeg");
    assert_eq!(outcomes[1].metadata["width"], 1600);
    assert_eq!(outcomes[1].metadata["height"], 1000);
    assert!(metric(&outcomes[2], "sharpness") > 5.0 * policy.min_sharpness);
    assert_eq!(metric(&outcomes[2], "min_sharpness"), policy.min_sharpness);
    assert_eq!(outcomes[2].metadata["analysed_width"], 1024);
    assert_eq!(metric(&outcomes[3], "glare_fraction"), 0.0);
    assert_eq!(
        metric(&outcomes[3], "max_glare_fraction"),
        policy.max_glare_fraction
    );
}

#[test]
fn sharp_cards_pass_as_png_and_lossless_webp() {
    let card = id_card_image(1000, 640);
    for (bytes, mime) in [
        (encode_png(&card), "image/png"),
        (encode_webp_lossless(&card), "image/webp"),
    ] {
        let outcomes = run(&bytes);
        assert_eq!(statuses(&outcomes), [PASSED; 4], "{mime}: {outcomes:#?}");
        assert_eq!(outcomes[0].metadata["mime_type"], mime);
    }
}

#[test]
fn a_sharp_card_on_a_mid_grey_table_passes_glare() {
    let outcomes = run(&encode_jpeg(&id_card_image_on_table(1200, 800, 128), 85));
    assert_eq!(statuses(&outcomes), [PASSED; 4], "{outcomes:#?}");
}

#[test]
fn an_out_of_focus_card_fails_blur_only() {
    for sigma in [4.0, 6.0] {
        let outcomes = run(&encode_jpeg(&blurred(sharp_card(), sigma), 85));
        assert_eq!(
            statuses(&outcomes),
            [PASSED, PASSED, FAILED, PASSED],
            "sigma {sigma}: {outcomes:#?}"
        );
        assert_eq!(outcomes[2].reasons, ["image_too_blurry"]);
        assert!(metric(&outcomes[2], "sharpness") < QualityPolicy::default().min_sharpness / 4.0);
    }
}

#[test]
fn a_slightly_soft_card_still_passes_blur() {
    let outcomes = run(&encode_jpeg(&blurred(sharp_card(), 1.0), 85));
    assert_eq!(outcomes[2].status, PASSED, "{outcomes:#?}");
}

#[test]
fn an_overexposed_card_fails_glare() {
    let outcomes = run(&encode_jpeg(&overexposed(sharp_card()), 85));
    assert_eq!(outcomes[3].status, FAILED, "{outcomes:#?}");
    assert_eq!(outcomes[3].reasons, ["glare_detected"]);
    assert!(metric(&outcomes[3], "glare_fraction") > 0.25);
}

#[test]
fn a_glare_spot_over_a_fifth_of_the_card_fails_glare() {
    let outcomes = run(&encode_jpeg(&with_glare(sharp_card(), 0.2), 85));
    assert_eq!(
        statuses(&outcomes),
        [PASSED, PASSED, PASSED, FAILED],
        "{outcomes:#?}"
    );
    assert_eq!(outcomes[3].reasons, ["glare_detected"]);
}

#[test]
fn a_small_reflection_passes_glare() {
    let outcomes = run(&encode_jpeg(&with_glare(sharp_card(), 0.02), 85));
    assert_eq!(outcomes[3].status, PASSED, "{outcomes:#?}");
    assert!(metric(&outcomes[3], "saturated_fraction") > 0.0);
}

#[test]
fn a_tiny_photo_fails_resolution_and_is_still_measured() {
    let outcomes = run(&encode_jpeg(&id_card_image(300, 200), 90));
    assert_eq!(statuses(&outcomes)[..2], [PASSED, FAILED], "{outcomes:#?}");
    assert_eq!(outcomes[1].reasons, ["resolution_too_low"]);
    assert_eq!(outcomes[1].metadata["width"], 300);
    assert_eq!(outcomes[1].metadata["min_long_side_px"], 800);
    assert!(metric(&outcomes[2], "sharpness") > 0.0);
    assert_eq!(outcomes[3].status, PASSED);
}

#[test]
fn the_minimum_resolution_applies_to_either_orientation() {
    let portrait = image::imageops::rotate90(&id_card_image(800, 500));
    let outcomes = run(&encode_png(&portrait));
    assert_eq!(outcomes[1].status, PASSED, "{outcomes:#?}");
    let too_narrow = run(&encode_png(&id_card_image(1200, 499)));
    assert_eq!(too_narrow[1].status, FAILED);
}

#[test]
fn a_degenerate_image_is_not_measured() {
    let outcomes = run(&encode_png(&image::RgbImage::new(2, 2)));
    assert_eq!(
        statuses(&outcomes),
        [PASSED, FAILED, NOT_APPLICABLE, NOT_APPLICABLE]
    );
    assert_eq!(outcomes[2].reasons, ["image_too_small_to_measure"]);
}

fn assert_unreadable(bytes: &[u8], reason: &str) {
    let outcomes = run(bytes);
    assert_eq!(
        statuses(&outcomes),
        [FAILED, NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE],
        "{outcomes:#?}"
    );
    assert_eq!(outcomes[0].reasons, [reason]);
    assert_eq!(outcomes[0].metadata["byte_length"], bytes.len());
    for outcome in &outcomes[1..] {
        assert_eq!(outcome.reasons, ["image_unreadable"]);
    }
}

#[test]
fn other_file_types_are_unsupported() {
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    let heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic";
    let bmp = b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00";
    for bytes in [&gif[..], pdf, heic, bmp, b"just some text", b""] {
        assert_unreadable(bytes, "unsupported_format");
    }
    let random: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_unreadable(&random, "unsupported_format");
}

#[test]
fn truncated_or_damaged_images_are_corrupt() {
    let card = id_card_image(900, 560);
    let jpeg = encode_jpeg(&card, 85);
    // A photo whose upload stopped part way.
    for keep in [jpeg.len() / 2, jpeg.len() - 2, 200, 4] {
        assert_unreadable(&jpeg[..keep], "corrupt_image");
    }
    let png = encode_png(&card);
    assert_unreadable(&png[..png.len() / 2], "corrupt_image");
    let webp = encode_webp_lossless(&card);
    assert_unreadable(&webp[..webp.len() / 2], "corrupt_image");
    // Right magic bytes, then garbage.
    assert_unreadable(b"\xFF\xD8\xFF\xE0garbage garbage garbage", "corrupt_image");
    assert_unreadable(b"\x89PNG\r\n\x1a\ngarbage garbage", "corrupt_image");
    assert_unreadable(b"RIFF\x20\x00\x00\x00WEBPgarbage garbage", "corrupt_image");
}

#[test]
fn a_jpeg_declaring_huge_dimensions_is_refused_before_decoding() {
    let mut jpeg = encode_jpeg(&id_card_image(64, 40), 85);
    let sof = jpeg
        .windows(2)
        .position(|marker| marker == [0xFF, 0xC0])
        .expect("baseline JPEG has a SOF0 segment");
    // SOF0: marker, length (2), precision (1), height (2), width (2).
    jpeg[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    assert_unreadable(&jpeg, "image_too_large");
}

#[test]
fn a_png_declaring_more_than_64_megapixels_is_refused_before_decoding() {
    let mut png = encode_png(&id_card_image(64, 40));
    // IHDR data follows the 8-byte signature and the chunk's length and type (8 bytes).
    png[16..20].copy_from_slice(&9_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&8_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    assert_unreadable(&png, "image_too_large");
}

/// CRC-32 (IEEE) as PNG chunks use, bit by bit: only for building test inputs.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn crc32_matches_the_png_reference_value() {
    assert_eq!(crc32(b"IEND"), 0xAE42_6082);
}

fn small_image(width: u32, height: u32, seed: u8) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        let v = (x * 31 + y * 17) as u8 ^ seed;
        image::Rgb([v, v.wrapping_mul(3), seed])
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_bytes_never_panic_and_give_four_outcomes(
        prefix in prop::sample::select(vec![
            &b""[..],
            &b"\xFF\xD8\xFF"[..],
            &b"\xFF\xD8\xFF\xDB\x00\x43\x00"[..],
            &b"\x89PNG\r\n\x1a\n"[..],
            &b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"[..],
            &b"RIFF\x00\x01\x00\x00WEBPVP8L"[..],
            &b"RIFF\x00\x01\x00\x00WEBPVP8 "[..],
        ]),
        rest in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let bytes = [prefix, &rest[..]].concat();
        let outcomes = run(&bytes);
        prop_assert_eq!(outcomes.len(), 4);
    }

    #[test]
    fn damaged_real_images_never_panic(
        format in 0..3usize,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let image = small_image(24, 16, 7);
        let mut bytes = match format {
            0 => encode_jpeg(&image, 80),
            1 => encode_png(&image),
            _ => encode_webp_lossless(&image),
        };
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        let keep = bytes.len() / 2 + cut.index(bytes.len() / 2 + 1);
        let outcomes = run(&bytes[..keep]);
        prop_assert_eq!(outcomes.len(), 4);
    }

    #[test]
    fn sniffing_names_the_encoded_format(
        width in 1u32..48,
        height in 1u32..48,
        seed in any::<u8>(),
        format in 0..3usize,
    ) {
        let image = small_image(width, height, seed);
        let (bytes, kind) = match format {
            0 => (encode_jpeg(&image, 80), ImageKind::Jpeg),
            1 => (encode_png(&image), ImageKind::Png),
            _ => (encode_webp_lossless(&image), ImageKind::Webp),
        };
        prop_assert_eq!(sniff_image_kind(&bytes), Some(kind));
        let outcomes = run(&bytes);
        prop_assert_eq!(outcomes[0].status, CheckStatus::Passed);
        prop_assert_eq!(&outcomes[0].metadata["mime_type"], kind.mime_type());
        prop_assert_eq!(&outcomes[1].metadata["width"], width);
    }
}
