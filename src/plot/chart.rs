//! Line charts (training curves), a min/max waveform view, and a grid to put several charts in one
//! picture.

use super::canvas::{Canvas, Color, BLACK, DARK_GREY, LIGHT_GREY, PALETTE, WHITE};

/// One named line of (x, y) points.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
        }
    }
}

/// Titles and size of a chart.
#[derive(Debug, Clone)]
pub struct ChartSpec {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub width: u32,
    pub height: u32,
    /// Fixed y range; None = fit the data.
    pub y_range: Option<(f64, f64)>,
    /// Plot log10(y) (non-positive values are dropped).
    pub log_y: bool,
}

impl ChartSpec {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        ChartSpec {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            width: 640,
            height: 400,
            y_range: None,
            log_y: false,
        }
    }
}

/// "Nice" tick positions covering [lo, hi] (steps of 1, 2 or 5 × 10^k), about `n` of them.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    // Multiply integers by the step (no accumulated rounding), then round to the step's precision.
    let digits = (-step.log10().floor()).max(0.0) as i32;
    let q = 10f64.powi(digits);
    (first..=last)
        .map(|k| ((k as f64 * step) * q).round() / q)
        .collect()
}

/// Short label for a tick value.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e5 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else if a >= 1e-3 {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.0e}")
    }
}

struct Frame {
    left: i64,
    top: i64,
    w: i64,
    h: i64,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Frame {
    fn px(&self, x: f64) -> i64 {
        self.left + ((x - self.x0) / (self.x1 - self.x0) * (self.w - 1) as f64).round() as i64
    }
    fn py(&self, y: f64) -> i64 {
        self.top + self.h
            - 1
            - ((y - self.y0) / (self.y1 - self.y0) * (self.h - 1) as f64).round() as i64
    }
}

fn draw_frame(c: &mut Canvas, spec: &ChartSpec, f: &Frame, log_y: bool) {
    c.text(f.left, 6, &spec.title, 2, BLACK);
    for t in nice_ticks(f.x0, f.x1, 6) {
        let x = f.px(t);
        c.fill_rect(x, f.top, 1, f.h, LIGHT_GREY);
        let l = tick_label(t);
        c.text(
            x - Canvas::text_width(&l, 1) / 2,
            f.top + f.h + 4,
            &l,
            1,
            DARK_GREY,
        );
    }
    for t in nice_ticks(f.y0, f.y1, 5) {
        let y = f.py(t);
        c.fill_rect(f.left, y, f.w, 1, LIGHT_GREY);
        let l = if log_y {
            tick_label(10f64.powf(t))
        } else {
            tick_label(t)
        };
        c.text(
            f.left - Canvas::text_width(&l, 1) - 4,
            y - 4,
            &l,
            1,
            DARK_GREY,
        );
    }
    c.rect(f.left, f.top, f.w, f.h, DARK_GREY);
    let xl = &spec.x_label;
    c.text(
        f.left + f.w / 2 - Canvas::text_width(xl, 1) / 2,
        f.top + f.h + 18,
        xl,
        1,
        BLACK,
    );
    c.text_vertical(
        4,
        f.top + f.h / 2 + Canvas::text_width(&spec.y_label, 1) / 2,
        &spec.y_label,
        1,
        BLACK,
    );
}

/// Draw a line chart of `series` (colours from the palette, a legend in the top-right corner).
pub fn line_chart(series: &[Series], spec: &ChartSpec) -> Canvas {
    let mut c = Canvas::new(spec.width, spec.height, WHITE);
    let tf = |y: f64| {
        if spec.log_y {
            (y > 0.0).then(|| y.log10())
        } else {
            Some(y)
        }
    };
    let pts: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter_map(|&(x, y)| tf(y).map(|y| (x, y)))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
        .collect();
    let all = pts.iter().flatten();
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if let Some((a, b)) = spec.y_range {
        y0 = tf(a).unwrap_or(y0);
        y1 = tf(b).unwrap_or(y1);
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        let pad = y0.abs().max(1.0) * 0.05;
        y0 -= pad;
        y1 += pad;
    } else if spec.y_range.is_none() {
        let pad = (y1 - y0) * 0.05;
        y0 -= pad;
        y1 += pad;
    }
    let f = Frame {
        left: 64,
        top: 30,
        w: spec.width as i64 - 64 - 14,
        h: spec.height as i64 - 30 - 40,
        x0,
        x1,
        y0,
        y1,
    };
    draw_frame(&mut c, spec, &f, spec.log_y);
    for (i, p) in pts.iter().enumerate() {
        let col = PALETTE[i % PALETTE.len()];
        if p.len() == 1 {
            c.fill_rect(f.px(p[0].0) - 2, f.py(p[0].1) - 2, 5, 5, col);
        }
        for w in p.windows(2) {
            let (a, b) = (w[0], w[1]);
            let (ya, yb) = (a.1.clamp(f.y0, f.y1), b.1.clamp(f.y0, f.y1));
            c.line(f.px(a.0), f.py(ya), f.px(b.0), f.py(yb), 2, col);
        }
    }
    // Legend.
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    let lw = names
        .iter()
        .map(|n| Canvas::text_width(n, 1))
        .max()
        .unwrap_or(0)
        + 24;
    let (lx, mut ly) = (f.left + f.w - lw - 6, f.top + 6);
    if series.len() > 1 {
        c.fill_rect(lx - 4, ly - 4, lw + 8, 12 * names.len() as i64 + 6, WHITE);
        for (i, n) in names.iter().enumerate() {
            let col = PALETTE[i % PALETTE.len()];
            c.fill_rect(lx, ly + 2, 14, 4, col);
            c.text(lx + 20, ly, n, 1, BLACK);
            ly += 12;
        }
    }
    c
}

/// A min/max envelope of audio `samples` (one channel) with a time axis in seconds.
pub fn waveform(samples: &[f32], sample_rate: u32, title: &str, width: u32, height: u32) -> Canvas {
    let mut c = Canvas::new(width, height, WHITE);
    let secs = samples.len() as f64 / sample_rate.max(1) as f64;
    let spec = ChartSpec {
        width,
        height,
        ..ChartSpec::new(title, "seconds", "amplitude")
    };
    let f = Frame {
        left: 64,
        top: 30,
        w: width as i64 - 78,
        h: height as i64 - 70,
        x0: 0.0,
        x1: secs.max(1e-3),
        y0: -1.0,
        y1: 1.0,
    };
    draw_frame(&mut c, &spec, &f, false);
    let col: Color = PALETTE[0];
    let n = samples.len();
    for px in 0..f.w {
        let a = (px as usize * n) / f.w as usize;
        let b = (((px + 1) as usize * n) / f.w as usize).max(a + 1).min(n);
        if a >= n {
            break;
        }
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &s in &samples[a..b] {
            lo = lo.min(s);
            hi = hi.max(s);
        }
        let (y_hi, y_lo) = (
            f.py(hi.clamp(-1.0, 1.0) as f64),
            f.py(lo.clamp(-1.0, 1.0) as f64),
        );
        c.fill_rect(f.left + px, y_hi, 1, (y_lo - y_hi).max(1), col);
    }
    c.fill_rect(f.left, f.py(0.0), f.w, 1, DARK_GREY);
    c
}

/// Put charts in a grid of `cols` columns (cells sized by the largest chart).
pub fn grid(charts: &[Canvas], cols: usize) -> Canvas {
    let cols = cols.max(1);
    let cw = charts.iter().map(|c| c.width()).max().unwrap_or(1);
    let ch = charts.iter().map(|c| c.height()).max().unwrap_or(1);
    let rows = charts.len().div_ceil(cols).max(1);
    let mut out = Canvas::new(
        cw * cols.min(charts.len().max(1)) as u32,
        ch * rows as u32,
        WHITE,
    );
    for (i, c) in charts.iter().enumerate() {
        let (ox, oy) = ((i % cols) as u32 * cw, (i / cols) as u32 * ch);
        for y in 0..c.height() {
            for x in 0..c.width() {
                if let Some(p) = c.pixel(x, y) {
                    out.put((ox + x) as i64, (oy + y) as i64, p);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice() {
        assert_eq!(
            nice_ticks(0.0, 10.0, 5),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(nice_ticks(0.13, 0.61, 5), vec![0.2, 0.3, 0.4, 0.5, 0.6]);
        assert_eq!(tick_label(2000.0), "2000");
        assert_eq!(tick_label(0.25), "0.25");
    }

    #[test]
    fn chart_draws_series_in_colour() {
        let s = vec![
            Series::new(
                "a",
                (0..50).map(|i| (i as f64, (i as f64).sqrt())).collect(),
            ),
            Series::new("b", vec![(0.0, 1.0), (49.0, 2.0)]),
        ];
        let c = line_chart(&s, &ChartSpec::new("t", "step", "v"));
        let coloured = (0..c.width())
            .flat_map(|x| (0..c.height()).map(move |y| (x, y)))
            .filter(|&(x, y)| c.pixel(x, y) == Some(PALETTE[0]))
            .count();
        assert!(coloured > 100);
        let g = grid(&[c, line_chart(&[], &ChartSpec::new("empty", "x", "y"))], 2);
        assert_eq!(g.width(), 1280);
    }

    #[test]
    fn waveform_shows_signal() {
        let sr = 8000;
        let s: Vec<f32> = (0..sr).map(|i| 0.5 * (i as f32 * 0.05).sin()).collect();
        let c = waveform(&s, sr, "sine", 400, 200);
        assert_eq!(c.width(), 400);
    }
}
