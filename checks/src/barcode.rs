//! Reading the PDF417 barcode of a US or Canadian licence or ID card with `rxing`.
//!
//! rxing's PDF417 detector gives up past about 5° of tilt, so the caller first straightens the
//! card (see [`crate::corners`]) and hands us that; the raw photo is only the fallback.

use image::GrayImage;
use rxing::{BarcodeFormat, DecodeHints};

/// Decodes the first PDF417 barcode in a grey image; `None` when there is none we can read.
pub fn decode_pdf417(gray: &GrayImage) -> Option<String> {
    let (width, height) = gray.dimensions();
    if width == 0 || height == 0 {
        return None;
    }
    let mut hints = DecodeHints {
        TryHarder: Some(true),
        ..DecodeHints::default()
    };
    // rxing is meant not to panic on any picture; should it still, this photo has no readable
    // barcode, and the worker running the checks carries on.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        rxing::helpers::detect_in_luma_slice_with_hints(
            gray.as_raw(),
            width,
            height,
            Some(BarcodeFormat::PDF_417),
            &mut hints,
        )
        .ok()
        .map(|result| result.getText().to_owned())
    }))
    .ok()
    .flatten()
}

/// Renders `text` as a PDF417 symbol (error correction level 5), `module_px` pixels per module,
/// with a quiet zone of two modules: black on white. For test fixtures.
pub fn encode_pdf417(text: &str, module_px: u32) -> Option<GrayImage> {
    use rxing::Writer;
    let hints = rxing::EncodeHints {
        ErrorCorrection: Some("5".to_owned()),
        Margin: Some("0".to_owned()),
        ..rxing::EncodeHints::default()
    };
    let matrix = rxing::pdf417::PDF417Writer
        .encode_with_hints(text, &BarcodeFormat::PDF_417, 0, 0, &hints)
        .ok()?;
    let (cols, rows) = (matrix.getWidth(), matrix.getHeight());
    // The writer already draws each row four modules tall.
    let row_height = 1;
    let quiet = 2;
    let width = (cols + 2 * quiet) * module_px;
    let height = (rows * row_height + 2 * quiet) * module_px;
    Some(GrayImage::from_fn(width, height, |x, y| {
        let (mx, my) = (x / module_px, y / module_px);
        let inside =
            mx >= quiet && mx < cols + quiet && my >= quiet && my < rows * row_height + quiet;
        let black = inside && matrix.get(mx - quiet, (my - quiet) / row_height);
        image::Luma([if black { 0 } else { 255 }])
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_decodes_aamva_text() {
        let text = crate::aamva::encode_aamva(
            "636014",
            crate::aamva::AamvaSubfile::DriverLicence,
            &[("DAQ", "D1234567"), ("DCS", "NGUYEN"), ("DAC", "AN")],
        );
        let symbol = encode_pdf417(&text, 3).unwrap();
        assert_eq!(decode_pdf417(&symbol).as_deref(), Some(text.as_str()));
    }

    #[test]
    fn a_blank_image_has_no_barcode() {
        assert_eq!(
            decode_pdf417(&GrayImage::from_pixel(300, 200, image::Luma([255]))),
            None
        );
    }
}
