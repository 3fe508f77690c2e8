//! Verity's domain: pure types and rules shared by the browser (wasm) and the server. No I/O.

pub mod checks;
pub mod fields;
pub mod flow;
pub mod ids;
pub mod inquiry;
pub mod template;
pub mod verification;
