//! Pure verification algorithms on bytes: no I/O, no database, no clock.
//!
//! The engine hands this crate the bytes a person uploaded and gets back
//! [`domain::checks::CheckOutcome`]s; storing them and deciding what they mean for a
//! verification is the engine's job. The one exception to "no I/O" is the MRZ OCR, which reads
//! its recognition model from disk (see [`mrz_zone::tessdata_dir`]).

#![warn(missing_docs)]

pub mod aamva;
pub mod barcode;
pub mod corners;
pub mod countries;
pub mod government_id;
pub mod image_quality;
pub mod mrz_zone;
pub mod names;

#[doc(hidden)]
pub mod fixtures;

pub use government_id::{
    run_government_id_checks, Address, DocumentLayout, ExtractedAttributes, ExtractionSource,
    GovernmentIdInput, GovernmentIdPolicy, GovernmentIdReport,
};
pub use image_quality::{run_id_image_checks, sniff_image_kind, ImageKind, QualityPolicy};
