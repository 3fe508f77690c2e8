//! Measurements on a grey, downscaled copy of the photo: sharpness (Laplacian variance) and glare.

use image::{imageops, DynamicImage, GrayImage};

/// Long side, in pixels, of the grey copy every measurement runs on. Fixing the scale makes
/// sharpness comparable between a 12 MP photo and a 2 MP one; smaller images are not upscaled.
pub(crate) const ANALYSIS_LONG_SIDE_PX: u32 = 1024;

/// Grey level from which a pixel counts as saturated (blown out by glare or over-exposure).
pub(crate) const SATURATION_LEVEL: u8 = 250;

/// Makes the grey analysis copy: long side at most [`ANALYSIS_LONG_SIDE_PX`].
///
/// A full-size grey conversion followed by a resampling filter costs more than the JPEG decode
/// itself on a 12 MP photo, so 8-bit images are converted and box-averaged in one pass by the
/// largest integer factor that keeps the long side at or above the target, and only that
/// (at most 2× larger) copy goes through a triangle filter down to the exact size.
pub(crate) fn analysis_image(image: &DynamicImage) -> GrayImage {
    let (width, height) = (image.width(), image.height());
    let factor = (width.max(height) / ANALYSIS_LONG_SIDE_PX).max(1);
    let boxed = match image {
        DynamicImage::ImageLuma8(gray) => box_gray(gray.as_raw(), width, height, 1, factor),
        DynamicImage::ImageLumaA8(gray) => box_gray(gray.as_raw(), width, height, 2, factor),
        DynamicImage::ImageRgb8(rgb) => box_gray(rgb.as_raw(), width, height, 3, factor),
        DynamicImage::ImageRgba8(rgba) => box_gray(rgba.as_raw(), width, height, 4, factor),
        // 16-bit and float images are rare uploads (some PNGs): convert first, then box.
        other => box_gray(other.to_luma8().as_raw(), width, height, 1, factor),
    };
    let (boxed_width, boxed_height) = boxed.dimensions();
    let long = boxed_width.max(boxed_height);
    if long <= ANALYSIS_LONG_SIDE_PX {
        return boxed;
    }
    let scale = f64::from(ANALYSIS_LONG_SIDE_PX) / f64::from(long);
    let target =
        |side: u32| ((f64::from(side) * scale).round() as u32).clamp(1, ANALYSIS_LONG_SIDE_PX);
    imageops::resize(
        &boxed,
        target(boxed_width),
        target(boxed_height),
        imageops::FilterType::Triangle,
    )
}

/// Converts interleaved 8-bit pixels (`channels` per pixel, grey or RGB first) to grey and
/// averages `factor`×`factor` blocks; blocks at the right and bottom edges may be partial.
fn box_gray(data: &[u8], width: u32, height: u32, channels: usize, factor: u32) -> GrayImage {
    let (width, height, factor) = (width as usize, height as usize, factor as usize);
    let out_width = width.div_ceil(factor);
    let out_height = height.div_ceil(factor);
    let mut out = Vec::with_capacity(out_width * out_height);
    // Sums of 256 × luma; u64 because a block may hold millions of pixels on extreme aspect ratios.
    let mut sums = vec![0u64; out_width];
    let row_len = width * channels;
    for block_top in (0..height).step_by(factor) {
        sums.fill(0);
        let block_rows = factor.min(height - block_top);
        for y in block_top..block_top + block_rows {
            let row = data.get(y * row_len..(y + 1) * row_len).unwrap_or(&[]);
            for (sum, block) in sums.iter_mut().zip(row.chunks(factor * channels)) {
                *sum += block
                    .chunks_exact(channels)
                    .map(|pixel| u64::from(luma_times_256(pixel)))
                    .sum::<u64>();
            }
        }
        for (column, sum) in sums.iter().enumerate() {
            let block_columns = factor.min(width - column * factor);
            let count = (block_rows * block_columns) as u64 * 256;
            out.push(((sum + count / 2) / count) as u8);
        }
    }
    GrayImage::from_raw(out_width as u32, out_height as u32, out).unwrap_or_default()
}

/// Rec. 709 luma (as `image` uses) in fixed point: 54 + 183 + 19 = 256.
#[inline]
fn luma_times_256(pixel: &[u8]) -> u32 {
    match pixel {
        [r, g, b, ..] => 54 * u32::from(*r) + 183 * u32::from(*g) + 19 * u32::from(*b),
        [gray, ..] => 256 * u32::from(*gray),
        [] => 0,
    }
}

/// Variance of the 3×3 Laplacian (0 1 0 / 1 −4 1 / 0 1 0) over the interior pixels.
///
/// Edges and print make the Laplacian swing widely; defocus and motion blur flatten it. `None`
/// when the image is smaller than 3×3 and has no interior.
pub(crate) fn laplacian_variance(gray: &GrayImage) -> Option<f64> {
    let (width, height) = (gray.width() as usize, gray.height() as usize);
    if width < 3 || height < 3 {
        return None;
    }
    let pixels = gray.as_raw();
    let (mut sum, mut sum_of_squares) = (0i64, 0i64);
    for y in 1..height - 1 {
        let above = &pixels[(y - 1) * width..y * width];
        let row = &pixels[y * width..(y + 1) * width];
        let below = &pixels[(y + 1) * width..(y + 2) * width];
        for x in 1..width - 1 {
            let laplacian = i64::from(above[x])
                + i64::from(below[x])
                + i64::from(row[x - 1])
                + i64::from(row[x + 1])
                - 4 * i64::from(row[x]);
            sum += laplacian;
            sum_of_squares += laplacian * laplacian;
        }
    }
    let count = ((width - 2) * (height - 2)) as f64;
    let mean = sum as f64 / count;
    Some((sum_of_squares as f64 / count - mean * mean).max(0.0))
}

/// What the glare measurement found, as fractions of the analysed image's area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Glare {
    /// The largest connected saturated patch; this is what the check decides on.
    pub(crate) largest_patch_fraction: f64,
    /// All saturated pixels, wherever they are; reported for operators.
    pub(crate) saturated_fraction: f64,
}

/// Measures saturated pixels (grey ≥ [`SATURATION_LEVEL`]) and their largest connected patch.
///
/// Why the largest patch rather than all saturated pixels: glare from a lamp or flash is one
/// contiguous blown-out area that hides whatever print is under it, while a well-exposed card
/// has at most scattered saturated pixels (specular flecks on a hologram, white print, JPEG
/// ringing) that hide nothing. Over-exposure saturates the card's whole background, which is
/// again one large patch. Text printed inside a glare spot can stay darker than the threshold
/// and cut the spot into pieces, so saturated pixels separated by a gap of up to two pixels
/// count as one patch (the connectivity of the mask dilated by one pixel); only saturated
/// pixels count towards a patch's area.
pub(crate) fn glare(gray: &GrayImage) -> Glare {
    let (width, height) = (gray.width() as usize, gray.height() as usize);
    let total = width * height;
    if total == 0 {
        return Glare {
            largest_patch_fraction: 0.0,
            saturated_fraction: 0.0,
        };
    }
    let saturated: Vec<bool> = gray
        .as_raw()
        .iter()
        .map(|&v| v >= SATURATION_LEVEL)
        .collect();
    let saturated_count = saturated.iter().filter(|&&s| s).count();
    let bridged = dilate(&saturated, width, height);

    // Flood fill over the dilated mask (8-connected), counting the truly saturated pixels.
    let mut visited = vec![false; total];
    let mut stack = Vec::new();
    let mut largest = 0usize;
    for start in 0..total {
        if !bridged[start] || visited[start] {
            continue;
        }
        visited[start] = true;
        stack.push(start);
        let mut patch = 0usize;
        while let Some(index) = stack.pop() {
            patch += usize::from(saturated[index]);
            let (x, y) = (index % width, index / width);
            for ny in y.saturating_sub(1)..=(y + 1).min(height - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(width - 1) {
                    let neighbour = ny * width + nx;
                    if bridged[neighbour] && !visited[neighbour] {
                        visited[neighbour] = true;
                        stack.push(neighbour);
                    }
                }
            }
        }
        largest = largest.max(patch);
    }
    Glare {
        largest_patch_fraction: largest as f64 / total as f64,
        saturated_fraction: saturated_count as f64 / total as f64,
    }
}

/// 3×3 binary dilation, done as a horizontal then a vertical pass.
fn dilate(mask: &[bool], width: usize, height: usize) -> Vec<bool> {
    let mut horizontal = vec![false; mask.len()];
    for y in 0..height {
        let row = &mask[y * width..(y + 1) * width];
        let out = &mut horizontal[y * width..(y + 1) * width];
        for x in 0..width {
            out[x] = row[x.saturating_sub(1)..=(x + 1).min(width - 1)]
                .iter()
                .any(|&s| s);
        }
    }
    let mut dilated = vec![false; mask.len()];
    for y in 0..height {
        for ny in y.saturating_sub(1)..=(y + 1).min(height - 1) {
            let source = &horizontal[ny * width..(ny + 1) * width];
            let out = &mut dilated[y * width..(y + 1) * width];
            for (o, &s) in out.iter_mut().zip(source) {
                *o |= s;
            }
        }
    }
    dilated
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Luma, Rgb, RgbImage};

    #[test]
    fn analysis_copy_has_the_target_long_side_and_keeps_the_aspect_ratio() {
        let big = DynamicImage::ImageRgb8(RgbImage::new(4000, 3000));
        assert_eq!(analysis_image(&big).dimensions(), (1024, 768));
        let portrait = DynamicImage::ImageRgb8(RgbImage::new(1500, 2000));
        assert_eq!(analysis_image(&portrait).dimensions(), (768, 1024));
        let small = DynamicImage::ImageRgb8(RgbImage::new(300, 200));
        assert_eq!(analysis_image(&small).dimensions(), (300, 200));
        let sliver = DynamicImage::ImageLuma8(GrayImage::new(50_000, 1));
        assert_eq!(analysis_image(&sliver).dimensions(), (1024, 1));
    }

    #[test]
    fn grey_conversion_matches_rec709_and_keeps_white_white() {
        let rgb = RgbImage::from_fn(8, 8, |x, _| {
            if x < 4 {
                Rgb([255, 255, 255])
            } else {
                Rgb([255, 0, 0])
            }
        });
        let gray = analysis_image(&DynamicImage::ImageRgb8(rgb));
        assert_eq!(gray.get_pixel(0, 0), &Luma([255]));
        assert_eq!(gray.get_pixel(7, 7), &Luma([54]));
    }

    #[test]
    fn box_average_handles_partial_edge_blocks() {
        let gray = GrayImage::from_raw(3, 1, vec![10, 20, 200]).unwrap_or_default();
        let boxed = box_gray(gray.as_raw(), 3, 1, 1, 2);
        assert_eq!(boxed.as_raw(), &vec![15, 200]);
    }

    #[test]
    fn laplacian_variance_is_zero_on_flat_and_high_on_a_checkerboard() {
        let flat = GrayImage::from_pixel(10, 10, Luma([128]));
        assert_eq!(laplacian_variance(&flat), Some(0.0));
        let checker = GrayImage::from_fn(10, 10, |x, y| {
            Luma([if (x + y) % 2 == 0 { 0 } else { 255 }])
        });
        // Every interior Laplacian is ±4·255, alternating.
        let expected = (4.0f64 * 255.0).powi(2);
        let measured = laplacian_variance(&checker).unwrap_or_default();
        assert!((measured - expected).abs() < expected * 0.05, "{measured}");
        assert_eq!(laplacian_variance(&GrayImage::new(2, 10)), None);
    }

    #[test]
    fn glare_counts_the_largest_patch_and_bridges_thin_gaps() {
        let mut gray = GrayImage::from_pixel(100, 100, Luma([120]));
        // A 20×20 saturated square cut by a 2-pixel dark line, plus scattered single pixels.
        for y in 10..30 {
            for x in 10..30 {
                gray.put_pixel(x, y, Luma([255]));
            }
        }
        for y in 10..30 {
            gray.put_pixel(19, y, Luma([40]));
            gray.put_pixel(20, y, Luma([40]));
        }
        for i in 0..10 {
            gray.put_pixel(60 + 3 * i, 80, Luma([252]));
        }
        let measured = glare(&gray);
        assert!((measured.largest_patch_fraction - 360.0 / 10_000.0).abs() < 1e-9);
        assert!((measured.saturated_fraction - 370.0 / 10_000.0).abs() < 1e-9);
    }

    #[test]
    fn glare_is_zero_without_saturated_pixels() {
        let gray = GrayImage::from_pixel(20, 20, Luma([249]));
        assert_eq!(glare(&gray).largest_patch_fraction, 0.0);
        assert_eq!(glare(&GrayImage::new(0, 0)).saturated_fraction, 0.0);
    }
}
