//! Synthetic ID-card photos for tests and benchmarks: no real documents, no people.
//!
//! [`id_card_image`] draws a light card (ID-1 proportions) on a darker textured table: a coloured
//! header, a portrait box holding an abstract silhouette, rows of dark "words", a signature
//! stroke, fine guilloche lines and a machine-readable-zone-like block of glyphs, plus mild
//! sensor noise. The degraders ([`blurred`], [`overexposed`], [`with_glare`]) imitate the photos
//! the quality checks must reject.

mod documents;

pub use documents::*;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{imageops, ImageEncoder, Rgb, RgbImage};

/// Where the card lies in an image of the given size: `(left, top, width, height)` in pixels.
///
/// The card is centred, takes 78 % of the width (or 80 % of the height, whichever binds) and has
/// the 85.60 × 53.98 mm proportions of an ID-1 card.
pub fn card_rect(width: u32, height: u32) -> (u32, u32, u32, u32) {
    const ASPECT: f64 = 85.60 / 53.98;
    let mut card_width = f64::from(width) * 0.78;
    let mut card_height = card_width / ASPECT;
    if card_height > f64::from(height) * 0.8 {
        card_height = f64::from(height) * 0.8;
        card_width = card_height * ASPECT;
    }
    let (card_width, card_height) = (card_width.round() as u32, card_height.round() as u32);
    (
        (width - card_width.min(width)) / 2,
        (height - card_height.min(height)) / 2,
        card_width,
        card_height,
    )
}

/// Draws a sharp synthetic ID card photographed on a darker table, `width`×`height` pixels.
pub fn id_card_image(width: u32, height: u32) -> RgbImage {
    id_card_image_on_table(width, height, 62)
}

/// Like [`id_card_image`] on a table whose grey level starts at `table_grey` at the top and
/// brightens by 30 towards the bottom (62 is a dark table, 128 mid-grey).
pub fn id_card_image_on_table(width: u32, height: u32, table_grey: u8) -> RgbImage {
    let (left, top, card_width, card_height) = card_rect(width, height);
    let (cw, ch) = (f64::from(card_width.max(1)), f64::from(card_height.max(1)));
    let radius = cw * 0.035;
    let mut image = RgbImage::from_fn(width, height, |x, y| {
        // A table with a lighting gradient and a fine wood-like grain.
        let shade = f64::from(table_grey) + 30.0 * f64::from(y) / f64::from(height.max(1));
        let grain = 6.0 * (f64::from(x) * 0.013 + (f64::from(y) * 0.05).sin() * 2.0).sin();
        let v = shade + grain;
        Rgb([channel(v + 8.0), channel(v), channel(v - 8.0)])
    });

    // The card body with rounded corners and guilloche: two families of thin wavy lines.
    for y in top..top + card_height {
        for x in left..left + card_width {
            let (u, v) = (f64::from(x - left), f64::from(y - top));
            if outside_rounded_corner(u, v, cw, ch, radius) {
                continue;
            }
            let base = 228.0 - 8.0 * v / ch;
            let wave_a = (u * 0.09 + 2.5 * (v * 0.021).sin()).sin();
            let wave_b = (v * 0.11 + 2.0 * (u * 0.017).sin()).sin();
            let line = if wave_a > 0.93 || wave_b > 0.95 {
                22.0
            } else {
                0.0
            };
            let l = base - line;
            image.put_pixel(x, y, Rgb([channel(l - 6.0), channel(l), channel(l + 4.0)]));
        }
    }

    let mut painter = Painter {
        image: &mut image,
        left,
        top,
        card_width: cw,
        card_height: ch,
    };
    let dark = Rgb([28, 30, 36]);
    let label = Rgb([105, 112, 124]);

    // Header band with a light title.
    painter.rect(0.0, 0.0, 1.0, 0.15, Rgb([36, 72, 138]));
    painter.words(0.05, 0.045, 0.60, 0.055, Rgb([235, 238, 245]), 11);
    // A thin frame line inside the card edge.
    painter.frame(0.02, 0.18, 0.98, 0.97, 0.003, Rgb([150, 160, 178]));

    // Portrait box with an abstract head-and-shoulders silhouette.
    painter.rect(0.05, 0.21, 0.33, 0.64, Rgb([176, 182, 190]));
    painter.ellipse(0.19, 0.37, 0.055, 0.09, 0.64, Rgb([92, 84, 80]));
    painter.ellipse(0.19, 0.64, 0.11, 0.12, 0.64, Rgb([70, 74, 90]));
    painter.frame(0.05, 0.21, 0.33, 0.64, 0.004, dark);
    // Signature stroke under the portrait.
    painter.signature(0.06, 0.32, 0.685, dark);

    // Field rows: a small grey label above a dark value, words of varying width.
    for (row, seed) in (0..5).zip(21u32..) {
        let y = 0.21 + f64::from(row) * 0.10;
        painter.words(0.38, y, 0.70, 0.022, label, seed);
        painter.words(0.38, y + 0.032, 0.93, 0.045, dark, seed + 100);
    }

    // Machine-readable-zone-like block: three rows of glyphs made of thin strokes.
    painter.rect(0.03, 0.74, 0.97, 0.745, Rgb([150, 160, 178]));
    for row in 0..3 {
        painter.glyph_row(0.04, 0.775 + f64::from(row) * 0.06, 0.96, 0.04, dark, row);
    }

    add_sensor_noise(&mut image, 3, 0x5EED);
    image
}

/// Blurs like a camera out of focus (Gaussian, `sigma` in pixels), then adds fresh sensor
/// noise, as a real blurred photo has.
pub fn blurred(image: &RgbImage, sigma: f32) -> RgbImage {
    let mut out = imageops::blur(image, sigma);
    add_sensor_noise(&mut out, 3, 0xB1_0B);
    out
}

/// Over-exposes like a camera metering on the dark table: gain 1.6, offset +30, so the card's
/// light background saturates while the print stays readable.
pub fn overexposed(image: &RgbImage) -> RgbImage {
    let mut out = image.clone();
    for value in out.iter_mut() {
        *value = channel(f64::from(*value) * 1.6 + 30.0);
    }
    out
}

/// Adds a blown-out glare spot (a flash or lamp reflection) centred on the card's upper right,
/// whose saturated core covers `card_fraction` of the card's area, with a soft halo around it.
pub fn with_glare(image: &RgbImage, card_fraction: f64) -> RgbImage {
    let (left, top, card_width, card_height) = card_rect(image.width(), image.height());
    let centre_x = f64::from(left) + f64::from(card_width) * 0.62;
    let centre_y = f64::from(top) + f64::from(card_height) * 0.42;
    // An ellipse 1.4 times wider than tall whose area is the requested part of the card.
    let area = card_fraction.max(0.0) * f64::from(card_width) * f64::from(card_height);
    let radius_y = (area / (std::f64::consts::PI * 1.4)).sqrt();
    let radius_x = radius_y * 1.4;
    let mut out = image.clone();
    if radius_y <= 0.0 {
        return out;
    }
    for (x, y, pixel) in out.enumerate_pixels_mut() {
        let dx = (f64::from(x) - centre_x) / radius_x;
        let dy = (f64::from(y) - centre_y) / radius_y;
        let distance = (dx * dx + dy * dy).sqrt();
        // Fully saturated inside the core, fading to nothing at 1.5 core radii.
        let strength = ((1.5 - distance) / 0.5).clamp(0.0, 1.0);
        if strength > 0.0 {
            for value in pixel.0.iter_mut() {
                let v = f64::from(*value);
                *value = channel(v + (255.0 - v) * strength + 40.0 * strength);
            }
        }
    }
    out
}

/// Encodes as a baseline JPEG at `quality` (1–100), as a phone camera would.
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encoding an in-memory RGB image as JPEG cannot fail");
    bytes
}

/// Encodes as PNG.
pub fn encode_png(image: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    PngEncoder::new(&mut bytes)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encoding an in-memory RGB image as PNG cannot fail");
    bytes
}

/// Encodes as lossless WebP (the only WebP encoder `image` has).
pub fn encode_webp_lossless(image: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    WebPEncoder::new_lossless(&mut bytes)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encoding an in-memory RGB image as WebP cannot fail");
    bytes
}

fn channel(value: f64) -> u8 {
    value.round().clamp(0.0, 255.0) as u8
}

fn outside_rounded_corner(u: f64, v: f64, width: f64, height: f64, radius: f64) -> bool {
    let cx = if u < radius {
        radius
    } else if u > width - radius {
        width - radius
    } else {
        return false;
    };
    let cy = if v < radius {
        radius
    } else if v > height - radius {
        height - radius
    } else {
        return false;
    };
    (u - cx).powi(2) + (v - cy).powi(2) > radius * radius
}

/// A small deterministic hash, so fixtures are identical on every run and machine.
fn hash(a: u32, b: u32, seed: u32) -> u32 {
    let mut h = a
        .wrapping_mul(0x9E37_79B1)
        .wrapping_add(b.wrapping_mul(0x85EB_CA77))
        .wrapping_add(seed.wrapping_mul(0xC2B2_AE3D));
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297A_2D39);
    h ^ (h >> 15)
}

/// Adds uniform noise of ±`amplitude` grey levels, the same to all three channels.
fn add_sensor_noise(image: &mut RgbImage, amplitude: u32, seed: u32) {
    let span = 2 * amplitude + 1;
    for (x, y, pixel) in image.enumerate_pixels_mut() {
        let delta = f64::from(hash(x, y, seed) % span) - f64::from(amplitude);
        for value in pixel.0.iter_mut() {
            *value = channel(f64::from(*value) + delta);
        }
    }
}

/// Draws in card coordinates: (0, 0) is the card's top left corner, (1, 1) its bottom right.
struct Painter<'a> {
    image: &'a mut RgbImage,
    left: u32,
    top: u32,
    card_width: f64,
    card_height: f64,
}

impl Painter<'_> {
    fn to_pixels(&self, u: f64, v: f64) -> (f64, f64) {
        (
            f64::from(self.left) + u * self.card_width,
            f64::from(self.top) + v * self.card_height,
        )
    }

    fn fill_pixels(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, colour: Rgb<u8>) {
        let (width, height) = (self.image.width(), self.image.height());
        let clamp_x = |v: f64| (v.round().max(0.0) as u32).min(width);
        let clamp_y = |v: f64| (v.round().max(0.0) as u32).min(height);
        for y in clamp_y(y0)..clamp_y(y1) {
            for x in clamp_x(x0)..clamp_x(x1) {
                self.image.put_pixel(x, y, colour);
            }
        }
    }

    fn rect(&mut self, u0: f64, v0: f64, u1: f64, v1: f64, colour: Rgb<u8>) {
        let (x0, y0) = self.to_pixels(u0, v0);
        let (x1, y1) = self.to_pixels(u1, v1);
        self.fill_pixels(x0, y0, x1, y1, colour);
    }

    /// A rectangle outline whose line is `thickness` of the card width (at least one pixel).
    fn frame(&mut self, u0: f64, v0: f64, u1: f64, v1: f64, thickness: f64, colour: Rgb<u8>) {
        let (x0, y0) = self.to_pixels(u0, v0);
        let (x1, y1) = self.to_pixels(u1, v1);
        let t = (thickness * self.card_width).max(1.0);
        self.fill_pixels(x0, y0, x1, y0 + t, colour);
        self.fill_pixels(x0, y1 - t, x1, y1, colour);
        self.fill_pixels(x0, y0, x0 + t, y1, colour);
        self.fill_pixels(x1 - t, y0, x1, y1, colour);
    }

    /// A filled ellipse, cut off below `v_max` (to keep it inside a box).
    fn ellipse(&mut self, cu: f64, cv: f64, ru: f64, rv: f64, v_max: f64, colour: Rgb<u8>) {
        let (cx, cy) = self.to_pixels(cu, cv);
        let (rx, ry) = (ru * self.card_width, rv * self.card_height);
        let (_, y_max) = self.to_pixels(0.0, v_max);
        let (width, height) = (self.image.width(), self.image.height());
        let y_end = (cy + ry).ceil().min(y_max).max(0.0) as u32;
        let y_range = (cy - ry).max(0.0) as u32..y_end.min(height);
        for y in y_range {
            let x_range = (cx - rx).max(0.0) as u32..((cx + rx).ceil().max(0.0) as u32).min(width);
            for x in x_range {
                let dx = (f64::from(x) - cx) / rx;
                let dy = (f64::from(y) - cy) / ry;
                if dx * dx + dy * dy <= 1.0 {
                    self.image.put_pixel(x, y, colour);
                }
            }
        }
    }

    /// A line of "words": bars of pseudo-random width separated by gaps, from `u0` to at most `u1`.
    fn words(&mut self, u0: f64, v: f64, u1: f64, height: f64, colour: Rgb<u8>, seed: u32) {
        let mut u = u0;
        let mut index = 0;
        while u < u1 {
            let word = 0.03 + f64::from(hash(index, seed, 7) % 100) / 100.0 * 0.09;
            let end = (u + word).min(u1);
            // Letters: the bar is cut into strokes so words carry texture like print does.
            let letters = ((end - u) / (height * 0.6)).max(1.0).round() as u32;
            let letter_width = (end - u) / f64::from(letters);
            for letter in 0..letters {
                let lu = u + f64::from(letter) * letter_width;
                let shape = hash(letter, index, seed) % 4;
                let lower = if shape == 0 { v + height * 0.35 } else { v };
                self.rect(lu, lower, lu + letter_width * 0.78, v + height, colour);
            }
            u = end + 0.015 + f64::from(hash(index, seed, 11) % 3) * 0.006;
            index += 1;
        }
    }

    /// Glyph cells like an OCR-B machine-readable zone: each glyph two or three thin strokes.
    fn glyph_row(&mut self, u0: f64, v: f64, u1: f64, height: f64, colour: Rgb<u8>, seed: u32) {
        let cell = height * self.card_height / self.card_width * 0.75;
        let stroke = (0.12 * cell).max(1.0 / self.card_width);
        let stroke_v = stroke * self.card_width / self.card_height;
        let mut u = u0;
        let mut index = 0;
        while u + cell <= u1 {
            let bits = hash(index, seed, 3);
            let glyph_right = u + cell * 0.75;
            if bits & 1 != 0 {
                self.rect(u, v, u + stroke, v + height, colour);
            }
            if bits & 2 != 0 {
                self.rect(glyph_right - stroke, v, glyph_right, v + height, colour);
            }
            if bits & 4 != 0 {
                self.rect(u, v, glyph_right, v + stroke_v, colour);
            }
            if bits & 8 != 0 {
                self.rect(
                    u,
                    v + height / 2.0,
                    glyph_right,
                    v + height / 2.0 + stroke_v,
                    colour,
                );
            }
            if bits & 16 != 0 || bits & 15 == 0 {
                self.rect(u, v + height - stroke_v, glyph_right, v + height, colour);
            }
            u += cell;
            index += 1;
        }
    }

    /// A wavy signature stroke from `u0` to `u1` around height `v`.
    fn signature(&mut self, u0: f64, u1: f64, v: f64, colour: Rgb<u8>) {
        let (x0, _) = self.to_pixels(u0, v);
        let (x1, cy) = self.to_pixels(u1, v);
        let amplitude = self.card_height * 0.03;
        let thickness = (self.card_width * 0.003).max(1.0);
        let mut x = x0;
        while x < x1 {
            let t = (x - x0) / (x1 - x0).max(1.0);
            let y = cy + amplitude * (t * 19.0).sin() * (1.0 - t * 0.5);
            self.fill_pixels(x, y, x + 1.0, y + thickness, colour);
            x += 0.5;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_is_centred_light_and_the_table_dark() {
        let image = id_card_image(800, 500);
        let (left, top, width, height) = card_rect(800, 500);
        assert_eq!((left, top), ((800 - width) / 2, (500 - height) / 2));
        assert!(image.get_pixel(5, 5).0[1] < 110);
        let inside = image.get_pixel(left + width / 2, top + (height as f64 * 0.19) as u32);
        assert!(inside.0[1] > 180, "{inside:?}");
    }

    #[test]
    fn fixtures_are_deterministic() {
        assert_eq!(id_card_image(320, 200), id_card_image(320, 200));
    }

    #[test]
    fn overexposure_saturates_the_card_but_not_the_print() {
        let image = overexposed(&id_card_image(400, 250));
        let (left, top, width, height) = card_rect(400, 250);
        assert_eq!(
            image.get_pixel(left + width / 2, top + height * 19 / 100).0,
            [255; 3]
        );
    }
}
