//! A tolerant parser for the AAMVA data in the PDF417 barcode on the back of US and Canadian
//! driver licences and ID cards (AAMVA DL/ID Card Design Standard, versions 1–10).
//!
//! Real barcodes stray from the standard: wrong subfile offsets, missing or doubled separators,
//! `AAMVA` instead of `ANSI `, spaces in place of the record separator. So nothing here trusts
//! an offset: the header is found by searching for `ANSI ` (or `AAMVA`), the DL or ID subfile
//! by searching for its designator followed by an element id, and each element is a line that
//! starts with a three-letter id (`DCS`, `DAC`, `DBB`, …). Dates are read in the order the
//! standard prescribes for the country and version (US `MMDDCCYY`, Canada and version 1
//! `CCYYMMDD`), falling back to the other order when that does not give a calendar date.

use serde::Serialize;
use std::collections::BTreeMap;
use time::{Date, Month};

/// The most elements we keep from one barcode; real ones have 20–40.
const MAX_ELEMENTS: usize = 128;
/// The longest element value we keep, in characters; the longest standard field is 35.
const MAX_VALUE_CHARS: usize = 128;

/// Why a payload is not AAMVA data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AamvaError {
    /// Neither `ANSI ` nor `AAMVA` occurs: some other barcode.
    #[error("no AAMVA header (`ANSI ` or `AAMVA`) in the payload")]
    NoHeader,
    /// A header, but no DL or ID subfile with elements after it.
    #[error("no DL or ID subfile in the payload")]
    NoSubfile,
}

/// Which subfile carried the elements: a driver licence or an identification card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AamvaSubfile {
    /// `DL`: a driver licence (or learner's permit).
    DriverLicence,
    /// `ID`: an identification card.
    IdCard,
}

/// The country whose date conventions and jurisdictions apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AamvaCountry {
    /// United States (and its territories).
    Us,
    /// Canada.
    Ca,
}

impl AamvaCountry {
    /// The ISO 3166-1 alpha-2 code.
    pub fn alpha2(self) -> &'static str {
        match self {
            AamvaCountry::Us => "US",
            AamvaCountry::Ca => "CA",
        }
    }
}

/// A date element as found in the barcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AamvaDate {
    /// The element is absent or empty.
    Missing,
    /// Present but not a calendar date in either order (raw text kept for the metadata).
    Invalid(String),
    /// A calendar date.
    Date(Date),
}

impl AamvaDate {
    /// The date when there is one.
    pub fn date(&self) -> Option<Date> {
        match self {
            AamvaDate::Date(date) => Some(*date),
            AamvaDate::Missing | AamvaDate::Invalid(_) => None,
        }
    }
}

/// The parsed AAMVA data: header fields plus every element of the DL or ID subfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AamvaRecord {
    /// The issuer identification number (IIN) of the header, normally six digits (`636014`).
    pub issuer_id: String,
    /// The AAMVA standard version number of the header (`0` when unreadable).
    pub aamva_version: u8,
    /// The jurisdiction version number (versions 2 and later), when readable.
    pub jurisdiction_version: Option<u8>,
    /// The subfile the elements came from.
    pub subfile: AamvaSubfile,
    /// Element id (`DCS`) to trimmed value; the first occurrence wins.
    pub elements: BTreeMap<String, String>,
}

impl AamvaRecord {
    /// The trimmed value of an element, `None` when absent or empty.
    pub fn element(&self, id: &str) -> Option<&str> {
        self.elements
            .get(id)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// The country: element `DCG` when it says `USA` or `CAN`, else the issuer's country, else
    /// the jurisdiction code of the address (`DAJ`).
    pub fn country(&self) -> Option<AamvaCountry> {
        match self.element("DCG").map(str::to_ascii_uppercase).as_deref() {
            Some("USA" | "US") => return Some(AamvaCountry::Us),
            Some("CAN" | "CA") => return Some(AamvaCountry::Ca),
            _ => {}
        }
        if let Some((_, country)) = issuer(&self.issuer_id) {
            return Some(country);
        }
        let jurisdiction = self.element("DAJ")?;
        ISSUERS
            .iter()
            .find(|(_, code, _)| code.eq_ignore_ascii_case(jurisdiction))
            .map(|(_, _, country)| *country)
    }

    /// The jurisdiction (state, province, territory) the issuer number belongs to, e.g. `CA`
    /// for California's `636014`; `None` for an issuer number not on AAMVA's list.
    pub fn issuer_jurisdiction(&self) -> Option<&'static str> {
        issuer(&self.issuer_id).map(|(code, _)| code)
    }

    /// The family name: `DCS`, or the part of the full name `DAA` before its first comma
    /// (version 1).
    pub fn last_name(&self) -> Option<String> {
        self.element("DCS")
            .or(self.element("DAB"))
            .map(str::to_owned)
            .or_else(|| self.full_name_part(0))
    }

    /// The first name: `DAC`, else the first word of the given names `DCT` (versions 2–3),
    /// else the second part of `DAA`.
    pub fn first_name(&self) -> Option<String> {
        if let Some(first) = self.element("DAC") {
            return Some(first.to_owned());
        }
        if let Some(given) = self.element("DCT") {
            return given
                .split([',', ' ', '<'])
                .find(|part| !part.is_empty())
                .map(str::to_owned);
        }
        self.full_name_part(1)
    }

    /// The middle names: `DAD`, else what follows the first word of `DCT`, else the third part
    /// of `DAA`.
    pub fn middle_names(&self) -> Option<String> {
        if self.element("DAC").is_some() {
            return self.element("DAD").map(str::to_owned);
        }
        if let Some(given) = self.element("DCT") {
            let rest: Vec<&str> = given
                .split([',', ' ', '<'])
                .filter(|part| !part.is_empty())
                .skip(1)
                .collect();
            return (!rest.is_empty()).then(|| rest.join(" "));
        }
        self.full_name_part(2)
    }

    /// Whether the barcode says the family name (`DDE`) or first name (`DDF`) was truncated to
    /// fit: `T` truncated, `N` not, `U` unknown.
    pub fn name_truncated(&self, id: &str) -> bool {
        self.element(id)
            .is_some_and(|flag| flag.eq_ignore_ascii_case("T"))
    }

    fn full_name_part(&self, index: usize) -> Option<String> {
        let full = self.element("DAA")?;
        full.split(',')
            .map(str::trim)
            .nth(index)
            .filter(|part| !part.is_empty())
            .map(str::to_owned)
    }

    /// A date element (`DBB` birth, `DBA` expiry, `DBD` issue), read in the order the country
    /// and version prescribe, else in the other order.
    pub fn date(&self, id: &str) -> AamvaDate {
        let Some(raw) = self.element(id) else {
            return AamvaDate::Missing;
        };
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        let year_first = self.aamva_version == 1 || self.country() == Some(AamvaCountry::Ca);
        let parsed = if digits.len() == 8 && digits.len() == raw.len() {
            let (preferred, other) = if year_first {
                (ccyymmdd(&digits), mmddccyy(&digits))
            } else {
                (mmddccyy(&digits), ccyymmdd(&digits))
            };
            preferred.or(other)
        } else {
            None
        };
        parsed.map_or_else(|| AamvaDate::Invalid(raw.to_owned()), AamvaDate::Date)
    }

    /// Date of birth (`DBB`).
    pub fn birthdate(&self) -> AamvaDate {
        self.date("DBB")
    }

    /// Expiry date (`DBA`).
    pub fn expiry_date(&self) -> AamvaDate {
        self.date("DBA")
    }

    /// Issue date (`DBD`).
    pub fn issue_date(&self) -> AamvaDate {
        self.date("DBD")
    }

    /// Sex (`DBC`) as `M`, `F` or `X`: the standard's `1`, `2`, `9` or the letters older
    /// versions used.
    pub fn sex(&self) -> Option<&'static str> {
        match self.element("DBC")?.to_ascii_uppercase().as_str() {
            "1" | "M" => Some("M"),
            "2" | "F" => Some("F"),
            "9" | "X" => Some("X"),
            _ => None,
        }
    }

    /// The customer id / document number (`DAQ`).
    pub fn document_number(&self) -> Option<&str> {
        self.element("DAQ")
    }

    /// The postal code (`DAK`) without the zero or space padding of a 5-digit US ZIP.
    pub fn postal_code(&self) -> Option<String> {
        let raw = self.element("DAK")?;
        let trimmed = raw.trim_end_matches([' ', '0']);
        let us_zip = raw.len() == 9 || raw.len() == 11;
        Some(
            if us_zip && trimmed.len() <= 5 && raw.chars().all(|c| c.is_ascii_digit()) {
                raw[..5].to_owned()
            } else {
                raw.trim().to_owned()
            },
        )
    }
}

fn mmddccyy(digits: &str) -> Option<Date> {
    calendar_date(&digits[4..8], &digits[0..2], &digits[2..4])
}

fn ccyymmdd(digits: &str) -> Option<Date> {
    calendar_date(&digits[0..4], &digits[4..6], &digits[6..8])
}

fn calendar_date(year: &str, month: &str, day: &str) -> Option<Date> {
    let year: i32 = year.parse().ok()?;
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    let day: u8 = day.parse().ok()?;
    if !(1800..=2999).contains(&year) {
        return None;
    }
    Date::from_calendar_date(year, month, day).ok()
}

/// Parses the text of a PDF417 barcode as AAMVA data.
///
/// Tolerant by design (see the module docs); never panics, whatever the input.
pub fn parse_aamva(payload: &str) -> Result<AamvaRecord, AamvaError> {
    let header_at = ["ANSI ", "AAMVA"]
        .iter()
        .filter_map(|marker| payload.find(marker))
        .min()
        .ok_or(AamvaError::NoHeader)?;
    let after_marker = &payload[header_at + 5..];
    // IIN (6 digits), AAMVA version (2), jurisdiction version (2, versions 2+), entries (2).
    let digits: String = after_marker
        .chars()
        .take_while(char::is_ascii_digit)
        .take(12)
        .collect();
    let issuer_id = digits.get(..6).unwrap_or(&digits).to_owned();
    let aamva_version = digits
        .get(6..8)
        .and_then(|version| version.parse().ok())
        .unwrap_or(0);
    let jurisdiction_version = (aamva_version >= 2)
        .then(|| digits.get(8..10).and_then(|version| version.parse().ok()))
        .flatten();

    let (subfile, body) = find_subfile(after_marker).ok_or(AamvaError::NoSubfile)?;
    let mut elements = BTreeMap::new();
    // Elements are separated by line feeds; the subfile ends at a carriage return (some
    // issuers use CR between elements too, so a CR followed by another element goes on).
    for line in body.split(['\n', '\r', '\x1e']) {
        let line = line.trim_start_matches([' ', '\x1d', '\x1c']);
        let mut chars = line.char_indices();
        let id_end = match (chars.next(), chars.next(), chars.next()) {
            (Some((_, a)), Some((_, b)), Some((_, c)))
                if a.is_ascii_uppercase()
                    && b.is_ascii_uppercase()
                    && (c.is_ascii_uppercase() || c.is_ascii_digit()) =>
            {
                3
            }
            _ => continue,
        };
        // A new subfile (jurisdiction-specific `ZC…`) ends the DL/ID one.
        if elements.len() >= 3 && line.starts_with('Z') {
            break;
        }
        let value: String = line[id_end..]
            .trim()
            .chars()
            .take(MAX_VALUE_CHARS)
            .collect();
        elements.entry(line[..id_end].to_owned()).or_insert(value);
        if elements.len() >= MAX_ELEMENTS {
            break;
        }
    }
    if elements.is_empty() {
        return Err(AamvaError::NoSubfile);
    }
    Ok(AamvaRecord {
        issuer_id,
        aamva_version,
        jurisdiction_version,
        subfile,
        elements,
    })
}

/// Finds `DL` or `ID` followed by a `D..` element id: the start of the subfile's data (the
/// subfile directory's `DL0041…` entries are followed by digits, so they do not match).
fn find_subfile(text: &str) -> Option<(AamvaSubfile, &str)> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(4)).find_map(|at| {
        let subfile = match &bytes[at..at + 2] {
            b"DL" => AamvaSubfile::DriverLicence,
            b"ID" => AamvaSubfile::IdCard,
            _ => return None,
        };
        let id = &bytes[at + 2..at + 5];
        let element_like =
            id[0] == b'D' && id[1].is_ascii_uppercase() && id[2].is_ascii_uppercase();
        // `text` is a str and the matched bytes are ASCII, so `at + 2` is a char boundary.
        element_like.then(|| (subfile, &text[at + 2..]))
    })
}

/// AAMVA issuer identification numbers: IIN, jurisdiction code, country.
const ISSUERS: &[(&str, &str, AamvaCountry)] = {
    use AamvaCountry::{Ca, Us};
    &[
        ("636000", "VA", Us),
        ("636001", "NY", Us),
        ("636002", "MA", Us),
        ("636003", "MD", Us),
        ("636004", "NC", Us),
        ("636005", "SC", Us),
        ("636006", "CT", Us),
        ("636007", "LA", Us),
        ("636008", "MT", Us),
        ("636009", "NM", Us),
        ("636010", "FL", Us),
        ("636011", "DE", Us),
        ("636012", "ON", Ca),
        ("636013", "NS", Ca),
        ("636014", "CA", Us),
        ("636015", "TX", Us),
        ("636016", "NL", Ca),
        ("636017", "NB", Ca),
        ("636018", "IA", Us),
        ("636019", "GU", Us),
        ("636020", "CO", Us),
        ("636021", "AR", Us),
        ("636022", "KS", Us),
        ("636023", "OH", Us),
        ("636024", "VT", Us),
        ("636025", "PA", Us),
        ("636026", "AZ", Us),
        ("636028", "BC", Ca),
        ("636029", "OR", Us),
        ("636030", "MO", Us),
        ("636031", "WI", Us),
        ("636032", "MI", Us),
        ("636033", "AL", Us),
        ("636034", "ND", Us),
        ("636035", "IL", Us),
        ("636036", "NJ", Us),
        ("636037", "IN", Us),
        ("636038", "MN", Us),
        ("636039", "NH", Us),
        ("636040", "UT", Us),
        ("636041", "ME", Us),
        ("636042", "SD", Us),
        ("636043", "DC", Us),
        ("636044", "SK", Ca),
        ("636045", "WA", Us),
        ("636046", "KY", Us),
        ("636047", "HI", Us),
        ("636048", "MB", Ca),
        ("636049", "NV", Us),
        ("636050", "ID", Us),
        ("636051", "MS", Us),
        ("636052", "RI", Us),
        ("636053", "TN", Us),
        ("636054", "NE", Us),
        ("636055", "GA", Us),
        ("636058", "OK", Us),
        ("636059", "AK", Us),
        ("636060", "WY", Us),
        ("636061", "WV", Us),
        ("636062", "VI", Us),
        ("604426", "PE", Ca),
        ("604427", "AS", Us),
        ("604428", "QC", Ca),
        ("604429", "YT", Ca),
        ("604430", "MP", Us),
        ("604431", "PR", Us),
        ("604432", "AB", Ca),
        ("604433", "NU", Ca),
        ("604434", "NT", Ca),
    ]
};

/// The jurisdiction code and country of an AAMVA issuer identification number.
pub fn issuer(iin: &str) -> Option<(&'static str, AamvaCountry)> {
    ISSUERS
        .iter()
        .find(|(number, _, _)| *number == iin)
        .map(|(_, code, country)| (*code, *country))
}

/// Builds AAMVA barcode text from elements, as issuers print it (version 10 header, one DL or
/// ID subfile, correct offsets): for test fixtures.
pub fn encode_aamva(issuer_id: &str, subfile: AamvaSubfile, elements: &[(&str, &str)]) -> String {
    let designator = match subfile {
        AamvaSubfile::DriverLicence => "DL",
        AamvaSubfile::IdCard => "ID",
    };
    let mut data = String::from(designator);
    for (index, (id, value)) in elements.iter().enumerate() {
        if index > 0 {
            data.push('\n');
        }
        data.push_str(id);
        data.push_str(value);
    }
    data.push('\r');
    // Header (21 bytes) + one subfile designator (10 bytes).
    let header = format!("@\n\x1e\rANSI {issuer_id}100001");
    let offset = header.len() + 10;
    format!("{header}{designator}{offset:04}{:04}{data}", data.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const CALIFORNIA: &str = "@\n\x1e\rANSI 636014080102DL00410288ZC03290034DLDCAC\nDCBNONE\nDCDNONE\nDBA08312030\nDCSMORGAN\nDACALEX\nDADJAMES\nDBD08312022\nDBB04151990\nDBC1\nDAYBRO\nDAU069 IN\nDAG2570 24TH STREET\nDAIANYTOWN\nDAJCA\nDAK958220000  \nDAQI1234568\nDCF08312022123456789\nDCGUSA\nDDEN\nDDFN\nDDGN\r\nZCZCAY\nZCBCORR LENS\r";

    #[test]
    fn reads_a_version_8_california_licence() {
        let record = parse_aamva(CALIFORNIA).unwrap();
        assert_eq!(record.issuer_id, "636014");
        assert_eq!(record.aamva_version, 8);
        assert_eq!(record.jurisdiction_version, Some(1));
        assert_eq!(record.subfile, AamvaSubfile::DriverLicence);
        assert_eq!(record.last_name().as_deref(), Some("MORGAN"));
        assert_eq!(record.first_name().as_deref(), Some("ALEX"));
        assert_eq!(record.middle_names().as_deref(), Some("JAMES"));
        assert_eq!(record.birthdate(), AamvaDate::Date(date!(1990 - 04 - 15)));
        assert_eq!(record.expiry_date(), AamvaDate::Date(date!(2030 - 08 - 31)));
        assert_eq!(record.issue_date(), AamvaDate::Date(date!(2022 - 08 - 31)));
        assert_eq!(record.sex(), Some("M"));
        assert_eq!(record.document_number(), Some("I1234568"));
        assert_eq!(record.element("DAG"), Some("2570 24TH STREET"));
        assert_eq!(record.postal_code().as_deref(), Some("95822"));
        assert_eq!(record.country(), Some(AamvaCountry::Us));
        assert_eq!(record.issuer_jurisdiction(), Some("CA"));
        // The jurisdiction subfile is not mixed in.
        assert_eq!(record.element("ZCA"), None);
    }

    #[test]
    fn canadian_dates_are_year_first() {
        let text = encode_aamva(
            "636012",
            AamvaSubfile::DriverLicence,
            &[
                ("DCS", "TREMBLAY"),
                ("DAC", "JULIE"),
                ("DBB", "19850312"),
                ("DBA", "20290312"),
                ("DCG", "CAN"),
            ],
        );
        let record = parse_aamva(&text).unwrap();
        assert_eq!(record.country(), Some(AamvaCountry::Ca));
        assert_eq!(record.birthdate().date(), Some(date!(1985 - 03 - 12)));
        assert_eq!(record.expiry_date().date(), Some(date!(2029 - 03 - 12)));
    }

    #[test]
    fn version_one_full_names_and_wrong_separators_are_tolerated() {
        let text = "@\n\x1c\rAAMVA6360410101DL00290190DLDAAPUBLIC,JOHN,Q\rDAQ123456789\rDBB19700101\rDBA20300101\rDBCM\r";
        let record = parse_aamva(text).unwrap();
        assert_eq!(record.aamva_version, 1);
        assert_eq!(record.last_name().as_deref(), Some("PUBLIC"));
        assert_eq!(record.first_name().as_deref(), Some("JOHN"));
        assert_eq!(record.middle_names().as_deref(), Some("Q"));
        assert_eq!(record.birthdate().date(), Some(date!(1970 - 01 - 01)));
        assert_eq!(record.sex(), Some("M"));
    }

    #[test]
    fn given_names_of_versions_2_and_3_are_split() {
        let text = encode_aamva(
            "636015",
            AamvaSubfile::IdCard,
            &[
                ("DCS", "GARCIA"),
                ("DCT", "MARIA ELENA"),
                ("DBB", "01021999"),
            ],
        );
        let record = parse_aamva(&text).unwrap();
        assert_eq!(record.subfile, AamvaSubfile::IdCard);
        assert_eq!(record.first_name().as_deref(), Some("MARIA"));
        assert_eq!(record.middle_names().as_deref(), Some("ELENA"));
    }

    #[test]
    fn impossible_dates_are_invalid_not_guessed() {
        let text = encode_aamva(
            "636014",
            AamvaSubfile::DriverLicence,
            &[("DCS", "X"), ("DBB", "13452030"), ("DBA", "2030")],
        );
        let record = parse_aamva(&text).unwrap();
        assert_eq!(record.birthdate(), AamvaDate::Invalid("13452030".into()));
        assert_eq!(record.expiry_date(), AamvaDate::Invalid("2030".into()));
        assert_eq!(record.issue_date(), AamvaDate::Missing);
    }

    #[test]
    fn other_barcodes_are_not_aamva() {
        assert_eq!(
            parse_aamva("https://example.com"),
            Err(AamvaError::NoHeader)
        );
        assert_eq!(
            parse_aamva("@\n\x1e\rANSI 636014080102"),
            Err(AamvaError::NoSubfile)
        );
    }

    #[test]
    fn encoded_fixtures_round_trip() {
        let text = encode_aamva(
            "636014",
            AamvaSubfile::DriverLicence,
            &[("DAQ", "D1234567"), ("DCS", "NGUYEN"), ("DAC", "AN")],
        );
        let record = parse_aamva(&text).unwrap();
        assert_eq!(record.issuer_id, "636014");
        assert_eq!(record.aamva_version, 10);
        assert_eq!(record.document_number(), Some("D1234567"));
        assert_eq!(record.elements.len(), 3);
    }
}
