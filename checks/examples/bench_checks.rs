//! Times the checks on 12 MP phone-like JPEGs, on one thread:
//! `cargo run --release -p checks --example bench_checks` (`BENCH_ITERATIONS`, default 15).
//! Pin it to one core for the figures (`taskset -c 0`); Tesseract uses OpenMP, so also set
//! `OMP_THREAD_LIMIT=1`.
//!
//! Prints p50/p95 in milliseconds of:
//! - `decode_only`: the `image` crate's decode of the licence back alone, the floor;
//! - `image_checks`: `run_id_image_checks` on it (decode included);
//! - `decode_barcode`: decode + grey + rxing PDF417 on the raw photo (the naive pipeline);
//! - `licence_all_checks`: `run_government_id_checks` on a 12 MP front and a 12 MP back (two
//!   decodes, quality, corners, straightening, barcode, data checks), next to its baseline
//!   `licence_baseline` = decode of the front + `decode_barcode` of the back, in the same run;
//! - `passport_all_checks`: the OCR path, `run_government_id_checks` on a 12 MP passport page.

use checks::aamva::AamvaSubfile;
use checks::fixtures::{
    aamva_payload, encode_jpeg, id_card_image, licence_back, passport_page, photographed, td3_zone,
    Holder, Photo,
};
use checks::{run_government_id_checks, run_id_image_checks, GovernmentIdInput, QualityPolicy};
use domain::checks::{CheckName, CheckStatus, IdClass};
use domain::fields::CountryCode;
use std::hint::black_box;
use std::io::Cursor;
use std::time::Instant;

fn main() {
    let iterations = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(15);
    let holder = Holder::sample();
    let tilt = Photo {
        rotate_degrees: 7.0,
        perspective: 0.05,
        noise: 3,
        ..Photo::default()
    };
    let payload = aamva_payload(&holder, "US", AamvaSubfile::DriverLicence);
    let back = encode_jpeg(&photographed(&licence_back(4000, 3000, &payload), tilt), 85);
    let front = encode_jpeg(&id_card_image(4000, 3000), 85);
    let passport = encode_jpeg(
        &photographed(&passport_page(4000, 3000, &td3_zone(&holder, "FRA")), tilt),
        85,
    );
    println!(
        "images 4000x3000 jpeg_q85 licence_back_bytes={} front_bytes={} passport_bytes={} iterations={iterations}",
        back.len(),
        front.len(),
        passport.len()
    );

    let decode = |bytes: &[u8]| {
        image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .expect("reading from memory cannot fail")
            .decode()
            .expect("the benchmark image decodes")
    };
    report(
        "decode_only",
        time(iterations, || {
            black_box(decode(&back).width());
        }),
    );

    let policy = QualityPolicy::default();
    report(
        "image_checks",
        time(iterations, || {
            let outcomes = run_id_image_checks(black_box(&back), &policy);
            assert!(
                outcomes.iter().all(|o| o.status == CheckStatus::Passed),
                "{outcomes:?}"
            );
        }),
    );

    let decode_barcode = |bytes: &[u8]| {
        let gray = decode(bytes).to_luma8();
        checks::barcode::decode_pdf417(&gray)
    };
    let raw_read = decode_barcode(&back).is_some();
    report(
        "decode_barcode",
        time(iterations, || {
            black_box(decode_barcode(&back).map(|t| t.len()));
        }),
    );
    println!("decode_barcode_reads_the_tilted_raw_photo={raw_read}");

    let input = |country: &str, class| GovernmentIdInput {
        country: CountryCode::parse(country).expect("a country"),
        id_class: class,
        name_first: None,
        name_last: None,
        birthdate: None,
        today: time::macros::date!(2026 - 11 - 27),
        policy: checks::GovernmentIdPolicy::default(),
    };
    let licence = input("US", IdClass::DriverLicence);
    let baseline = time(iterations, || {
        black_box(decode(&front).width());
        black_box(decode_barcode(&back).map(|t| t.len()));
    });
    let all = time(iterations, || {
        let report = run_government_id_checks(black_box(&front), Some(&back), &licence);
        assert_eq!(
            report.check(CheckName::IdBarcodeDetection).status,
            CheckStatus::Passed,
            "{report:?}"
        );
        black_box(report);
    });
    let ratio = |a: &[f64], b: &[f64]| percentile(a, 95.0) / percentile(b, 95.0);
    println!(
        "licence_all_checks_over_baseline_p95={:.2}",
        ratio(&all, &baseline)
    );
    report("licence_baseline", baseline);
    report("licence_all_checks", all);

    let passport_input = input("FR", IdClass::Passport);
    report(
        "passport_all_checks_ocr",
        time(iterations.min(7), || {
            let report = run_government_id_checks(black_box(&passport), None, &passport_input);
            assert_eq!(
                report.check(CheckName::IdMrzDetection).status,
                CheckStatus::Passed,
                "{report:?}"
            );
            black_box(report);
        }),
    );
}

fn time(iterations: usize, mut run: impl FnMut()) -> Vec<f64> {
    run(); // warm-up: page in the buffers and the code
    let mut millis: Vec<f64> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    millis.sort_by(f64::total_cmp);
    millis
}

/// Nearest-rank percentile over sorted samples.
fn percentile(sorted_millis: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted_millis.len() as f64).ceil() as usize;
    sorted_millis[rank.clamp(1, sorted_millis.len()) - 1]
}

fn report(name: &str, sorted_millis: Vec<f64>) {
    println!(
        "{name} p50_ms={:.1} p95_ms={:.1}",
        percentile(&sorted_millis, 50.0),
        percentile(&sorted_millis, 95.0)
    );
}
