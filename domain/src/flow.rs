//! What the individual's flow shows: the step they are on, as sent from the server to the page.

use crate::template::FieldSpec;
use serde::{Deserialize, Serialize};

/// One field on the details step, with what the person typed and why it was refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldView {
    /// The field as the template defines it; the browser validates with the same rules as the
    /// server. The form input is named `fields[<key>]`.
    pub spec: FieldSpec,
    /// The value to show: what was typed last, or the organization's prefill.
    pub value: String,
    /// Why the value was refused, in plain language.
    pub error: Option<String>,
}

/// The step the individual is on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FlowStep {
    /// Type personal details.
    Details { fields: Vec<FieldView> },
    /// Photograph the front of a government ID.
    GovernmentId {
        /// The attempt about to be made (1-based).
        attempt: u8,
        max_attempts: u8,
        /// Plain-language reasons the previous attempt failed, one per failed check.
        hints: Vec<String>,
        /// The largest upload accepted, in bytes.
        max_upload_bytes: u64,
    },
    /// Say which document will be photographed: the country that issued it and its type
    /// (templates whose government-ID verification lists `id-classes`).
    ChooseDocument {
        /// The attempt about to be made (1-based).
        attempt: u8,
        max_attempts: u8,
        /// Plain-language reasons the previous attempt failed, one per failed check.
        hints: Vec<String>,
        /// The countries the template accepts (empty: any; the page then asks for a code).
        countries: Vec<Choice>,
        /// The types of document the template accepts.
        classes: Vec<Choice>,
        /// What the person chose last time, preselected.
        selected_country: Option<String>,
        selected_class: Option<String>,
    },
    /// Photograph one side of the chosen document.
    DocumentSide {
        side: DocumentSide,
        /// `dl`, `id` or `pp`.
        id_class: String,
        /// "Driver's licence", "ID card" or "Passport".
        class_label: String,
        /// The issuing country's name.
        country_label: String,
        attempt: u8,
        max_attempts: u8,
        /// Plain-language reasons the previous attempt failed, one per failed check.
        hints: Vec<String>,
        /// The largest upload accepted, in bytes.
        max_upload_bytes: u64,
    },
    /// Everything was collected and passed.
    Completed,
    /// The allowed attempts were used up.
    Failed { hints: Vec<String> },
    /// The inquiry expired before it was finished.
    Expired,
}

/// One option of a choice: the value the form sends and what the person reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// A side of an identity document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DocumentSide {
    Front,
    Back,
}

impl DocumentSide {
    /// The form value: `front` or `back`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentSide::Front => "front",
            DocumentSide::Back => "back",
        }
    }

    /// Parses a form value.
    pub fn parse(raw: &str) -> Option<DocumentSide> {
        match raw {
            "front" => Some(DocumentSide::Front),
            "back" => Some(DocumentSide::Back),
            _ => None,
        }
    }
}

/// The flow as one page renders it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowView {
    pub inquiry_id: String,
    pub title: String,
    pub step: FlowStep,
}

/// The start screen shown before an inquiry exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartView {
    pub template_id: String,
    pub title: String,
    pub description: String,
    /// Short names of the steps ahead ("Your details", "A photo of your ID").
    pub steps: Vec<String>,
}
