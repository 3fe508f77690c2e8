//! Finding the document's four corners in a photo and straightening it (perspective correction),
//! so the barcode reader and the OCR see an upright, rectangular document.
//!
//! The corners are searched on the small grey analysis copy (long side 1024 px): the document is
//! the largest bright, roughly rectangular region (Otsu threshold), or failing that the largest
//! closed outline of edges (Canny). The straightened document is then sampled from the
//! full-resolution photo.

use image::{DynamicImage, GrayImage};
use imageproc::contours::{find_contours, BorderType};
use imageproc::contrast::{otsu_level, threshold, ThresholdType};
use imageproc::geometry::{contour_area, convex_hull};
use imageproc::point::Point;

/// A quadrilateral in pixel coordinates: top left, top right, bottom right, bottom left, with
/// the top edge one of the two long edges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quad(pub [(f32, f32); 4]);

impl Quad {
    /// The same quad in an image `factor` times larger.
    pub fn scaled(self, factor: f32) -> Quad {
        Quad(self.0.map(|(x, y)| (x * factor, y * factor)))
    }

    /// Mean length of the top and bottom edges over mean length of the left and right edges.
    pub fn aspect_ratio(&self) -> f32 {
        let [a, b, c, d] = self.0;
        (distance(a, b) + distance(d, c)) / (distance(a, d) + distance(b, c)).max(1.0)
    }

    /// Area in square pixels (shoelace formula).
    pub fn area(&self) -> f32 {
        let p = self.0;
        let twice: f32 = (0..4)
            .map(|i| {
                let (x0, y0) = p[i];
                let (x1, y1) = p[(i + 1) % 4];
                x0 * y1 - x1 * y0
            })
            .sum();
        twice.abs() / 2.0
    }

    /// The angle of the top edge against the horizontal, in degrees.
    pub fn tilt_degrees(&self) -> f32 {
        let [(x0, y0), (x1, y1), _, _] = self.0;
        (y1 - y0).atan2(x1 - x0).to_degrees()
    }
}

fn distance(a: (f32, f32), b: (f32, f32)) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// Why no corners were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CornerFailure {
    /// The document runs off the edge of the photo.
    CutOff,
    /// No document-shaped region at all (too small, not rectangular, no contrast with the table).
    NotFound,
}

impl CornerFailure {
    /// The machine-readable reason recorded on the check outcome.
    pub fn reason(self) -> &'static str {
        match self {
            CornerFailure::CutOff => "document_cut_off",
            CornerFailure::NotFound => "corners_not_found",
        }
    }
}

/// Smallest share of the photo the document must cover to be read.
const MIN_AREA_FRACTION: f32 = 0.12;
/// Accepted aspect ratios: ID-1 cards are 1.586, passport pages (ID-3) 1.42, with room for
/// perspective.
const ASPECT_RANGE: std::ops::RangeInclusive<f32> = 1.2..=1.95;

/// Finds the document's corners on a grey image (normally the 1024 px analysis copy).
pub fn find_document_quad(gray: &GrayImage) -> Result<Quad, CornerFailure> {
    if gray.width() < 16 || gray.height() < 16 {
        return Err(CornerFailure::NotFound);
    }
    let level = otsu_level(gray);
    let mut cut_off = false;
    // Cheapest first: a light document on a darker table, a dark one on a lighter table, then
    // outlines of edges (each strategy is only computed when the ones before it failed).
    let strategies: [&dyn Fn() -> GrayImage; 3] = [
        &|| threshold(gray, level, ThresholdType::Binary),
        &|| threshold(gray, level, ThresholdType::BinaryInverted),
        &|| edge_outlines(gray),
    ];
    for binary in strategies {
        match quad_from_binary(&binary()) {
            Ok(quad) => return Ok(quad),
            Err(CornerFailure::CutOff) => cut_off = true,
            Err(CornerFailure::NotFound) => {}
        }
    }
    Err(if cut_off {
        CornerFailure::CutOff
    } else {
        CornerFailure::NotFound
    })
}

/// Edges (Canny) thickened into closed outlines, then filled: the document's outline becomes
/// one solid region even when it is no brighter than the table.
fn edge_outlines(gray: &GrayImage) -> GrayImage {
    let smooth = imageproc::filter::gaussian_blur_f32(gray, 1.5);
    let edges = imageproc::edges::canny(&smooth, 20.0, 50.0);
    imageproc::morphology::close(&edges, imageproc::distance_transform::Norm::LInf, 3)
}

/// The largest outer region of a binary image, as a document quad.
fn quad_from_binary(binary: &GrayImage) -> Result<Quad, CornerFailure> {
    let (width, height) = binary.dimensions();
    let image_area = (width * height) as f32;
    let contours = find_contours::<i32>(binary);
    let mut best: Option<(f32, Vec<Point<i32>>)> = None;
    for contour in contours
        .into_iter()
        .filter(|c| c.border_type == BorderType::Outer && c.points.len() >= 8)
    {
        let hull = convex_hull(contour.points);
        let area = contour_area(&hull) as f32;
        if best.as_ref().is_none_or(|(best_area, _)| area > *best_area) {
            best = Some((area, hull));
        }
    }
    let Some((area, hull)) = best else {
        return Err(CornerFailure::NotFound);
    };
    if area < image_area * MIN_AREA_FRACTION {
        return Err(CornerFailure::NotFound);
    }
    // Which image edges the region touches: the table itself (touching three or four) is not a
    // document; a document touching one or two runs off the photo.
    let margin = 2;
    let touches = [
        hull.iter().any(|p| p.x <= margin),
        hull.iter().any(|p| p.y <= margin),
        hull.iter().any(|p| p.x >= width as i32 - 1 - margin),
        hull.iter().any(|p| p.y >= height as i32 - 1 - margin),
    ];
    let touching = touches.iter().filter(|&&t| t).count();
    if touching >= 3 || area > image_area * 0.97 {
        return Err(CornerFailure::NotFound);
    }
    let quad = extreme_quad(&hull);
    let plausible = ASPECT_RANGE.contains(&quad.aspect_ratio())
        && quad.area() > 0.85 * area
        && quad.area() < 1.15 * area;
    match (plausible, touching) {
        (true, 0) => Ok(quad),
        // A plausible region that touches the border, or a truncated one: cut off.
        (_, 1 | 2) if area > image_area * 0.2 => Err(CornerFailure::CutOff),
        _ => Err(CornerFailure::NotFound),
    }
}

/// The four hull points furthest out along the two diagonals, ordered top left, top right,
/// bottom right, bottom left, then rotated so the top edge is a long edge.
fn extreme_quad(hull: &[Point<i32>]) -> Quad {
    // For a document tilted by less than 45°, each corner is the extreme point along one of the
    // diagonal directions; rounded corners put it slightly inside the true corner.
    let pick = |score: &dyn Fn(&Point<i32>) -> i32| -> (f32, f32) {
        let p = hull
            .iter()
            .max_by_key(|p| score(p))
            .copied()
            .unwrap_or(Point::new(0, 0));
        (p.x as f32, p.y as f32)
    };
    let top_left = pick(&|p| -(p.x + p.y));
    let top_right = pick(&|p| p.x - p.y);
    let bottom_right = pick(&|p| p.x + p.y);
    let bottom_left = pick(&|p| p.y - p.x);
    let quad = Quad([top_left, top_right, bottom_right, bottom_left]);
    if quad.aspect_ratio() >= 1.0 {
        quad
    } else {
        // Portrait: the long edges are left and right; start from the bottom left so the left
        // edge becomes the top (the document is read rotated by 90°).
        Quad([bottom_left, top_left, top_right, bottom_right])
    }
}

/// Samples the document inside `quad` (in `image`'s pixel coordinates) into an upright grey
/// image `width` pixels wide, with the height given by the quad's aspect ratio.
pub fn straighten(image: &DynamicImage, quad: Quad, width: u32) -> GrayImage {
    let aspect = quad.aspect_ratio().clamp(1.0, 2.5);
    let height = ((width as f32 / aspect).round() as u32).max(1);
    let (w, h) = (width as f32, height as f32);
    let target = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
    let Some(to_source) = Homography::from_control_points(target, quad.0) else {
        return GrayImage::new(width, height);
    };
    match image {
        DynamicImage::ImageRgb8(rgb) => {
            sample(rgb.as_raw(), rgb.dimensions(), 3, to_source, width, height)
        }
        DynamicImage::ImageRgba8(rgba) => sample(
            rgba.as_raw(),
            rgba.dimensions(),
            4,
            to_source,
            width,
            height,
        ),
        DynamicImage::ImageLuma8(luma) => sample(
            luma.as_raw(),
            luma.dimensions(),
            1,
            to_source,
            width,
            height,
        ),
        other => {
            let luma = other.to_luma8();
            sample(
                luma.as_raw(),
                luma.dimensions(),
                1,
                to_source,
                width,
                height,
            )
        }
    }
}

/// A projective map of the plane (3×3 matrix, last entry 1).
#[derive(Debug, Clone, Copy)]
struct Homography([f32; 9]);

impl Homography {
    /// The map taking each `from` point to the `to` point with the same index, by solving the
    /// 8×8 linear system directly (imageproc's SVD-based solver takes tens of milliseconds on
    /// pixel-sized coordinates).
    fn from_control_points(from: [(f32, f32); 4], to: [(f32, f32); 4]) -> Option<Homography> {
        let mut rows = [[0f64; 9]; 8];
        for (i, (&(x, y), &(u, v))) in from.iter().zip(to.iter()).enumerate() {
            let (x, y, u, v) = (f64::from(x), f64::from(y), f64::from(u), f64::from(v));
            rows[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            rows[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        // Gaussian elimination with partial pivoting on the augmented matrix.
        for col in 0..8 {
            let pivot =
                (col..8).max_by(|&a, &b| rows[a][col].abs().total_cmp(&rows[b][col].abs()))?;
            if rows[pivot][col].abs() < 1e-12 {
                return None;
            }
            rows.swap(col, pivot);
            let pivot_row = rows[col];
            for (index, row) in rows.iter_mut().enumerate() {
                if index != col {
                    let factor = row[col] / pivot_row[col];
                    for (value, pivot_value) in row.iter_mut().zip(pivot_row).skip(col) {
                        *value -= factor * pivot_value;
                    }
                }
            }
        }
        let h = |i: usize| (rows[i][8] / rows[i][i]) as f32;
        Some(Homography([
            h(0),
            h(1),
            h(2),
            h(3),
            h(4),
            h(5),
            h(6),
            h(7),
            1.0,
        ]))
    }

    fn map(&self, x: f32, y: f32) -> (f32, f32) {
        let m = &self.0;
        let d = m[6] * x + m[7] * y + m[8];
        (
            (m[0] * x + m[1] * y + m[2]) / d,
            (m[3] * x + m[4] * y + m[5]) / d,
        )
    }
}

/// Bilinear sampling of the grey value (BT.601 weights, fixed point) of interleaved 8-bit pixels
/// through a projective map; points outside the source are white.
fn sample(
    data: &[u8],
    (src_w, src_h): (u32, u32),
    channels: usize,
    to_source: Homography,
    width: u32,
    height: u32,
) -> GrayImage {
    let stride = src_w as usize * channels;
    let (max_x, max_y) = ((src_w.max(2) - 1) as f32, (src_h.max(2) - 1) as f32);
    // Grey ×256 of the pixel starting at `pixel[0]`.
    let grey = |pixel: &[u8]| -> u32 {
        if channels >= 3 {
            77 * u32::from(pixel[0]) + 150 * u32::from(pixel[1]) + 29 * u32::from(pixel[2])
        } else {
            256 * u32::from(pixel[0])
        }
    };
    let mut out = vec![255u8; width as usize * height as usize];
    for (y, row) in out.chunks_exact_mut(width as usize).enumerate() {
        for (x, value) in row.iter_mut().enumerate() {
            let (sx, sy) = to_source.map(x as f32 + 0.5, y as f32 + 0.5);
            let (sx, sy) = (sx - 0.5, sy - 0.5);
            if !(sx >= 0.0 && sy >= 0.0 && sx < max_x && sy < max_y) {
                continue;
            }
            let (x0, y0) = (sx as usize, sy as usize);
            // Weights in 1/256ths.
            let fx = ((sx - x0 as f32) * 256.0) as u32;
            let fy = ((sy - y0 as f32) * 256.0) as u32;
            let top = &data[y0 * stride + x0 * channels..][..2 * channels];
            let bottom = &data[(y0 + 1) * stride + x0 * channels..][..2 * channels];
            let upper = grey(top) * (256 - fx) + grey(&top[channels..]) * fx;
            let lower = grey(bottom) * (256 - fx) + grey(&bottom[channels..]) * fx;
            let mixed = u64::from(upper) * u64::from(256 - fy) + u64::from(lower) * u64::from(fy);
            *value = ((mixed + (1 << 23)) >> 24).min(255) as u8;
        }
    }
    GrayImage::from_raw(width, height, out).unwrap_or_else(|| GrayImage::new(width, height))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;
    use imageproc::drawing::draw_polygon_mut;

    fn scene(corners: [(i32, i32); 4]) -> GrayImage {
        let mut image = GrayImage::from_pixel(1024, 768, Luma([60]));
        let points: Vec<Point<i32>> = corners.iter().map(|&(x, y)| Point::new(x, y)).collect();
        draw_polygon_mut(&mut image, &points, Luma([220]));
        image
    }

    #[test]
    fn finds_a_tilted_card() {
        let quad =
            find_document_quad(&scene([(200, 150), (820, 210), (790, 600), (170, 540)])).unwrap();
        let expected = [
            (200.0, 150.0),
            (820.0, 210.0),
            (790.0, 600.0),
            (170.0, 540.0),
        ];
        for (found, want) in quad.0.iter().zip(expected) {
            assert!(distance(*found, want) < 4.0, "{quad:?}");
        }
    }

    #[test]
    fn a_portrait_card_is_read_with_its_long_edge_on_top() {
        let quad =
            find_document_quad(&scene([(350, 100), (700, 100), (700, 650), (350, 650)])).unwrap();
        assert!(quad.aspect_ratio() > 1.0, "{quad:?}");
    }

    #[test]
    fn a_card_running_off_the_photo_is_cut_off() {
        let result = find_document_quad(&scene([(300, 150), (1100, 150), (1100, 600), (300, 600)]));
        assert_eq!(result, Err(CornerFailure::CutOff));
    }

    #[test]
    fn an_empty_table_has_no_corners() {
        let table = GrayImage::from_fn(1024, 768, |x, y| Luma([(60 + (x + y) % 7) as u8]));
        assert_eq!(find_document_quad(&table), Err(CornerFailure::NotFound));
    }

    #[test]
    fn homographies_map_control_points() {
        let from = [(0.0, 0.0), (100.0, 0.0), (100.0, 60.0), (0.0, 60.0)];
        let to = [
            (210.0, 140.0),
            (830.0, 215.0),
            (790.0, 600.0),
            (170.0, 540.0),
        ];
        let h = Homography::from_control_points(from, to).unwrap();
        for (a, b) in from.iter().zip(to) {
            let mapped = h.map(a.0, a.1);
            assert!(distance(mapped, b) < 0.01, "{mapped:?} {b:?}");
        }
        assert!(Homography::from_control_points(from, [(0.0, 0.0); 4]).is_none());
    }

    #[test]
    fn straightening_maps_the_quad_onto_the_output() {
        let image =
            DynamicImage::ImageLuma8(scene([(200, 150), (840, 150), (840, 550), (200, 550)]));
        let quad = Quad([
            (200.0, 150.0),
            (840.0, 150.0),
            (840.0, 550.0),
            (200.0, 550.0),
        ]);
        let out = straighten(&image, quad, 320);
        assert_eq!(out.dimensions(), (320, 200));
        assert!(out.pixels().skip(400).take(1000).all(|p| p.0[0] > 200));
    }
}
