//! Writes the synthetic document fixtures as JPEG files into a folder, to look at them:
//! `cargo run -p checks --example dump_fixtures -- /tmp/fixtures`.

use checks::aamva::AamvaSubfile;
use checks::fixtures::{
    aamva_payload, cut_off_right, encode_jpeg, encode_png, id_card_back_td1, licence_back,
    passport_page, photographed, td1_zone, td3_zone, with_glare, Holder, Photo,
};

fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    let holder = Holder::sample();
    let back = licence_back(
        1600,
        1000,
        &aamva_payload(&holder, "US", AamvaSubfile::DriverLicence),
    );
    let passport = passport_page(1600, 1200, &td3_zone(&holder, "FRA"));
    let id_back = id_card_back_td1(1600, 1000, &td1_zone(&holder, "DEU"));
    let tilted = Photo {
        rotate_degrees: 15.0,
        perspective: 0.08,
        noise: 6,
        blur_sigma: 0.0,
    };
    for (name, image) in [
        ("licence_back", back.clone()),
        ("licence_back_tilted", photographed(&back, tilted)),
        ("licence_back_cut_off", cut_off_right(&back, 0.2)),
        ("licence_back_glare", with_glare(&back, 0.2)),
        ("passport", passport.clone()),
        ("passport_tilted", photographed(&passport, tilted)),
        ("id_back_td1", id_back.clone()),
        ("id_back_td1_tilted", photographed(&id_back, tilted)),
    ] {
        std::fs::write(dir.join(format!("{name}.jpg")), encode_jpeg(&image, 60))?;
        let small = image::imageops::thumbnail(&image, 800, 800 * image.height() / image.width());
        std::fs::write(dir.join(format!("{name}.png")), encode_png(&small))?;
    }
    Ok(())
}
