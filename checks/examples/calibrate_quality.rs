//! Prints the blur and glare measurements of the synthetic card photos, to calibrate
//! `QualityPolicy::default()`: `cargo run --release -p checks --example calibrate_quality`.

use checks::fixtures::{
    blurred, encode_jpeg, encode_png, id_card_image, id_card_image_on_table, overexposed,
    with_glare,
};
use checks::{run_id_image_checks, QualityPolicy};

fn main() {
    let policy = QualityPolicy::default();
    for (width, height) in [(1600, 1000), (4000, 3000), (1200, 800), (800, 500)] {
        let sharp = id_card_image(width, height);
        let scale = width as f32 / 1600.0;
        let mut cases = vec![
            ("sharp jpeg q85".to_owned(), encode_jpeg(&sharp, 85)),
            ("sharp jpeg q60".to_owned(), encode_jpeg(&sharp, 60)),
            ("sharp png".to_owned(), encode_png(&sharp)),
            (
                "mid-grey table".to_owned(),
                encode_jpeg(&id_card_image_on_table(width, height, 128), 85),
            ),
            (
                "light table".to_owned(),
                encode_jpeg(&id_card_image_on_table(width, height, 190), 85),
            ),
            (
                "overexposed".to_owned(),
                encode_jpeg(&overexposed(&sharp), 85),
            ),
        ];
        for fraction in [0.05, 0.1, 0.2, 0.3] {
            cases.push((
                format!("glare {fraction}"),
                encode_jpeg(&with_glare(&sharp, fraction), 85),
            ));
        }
        for sigma in [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0] {
            cases.push((
                format!("blur sigma {sigma}@1600"),
                encode_jpeg(&blurred(&sharp, sigma * scale), 85),
            ));
        }
        for (name, bytes) in cases {
            let outcomes = run_id_image_checks(&bytes, &policy);
            let summary: Vec<String> = outcomes.iter().map(|o| format!("{:?}", o.status)).collect();
            println!(
                "{width}x{height} {name:<22} sharpness={:>9.1} glare={:.4} saturated={:.4} {}",
                outcomes[2].metadata["sharpness"]
                    .as_f64()
                    .unwrap_or(f64::NAN),
                outcomes[3].metadata["glare_fraction"]
                    .as_f64()
                    .unwrap_or(f64::NAN),
                outcomes[3].metadata["saturated_fraction"]
                    .as_f64()
                    .unwrap_or(f64::NAN),
                summary.join(",")
            );
        }
    }
}
