//! Recognising and decoding uploaded images safely: magic bytes, decompression-bomb limits, truncation.

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// Largest image we decode, in pixels: 64 megapixels covers every phone camera's default mode
/// (12–50 MP) with room to spare; anything bigger is refused before any pixel buffer is allocated.
pub(crate) const MAX_PIXELS: u64 = 64_000_000;

/// Largest width or height we decode. With [`MAX_PIXELS`] this still allows a 4:1 panorama.
pub(crate) const MAX_SIDE_PX: u32 = 16_384;

/// Most bytes a decoder may allocate for one image (the decoded buffer included).
pub(crate) const MAX_ALLOC_BYTES: u64 = 512 * 1024 * 1024;

/// The image formats we accept from a person's camera or gallery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// JPEG (what nearly every phone camera produces).
    Jpeg,
    /// PNG (screenshots, scans).
    Png,
    /// WebP (some Android galleries and browsers).
    Webp,
}

impl ImageKind {
    /// The IANA media type, e.g. `image/jpeg`, for storage and `Content-Type` headers.
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Webp => "image/webp",
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            ImageKind::Jpeg => ImageFormat::Jpeg,
            ImageKind::Png => ImageFormat::Png,
            ImageKind::Webp => ImageFormat::WebP,
        }
    }
}

/// Recognises an accepted image format from its magic bytes alone.
///
/// File names and declared content types are chosen by the uploader and prove nothing; the first
/// bytes decide. Anything that is not JPEG, PNG or WebP (PDF, GIF, HEIC, text, …) is `None`.
pub fn sniff_image_kind(bytes: &[u8]) -> Option<ImageKind> {
    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageKind::Jpeg)
    } else if bytes.starts_with(PNG_SIGNATURE) {
        Some(ImageKind::Png)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(ImageKind::Webp)
    } else {
        None
    }
}

/// Why an upload could not be turned into pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unreadable {
    #[error("not a JPEG, PNG or WebP image, or one using a feature we do not decode")]
    UnsupportedFormat,
    #[error("the image data is corrupt or truncated")]
    Corrupt,
    #[error("the image is larger than we decode")]
    TooLarge,
}

impl Unreadable {
    /// The machine-readable reason recorded on the check outcome.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Unreadable::UnsupportedFormat => "unsupported_format",
            Unreadable::Corrupt => "corrupt_image",
            Unreadable::TooLarge => "image_too_large",
        }
    }
}

impl From<ImageError> for Unreadable {
    fn from(error: ImageError) -> Unreadable {
        match error {
            ImageError::Limits(_) => Unreadable::TooLarge,
            ImageError::Unsupported(_) => Unreadable::UnsupportedFormat,
            ImageError::Decoding(_)
            | ImageError::IoError(_)
            | ImageError::Parameter(_)
            | ImageError::Encoding(_) => Unreadable::Corrupt,
        }
    }
}

/// Decodes bytes already recognised as `kind`, refusing oversized and truncated images.
pub(crate) fn decode(bytes: &[u8], kind: ImageKind) -> Result<DynamicImage, Unreadable> {
    // The JPEG decoder is lenient: a truncated upload decodes with its missing rows filled in
    // grey. A partial upload is not the document, so check the stream reaches its end marker.
    if kind == ImageKind::Jpeg && !jpeg_reaches_end_of_image(bytes) {
        return Err(Unreadable::Corrupt);
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE_PX);
    limits.max_image_height = Some(MAX_SIDE_PX);
    limits.max_alloc = Some(MAX_ALLOC_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    reader.limits(limits);
    // Reading the header first lets us refuse a decompression bomb by its declared size
    // before the decoder allocates anything for its pixels.
    let decoder = reader.into_decoder()?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS || decoder.total_bytes() > MAX_ALLOC_BYTES
    {
        return Err(Unreadable::TooLarge);
    }
    // The decoders are meant not to panic on hostile input; should one still do so, that
    // upload is unreadable, and the worker that runs the checks carries on.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        DynamicImage::from_decoder(decoder)
    }))
    .map_err(|_| Unreadable::Corrupt)?
    .map_err(Unreadable::from)
}

/// Walks a JPEG's marker segments and entropy-coded scans and tells whether the stream reaches
/// its end-of-image marker (`FF D9`). Bytes after the marker (phone "motion photo" trailers,
/// vendor data) are allowed; a stream that ends early, or whose segment lengths run past the
/// end, is not.
pub(crate) fn jpeg_reaches_end_of_image(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut at = 2;
    loop {
        // Find the next marker: like libjpeg, skip stray bytes and 0xFF fill bytes.
        while at < bytes.len() && bytes[at] != 0xFF {
            at += 1;
        }
        while at < bytes.len() && bytes[at] == 0xFF {
            at += 1;
        }
        let Some(&marker) = bytes.get(at) else {
            return false;
        };
        at += 1;
        match marker {
            0xD9 => return true,
            // Markers without a length: TEM and the restart markers.
            0x01 | 0xD0..=0xD7 => {}
            _ => {
                let Some(length) = bytes.get(at..at + 2) else {
                    return false;
                };
                let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
                if length < 2 || at + length > bytes.len() {
                    return false;
                }
                at += length;
                if marker == 0xDA {
                    at = skip_entropy_coded_data(bytes, at);
                }
            }
        }
    }
}

/// Returns the offset of the first marker after a scan's entropy-coded data (or the end).
/// Inside a scan, `FF 00` is an escaped data byte and `FF D0`–`FF D7` are restart markers.
fn skip_entropy_coded_data(bytes: &[u8], mut at: usize) -> usize {
    while let Some(offset) = bytes
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
    {
        at += offset;
        match bytes.get(at + 1) {
            Some(0x00 | 0xD0..=0xD7) => at += 2,
            Some(0xFF) => at += 1,
            _ => return at,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_magic_bytes_only() {
        assert_eq!(
            sniff_image_kind(b"\xFF\xD8\xFF\xE0rest"),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            sniff_image_kind(b"\x89PNG\r\n\x1a\nrest"),
            Some(ImageKind::Png)
        );
        assert_eq!(
            sniff_image_kind(b"RIFF\x10\0\0\0WEBPVP8L"),
            Some(ImageKind::Webp)
        );
        assert_eq!(sniff_image_kind(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(sniff_image_kind(b"%PDF-1.7\n"), None);
        assert_eq!(sniff_image_kind(b"GIF89a\x01\0\x01\0"), None);
        assert_eq!(sniff_image_kind(b"\0\0\0\x18ftypheic"), None);
        assert_eq!(sniff_image_kind(b"hello, world"), None);
        assert_eq!(sniff_image_kind(b""), None);
        assert_eq!(sniff_image_kind(b"\xFF\xD8"), None);
    }

    #[test]
    fn mime_types_are_the_iana_names() {
        assert_eq!(ImageKind::Jpeg.mime_type(), "image/jpeg");
        assert_eq!(ImageKind::Png.mime_type(), "image/png");
        assert_eq!(ImageKind::Webp.mime_type(), "image/webp");
    }

    #[test]
    fn jpeg_walk_accepts_complete_streams_and_trailers() {
        // SOI, an APP0 segment, SOS with entropy data containing escapes and a restart, EOI.
        let complete: &[u8] = &[
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF,
            0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xD9,
        ];
        assert!(jpeg_reaches_end_of_image(complete));
        let with_trailer = [complete, b"ftypmp42 motion photo"].concat();
        assert!(jpeg_reaches_end_of_image(&with_trailer));
        for cut in 0..complete.len() {
            assert!(
                !jpeg_reaches_end_of_image(&complete[..cut]),
                "truncated at {cut} bytes"
            );
        }
    }

    #[test]
    fn jpeg_walk_rejects_segment_lengths_past_the_end() {
        assert!(!jpeg_reaches_end_of_image(&[
            0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 0xFF, 0xD9
        ]));
        assert!(!jpeg_reaches_end_of_image(&[
            0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01, 0xFF, 0xD9
        ]));
    }

    #[test]
    fn image_errors_map_to_reasons() {
        use image::error::{LimitError, LimitErrorKind};
        let limit = ImageError::Limits(LimitError::from_kind(LimitErrorKind::InsufficientMemory));
        assert_eq!(Unreadable::from(limit).reason(), "image_too_large");
        let io = ImageError::IoError(std::io::ErrorKind::UnexpectedEof.into());
        assert_eq!(Unreadable::from(io).reason(), "corrupt_image");
        assert_eq!(Unreadable::UnsupportedFormat.reason(), "unsupported_format");
    }
}
