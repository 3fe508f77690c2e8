//! The government-ID verification on a person's photos of their document: image quality, the
//! document's corners, its barcode (US/CA licences and ID cards) or machine-readable zone
//! (passports, other ID cards), and the data checks on what those carry.
//!
//! One entry point, [`run_government_id_checks`], returns one outcome for every
//! [`CheckName::ALL`] (in that order) plus the attributes read from the document.

use crate::aamva::{parse_aamva, AamvaDate, AamvaRecord, AamvaSubfile};
use crate::corners::{find_document_quad, straighten, CornerFailure, Quad};
use crate::image_quality::{analyse, Analysed, QualityPolicy};
use crate::mrz_zone::{read_mrz, OcrUnavailable};
use crate::names::{names_match, NamePart};
use crate::{barcode, countries};
use domain::checks::{CheckName, CheckOutcome, CheckStatus, IdClass};
use domain::fields::{BirthDate, CountryCode, PersonName};
use image::{DynamicImage, GrayImage};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use std::cell::OnceCell;
use time::Date;

/// Width in pixels of the straightened document the barcode reader and the OCR work on: about
/// 19 px per millimetre on an ID-1 card, 4–7 px per PDF417 module, 30–45 px per MRZ character.
pub const STRAIGHTENED_WIDTH_PX: u32 = 1600;

/// What the template allows; see [`GovernmentIdInput`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GovernmentIdPolicy {
    /// Countries whose documents are accepted; empty accepts every country.
    pub allowed_countries: Vec<CountryCode>,
    /// Classes of document accepted; empty accepts every class.
    pub allowed_id_classes: Vec<IdClass>,
    /// The youngest accepted age in full years, if any.
    pub minimum_age: Option<u8>,
    /// Image quality thresholds.
    pub quality: QualityPolicy,
}

/// Everything besides the photos that the checks need: what the person chose and typed, the
/// date the checks run on (this crate has no clock), and the template's policy.
#[derive(Debug, Clone, PartialEq)]
pub struct GovernmentIdInput {
    /// The issuing country the person chose.
    pub country: CountryCode,
    /// The class of document the person chose.
    pub id_class: IdClass,
    /// The first name the person typed, if the template collects it.
    pub name_first: Option<PersonName>,
    /// The last name the person typed, if the template collects it.
    pub name_last: Option<PersonName>,
    /// The birthdate the person typed, if the template collects it.
    pub birthdate: Option<BirthDate>,
    /// Today's date, for expiry and age.
    pub today: Date,
    /// What the template allows.
    pub policy: GovernmentIdPolicy,
}

/// Which sides of the document a country and class need, and where the machine-readable data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentLayout {
    /// US and Canadian licences and ID cards: front and back, AAMVA PDF417 on the back.
    BarcodeOnBack,
    /// Passports: the data page only, MRZ at its bottom.
    MrzOnFront,
    /// Other ID cards: front and back, an MRZ (TD1) normally on the back, else on the front.
    MrzOnBack,
    /// Other driver licences: no machine-readable data we read; the photos are checked only.
    NoMachineReadableZone,
}

impl DocumentLayout {
    /// The layout of a document of `class` issued by `country`.
    pub fn of(country: &CountryCode, class: IdClass) -> DocumentLayout {
        let north_american = matches!(country.as_str(), "US" | "CA");
        match class {
            IdClass::Passport => DocumentLayout::MrzOnFront,
            IdClass::DriverLicence | IdClass::IdCard if north_american => {
                DocumentLayout::BarcodeOnBack
            }
            IdClass::IdCard => DocumentLayout::MrzOnBack,
            IdClass::DriverLicence => DocumentLayout::NoMachineReadableZone,
        }
    }

    /// Whether the back of the document must be photographed too.
    pub fn needs_back(self) -> bool {
        matches!(
            self,
            DocumentLayout::BarcodeOnBack | DocumentLayout::MrzOnBack
        )
    }
}

/// Where the extracted attributes were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractionSource {
    /// The AAMVA PDF417 barcode.
    Barcode,
    /// The machine-readable zone.
    Mrz,
}

/// A postal address as printed in a licence barcode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Address {
    /// First street line.
    pub street_1: Option<String>,
    /// Second street line.
    pub street_2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State, province or territory code.
    pub subdivision: Option<String>,
    /// ZIP or postal code.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country.
    pub country_code: Option<String>,
}

/// What the document says about its holder and itself. Personal data: store it encrypted,
/// show it to reviewers, never log it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractedAttributes {
    /// Where it was read.
    pub source: ExtractionSource,
    /// The document's class, as the document itself says.
    pub id_class: Option<IdClass>,
    /// First (given) name.
    pub name_first: Option<String>,
    /// Middle names.
    pub name_middle: Option<String>,
    /// Last (family) name.
    pub name_last: Option<String>,
    /// Date of birth.
    #[serde(serialize_with = "iso_date")]
    pub birthdate: Option<Date>,
    /// Document number.
    pub identification_number: Option<String>,
    /// Issuing country, ISO 3166-1 alpha-2.
    pub issuing_country: Option<String>,
    /// Issuing state, province or territory (licences).
    pub issuing_subdivision: Option<String>,
    /// Nationality, ISO 3166-1 alpha-2 (MRZ).
    pub nationality: Option<String>,
    /// Expiry date.
    #[serde(serialize_with = "iso_date")]
    pub expiration_date: Option<Date>,
    /// Issue date.
    #[serde(serialize_with = "iso_date")]
    pub issue_date: Option<Date>,
    /// `M`, `F` or `X`.
    pub sex: Option<String>,
    /// Address, when the document carries one.
    pub address: Option<Address>,
    /// Whether the document says it cut the last name short.
    #[serde(skip)]
    last_name_truncated: bool,
    /// Whether the document says it cut the first name short.
    #[serde(skip)]
    first_name_truncated: bool,
}

fn iso_date<S: Serializer>(date: &Option<Date>, serializer: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(date) => serializer.serialize_str(&format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )),
        None => serializer.serialize_none(),
    }
}

/// Every check's outcome, in [`CheckName::ALL`] order, and what was read from the document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GovernmentIdReport {
    /// One outcome per [`CheckName::ALL`], in that order.
    pub checks: Vec<CheckOutcome>,
    /// What the document says, when its barcode or MRZ could be read.
    pub extracted: Option<ExtractedAttributes>,
    /// The layout the checks expected.
    pub layout: DocumentLayout,
}

impl GovernmentIdReport {
    /// The plain-language hints for the failed checks the person can fix, in check order and
    /// without repeats: what the flow shows them before they retry.
    pub fn retry_hints(&self) -> Vec<&'static str> {
        let mut hints = Vec::new();
        for outcome in &self.checks {
            if outcome.status != CheckStatus::Failed {
                continue;
            }
            if let Some(hint) = outcome.name.retry_hint_for(&outcome.reasons) {
                if !hints.contains(&hint) {
                    hints.push(hint);
                }
            }
        }
        hints
    }

    /// The outcome of one check.
    pub fn check(&self, name: CheckName) -> &CheckOutcome {
        self.checks
            .iter()
            .find(|outcome| outcome.name == name)
            .expect("the report holds every check")
    }
}

/// One photographed side after decoding: the corners, and the straightened document made on
/// first use (a licence's front is only straightened when its back has no barcode).
struct Side {
    image: DynamicImage,
    analysis_width: u32,
    corners: Result<Quad, CornerFailure>,
    straightened: OnceCell<Option<GrayImage>>,
}

impl Side {
    fn from_analysed(analysed: Analysed) -> Option<Side> {
        let (image, analysis) = analysed.image?;
        Some(Side {
            corners: find_document_quad(&analysis),
            analysis_width: analysis.width().max(1),
            image,
            straightened: OnceCell::new(),
        })
    }

    /// The document cut out along its corners and made rectangular, when corners were found.
    fn straightened(&self) -> Option<&GrayImage> {
        self.straightened
            .get_or_init(|| {
                self.corners.ok().map(|quad| {
                    let factor = self.image.width() as f32 / self.analysis_width as f32;
                    straighten(&self.image, quad.scaled(factor), STRAIGHTENED_WIDTH_PX)
                })
            })
            .as_ref()
    }

    /// The whole photo in grey at full resolution: the fallback when no corners were found.
    fn full_gray(&self) -> GrayImage {
        self.image.to_luma8()
    }

    /// The document for OCR: straightened, else the whole photo at the straightened width.
    fn document_for_ocr(&self) -> GrayImage {
        match self.straightened() {
            Some(document) => document.clone(),
            None => {
                let gray = self.full_gray();
                let scale = STRAIGHTENED_WIDTH_PX as f32 / gray.width().max(1) as f32;
                let height = ((gray.height() as f32 * scale).round() as u32).max(1);
                image::imageops::resize(
                    &gray,
                    STRAIGHTENED_WIDTH_PX,
                    height,
                    image::imageops::FilterType::Triangle,
                )
            }
        }
    }
}

/// Runs every government-ID check on the photos of a document's front and (when it has one
/// worth reading) back. See [`DocumentLayout`] for which side carries what.
///
/// Never panics on hostile images; CPU-heavy (decode, barcode, OCR): call it on a blocking
/// thread. The OCR path (passports and non-North-American ID cards) needs Tesseract and the MRZ
/// model (`scripts/install-ocr.sh`); without them `id_mrz_detection` fails with reason
/// `mrz_ocr_unavailable`.
pub fn run_government_id_checks(
    front: &[u8],
    back: Option<&[u8]>,
    input: &GovernmentIdInput,
) -> GovernmentIdReport {
    let layout = DocumentLayout::of(&input.country, input.id_class);
    let front = analyse(front, &input.policy.quality);
    let back = back.map(|bytes| analyse(bytes, &input.policy.quality));
    let mut checks = merge_quality(&front.outcomes, back.as_ref().map(|b| &b.outcomes[..]));
    let front = Side::from_analysed(front);
    let back = back.and_then(Side::from_analysed);

    checks.push(corner_outcome(front.as_ref(), back.as_ref(), layout));

    let (barcode_detection, record) = barcode_outcome(front.as_ref(), back.as_ref(), layout);
    checks.push(barcode_detection);
    checks.push(barcode_consistency_outcome(record.as_ref()));

    let (mrz_detection, zone) = mrz_outcome(front.as_ref(), back.as_ref(), layout, input.today);
    checks.push(mrz_detection);
    checks.push(mrz_consistency_outcome(zone.as_ref()));

    let extracted = record
        .as_ref()
        .map(ExtractedAttributes::from_aamva)
        .or_else(|| zone.as_ref().map(ExtractedAttributes::from_mrz));
    checks.extend(data_checks(extracted.as_ref(), input));
    debug_assert_eq!(
        checks.iter().map(|c| c.name).collect::<Vec<_>>(),
        CheckName::ALL
    );
    GovernmentIdReport {
        checks,
        extracted,
        layout,
    }
}

/// The four image checks over both sides: a check fails when it fails on either side; the
/// metadata keeps each side's measurements and names the failing sides.
fn merge_quality(front: &[CheckOutcome], back: Option<&[CheckOutcome]>) -> Vec<CheckOutcome> {
    let Some(back) = back else {
        return front
            .iter()
            .cloned()
            .map(|mut outcome| {
                outcome.metadata = json!({ "front": outcome.metadata, "failed_sides": failed_sides(&[("front", outcome.status)]) });
                outcome
            })
            .collect();
    };
    front
        .iter()
        .zip(back)
        .map(|(front, back)| {
            let status = worst(front.status, back.status);
            // The reasons of the sides that decided the status (a passed check has none).
            let mut reasons: Vec<String> = Vec::new();
            for side in [front, back] {
                if side.status == status && status != CheckStatus::Passed {
                    for reason in &side.reasons {
                        if !reasons.contains(reason) {
                            reasons.push(reason.clone());
                        }
                    }
                }
            }
            CheckOutcome {
                name: front.name,
                status,
                reasons,
                metadata: json!({
                    "front": front.metadata,
                    "back": back.metadata,
                    "failed_sides": failed_sides(&[("front", front.status), ("back", back.status)]),
                }),
            }
        })
        .collect()
}

fn failed_sides(sides: &[(&str, CheckStatus)]) -> Vec<String> {
    sides
        .iter()
        .filter(|(_, status)| *status == CheckStatus::Failed)
        .map(|(side, _)| (*side).to_owned())
        .collect()
}

fn worst(a: CheckStatus, b: CheckStatus) -> CheckStatus {
    use CheckStatus::{Failed, NotApplicable, Passed};
    match (a, b) {
        (Failed, _) | (_, Failed) => Failed,
        (Passed, _) | (_, Passed) => Passed,
        (NotApplicable, NotApplicable) => NotApplicable,
    }
}

fn passed(name: CheckName, metadata: Value) -> CheckOutcome {
    CheckOutcome {
        name,
        status: CheckStatus::Passed,
        reasons: Vec::new(),
        metadata,
    }
}

fn failed(name: CheckName, reasons: Vec<String>, metadata: Value) -> CheckOutcome {
    CheckOutcome {
        name,
        status: CheckStatus::Failed,
        reasons,
        metadata,
    }
}

fn not_applicable(name: CheckName, reason: &str) -> CheckOutcome {
    CheckOutcome {
        name,
        status: CheckStatus::NotApplicable,
        reasons: vec![reason.to_owned()],
        metadata: json!({}),
    }
}

fn corner_outcome(
    front: Option<&Side>,
    back: Option<&Side>,
    layout: DocumentLayout,
) -> CheckOutcome {
    let name = CheckName::IdCornerDetection;
    let sides: Vec<(&str, &Side)> = [("front", front), ("back", back)]
        .into_iter()
        .filter_map(|(label, side)| side.map(|side| (label, side)))
        .collect();
    if sides.is_empty() {
        return not_applicable(name, "image_unreadable");
    }
    let mut metadata = serde_json::Map::new();
    let mut failures = Vec::new();
    for (label, side) in &sides {
        let entry = match side.corners {
            Ok(quad) => json!({
                "found": true,
                "tilt_degrees": (quad.tilt_degrees() * 10.0).round() / 10.0,
                "aspect_ratio": (quad.aspect_ratio() * 1000.0).round() / 1000.0,
            }),
            Err(failure) => {
                failures.push((label.to_string(), failure));
                json!({ "found": false, "reason": failure.reason() })
            }
        };
        metadata.insert((*label).to_owned(), entry);
    }
    metadata.insert("layout".to_owned(), json!(layout));
    if failures.is_empty() {
        return passed(name, Value::Object(metadata));
    }
    metadata.insert(
        "failed_sides".to_owned(),
        json!(failures.iter().map(|(side, _)| side).collect::<Vec<_>>()),
    );
    let mut reasons: Vec<String> = failures
        .iter()
        .map(|(_, failure)| failure.reason().to_owned())
        .collect();
    reasons.dedup();
    failed(name, reasons, Value::Object(metadata))
}

fn barcode_outcome(
    front: Option<&Side>,
    back: Option<&Side>,
    layout: DocumentLayout,
) -> (CheckOutcome, Option<AamvaRecord>) {
    let name = CheckName::IdBarcodeDetection;
    if layout != DocumentLayout::BarcodeOnBack {
        return (not_applicable(name, "document_has_no_barcode"), None);
    }
    let Some(back) = back else {
        let reason = if front.is_some() {
            "back_image_missing"
        } else {
            "image_unreadable"
        };
        return (
            failed(name, vec![reason.to_owned()], json!({ "layout": layout })),
            None,
        );
    };
    // Cheapest and most likely first: the straightened back, then the raw back (a barcode
    // photographed nearly straight but with the card's corners out of view), then the front
    // (the sides swapped).
    let mut attempts = Vec::new();
    let mut found = None;
    if let Some(document) = back.straightened() {
        attempts.push("back_straightened");
        found = barcode::decode_pdf417(document).map(|text| (text, "back_straightened"));
    }
    if found.is_none() {
        attempts.push("back_raw");
        found = barcode::decode_pdf417(&back.full_gray()).map(|text| (text, "back_raw"));
    }
    if found.is_none() {
        if let Some(document) = front.and_then(Side::straightened) {
            attempts.push("front_straightened");
            found = barcode::decode_pdf417(document).map(|text| (text, "front_straightened"));
        }
    }
    let Some((text, read_from)) = found else {
        return (
            failed(
                name,
                vec!["barcode_not_found".to_owned()],
                json!({ "attempts": attempts }),
            ),
            None,
        );
    };
    match parse_aamva(&text) {
        Ok(record) => (
            passed(
                name,
                json!({
                    "read_from": read_from,
                    "attempts": attempts,
                    "payload_length": text.len(),
                    "aamva_version": record.aamva_version,
                    "element_count": record.elements.len(),
                }),
            ),
            Some(record),
        ),
        Err(error) => (
            failed(
                name,
                vec!["barcode_not_aamva".to_owned()],
                json!({ "read_from": read_from, "error": error.to_string() }),
            ),
            None,
        ),
    }
}

/// Elements every DL/ID subfile must carry (AAMVA 2005 and later).
const REQUIRED_ELEMENTS: [&str; 5] = ["DAQ", "DBB", "DBA", "DCS", "DAC"];

fn barcode_consistency_outcome(record: Option<&AamvaRecord>) -> CheckOutcome {
    let name = CheckName::IdBarcodeInconsistencyDetection;
    let Some(record) = record else {
        return not_applicable(name, "barcode_not_read");
    };
    let mut reasons = Vec::new();
    let mut reason = |r: &str| {
        if !reasons.iter().any(|known| known == r) {
            reasons.push(r.to_owned());
        }
    };
    let missing: Vec<&str> = REQUIRED_ELEMENTS
        .into_iter()
        .filter(|&id| match id {
            "DCS" => record.last_name().is_none(),
            "DAC" => record.first_name().is_none(),
            id => record.element(id).is_none(),
        })
        .collect();
    if !missing.is_empty() {
        reason("missing_required_elements");
    }
    let mut invalid_dates = Vec::new();
    for id in ["DBB", "DBA", "DBD"] {
        if let AamvaDate::Invalid(_) = record.date(id) {
            invalid_dates.push(id);
            reason("invalid_date");
        }
    }
    let (birth, expiry, issue) = (
        record.birthdate().date(),
        record.expiry_date().date(),
        record.issue_date().date(),
    );
    if let (Some(issue), Some(expiry)) = (issue, expiry) {
        if issue > expiry {
            reason("issue_date_after_expiry");
        }
    }
    if let (Some(birth), Some(issue)) = (birth, issue) {
        if birth > issue {
            reason("birthdate_after_issue_date");
        }
    }
    if let (Some(birth), Some(expiry)) = (birth, expiry) {
        if birth >= expiry {
            reason("birthdate_after_expiry");
        }
    }
    let iin_well_formed =
        record.issuer_id.len() == 6 && record.issuer_id.bytes().all(|b| b.is_ascii_digit());
    if !iin_well_formed {
        reason("issuer_id_malformed");
    }
    let issuer_jurisdiction = record.issuer_jurisdiction();
    if let (Some(issuer), Some(address)) = (issuer_jurisdiction, record.element("DAJ")) {
        if !issuer.eq_ignore_ascii_case(address) {
            reason("issuer_jurisdiction_mismatch");
        }
    }
    if let (Some((_, issuer_country)), Some(stated)) = (
        crate::aamva::issuer(&record.issuer_id),
        record.element("DCG"),
    ) {
        let stated_alpha2 = match stated {
            "USA" | "US" => Some("US"),
            "CAN" | "CA" => Some("CA"),
            _ => None,
        };
        if stated_alpha2.is_some_and(|stated| stated != issuer_country.alpha2()) {
            reason("issuer_country_mismatch");
        }
    }
    if !(1..=10).contains(&record.aamva_version) {
        reason("unknown_aamva_version");
    }
    let metadata = json!({
        "aamva_version": record.aamva_version,
        "issuer_id": record.issuer_id,
        "issuer_known": issuer_jurisdiction.is_some(),
        "missing_elements": missing,
        "invalid_date_elements": invalid_dates,
    });
    if reasons.is_empty() {
        passed(name, metadata)
    } else {
        failed(name, reasons, metadata)
    }
}

fn mrz_outcome(
    front: Option<&Side>,
    back: Option<&Side>,
    layout: DocumentLayout,
    today: Date,
) -> (CheckOutcome, Option<mrz::MrzData>) {
    let name = CheckName::IdMrzDetection;
    let order: Vec<(&str, &Side)> = match layout {
        DocumentLayout::MrzOnFront => vec![("front", front), ("back", back)],
        DocumentLayout::MrzOnBack => vec![("back", back), ("front", front)],
        DocumentLayout::BarcodeOnBack | DocumentLayout::NoMachineReadableZone => {
            return (not_applicable(name, "document_has_no_mrz"), None)
        }
    }
    .into_iter()
    .filter_map(|(label, side)| side.map(|side| (label, side)))
    .collect();
    if order.is_empty() {
        return (not_applicable(name, "image_unreadable"), None);
    }
    let mut passes = 0;
    for (label, side) in order {
        match read_mrz(&side.document_for_ocr(), today) {
            Ok(read) => {
                passes += read.ocr_passes;
                if let Some(data) = read.data {
                    let metadata = json!({
                        "read_from": label,
                        "format": format!("{:?}", data.format),
                        "ocr_passes": passes,
                        "straightened": side.straightened().is_some(),
                        "damaged_recovery": data.damaged_recovery,
                    });
                    return (passed(name, metadata), Some(data));
                }
            }
            Err(unavailable) => {
                let reason = match unavailable {
                    OcrUnavailable::ModelMissing(_) | OcrUnavailable::Tesseract(_) => {
                        "mrz_ocr_unavailable"
                    }
                };
                return (
                    failed(
                        name,
                        vec![reason.to_owned()],
                        json!({ "error": unavailable.to_string() }),
                    ),
                    None,
                );
            }
        }
    }
    (
        failed(
            name,
            vec!["mrz_not_found".to_owned()],
            json!({ "ocr_passes": passes }),
        ),
        None,
    )
}

fn mrz_consistency_outcome(zone: Option<&mrz::MrzData>) -> CheckOutcome {
    let name = CheckName::IdMrzInconsistencyDetection;
    let Some(zone) = zone else {
        return not_applicable(name, "mrz_not_read");
    };
    let mut reasons = Vec::new();
    let checks = &zone.checks;
    let digits = [
        ("document_number", checks.document_number),
        ("date_of_birth", checks.date_of_birth),
        ("date_of_expiry", checks.date_of_expiry),
        ("personal_number", checks.personal_number),
        ("composite", checks.composite),
    ];
    let wrong: Vec<&str> = digits
        .iter()
        .filter(|(_, verified)| *verified == Some(false))
        .map(|(field, _)| *field)
        .collect();
    if !wrong.is_empty() {
        reasons.push("check_digit_mismatch".to_owned());
    }
    if zone.date_of_birth.calendar().is_none() {
        reasons.push("invalid_birthdate".to_owned());
    }
    if zone.date_of_expiry.calendar().is_none() {
        reasons.push("invalid_expiry_date".to_owned());
    }
    let issuing_known = countries::alpha2_from_mrz(&zone.issuing_country).is_some();
    if !issuing_known {
        reasons.push("unknown_issuing_state".to_owned());
    }
    if !matches!(
        zone.document_type.chars().next(),
        Some('P' | 'I' | 'A' | 'C')
    ) {
        reasons.push("unexpected_document_code".to_owned());
    }
    let metadata = json!({
        "format": format!("{:?}", zone.format),
        "failed_check_digits": wrong,
        "damaged_recovery": zone.damaged_recovery,
    });
    if reasons.is_empty() {
        passed(name, metadata)
    } else {
        failed(name, reasons, metadata)
    }
}

fn mrz_date(date: mrz::MrzDate) -> Option<Date> {
    let date = date.calendar()?;
    let month = time::Month::try_from(u8::try_from(date.month).ok()?).ok()?;
    Date::from_calendar_date(date.year, month, u8::try_from(date.day).ok()?).ok()
}

impl ExtractedAttributes {
    /// What a licence barcode says.
    pub fn from_aamva(record: &AamvaRecord) -> ExtractedAttributes {
        let country = record.country().map(|c| c.alpha2().to_owned());
        let address = Address {
            street_1: record.element("DAG").map(str::to_owned),
            street_2: record.element("DAH").map(str::to_owned),
            city: record.element("DAI").map(str::to_owned),
            subdivision: record.element("DAJ").map(str::to_owned),
            postal_code: record.postal_code(),
            country_code: country.clone(),
        };
        let has_address = address.street_1.is_some() || address.city.is_some();
        ExtractedAttributes {
            source: ExtractionSource::Barcode,
            id_class: Some(match record.subfile {
                AamvaSubfile::DriverLicence => IdClass::DriverLicence,
                AamvaSubfile::IdCard => IdClass::IdCard,
            }),
            name_first: record.first_name(),
            name_middle: record.middle_names(),
            name_last: record.last_name(),
            birthdate: record.birthdate().date(),
            identification_number: record.document_number().map(str::to_owned),
            issuing_country: country,
            issuing_subdivision: record
                .issuer_jurisdiction()
                .or(record.element("DAJ"))
                .map(str::to_owned),
            nationality: None,
            expiration_date: record.expiry_date().date(),
            issue_date: record.issue_date().date(),
            sex: record.sex().map(str::to_owned),
            address: has_address.then_some(address),
            last_name_truncated: record.name_truncated("DDE"),
            first_name_truncated: record.name_truncated("DDF"),
        }
    }

    /// What a machine-readable zone says.
    pub fn from_mrz(zone: &mrz::MrzData) -> ExtractedAttributes {
        let id_class = match zone.document_type.chars().next() {
            Some('P') => Some(IdClass::Passport),
            Some('I' | 'A' | 'C') => Some(IdClass::IdCard),
            _ => None,
        };
        // The name field is full (no filler at its end): the name may have been cut short.
        let name_line = match zone.format {
            mrz::Format::Td1 => zone.mrz_lines.lines().nth(2),
            _ => zone.mrz_lines.lines().next(),
        };
        let truncated = name_line.is_some_and(|line| !line.trim_end().ends_with('<'));
        let mut given = zone.given_names.split_whitespace();
        let first = given.next().map(str::to_owned);
        let middle: Vec<&str> = given.collect();
        let sex = match zone.sex {
            mrz::Sex::Male => Some("M"),
            mrz::Sex::Female => Some("F"),
            mrz::Sex::Unspecified => Some("X"),
            _ => None,
        };
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        ExtractedAttributes {
            source: ExtractionSource::Mrz,
            id_class,
            name_first: first,
            name_middle: (!middle.is_empty()).then(|| middle.join(" ")),
            name_last: non_empty(&zone.surname),
            birthdate: mrz_date(zone.date_of_birth),
            identification_number: non_empty(zone.full_document_number()),
            issuing_country: countries::alpha2_from_mrz(&zone.issuing_country).map(str::to_owned),
            issuing_subdivision: None,
            nationality: countries::alpha2_from_mrz(&zone.nationality).map(str::to_owned),
            expiration_date: mrz_date(zone.date_of_expiry),
            issue_date: None,
            sex: sex.map(str::to_owned),
            address: None,
            last_name_truncated: truncated,
            first_name_truncated: truncated,
        }
    }
}

/// The checks on the document's data: extraction inconsistency, expiry, valid dates, age,
/// country, class (in [`CheckName::ALL`] order).
fn data_checks(
    extracted: Option<&ExtractedAttributes>,
    input: &GovernmentIdInput,
) -> Vec<CheckOutcome> {
    vec![
        extraction_outcome(extracted, input),
        expiry_outcome(extracted, input.today),
        valid_dates_outcome(extracted, input.today),
        age_outcome(extracted, input),
        country_outcome(extracted, input),
        class_outcome(extracted, input),
    ]
}

fn extraction_outcome(
    extracted: Option<&ExtractedAttributes>,
    input: &GovernmentIdInput,
) -> CheckOutcome {
    let name = CheckName::IdExtractionInconsistencyDetection;
    let Some(extracted) = extracted else {
        return not_applicable(name, "no_extracted_data");
    };
    if input.name_first.is_none() && input.name_last.is_none() && input.birthdate.is_none() {
        return not_applicable(name, "nothing_to_compare");
    }
    let mut metadata = serde_json::Map::new();
    let mut reasons = Vec::new();
    let mut compare_name =
        |field: &str, typed: Option<&PersonName>, document: Option<&String>, part, truncated| {
            let verdict = match (typed, document) {
                (Some(typed), Some(document)) => {
                    if names_match(typed.as_str(), document, part, truncated) {
                        "matched"
                    } else {
                        if !reasons.iter().any(|r| r == "name_mismatch") {
                            reasons.push("name_mismatch".to_owned());
                        }
                        "mismatched"
                    }
                }
                (Some(_), None) => "missing_on_document",
                (None, _) => "not_collected",
            };
            metadata.insert(field.to_owned(), json!(verdict));
        };
    compare_name(
        "name_first",
        input.name_first.as_ref(),
        extracted.name_first.as_ref(),
        NamePart::First,
        extracted.first_name_truncated,
    );
    compare_name(
        "name_last",
        input.name_last.as_ref(),
        extracted.name_last.as_ref(),
        NamePart::Last,
        extracted.last_name_truncated,
    );
    let birthdate = match (input.birthdate, extracted.birthdate) {
        (Some(typed), Some(document)) if typed.date() == document => "matched",
        (Some(_), Some(_)) => {
            reasons.push("birthdate_mismatch".to_owned());
            "mismatched"
        }
        (Some(_), None) => "missing_on_document",
        (None, _) => "not_collected",
    };
    metadata.insert("birthdate".to_owned(), json!(birthdate));
    if reasons.is_empty() {
        passed(name, Value::Object(metadata))
    } else {
        failed(name, reasons, Value::Object(metadata))
    }
}

fn expiry_outcome(extracted: Option<&ExtractedAttributes>, today: Date) -> CheckOutcome {
    let name = CheckName::IdExpiredDetection;
    let Some(expiry) = extracted.and_then(|e| e.expiration_date) else {
        return not_applicable(name, "expiration_date_unavailable");
    };
    let days = (expiry - today).whole_days();
    let metadata = json!({ "days_until_expiry": days });
    if expiry < today {
        failed(name, vec!["document_expired".to_owned()], metadata)
    } else {
        passed(name, metadata)
    }
}

fn valid_dates_outcome(extracted: Option<&ExtractedAttributes>, today: Date) -> CheckOutcome {
    let name = CheckName::IdValidDatesDetection;
    let Some(extracted) = extracted else {
        return not_applicable(name, "no_extracted_data");
    };
    let (birth, issue, expiry) = (
        extracted.birthdate,
        extracted.issue_date,
        extracted.expiration_date,
    );
    if birth.is_none() && issue.is_none() && expiry.is_none() {
        return not_applicable(name, "dates_unavailable");
    }
    let mut reasons = Vec::new();
    if let Some(birth) = birth {
        if birth >= today || birth.year() < 1900 {
            reasons.push("birthdate_not_plausible");
        }
    } else {
        reasons.push("birthdate_unreadable");
    }
    if issue.is_some_and(|issue| issue > today) {
        reasons.push("issue_date_in_future");
    }
    if let (Some(issue), Some(expiry)) = (issue, expiry) {
        if expiry <= issue {
            reasons.push("expiration_not_after_issue");
        }
    }
    if let (Some(birth), Some(issue)) = (birth, issue) {
        if issue < birth {
            reasons.push("issued_before_birth");
        }
    }
    let metadata = json!({
        "has_birthdate": birth.is_some(),
        "has_issue_date": issue.is_some(),
        "has_expiration_date": expiry.is_some(),
    });
    if reasons.is_empty() {
        passed(name, metadata)
    } else {
        failed(
            name,
            reasons.into_iter().map(str::to_owned).collect(),
            metadata,
        )
    }
}

/// Full years between `birth` and `today`.
fn age_on(birth: Date, today: Date) -> i32 {
    let mut age = today.year() - birth.year();
    if (u8::from(today.month()), today.day()) < (u8::from(birth.month()), birth.day()) {
        age -= 1;
    }
    age
}

fn age_outcome(extracted: Option<&ExtractedAttributes>, input: &GovernmentIdInput) -> CheckOutcome {
    let name = CheckName::IdAgeComparison;
    let Some(minimum_age) = input.policy.minimum_age else {
        return not_applicable(name, "no_minimum_age");
    };
    let Some(birth) = extracted.and_then(|e| e.birthdate) else {
        return not_applicable(name, "birthdate_unavailable");
    };
    let metadata = json!({ "minimum_age": minimum_age });
    if age_on(birth, input.today) < i32::from(minimum_age) {
        failed(name, vec!["under_minimum_age".to_owned()], metadata)
    } else {
        passed(name, metadata)
    }
}

fn country_outcome(
    extracted: Option<&ExtractedAttributes>,
    input: &GovernmentIdInput,
) -> CheckOutcome {
    let name = CheckName::IdDisallowedCountryDetection;
    let selected = input.country.as_str();
    let document = extracted.and_then(|e| e.issuing_country.as_deref());
    let country = document.unwrap_or(selected);
    let allowed = &input.policy.allowed_countries;
    let metadata = json!({
        "country": country,
        "selected_country": selected,
        "document_country": document,
        "allowed_countries": allowed.iter().map(CountryCode::as_str).collect::<Vec<_>>(),
    });
    if allowed.is_empty() || allowed.iter().any(|code| code.as_str() == country) {
        passed(name, metadata)
    } else {
        failed(name, vec!["country_not_allowed".to_owned()], metadata)
    }
}

fn class_outcome(
    extracted: Option<&ExtractedAttributes>,
    input: &GovernmentIdInput,
) -> CheckOutcome {
    let name = CheckName::IdDisallowedTypeDetection;
    let document = extracted.and_then(|e| e.id_class);
    let class = document.unwrap_or(input.id_class);
    let allowed = &input.policy.allowed_id_classes;
    let metadata = json!({
        "id_class": class,
        "selected_id_class": input.id_class,
        "document_id_class": document,
        "allowed_id_classes": allowed,
    });
    if allowed.is_empty() || allowed.contains(&class) {
        passed(name, metadata)
    } else {
        failed(name, vec!["id_class_not_allowed".to_owned()], metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn layouts_follow_country_and_class() {
        let us = CountryCode::parse("US").unwrap();
        let fr = CountryCode::parse("FR").unwrap();
        assert_eq!(
            DocumentLayout::of(&us, IdClass::DriverLicence),
            DocumentLayout::BarcodeOnBack
        );
        assert_eq!(
            DocumentLayout::of(&us, IdClass::Passport),
            DocumentLayout::MrzOnFront
        );
        assert_eq!(
            DocumentLayout::of(&fr, IdClass::IdCard),
            DocumentLayout::MrzOnBack
        );
        assert_eq!(
            DocumentLayout::of(&fr, IdClass::DriverLicence),
            DocumentLayout::NoMachineReadableZone
        );
        assert!(!DocumentLayout::MrzOnFront.needs_back());
    }

    #[test]
    fn ages_count_full_years() {
        assert_eq!(age_on(date!(2008 - 11 - 28), date!(2026 - 11 - 27)), 17);
        assert_eq!(age_on(date!(2008 - 11 - 27), date!(2026 - 11 - 27)), 18);
        assert_eq!(age_on(date!(2008 - 02 - 29), date!(2026 - 02 - 28)), 17);
    }

    #[test]
    fn extracted_dates_serialise_as_iso_strings() {
        let zone = crate::mrz_zone::parse_mrz_text(
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10",
            date!(2026 - 11 - 27),
        )
        .unwrap();
        let attributes = ExtractedAttributes::from_mrz(&zone);
        let json = serde_json::to_value(&attributes).unwrap();
        assert_eq!(json["birthdate"], "1974-08-12");
        assert_eq!(json["name_first"], "ANNA");
        assert_eq!(json["name_middle"], "MARIA");
        assert_eq!(json["id_class"], "pp");
        assert_eq!(json["issuing_country"], Value::Null);
        assert!(json.get("last_name_truncated").is_none());
    }
}
