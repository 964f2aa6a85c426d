//! A small RGB drawing surface: filled rectangles, lines, text in an 8×8 bitmap font (scaled), and
//! an atomic PNG write. Everything the project draws (piano rolls, curves, confusion matrices,
//! waveforms) is made of these primitives, so no system font or library is needed.

use crate::error::{Error, Result};
use crate::io_util::write_atomic;
use font8x8::UnicodeFonts;
use image::{ImageBuffer, Rgb, RgbImage};
use std::path::Path;

/// An RGB colour.
pub type Color = [u8; 3];

pub const WHITE: Color = [255, 255, 255];
pub const BLACK: Color = [0, 0, 0];
pub const GREY: Color = [150, 150, 150];
pub const LIGHT_GREY: Color = [225, 225, 225];
pub const DARK_GREY: Color = [90, 90, 90];

/// Distinct colours for series / instruments (Tableau 10).
pub const PALETTE: [Color; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// Width in pixels of one glyph at scale 1.
pub const GLYPH: u32 = 8;

/// A drawing surface.
pub struct Canvas {
    img: RgbImage,
}

impl Canvas {
    /// A `width × height` canvas filled with `background`.
    pub fn new(width: u32, height: u32, background: Color) -> Self {
        Canvas {
            img: ImageBuffer::from_pixel(width.max(1), height.max(1), Rgb(background)),
        }
    }

    pub fn width(&self) -> u32 {
        self.img.width()
    }

    pub fn height(&self) -> u32 {
        self.img.height()
    }

    /// The pixel at (x, y), if inside.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Color> {
        (x < self.width() && y < self.height()).then(|| self.img.get_pixel(x, y).0)
    }

    /// Set one pixel (ignored outside the canvas).
    pub fn put(&mut self, x: i64, y: i64, c: Color) {
        if x >= 0 && y >= 0 && (x as u32) < self.width() && (y as u32) < self.height() {
            self.img.put_pixel(x as u32, y as u32, Rgb(c));
        }
    }

    /// Fill the rectangle [x, x + w) × [y, y + h), clipped to the canvas.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Color) {
        let x0 = x.max(0);
        let y0 = y.max(0);
        let x1 = (x + w).min(self.width() as i64);
        let y1 = (y + h).min(self.height() as i64);
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.img.put_pixel(xx as u32, yy as u32, Rgb(c));
            }
        }
    }

    /// Outline of a rectangle, one pixel wide.
    pub fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Color) {
        self.fill_rect(x, y, w, 1, c);
        self.fill_rect(x, y + h - 1, w, 1, c);
        self.fill_rect(x, y, 1, h, c);
        self.fill_rect(x + w - 1, y, 1, h, c);
    }

    /// A line from (x0, y0) to (x1, y1) (Bresenham), `thickness` pixels wide.
    pub fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, thickness: u32, c: Color) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        let r = thickness as i64 / 2;
        loop {
            self.fill_rect(
                x - r,
                y - r,
                thickness.max(1) as i64,
                thickness.max(1) as i64,
                c,
            );
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Draw `text` with its top-left corner at (x, y), each glyph `8·scale` pixels square.
    /// Characters without a glyph are drawn as '?'.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, c: Color) {
        let s = scale.max(1) as i64;
        let mut cx = x;
        for ch in text.chars() {
            let glyph = font8x8::BASIC_FONTS
                .get(ch)
                .or_else(|| font8x8::LATIN_FONTS.get(ch))
                .or_else(|| font8x8::GREEK_FONTS.get(ch))
                .or_else(|| font8x8::BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        self.fill_rect(cx + col * s, y + row as i64 * s, s, s, c);
                    }
                }
            }
            cx += 8 * s;
        }
    }

    /// Text rotated 90° counter-clockwise (reads bottom to top), bottom-left corner at (x, y).
    pub fn text_vertical(&mut self, x: i64, y: i64, text: &str, scale: u32, c: Color) {
        let s = scale.max(1) as i64;
        let mut cy = y;
        for ch in text.chars() {
            let glyph = font8x8::BASIC_FONTS
                .get(ch)
                .or_else(|| font8x8::BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        // (col, row) → (row, −col)
                        self.fill_rect(x + row as i64 * s, cy - (col + 1) * s, s, s, c);
                    }
                }
            }
            cy -= 8 * s;
        }
    }

    /// Pixel width of `text` at `scale`.
    pub fn text_width(text: &str, scale: u32) -> i64 {
        text.chars().count() as i64 * (GLYPH * scale.max(1)) as i64
    }

    /// Encode as PNG bytes.
    pub fn png_bytes(&self) -> Result<Vec<u8>> {
        let mut out = std::io::Cursor::new(Vec::new());
        self.img
            .write_to(&mut out, image::ImageFormat::Png)
            .map_err(|e| Error::Invalid(format!("PNG encoding failed: {e}")))?;
        Ok(out.into_inner())
    }

    /// Write the canvas to `path` as PNG, atomically.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.png_bytes()?)
    }
}

/// Blend `c` over `bg` with opacity `a` in [0, 1].
pub fn blend(bg: Color, c: Color, a: f64) -> Color {
    let a = a.clamp(0.0, 1.0);
    let mix = |x: u8, y: u8| (x as f64 * (1.0 - a) + y as f64 * a).round() as u8;
    [mix(bg[0], c[0]), mix(bg[1], c[1]), mix(bg[2], c[2])]
}

/// A sequential colour map from white to dark blue for v in [0, 1].
pub fn blues(v: f64) -> Color {
    blend(WHITE, [8, 48, 107], v.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_and_encodes() {
        let mut c = Canvas::new(40, 20, WHITE);
        c.fill_rect(2, 2, 4, 4, BLACK);
        assert_eq!(c.pixel(3, 3), Some(BLACK));
        assert_eq!(c.pixel(7, 7), Some(WHITE));
        c.line(0, 19, 39, 0, 1, PALETTE[0]);
        assert_eq!(c.pixel(0, 19), Some(PALETTE[0]));
        assert_eq!(c.pixel(39, 0), Some(PALETTE[0]));
        c.text(10, 10, "A", 1, BLACK);
        let inked = (10..18)
            .flat_map(|x| (10..18).map(move |y| (x, y)))
            .filter(|&(x, y)| c.pixel(x, y) == Some(BLACK))
            .count();
        assert!(inked > 5, "the glyph left {inked} pixels");
        let png = c.png_bytes().unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // Out-of-canvas drawing is clipped, not a panic.
        c.fill_rect(-10, -10, 100, 5, BLACK);
        c.text(1000, 1000, "x", 3, BLACK);
    }
}
