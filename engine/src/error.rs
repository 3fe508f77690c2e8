//! The engine's error type: what callers can act on, kept apart from internal failures.

use domain::fields::FieldError;
use domain::inquiry::{IllegalInquiryTransition, InquiryStatus};
use domain::verification::IllegalVerificationTransition;
use std::collections::BTreeMap;
use thiserror::Error;

/// Everything an engine operation can refuse or fail with.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("no {kind} with that id")]
    NotFound { kind: &'static str },
    #[error("this session does not open that inquiry")]
    Unauthorized,
    #[error(transparent)]
    IllegalTransition(#[from] IllegalInquiryTransition),
    #[error(transparent)]
    IllegalVerificationTransition(#[from] IllegalVerificationTransition),
    #[error("the inquiry changed at the same time (it is now {current}); nothing was written")]
    Conflict { current: InquiryStatus },
    #[error("some fields are not valid")]
    InvalidFields(BTreeMap<String, FieldError>),
    #[error("{0}")]
    InvalidInput(String),
    #[error("this step is not open: {0}")]
    WrongStep(&'static str),
    #[error("the file is too large (the limit is {limit_bytes} bytes)")]
    TooLarge { limit_bytes: u64 },
    #[error("that file is not a supported image; upload a JPEG, PNG or WebP photo")]
    UnsupportedMediaType,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for EngineError {
    fn from(error: crate::store::StoreError) -> Self {
        match error {
            crate::store::StoreError::Conflict => {
                EngineError::Internal(anyhow::anyhow!("unexpected store conflict"))
            }
            crate::store::StoreError::Database(error) => EngineError::Internal(error.into()),
            crate::store::StoreError::Rusqlite(error) => EngineError::Internal(error.into()),
            crate::store::StoreError::Corrupt(message)
            | crate::store::StoreError::Unavailable(message) => {
                EngineError::Internal(anyhow::anyhow!(message))
            }
        }
    }
}
