//! 缩略图 — a small JPEG of an image file (JPEG or PNG), for a record's page. The decoder is bounded
//! (width, height and memory) before it allocates, so a crafted header that claims a vast image is
//! refused instead of exhausting the node; the work runs on a blocking thread.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

use crate::records::RecordError;

/// The longest edge of a thumbnail, in pixels.
pub const THUMBNAIL_EDGE: u32 = 240;

/// The largest width or height decoded (a 100-megapixel photo is 12,000 × 8,000).
const MAX_EDGE: u32 = 12_000;

/// The most memory one decode may take.
const MAX_ALLOC: u64 = 256 << 20;

/// A JPEG thumbnail of the image `bytes`, no edge longer than [`THUMBNAIL_EDGE`].
pub async fn thumbnail(bytes: Vec<u8>) -> Result<Vec<u8>, RecordError> {
    tokio::task::spawn_blocking(move || make(&bytes))
        .await
        .map_err(RecordError::internal)?
}

fn make(bytes: &[u8]) -> Result<Vec<u8>, RecordError> {
    let unreadable = |e: image::ImageError| RecordError {
        status: 422,
        field: Some("file".into()),
        rule: None,
        message: format!("图片无法生成缩略图 / cannot make a thumbnail of this image: {e}"),
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(RecordError::internal)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_EDGE);
    limits.max_image_height = Some(MAX_EDGE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let image = reader.decode().map_err(unreadable)?;
    let small = image.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE).to_rgb8();
    let mut out = Cursor::new(Vec::new());
    small
        .write_to(&mut out, ImageFormat::Jpeg)
        .map_err(unreadable)?;
    Ok(out.into_inner())
}
