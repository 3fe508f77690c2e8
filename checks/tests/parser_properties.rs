//! Property tests (fuzzing) of the two parsers that read attacker-controlled text: the AAMVA
//! barcode parser and the MRZ path (OCR text -> zone -> extracted attributes).
//!
//! A short run is part of `cargo test -p checks` (256 cases per property, proptest's default).
//! A long run: `PROPTEST_CASES=2000000 cargo test --release -p checks --test parser_properties`.

use checks::aamva::{encode_aamva, parse_aamva, AamvaSubfile};
use checks::mrz_zone::parse_mrz_text;
use checks::ExtractedAttributes;
use proptest::prelude::*;
use time::macros::date;
use time::Date;

const TODAY: Date = date!(2026 - 11 - 27);

/// Pieces real payloads are made of, so random text often looks almost like AAMVA data.
fn aamva_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("@\n\x1e\rANSI ".to_owned()),
        Just("AAMVA".to_owned()),
        Just("636014".to_owned()),
        Just("0801".to_owned()),
        Just("DL".to_owned()),
        Just("ID".to_owned()),
        Just("ZC".to_owned()),
        Just("\n".to_owned()),
        Just("\r".to_owned()),
        Just("\x1e".to_owned()),
        prop::sample::select(vec![
            "DAQ", "DCS", "DAC", "DAD", "DBB", "DBA", "DBD", "DBC", "DAG", "DAI", "DAJ", "DAK",
            "DCG", "DAA", "DCT", "DDE", "DDF"
        ])
        .prop_map(str::to_owned),
        "[0-9]{1,10}",
        "[A-Z <,]{1,12}",
        any::<String>(),
        any::<char>().prop_map(String::from),
    ]
}

fn exercise(text: &str) {
    if let Ok(record) = parse_aamva(text) {
        // Every accessor on whatever was parsed must be total.
        let _ = (
            record.last_name(),
            record.first_name(),
            record.middle_names(),
            record.birthdate(),
            record.expiry_date(),
            record.issue_date(),
            record.sex(),
            record.postal_code(),
            record.country(),
            record.issuer_jurisdiction(),
            record.name_truncated("DDE"),
        );
        let attributes = ExtractedAttributes::from_aamva(&record);
        serde_json::to_string(&attributes).expect("attributes serialise");
    }
}

fn element_value() -> impl Strategy<Value = String> {
    // Values as issuers print them: no separators, no leading/trailing blanks.
    "[A-Z0-9][A-Z0-9 ,'-]{0,20}[A-Z0-9]|[A-Z0-9]"
}

proptest! {
    #[test]
    fn aamva_parser_never_panics_on_any_text(text in any::<String>()) {
        exercise(&text);
    }

    #[test]
    fn aamva_parser_never_panics_on_near_aamva_text(
        fragments in prop::collection::vec(aamva_fragment(), 0..40)
    ) {
        exercise(&fragments.concat());
    }

    #[test]
    fn aamva_parser_never_panics_on_damaged_payloads(
        cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<char>(), 0..3u8), 1..10),
    ) {
        let mut text: Vec<char> = encode_aamva(
            "636014",
            AamvaSubfile::DriverLicence,
            &[("DAQ", "D1234567"), ("DCS", "MORGAN"), ("DAC", "ALEX"), ("DBB", "04151990"),
              ("DBA", "08312030"), ("DBD", "08312022"), ("DAK", "958220000"), ("DCG", "USA")],
        )
        .chars()
        .collect();
        for (at, c, op) in cuts {
            if text.is_empty() {
                break;
            }
            let at = at.index(text.len());
            match op {
                0 => text[at] = c,
                1 => text.insert(at, c),
                _ => { text.remove(at); }
            }
        }
        exercise(&text.into_iter().collect::<String>());
    }

    #[test]
    fn aamva_elements_round_trip(
        elements in prop::collection::btree_map("D[A-Z]{2}", element_value(), 1..25),
        issuer in "6360[0-9]{2}",
        id_card in any::<bool>(),
    ) {
        let subfile = if id_card { AamvaSubfile::IdCard } else { AamvaSubfile::DriverLicence };
        let pairs: Vec<(&str, &str)> =
            elements.iter().map(|(id, value)| (id.as_str(), value.as_str())).collect();
        let record = parse_aamva(&encode_aamva(&issuer, subfile, &pairs)).unwrap();
        prop_assert_eq!(&record.issuer_id, &issuer);
        prop_assert_eq!(record.aamva_version, 10);
        prop_assert_eq!(record.subfile, subfile);
        prop_assert_eq!(&record.elements, &elements);
    }

    #[test]
    fn aamva_us_dates_round_trip(
        year in 1900i32..2100, month in 1u8..=12, day in 1u8..=28,
    ) {
        let raw = format!("{month:02}{day:02}{year:04}");
        let record = parse_aamva(&encode_aamva(
            "636014",
            AamvaSubfile::DriverLicence,
            &[("DCS", "X"), ("DBB", &raw), ("DCG", "USA")],
        ))
        .unwrap();
        let expected = Date::from_calendar_date(year, time::Month::try_from(month).unwrap(), day).unwrap();
        prop_assert_eq!(record.birthdate().date(), Some(expected));
    }
}

/// Characters OCR of an MRZ produces, with the usual confusions.
fn ocr_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            8 => prop::sample::select("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<".chars().collect::<Vec<_>>()),
            1 => Just('\n'),
            1 => prop::sample::select(vec![' ', 'K', '«', '|', 'o', '\t']),
        ],
        0..200,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn exercise_mrz(text: &str) {
    if let Ok(zone) = parse_mrz_text(text, TODAY) {
        let attributes = ExtractedAttributes::from_mrz(&zone);
        serde_json::to_string(&attributes).expect("attributes serialise");
    }
}

fn name() -> impl Strategy<Value = String> {
    "[A-Z]{1,12}( [A-Z]{1,10})?"
}

proptest! {
    #[test]
    fn mrz_path_never_panics_on_any_text(text in any::<String>()) {
        exercise_mrz(&text);
    }

    #[test]
    fn mrz_path_never_panics_on_ocr_like_text(text in ocr_text()) {
        exercise_mrz(&text);
    }

    #[test]
    fn mrz_path_never_panics_on_damaged_zones(
        td1 in any::<bool>(),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<char>(), 0..3u8), 1..8),
    ) {
        let holder = checks::fixtures::Holder::sample();
        let zone = if td1 {
            checks::fixtures::td1_zone(&holder, "DEU")
        } else {
            checks::fixtures::td3_zone(&holder, "FRA")
        };
        let mut text: Vec<char> = zone.chars().collect();
        for (at, c, op) in damage {
            if text.is_empty() {
                break;
            }
            let at = at.index(text.len());
            match op {
                0 => text[at] = c,
                1 => text.insert(at, c),
                _ => { text.remove(at); }
            }
        }
        exercise_mrz(&text.into_iter().collect::<String>());
    }

    #[test]
    fn emitted_zones_parse_back_to_their_fields(
        surname in name(),
        given in name(),
        number in "[A-Z0-9]{6,9}",
        birth_year in 1930i32..2020, birth_month in 1u8..=12, birth_day in 1u8..=28,
        expiry_year in 2020i32..2040,
        td1 in any::<bool>(),
    ) {
        let holder = checks::fixtures::Holder {
            first: given.split(' ').next().unwrap().to_owned(),
            middle: given.split(' ').nth(1).map(str::to_owned),
            last: surname.clone(),
            birthdate: checks::fixtures::date(birth_year, birth_month, birth_day),
            expires: checks::fixtures::date(expiry_year, 6, 30),
            document_number: number.clone(),
            ..checks::fixtures::Holder::sample()
        };
        let zone = if td1 {
            checks::fixtures::td1_zone(&holder, "DEU")
        } else {
            checks::fixtures::td3_zone(&holder, "FRA")
        };
        let parsed = parse_mrz_text(&zone, TODAY).unwrap();
        prop_assert!(parsed.valid(), "{}", zone);
        let attributes = ExtractedAttributes::from_mrz(&parsed);
        // Names longer than the zone's name field are truncated by the issuer's rules.
        let capacity = if td1 { 30 } else { 39 };
        if surname.len() + 2 + given.len() <= capacity {
            prop_assert_eq!(attributes.name_last.as_deref(), Some(surname.as_str()));
            prop_assert_eq!(attributes.name_first.as_deref(), Some(holder.first.as_str()));
        }
        prop_assert_eq!(attributes.birthdate, Some(holder.birthdate));
        prop_assert_eq!(attributes.expiration_date, Some(holder.expires));
        prop_assert_eq!(attributes.identification_number.as_deref(), Some(number.as_str()));
    }
}
