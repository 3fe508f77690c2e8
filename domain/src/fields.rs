//! Field newtypes and their validation, shared by the browser (instant feedback) and the server (truth).

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;
use time::{Date, Month};

/// Why a typed value was refused, in words a person understands.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum FieldError {
    #[error("Enter your {label}.")]
    Missing { label: String },
    #[error("Your {label} is too long (at most {max} characters).")]
    TooLong { label: String, max: usize },
    #[error("Your {label} can only contain letters, spaces, hyphens, apostrophes and full stops.")]
    InvalidCharacters { label: String },
    #[error("Enter your {label} as a real date, for example 1990-01-31.")]
    NotADate { label: String },
    #[error("Enter a {label} in the past.")]
    NotInThePast { label: String },
    #[error("Enter a {label} after 1900.")]
    TooLongAgo { label: String },
    #[error("You must be at least {minimum_age} years old to continue.")]
    TooYoung { minimum_age: u8 },
    #[error("Choose a country from the list (two-letter code such as US or CA).")]
    UnknownCountry,
    #[error("The template has no field `{key}`.")]
    UnknownField { key: String },
}

/// The most characters a name may have.
pub const NAME_MAX_CHARS: usize = 100;

/// A person's name (first, middle or last): trimmed, non-empty, at most 100 characters, letters
/// of any script plus the punctuation real names use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    /// Validates a name; `label` names the field in the error ("first name").
    pub fn parse(raw: &str, label: &str) -> Result<PersonName, FieldError> {
        let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            return Err(FieldError::Missing {
                label: label.to_owned(),
            });
        }
        if collapsed.chars().count() > NAME_MAX_CHARS {
            return Err(FieldError::TooLong {
                label: label.to_owned(),
                max: NAME_MAX_CHARS,
            });
        }
        let allowed = |c: char| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '’' | '.');
        if !collapsed.chars().all(allowed) || !collapsed.chars().any(char::is_alphabetic) {
            return Err(FieldError::InvalidCharacters {
                label: label.to_owned(),
            });
        }
        Ok(PersonName(collapsed))
    }

    /// The name as typed, whitespace collapsed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonName {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        PersonName::parse(&value, "name")
    }
}

impl From<PersonName> for String {
    fn from(name: PersonName) -> String {
        name.0
    }
}

/// A birthdate: a real calendar date, after 1900 and before today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BirthDate(Date);

impl BirthDate {
    /// Parses `YYYY-MM-DD` and checks it lies in the past (relative to `today`).
    pub fn parse(raw: &str, today: Date, label: &str) -> Result<BirthDate, FieldError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(FieldError::Missing {
                label: label.to_owned(),
            });
        }
        let date = parse_iso_date(raw).ok_or_else(|| FieldError::NotADate {
            label: label.to_owned(),
        })?;
        if date >= today {
            return Err(FieldError::NotInThePast {
                label: label.to_owned(),
            });
        }
        if date.year() < 1900 {
            return Err(FieldError::TooLongAgo {
                label: label.to_owned(),
            });
        }
        Ok(BirthDate(date))
    }

    /// The date.
    pub fn date(self) -> Date {
        self.0
    }

    /// Full years of age on `today`.
    pub fn age_on(self, today: Date) -> i32 {
        let mut age = today.year() - self.0.year();
        if (today.month() as u8, today.day()) < (self.0.month() as u8, self.0.day()) {
            age -= 1;
        }
        age
    }

    /// Refuses a person younger than `minimum_age` on `today`.
    pub fn require_age(self, minimum_age: u8, today: Date) -> Result<BirthDate, FieldError> {
        if self.age_on(today) < i32::from(minimum_age) {
            Err(FieldError::TooYoung { minimum_age })
        } else {
            Ok(self)
        }
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            self.0.month() as u8,
            self.0.day()
        )
    }
}

/// Parses a strict `YYYY-MM-DD` calendar date.
pub fn parse_iso_date(raw: &str) -> Option<Date> {
    let bytes = raw.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = raw.get(range)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
    let day = u8::try_from(number(8..10)?).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// The ISO 3166-1 alpha-2 codes currently assigned to countries and territories.
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT \
MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG \
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(String);

impl CountryCode {
    /// Accepts an assigned alpha-2 code in any case.
    pub fn parse(raw: &str) -> Result<CountryCode, FieldError> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 2 && ISO_3166_ALPHA2.split(' ').any(|known| known == code) {
            Ok(CountryCode(code))
        } else {
            Err(FieldError::UnknownCountry)
        }
    }

    /// The code, e.g. `US`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CountryCode {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        CountryCode::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(code: CountryCode) -> String {
        code.0
    }
}

/// An email address a hosted link may be sent to: `local@domain`, at most 254 characters, a
/// domain of dot-separated letters, digits and hyphens with at least one dot, and no spaces,
/// quotes or angle brackets (nothing that could change a mail header). Kept as typed, trimmed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// An email address that is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("enter an email address like name@example.com")]
pub struct InvalidEmailAddress;

impl EmailAddress {
    /// Accepts a plain `local@domain` address.
    pub fn parse(raw: &str) -> Result<EmailAddress, InvalidEmailAddress> {
        let address = raw.trim();
        let (local, domain) = address.split_once('@').ok_or(InvalidEmailAddress)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let domain_ok = domain.len() <= 253
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if local_ok && domain_ok && address.len() <= 254 {
            Ok(EmailAddress(address.to_owned()))
        } else {
            Err(InvalidEmailAddress)
        }
    }

    /// The address, e.g. `jane@example.com`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Never prints the address: it is personal data and must not reach logs.
impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress(<redacted>)")
    }
}

#[cfg(test)]
mod email_tests {
    use super::*;

    #[test]
    fn plain_addresses_are_accepted_and_header_tricks_refused() {
        for good in [
            "jane@example.com",
            " j.doe+kyc@mail.example.co.uk ",
            "a@b.io",
        ] {
            assert!(EmailAddress::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane@localhost",
            "jane@@example.com",
            "jane doe@example.com",
            "jane@example.com\r\nBcc: x@y.z",
            "<jane@example.com>",
            "\"jane\"@example.com",
            "jane@-example.com",
            "jane..doe@example.com",
            "jane@exa_mple.com",
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(InvalidEmailAddress),
                "{bad:?}"
            );
        }
        assert_eq!(
            format!("{:?}", EmailAddress::parse("a@b.io").unwrap()),
            "EmailAddress(<redacted>)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 27);

    #[test]
    fn names_are_trimmed_and_collapsed() {
        assert_eq!(
            PersonName::parse("  Jane   Mary ", "first name")
                .unwrap()
                .as_str(),
            "Jane Mary"
        );
        assert_eq!(
            PersonName::parse("O'Brien-Núñez", "last name")
                .unwrap()
                .as_str(),
            "O'Brien-Núñez"
        );
        assert_eq!(
            PersonName::parse("Иван", "first name").unwrap().as_str(),
            "Иван"
        );
        assert_eq!(
            PersonName::parse("   ", "first name"),
            Err(FieldError::Missing {
                label: "first name".into()
            })
        );
        assert!(matches!(
            PersonName::parse("<script>", "x"),
            Err(FieldError::InvalidCharacters { .. })
        ));
        assert!(matches!(
            PersonName::parse("---", "x"),
            Err(FieldError::InvalidCharacters { .. })
        ));
        assert_eq!(
            PersonName::parse("", "first name").unwrap_err().to_string(),
            "Enter your first name."
        );
    }

    #[test]
    fn birthdates_must_be_real_past_dates() {
        let label = "date of birth";
        assert_eq!(
            BirthDate::parse("1990-01-31", TODAY, label)
                .unwrap()
                .to_string(),
            "1990-01-31"
        );
        assert!(matches!(
            BirthDate::parse("1990-02-30", TODAY, label),
            Err(FieldError::NotADate { .. })
        ));
        assert!(matches!(
            BirthDate::parse("31/01/1990", TODAY, label),
            Err(FieldError::NotADate { .. })
        ));
        assert!(matches!(
            BirthDate::parse("2026-11-27", TODAY, label),
            Err(FieldError::NotInThePast { .. })
        ));
        assert!(matches!(
            BirthDate::parse("2030-01-01", TODAY, label),
            Err(FieldError::NotInThePast { .. })
        ));
        assert!(matches!(
            BirthDate::parse("1850-01-01", TODAY, label),
            Err(FieldError::TooLongAgo { .. })
        ));
        assert!(BirthDate::parse("2026-11-27", TODAY, label)
            .unwrap_err()
            .to_string()
            .contains("past"));
    }

    #[test]
    fn ages_count_whole_years() {
        let eighteen_today = BirthDate::parse("2008-11-27", TODAY, "d").unwrap();
        let eighteen_tomorrow = BirthDate::parse("2008-11-28", TODAY, "d").unwrap();
        assert_eq!(eighteen_today.age_on(TODAY), 18);
        assert_eq!(eighteen_tomorrow.age_on(TODAY), 17);
        assert!(eighteen_today.require_age(18, TODAY).is_ok());
        assert_eq!(
            eighteen_tomorrow.require_age(18, TODAY),
            Err(FieldError::TooYoung { minimum_age: 18 })
        );
        assert!(FieldError::TooYoung { minimum_age: 18 }
            .to_string()
            .contains("18"));
    }

    #[test]
    fn country_codes_are_assigned_alpha2() {
        assert_eq!(CountryCode::parse("us").unwrap().as_str(), "US");
        assert_eq!(CountryCode::parse("CA").unwrap().as_str(), "CA");
        assert!(CountryCode::parse("ZZ").is_err());
        assert!(CountryCode::parse("USA").is_err());
        assert!(CountryCode::parse("").is_err());
    }

    proptest! {
        #[test]
        fn any_calendar_date_in_range_round_trips(days in 0i32..45_000) {
            let date = date!(1901 - 01 - 01) + time::Duration::days(i64::from(days));
            prop_assume!(date < TODAY);
            let text = format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day());
            let parsed = BirthDate::parse(&text, TODAY, "d").unwrap();
            prop_assert_eq!(parsed.date(), date);
            prop_assert_eq!(parsed.to_string(), text);
        }

        #[test]
        fn date_parsing_never_panics(raw in ".{0,16}") {
            let _ = BirthDate::parse(&raw, TODAY, "d");
        }

        #[test]
        fn accepted_names_are_trimmed_bounded_and_stable(raw in "\\PC{0,120}") {
            if let Ok(name) = PersonName::parse(&raw, "name") {
                prop_assert!(!name.as_str().is_empty());
                prop_assert!(name.as_str().chars().count() <= NAME_MAX_CHARS);
                prop_assert_eq!(name.as_str().trim(), name.as_str());
                prop_assert_eq!(PersonName::parse(name.as_str(), "name").unwrap(), name.clone());
            }
        }

        #[test]
        fn country_parsing_is_case_insensitive(code in "[a-zA-Z]{2}") {
            let upper = CountryCode::parse(&code.to_ascii_uppercase()).ok();
            let lower = CountryCode::parse(&code.to_ascii_lowercase()).ok();
            prop_assert_eq!(upper, lower);
        }
    }
}
