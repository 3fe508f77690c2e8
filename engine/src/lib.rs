//! Verity's engine: the services behind every front door (flow, REST API, dashboard).
//!
//! Everything that changes an inquiry or a verification goes through [`lifecycle`]; storage sits
//! behind [`store::Store`] so SQLite (the default) and PostgreSQL can share one test suite.

pub mod api_keys;
pub mod clock;
pub mod document_capture;
pub mod documents;
pub mod error;
pub mod flow;
pub mod government_id;
pub mod lifecycle;
pub mod organization;
pub mod records;
pub mod secrets;
pub mod store;
pub mod templates;
pub mod webhooks;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::EngineError;
pub use flow::{Engine, EngineSettings};
