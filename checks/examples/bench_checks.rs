//! Times the image quality checks on a 12 MP phone-like JPEG, on one thread:
//! `cargo run --release -p checks --example bench_checks` (`BENCH_ITERATIONS`, default 15).
//!
//! Prints `decode_only p50_ms=… p95_ms=…` (the `image` crate's decode alone, the floor) and
//! `all_checks p50_ms=… p95_ms=…` (`run_id_image_checks`, decode included).

use checks::fixtures::{encode_jpeg, id_card_image};
use checks::{run_id_image_checks, QualityPolicy};
use domain::checks::CheckStatus;
use std::hint::black_box;
use std::io::Cursor;
use std::time::Instant;

fn main() {
    let iterations = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(15);
    let jpeg = encode_jpeg(&id_card_image(4000, 3000), 85);
    println!(
        "image 4000x3000 jpeg_q85 bytes={} iterations={iterations}",
        jpeg.len()
    );

    let decode_only = time(iterations, || {
        let image = image::ImageReader::new(Cursor::new(&jpeg))
            .with_guessed_format()
            .expect("reading from memory cannot fail")
            .decode()
            .expect("the benchmark image decodes");
        black_box(image.width());
    });
    report("decode_only", decode_only);

    let policy = QualityPolicy::default();
    let all_checks = time(iterations, || {
        let outcomes = run_id_image_checks(black_box(&jpeg), &policy);
        assert!(
            outcomes.iter().all(|o| o.status == CheckStatus::Passed),
            "the sharp benchmark card must pass: {outcomes:?}"
        );
        black_box(outcomes);
    });
    report("all_checks", all_checks);
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

/// Nearest-rank percentiles over the sorted samples.
fn report(name: &str, sorted_millis: Vec<f64>) {
    let percentile = |p: f64| {
        let rank = ((p / 100.0) * sorted_millis.len() as f64).ceil() as usize;
        sorted_millis[rank.clamp(1, sorted_millis.len()) - 1]
    };
    println!(
        "{name} p50_ms={:.1} p95_ms={:.1}",
        percentile(50.0),
        percentile(95.0)
    );
}
