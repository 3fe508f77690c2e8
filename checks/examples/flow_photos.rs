//! Writes the photos the end-to-end tests upload in the hosted flow: the front and the back of a
//! US driver licence of `Holder::sample()` (Alex Morgan, born 1990-04-15), as JPEG files.
//! `cargo run -p checks --example flow_photos -- <dir>` writes `licence_front.jpg`,
//! `licence_back.jpg` and `licence_back_other_holder.jpg` (the back of another person's licence,
//! Jordan Morgan's, for the name-mismatch test) into `<dir>`.

use checks::aamva::AamvaSubfile;
use checks::fixtures::{aamva_payload, encode_jpeg, id_card_image, licence_back, Holder};

fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    let payload = aamva_payload(&Holder::sample(), "US", AamvaSubfile::DriverLicence);
    std::fs::write(
        dir.join("licence_front.jpg"),
        encode_jpeg(&id_card_image(1600, 1000), 85),
    )?;
    std::fs::write(
        dir.join("licence_back.jpg"),
        encode_jpeg(&licence_back(1600, 1000, &payload), 85),
    )?;
    let other_holder = Holder {
        first: "JORDAN".into(),
        ..Holder::sample()
    };
    let other = aamva_payload(&other_holder, "US", AamvaSubfile::DriverLicence);
    std::fs::write(
        dir.join("licence_back_other_holder.jpg"),
        encode_jpeg(&licence_back(1600, 1000, &other), 85),
    )?;
    Ok(())
}
