//! The government-ID checks end to end, on synthetic documents generated here (invented people):
//! each check passes on the photos it should and fails, with the right reason and retry hint, on
//! the ones it should not.

use checks::aamva::AamvaSubfile;
use checks::fixtures::{
    aamva_payload, blurred, cut_off_right, date, encode_jpeg, id_card_back_td1, id_card_image,
    licence_back, passport_page, photographed, td1_zone, td3_zone, with_glare, Holder, Photo,
};
use checks::{
    run_government_id_checks, DocumentLayout, ExtractionSource, GovernmentIdInput,
    GovernmentIdPolicy, GovernmentIdReport,
};
use domain::checks::{CheckName, CheckStatus, IdClass};
use domain::fields::{BirthDate, CountryCode, PersonName};
use image::RgbImage;
use std::sync::OnceLock;
use time::macros::date;
use time::Date;

const TODAY: Date = date!(2026 - 11 - 27);

fn input(country: &str, class: IdClass) -> GovernmentIdInput {
    GovernmentIdInput {
        country: CountryCode::parse(country).unwrap(),
        id_class: class,
        name_first: Some(PersonName::parse("Alex", "first name").unwrap()),
        name_last: Some(PersonName::parse("Morgan", "last name").unwrap()),
        birthdate: Some(BirthDate::parse("1990-04-15", TODAY, "birthdate").unwrap()),
        today: TODAY,
        policy: GovernmentIdPolicy {
            minimum_age: Some(18),
            ..GovernmentIdPolicy::default()
        },
    }
}

/// The front of a licence (no machine-readable data on it).
fn front() -> &'static [u8] {
    static FRONT: OnceLock<Vec<u8>> = OnceLock::new();
    FRONT.get_or_init(|| encode_jpeg(&id_card_image(1600, 1000), 85))
}

fn back_image(holder: &Holder, country: &str) -> RgbImage {
    let payload = aamva_payload(holder, country, AamvaSubfile::DriverLicence);
    licence_back(1600, 1000, &payload)
}

/// The sample holder's US licence back, flat.
fn us_back() -> &'static RgbImage {
    static BACK: OnceLock<RgbImage> = OnceLock::new();
    BACK.get_or_init(|| back_image(&Holder::sample(), "US"))
}

fn run_licence(back: &[u8], input: &GovernmentIdInput) -> GovernmentIdReport {
    let report = run_government_id_checks(front(), Some(back), input);
    assert_well_formed(&report);
    report
}

fn assert_well_formed(report: &GovernmentIdReport) {
    let names: Vec<CheckName> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(names, CheckName::ALL);
    for outcome in &report.checks {
        assert_eq!(
            outcome.reasons.is_empty(),
            outcome.status == CheckStatus::Passed,
            "reasons exactly when not passed: {outcome:?}"
        );
    }
}

fn status(report: &GovernmentIdReport, name: CheckName) -> CheckStatus {
    report.check(name).status
}

fn assert_failed(report: &GovernmentIdReport, name: CheckName, reason: &str) {
    let outcome = report.check(name);
    assert_eq!(outcome.status, CheckStatus::Failed, "{outcome:#?}");
    assert!(
        outcome.reasons.iter().any(|r| r == reason),
        "expected {reason}: {outcome:#?}"
    );
}

/// The hint the person sees for a failed check.
fn hint(report: &GovernmentIdReport, name: CheckName) -> &'static str {
    name.retry_hint_for(&report.check(name).reasons)
        .unwrap_or_else(|| panic!("{name} has a hint"))
}

fn assert_all_passed_except(report: &GovernmentIdReport, not_applicable: &[CheckName]) {
    for outcome in &report.checks {
        let expected = if not_applicable.contains(&outcome.name) {
            CheckStatus::NotApplicable
        } else {
            CheckStatus::Passed
        };
        assert_eq!(outcome.status, expected, "{outcome:#?}\n{report:#?}");
    }
}

const MRZ_CHECKS: [CheckName; 2] = [
    CheckName::IdMrzDetection,
    CheckName::IdMrzInconsistencyDetection,
];
const BARCODE_CHECKS: [CheckName; 2] = [
    CheckName::IdBarcodeDetection,
    CheckName::IdBarcodeInconsistencyDetection,
];

#[test]
fn a_flat_us_licence_passes_every_check_and_yields_its_attributes() {
    let report = run_licence(
        &encode_jpeg(us_back(), 85),
        &input("US", IdClass::DriverLicence),
    );
    assert_eq!(report.layout, DocumentLayout::BarcodeOnBack);
    assert_all_passed_except(&report, &MRZ_CHECKS);
    let extracted = report.extracted.as_ref().unwrap();
    assert_eq!(extracted.source, ExtractionSource::Barcode);
    assert_eq!(extracted.id_class, Some(IdClass::DriverLicence));
    assert_eq!(extracted.name_first.as_deref(), Some("ALEX"));
    assert_eq!(extracted.name_middle.as_deref(), Some("JAMES"));
    assert_eq!(extracted.name_last.as_deref(), Some("MORGAN"));
    assert_eq!(extracted.birthdate, Some(date!(1990 - 04 - 15)));
    assert_eq!(extracted.expiration_date, Some(date!(2030 - 08 - 31)));
    assert_eq!(extracted.issue_date, Some(date!(2022 - 08 - 31)));
    assert_eq!(extracted.identification_number.as_deref(), Some("D1234567"));
    assert_eq!(extracted.issuing_country.as_deref(), Some("US"));
    assert_eq!(extracted.issuing_subdivision.as_deref(), Some("CA"));
    assert_eq!(extracted.sex.as_deref(), Some("M"));
    let address = extracted.address.as_ref().unwrap();
    assert_eq!(address.postal_code.as_deref(), Some("95822"));
    assert_eq!(
        report.check(CheckName::IdBarcodeDetection).metadata["read_from"],
        "back_straightened"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["extracted"]["birthdate"], "1990-04-15");
    assert_eq!(json["checks"][5]["name"], "id_barcode_detection");
    assert_eq!(json["layout"], "barcode_on_back");
}

#[test]
fn a_canadian_licence_reads_year_first_dates() {
    let back = encode_jpeg(&back_image(&Holder::sample(), "CA"), 85);
    let report = run_licence(&back, &input("CA", IdClass::DriverLicence));
    assert_all_passed_except(&report, &MRZ_CHECKS);
    let extracted = report.extracted.unwrap();
    assert_eq!(extracted.birthdate, Some(date!(1990 - 04 - 15)));
    assert_eq!(extracted.issuing_subdivision.as_deref(), Some("ON"));
}

#[test]
fn tilted_keystoned_noisy_low_quality_photos_of_the_back_still_read() {
    for photo in [
        Photo {
            rotate_degrees: 8.0,
            ..Photo::default()
        },
        Photo {
            rotate_degrees: -15.0,
            noise: 6,
            ..Photo::default()
        },
        Photo {
            rotate_degrees: 12.0,
            perspective: 0.1,
            noise: 4,
            ..Photo::default()
        },
        Photo {
            perspective: 0.12,
            blur_sigma: 0.8,
            ..Photo::default()
        },
    ] {
        let back = encode_jpeg(&photographed(us_back(), photo), 60);
        let report = run_licence(&back, &input("US", IdClass::DriverLicence));
        assert_all_passed_except(&report, &MRZ_CHECKS);
        let corners = &report.check(CheckName::IdCornerDetection).metadata["back"];
        let tilt = corners["tilt_degrees"].as_f64().unwrap();
        assert!(
            (tilt - f64::from(photo.rotate_degrees)).abs() < 2.5,
            "{photo:?}: {corners}"
        );
    }
}

#[test]
fn the_barcode_reader_needs_the_straightening_past_a_few_degrees() {
    // The raw photo at 15°: rxing alone does not read it; through the corners it does.
    let tilted = photographed(
        us_back(),
        Photo {
            rotate_degrees: 15.0,
            ..Photo::default()
        },
    );
    let gray = image::DynamicImage::ImageRgb8(tilted.clone()).to_luma8();
    assert_eq!(checks::barcode::decode_pdf417(&gray), None);
    let report = run_licence(
        &encode_jpeg(&tilted, 85),
        &input("US", IdClass::DriverLicence),
    );
    assert_eq!(
        status(&report, CheckName::IdBarcodeDetection),
        CheckStatus::Passed
    );
}

#[test]
fn a_blurred_back_fails_blur_and_the_barcode_with_their_hints() {
    let back = encode_jpeg(&blurred(us_back(), 6.0), 85);
    let report = run_licence(&back, &input("US", IdClass::DriverLicence));
    assert_failed(&report, CheckName::IdBlurDetection, "image_too_blurry");
    assert_eq!(
        report.check(CheckName::IdBlurDetection).metadata["failed_sides"],
        serde_json::json!(["back"])
    );
    assert!(hint(&report, CheckName::IdBlurDetection).contains("blurry"));
    assert_failed(&report, CheckName::IdBarcodeDetection, "barcode_not_found");
    assert!(hint(&report, CheckName::IdBarcodeDetection).contains("barcode"));
    assert_eq!(report.extracted, None);
    assert_eq!(
        status(&report, CheckName::IdExtractionInconsistencyDetection),
        CheckStatus::NotApplicable
    );
}

#[test]
fn glare_on_the_back_fails_glare() {
    let back = encode_jpeg(&with_glare(us_back(), 0.2), 85);
    let report = run_licence(&back, &input("US", IdClass::DriverLicence));
    assert_failed(&report, CheckName::IdGlareDetection, "glare_detected");
    assert!(hint(&report, CheckName::IdGlareDetection).contains("glare"));
}

#[test]
fn a_back_running_off_the_photo_fails_corner_detection() {
    let back = encode_jpeg(&cut_off_right(us_back(), 0.2), 85);
    let report = run_licence(&back, &input("US", IdClass::DriverLicence));
    assert_failed(&report, CheckName::IdCornerDetection, "document_cut_off");
    assert_eq!(
        report.check(CheckName::IdCornerDetection).metadata["failed_sides"],
        serde_json::json!(["back"])
    );
    assert!(hint(&report, CheckName::IdCornerDetection).contains("corners"));
}

#[test]
fn the_front_uploaded_twice_fails_the_barcode_as_the_wrong_side() {
    let report = run_licence(front(), &input("US", IdClass::DriverLicence));
    assert_failed(&report, CheckName::IdBarcodeDetection, "barcode_not_found");
    assert!(hint(&report, CheckName::IdBarcodeDetection).contains("back"));
    assert_eq!(
        status(&report, CheckName::IdCornerDetection),
        CheckStatus::Passed
    );
}

#[test]
fn a_licence_without_its_back_asks_for_the_back() {
    let report = run_government_id_checks(front(), None, &input("US", IdClass::DriverLicence));
    assert_well_formed(&report);
    assert_failed(&report, CheckName::IdBarcodeDetection, "back_image_missing");
    assert!(hint(&report, CheckName::IdBarcodeDetection).contains("back of your ID"));
}

#[test]
fn an_expired_licence_fails_expiry_with_its_hint() {
    let holder = Holder {
        issued: date(2016, 5, 1),
        expires: date(2024, 5, 1),
        ..Holder::sample()
    };
    let back = encode_jpeg(&back_image(&holder, "US"), 85);
    let report = run_licence(&back, &input("US", IdClass::DriverLicence));
    assert_failed(&report, CheckName::IdExpiredDetection, "document_expired");
    assert!(hint(&report, CheckName::IdExpiredDetection).contains("expired"));
    assert_eq!(
        report.retry_hints(),
        [CheckName::IdExpiredDetection.retry_hint().unwrap()]
    );
    assert_eq!(
        status(&report, CheckName::IdValidDatesDetection),
        CheckStatus::Passed
    );
    assert_eq!(
        status(&report, CheckName::IdBarcodeInconsistencyDetection),
        CheckStatus::Passed
    );
}

#[test]
fn an_under_age_holder_fails_age_comparison_without_a_hint() {
    let holder = Holder {
        birthdate: date(2010, 2, 3),
        ..Holder::sample()
    };
    let back = encode_jpeg(&back_image(&holder, "US"), 85);
    let mut input = input("US", IdClass::DriverLicence);
    input.birthdate = Some(BirthDate::parse("2010-02-03", TODAY, "birthdate").unwrap());
    let report = run_licence(&back, &input);
    assert_failed(&report, CheckName::IdAgeComparison, "under_minimum_age");
    assert_eq!(CheckName::IdAgeComparison.retry_hint(), None);
    assert_eq!(
        status(&report, CheckName::IdExtractionInconsistencyDetection),
        CheckStatus::Passed
    );
    // Without a minimum age the check does not apply.
    input.policy.minimum_age = None;
    let report = run_licence(&back, &input);
    assert_eq!(
        status(&report, CheckName::IdAgeComparison),
        CheckStatus::NotApplicable
    );
}

#[test]
fn a_disallowed_country_or_class_fails_its_check() {
    let back = encode_jpeg(us_back(), 85);
    let mut input = input("US", IdClass::DriverLicence);
    input.policy.allowed_countries = vec![CountryCode::parse("CA").unwrap()];
    input.policy.allowed_id_classes = vec![IdClass::Passport, IdClass::IdCard];
    let report = run_licence(&back, &input);
    assert_failed(
        &report,
        CheckName::IdDisallowedCountryDetection,
        "country_not_allowed",
    );
    assert!(hint(&report, CheckName::IdDisallowedCountryDetection).contains("country"));
    assert_failed(
        &report,
        CheckName::IdDisallowedTypeDetection,
        "id_class_not_allowed",
    );
    let metadata = &report.check(CheckName::IdDisallowedTypeDetection).metadata;
    assert_eq!(metadata["document_id_class"], "dl");
    assert_eq!(
        metadata["allowed_id_classes"],
        serde_json::json!(["pp", "id"])
    );
}

#[test]
fn typed_names_and_birthdates_are_compared_tolerantly() {
    let back = encode_jpeg(us_back(), 85);
    let mut typed = input("US", IdClass::DriverLicence);
    typed.name_first = Some(PersonName::parse(" álex ", "first name").unwrap());
    typed.name_last = Some(PersonName::parse("MORGAN", "last name").unwrap());
    let report = run_licence(&back, &typed);
    assert_eq!(
        status(&report, CheckName::IdExtractionInconsistencyDetection),
        CheckStatus::Passed,
        "{:#?}",
        report.check(CheckName::IdExtractionInconsistencyDetection)
    );

    typed.name_first = Some(PersonName::parse("Jordan", "first name").unwrap());
    let report = run_licence(&back, &typed);
    let name = CheckName::IdExtractionInconsistencyDetection;
    assert_failed(&report, name, "name_mismatch");
    assert_eq!(report.check(name).metadata["name_first"], "mismatched");
    assert_eq!(report.check(name).metadata["name_last"], "matched");
    assert!(hint(&report, name).contains("name you entered"));

    let mut typed = input("US", IdClass::DriverLicence);
    typed.birthdate = Some(BirthDate::parse("1990-05-14", TODAY, "birthdate").unwrap());
    let report = run_licence(&back, &typed);
    assert_failed(&report, name, "birthdate_mismatch");
    assert!(hint(&report, name).contains("date of birth you entered"));
}

#[test]
fn inconsistent_barcode_data_fails_barcode_inconsistency() {
    let holder = Holder {
        issued: date(2031, 1, 1),
        ..Holder::sample()
    };
    let payload =
        aamva_payload(&holder, "US", AamvaSubfile::DriverLicence).replace("DAJCA\n", "DAJNV\n");
    let back = encode_jpeg(&licence_back(1600, 1000, &payload), 85);
    let report = run_licence(&back, &input("US", IdClass::DriverLicence));
    let name = CheckName::IdBarcodeInconsistencyDetection;
    assert_failed(&report, name, "issue_date_after_expiry");
    assert_failed(&report, name, "issuer_jurisdiction_mismatch");
    assert_eq!(name.retry_hint(), None);
    assert_failed(
        &report,
        CheckName::IdValidDatesDetection,
        "issue_date_in_future",
    );
}

#[test]
fn a_flat_passport_passes_every_check() {
    let page = encode_jpeg(
        &passport_page(1600, 1200, &td3_zone(&Holder::sample(), "FRA")),
        85,
    );
    let report = run_government_id_checks(&page, None, &input("FR", IdClass::Passport));
    assert_well_formed(&report);
    assert_eq!(report.layout, DocumentLayout::MrzOnFront);
    assert_all_passed_except(&report, &BARCODE_CHECKS);
    let extracted = report.extracted.as_ref().unwrap();
    assert_eq!(extracted.source, ExtractionSource::Mrz);
    assert_eq!(extracted.id_class, Some(IdClass::Passport));
    assert_eq!(extracted.issuing_country.as_deref(), Some("FR"));
    assert_eq!(extracted.nationality.as_deref(), Some("FR"));
    assert_eq!(extracted.name_last.as_deref(), Some("MORGAN"));
    assert_eq!(extracted.name_first.as_deref(), Some("ALEX"));
    assert_eq!(extracted.birthdate, Some(date!(1990 - 04 - 15)));
    assert_eq!(extracted.expiration_date, Some(date!(2030 - 08 - 31)));
    assert_eq!(extracted.identification_number.as_deref(), Some("D1234567"));
}

#[test]
fn a_tilted_noisy_passport_photo_still_reads() {
    let page = passport_page(1600, 1200, &td3_zone(&Holder::sample(), "FRA"));
    let photo = Photo {
        rotate_degrees: -12.0,
        perspective: 0.08,
        noise: 6,
        ..Photo::default()
    };
    let bytes = encode_jpeg(&photographed(&page, photo), 60);
    let report = run_government_id_checks(&bytes, None, &input("FR", IdClass::Passport));
    assert_all_passed_except(&report, &BARCODE_CHECKS);
}

#[test]
fn an_expired_under_age_passport_of_a_disallowed_country_fails_those_checks() {
    let holder = Holder {
        birthdate: date(2012, 6, 1),
        expires: date(2025, 6, 1),
        ..Holder::sample()
    };
    let page = encode_jpeg(&passport_page(1600, 1200, &td3_zone(&holder, "ITA")), 85);
    let mut input = input("IT", IdClass::Passport);
    input.birthdate = None;
    input.policy.allowed_countries = vec![CountryCode::parse("FR").unwrap()];
    let report = run_government_id_checks(&page, None, &input);
    assert_failed(&report, CheckName::IdExpiredDetection, "document_expired");
    assert_failed(&report, CheckName::IdAgeComparison, "under_minimum_age");
    assert_failed(
        &report,
        CheckName::IdDisallowedCountryDetection,
        "country_not_allowed",
    );
    assert_eq!(
        status(&report, CheckName::IdMrzInconsistencyDetection),
        CheckStatus::Passed
    );
}

#[test]
fn a_passport_with_a_wrong_check_digit_fails_mrz_inconsistency() {
    let zone = td3_zone(&Holder::sample(), "FRA");
    // Change the birthdate's check digit (line 2, position 20).
    let mut lines: Vec<String> = zone.lines().map(str::to_owned).collect();
    let digit = lines[1].as_bytes()[19];
    let wrong = if digit == b'1' { '2' } else { '1' };
    lines[1].replace_range(19..20, &wrong.to_string());
    let page = encode_jpeg(&passport_page(1600, 1200, &lines.join("\n")), 85);
    let report = run_government_id_checks(&page, None, &input("FR", IdClass::Passport));
    let outcome = report.check(CheckName::IdMrzInconsistencyDetection);
    if outcome.status == CheckStatus::Passed {
        // The MRZ parser may repair a single damaged digit under check-digit agreement; then it
        // must say so.
        assert_eq!(outcome.metadata["damaged_recovery"], true, "{outcome:#?}");
    } else {
        assert_failed(
            &report,
            CheckName::IdMrzInconsistencyDetection,
            "check_digit_mismatch",
        );
    }
}

#[test]
fn an_id_card_reads_through_the_td1_zone_on_its_back() {
    let back = id_card_back_td1(1600, 1000, &td1_zone(&Holder::sample(), "DEU"));
    let photo = Photo {
        rotate_degrees: 10.0,
        noise: 4,
        ..Photo::default()
    };
    let back = encode_jpeg(&photographed(&back, photo), 70);
    let report = run_government_id_checks(front(), Some(&back), &input("DE", IdClass::IdCard));
    assert_well_formed(&report);
    assert_eq!(report.layout, DocumentLayout::MrzOnBack);
    assert_all_passed_except(&report, &BARCODE_CHECKS);
    let extracted = report.extracted.as_ref().unwrap();
    assert_eq!(extracted.id_class, Some(IdClass::IdCard));
    assert_eq!(extracted.issuing_country.as_deref(), Some("DE"));
    assert_eq!(
        report.check(CheckName::IdMrzDetection).metadata["read_from"],
        "back"
    );
}

#[test]
fn a_page_without_a_zone_fails_mrz_detection_with_its_hint() {
    let report = run_government_id_checks(front(), None, &input("FR", IdClass::Passport));
    assert_failed(&report, CheckName::IdMrzDetection, "mrz_not_found");
    assert!(hint(&report, CheckName::IdMrzDetection).contains("<<<"));
    assert_eq!(
        status(&report, CheckName::IdMrzInconsistencyDetection),
        CheckStatus::NotApplicable
    );
}

#[test]
fn a_licence_from_elsewhere_is_checked_for_quality_only() {
    let report = run_government_id_checks(front(), None, &input("FR", IdClass::DriverLicence));
    assert_eq!(report.layout, DocumentLayout::NoMachineReadableZone);
    for name in [
        CheckName::IdBarcodeDetection,
        CheckName::IdMrzDetection,
        CheckName::IdExtractionInconsistencyDetection,
        CheckName::IdExpiredDetection,
        CheckName::IdAgeComparison,
    ] {
        assert_eq!(status(&report, name), CheckStatus::NotApplicable, "{name}");
    }
    assert_eq!(
        status(&report, CheckName::IdBlurDetection),
        CheckStatus::Passed
    );
}

#[test]
fn unreadable_uploads_give_a_full_report() {
    let report = run_government_id_checks(
        b"not an image",
        Some(b""),
        &input("US", IdClass::DriverLicence),
    );
    assert_well_formed(&report);
    assert_failed(
        &report,
        CheckName::IdUnprocessableSubmissionDetection,
        "unsupported_format",
    );
    assert_eq!(
        status(&report, CheckName::IdCornerDetection),
        CheckStatus::NotApplicable
    );
}
