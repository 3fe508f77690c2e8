//! Pure verification algorithms on bytes: no I/O, no database, no clock.
//!
//! The engine hands this crate the bytes a person uploaded and gets back
//! [`domain::checks::CheckOutcome`]s; storing them and deciding what they mean for a
//! verification is the engine's job.

#![warn(missing_docs)]

pub mod image_quality;

#[doc(hidden)]
pub mod fixtures;

pub use image_quality::{run_id_image_checks, sniff_image_kind, ImageKind, QualityPolicy};
