//! Piano-roll pictures: pitch (labelled with note names) against 16th-note steps, bar and beat lines,
//! one colour per instrument, drums in a band of the 9 drum classes, several phrases side by side
//! (an interpolation reads left to right, wrapping onto more rows when wide).

use super::canvas::{blend, Canvas, Color, BLACK, DARK_GREY, GREY, LIGHT_GREY, PALETTE, WHITE};
use crate::music::drums::{drum_class, DRUM_CLASSES, DRUM_CLASS_NAMES};
use crate::music::note_sequence::NoteSequence;
use crate::music::quantize::{STEPS_PER_BAR, STEPS_PER_QUARTER};

/// A note on the step grid (fractional steps are allowed for unquantized input).
#[derive(Debug, Clone, PartialEq)]
pub struct RollNote {
    pub pitch: u8,
    pub start: f64,
    pub end: f64,
    pub velocity: u8,
    /// Colour key: the instrument index of the note sequence.
    pub instrument: u32,
    pub is_drum: bool,
}

/// One phrase of the picture.
#[derive(Debug, Clone)]
pub struct RollPanel {
    pub caption: String,
    pub notes: Vec<RollNote>,
    /// Length in steps (the panel is at least this wide).
    pub steps: usize,
    /// Drawn with a heavy frame (e.g. the corners of a latent grid).
    pub highlight: bool,
    /// Number of the panel's first bar, from 0 (bar labels read `first_bar + 1`, …): not 0 for
    /// the later lines of a long phrase drawn over several lines.
    pub first_bar: usize,
}

impl RollPanel {
    /// A panel from a note sequence, converting seconds to steps at its first tempo.
    pub fn from_sequence(
        seq: &NoteSequence,
        caption: impl Into<String>,
        steps: Option<usize>,
    ) -> Self {
        let qpm = seq.initial_qpm();
        let to_step = |t: f64| t * qpm / 60.0 * STEPS_PER_QUARTER as f64;
        let notes: Vec<RollNote> = seq
            .notes
            .iter()
            .map(|n| RollNote {
                pitch: n.pitch,
                start: to_step(n.start_time),
                end: to_step(n.end_time).max(to_step(n.start_time) + 0.5),
                velocity: n.velocity,
                instrument: n.instrument,
                is_drum: n.is_drum,
            })
            .collect();
        let len = notes
            .iter()
            .map(|n| n.end.ceil() as usize)
            .max()
            .unwrap_or(0);
        let bar = STEPS_PER_BAR as usize;
        RollPanel {
            caption: caption.into(),
            notes,
            steps: steps.unwrap_or_else(|| len.div_ceil(bar).max(1) * bar),
            highlight: false,
            first_bar: 0,
        }
    }
}

/// Note name of a MIDI pitch (C4 = 60).
pub fn note_name(pitch: u8) -> String {
    const NAMES: [&str; 12] = [
        "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
    ];
    format!("{}{}", NAMES[pitch as usize % 12], pitch as i32 / 12 - 1)
}

fn is_black_key(pitch: u8) -> bool {
    matches!(pitch % 12, 1 | 3 | 6 | 8 | 10)
}

/// Names for the legend: instrument index → name.
pub type InstrumentNames = Vec<(u32, String)>;

/// Draw panels side by side. `names` labels the instruments in the legend (missing ones are called
/// "instrument N", drums "drums").
pub fn draw_piano_roll(panels: &[RollPanel], title: &str, names: &InstrumentNames) -> Canvas {
    draw_piano_roll_columns(panels, title, names, None)
}

/// Bars per line of a long phrase: a 16-bar phrase is drawn as two lines of 8 bars, the second
/// under the first, so that a bar stays 80 pixels wide.
pub const BARS_PER_LINE: usize = 8;

/// Phrases longer than [`BARS_PER_LINE`] bars cut into lines of that many bars (each line a panel
/// of its own, captioned with its bars, numbered on from the line before); `None` when every
/// phrase fits on one line. A note held across a line break is drawn on both lines.
fn wrap_long_panels(panels: &[RollPanel]) -> Option<Vec<RollPanel>> {
    let bar = STEPS_PER_BAR as usize;
    let line = BARS_PER_LINE * bar;
    if panels.iter().all(|p| p.steps <= line) {
        return None;
    }
    let mut out = Vec::new();
    for p in panels {
        let lines = p.steps.div_ceil(line).max(1);
        for k in 0..lines {
            let (s0, s1) = (k * line, ((k + 1) * line).min(p.steps));
            let (f0, f1) = (s0 as f64, s1 as f64);
            let notes = p
                .notes
                .iter()
                .filter(|n| n.end > f0 && n.start < f1)
                .map(|n| RollNote {
                    start: (n.start - f0).max(0.0),
                    end: (n.end - f0).min(f1 - f0),
                    ..n.clone()
                })
                .collect();
            let (b0, b1) = (p.first_bar + s0 / bar + 1, p.first_bar + s1.div_ceil(bar));
            let bars = format!("bars {b0}-{b1}");
            out.push(RollPanel {
                caption: if k == 0 {
                    format!("{} ({bars})", p.caption)
                } else {
                    bars
                },
                notes,
                steps: s1 - s0,
                highlight: p.highlight,
                first_bar: p.first_bar + s0 / bar,
            });
        }
    }
    Some(out)
}

/// [`draw_piano_roll`] with a fixed number of panels per row (a grid), or as many as fit in
/// 2400 pixels (`None`). Phrases longer than [`BARS_PER_LINE`] bars are drawn one under another,
/// each over several lines of [`BARS_PER_LINE`] bars (the column count is then 1).
pub fn draw_piano_roll_columns(
    panels: &[RollPanel],
    title: &str,
    names: &InstrumentNames,
    columns: Option<usize>,
) -> Canvas {
    let wrapped = wrap_long_panels(panels);
    let (panels, columns) = match &wrapped {
        Some(lines) => (lines.as_slice(), Some(1)),
        None => (panels, columns),
    };
    let l = Layout::new(panels, columns);
    // Wide enough for the title too (a long title is not cut at the right edge).
    let width = l.width.max(Canvas::text_width(title, 2) + 16);
    let mut c = Canvas::new(width as u32, l.height as u32, WHITE);
    c.text(8, 8, title, 2, BLACK);
    let colours = Colours::new(panels);
    for (pi, p) in panels.iter().enumerate() {
        draw_panel(&mut c, &l, &colours, pi, p);
    }
    draw_legend(&mut c, &l, &colours, names);
    c
}

/// Sizes and positions of a piano-roll picture, in pixels.
struct Layout {
    /// Lowest and highest pitch row.
    lo: u8,
    hi: u8,
    has_drums: bool,
    /// Whether pitch rows are drawn (not for drum-only pictures: the drum grid alone, taller).
    has_pitched: bool,
    /// Pixels per step, per pitch row and per drum row.
    sx: i64,
    ry: i64,
    drum_ry: i64,
    panel_w: i64,
    gap: i64,
    /// Panels per row.
    cols: usize,
    pitch_h: i64,
    drum_h: i64,
    /// Height of one row of panels (caption, pitches, drums, bar numbers).
    cell_h: i64,
    /// Left margin (pitch and drum labels), top margin (title) and legend height.
    left: i64,
    top: i64,
    legend_h: i64,
    width: i64,
    height: i64,
}

impl Layout {
    fn new(panels: &[RollPanel], columns: Option<usize>) -> Self {
        let pitched: Vec<&RollNote> = panels
            .iter()
            .flat_map(|p| &p.notes)
            .filter(|n| !n.is_drum)
            .collect();
        let has_drums = panels.iter().flat_map(|p| &p.notes).any(|n| n.is_drum);
        let (lo, hi) = if pitched.is_empty() {
            (60u8, 72u8)
        } else {
            let lo = pitched
                .iter()
                .map(|n| n.pitch)
                .min()
                .unwrap_or(60)
                .saturating_sub(2);
            let hi = pitched
                .iter()
                .map(|n| n.pitch)
                .max()
                .unwrap_or(72)
                .saturating_add(2)
                .min(127);
            (lo, hi.max(lo + 12))
        };
        let rows = (hi - lo + 1) as i64;
        let max_steps = panels.iter().map(|p| p.steps).max().unwrap_or(16).max(1);
        // Pixels per step: wide enough to read a 2-bar phrase, narrow enough for 16 bars.
        let sx: i64 = if max_steps <= 64 {
            10
        } else if max_steps <= 128 {
            5
        } else {
            3
        };
        let ry: i64 = if rows <= 30 {
            10
        } else if rows <= 50 {
            7
        } else {
            5
        };
        // Drum-only pictures (a drum model's output) are a drum grid alone, with taller rows.
        let has_pitched = !pitched.is_empty() || !has_drums;
        let drum_ry: i64 = if has_pitched { 8 } else { 14 };
        let panel_w = max_steps as i64 * sx;
        let label_w: i64 = 40;
        let gap: i64 = 16;
        let cols = match columns {
            Some(c) => c.clamp(1, panels.len().max(1)),
            None => (2400 / (panel_w + gap)).clamp(1, panels.len().max(1) as i64) as usize,
        };
        let grid_rows = panels.len().div_ceil(cols).max(1);
        let pitch_h = if has_pitched { rows * ry } else { 0 };
        let drum_h = match (has_drums, has_pitched) {
            (false, _) => 0,
            (true, true) => DRUM_CLASSES as i64 * drum_ry + 6,
            (true, false) => DRUM_CLASSES as i64 * drum_ry,
        };
        let cell_h = 18 + pitch_h + drum_h + 8;
        let drum_label_w = if has_drums {
            DRUM_CLASS_NAMES
                .iter()
                .map(|n| Canvas::text_width(n, 1))
                .max()
                .unwrap_or(0)
                + 8
        } else {
            0
        };
        let left = label_w.max(drum_label_w);
        let top: i64 = 34;
        let legend_h: i64 = 24;
        let width = left + cols as i64 * (panel_w + gap) + 8;
        let height = top + grid_rows as i64 * cell_h + legend_h;
        Layout {
            lo,
            hi,
            has_drums,
            has_pitched,
            sx,
            ry,
            drum_ry,
            panel_w,
            gap,
            cols,
            pitch_h,
            drum_h,
            cell_h,
            left,
            top,
            legend_h,
            width,
            height,
        }
    }
}

/// Colours by instrument, stable across panels: (instrument, is drum) keys in sorted order.
struct Colours(Vec<(u32, bool)>);

impl Colours {
    fn new(panels: &[RollPanel]) -> Self {
        let mut insts: Vec<(u32, bool)> = panels
            .iter()
            .flat_map(|p| &p.notes)
            .map(|n| (n.instrument, n.is_drum))
            .collect();
        insts.sort_unstable();
        insts.dedup();
        Colours(insts)
    }

    fn of(&self, inst: u32, drum: bool) -> Color {
        let i = self.0.iter().position(|&x| x == (inst, drum)).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    }
}

/// Panel `pi`: caption, pitch rows (labelled in the first column), drum rows, beat and bar
/// lines, notes, frame.
fn draw_panel(c: &mut Canvas, l: &Layout, colours: &Colours, pi: usize, p: &RollPanel) {
    let (lo, hi, sx, ry, drum_ry) = (l.lo, l.hi, l.sx, l.ry, l.drum_ry);
    let ox = l.left + (pi % l.cols) as i64 * (l.panel_w + l.gap);
    let oy = l.top + (pi / l.cols) as i64 * l.cell_h;
    let first_col = pi.is_multiple_of(l.cols);
    c.text(ox, oy, &p.caption, 1, BLACK);
    let py = oy + 14;
    let w = p.steps as i64 * sx;
    // Background: black-key rows shaded; C rows labelled in the first column of each row.
    for pitch in (lo..=hi).filter(|_| l.has_pitched) {
        let y = py + (hi - pitch) as i64 * ry;
        let bg = if is_black_key(pitch) {
            [243, 243, 243]
        } else {
            WHITE
        };
        c.fill_rect(ox, y, w, ry, bg);
        if pitch % 12 == 0 && first_col {
            let name = note_name(pitch);
            c.text(
                ox - Canvas::text_width(&name, 1) - 4,
                y + ry / 2 - 4,
                &name,
                1,
                DARK_GREY,
            );
        }
        if pitch % 12 == 0 {
            c.fill_rect(ox, y + ry - 1, w, 1, LIGHT_GREY);
        }
    }
    let dy = py + if l.has_pitched { l.pitch_h + 6 } else { 0 };
    if l.has_drums {
        for (k, name) in DRUM_CLASS_NAMES.iter().enumerate() {
            let y = dy + k as i64 * drum_ry;
            c.fill_rect(
                ox,
                y,
                w,
                drum_ry,
                if k % 2 == 0 { [246, 246, 246] } else { WHITE },
            );
            if first_col {
                c.text(ox - Canvas::text_width(name, 1) - 4, y, name, 1, DARK_GREY);
            }
        }
    }
    // Beat and bar lines.
    let total_h = l.pitch_h + l.drum_h;
    for s in (0..=p.steps).step_by(STEPS_PER_QUARTER as usize) {
        let x = ox + s as i64 * sx;
        let bar = s % STEPS_PER_BAR as usize == 0;
        c.fill_rect(x, py, 1, total_h, if bar { GREY } else { LIGHT_GREY });
        if bar && s < p.steps && (p.steps <= 128 || s % (4 * STEPS_PER_BAR as usize) == 0) {
            let lab = (p.first_bar + s / STEPS_PER_BAR as usize + 1).to_string();
            c.text(x + 2, py + total_h + 1, &lab, 1, GREY);
        }
    }
    // Notes, velocity as opacity.
    for n in &p.notes {
        let col = blend(
            WHITE,
            colours.of(n.instrument, n.is_drum),
            0.45 + 0.55 * n.velocity as f64 / 127.0,
        );
        let x0 = ox + (n.start * sx as f64).round() as i64;
        let x1 = (ox + (n.end * sx as f64).round() as i64).min(ox + w);
        if x0 >= ox + w {
            continue;
        }
        if n.is_drum {
            if let Some(k) = drum_class(n.pitch) {
                let y = dy + k as i64 * drum_ry;
                c.fill_rect(x0, y + 1, sx.max(2), drum_ry - 2, col);
            }
        } else if l.has_pitched && (lo..=hi).contains(&n.pitch) {
            let y = py + (hi - n.pitch) as i64 * ry;
            c.fill_rect(x0 + 1, y + 1, (x1 - x0 - 1).max(1), (ry - 1).max(1), col);
            c.fill_rect(x0 + 1, y + 1, 1, (ry - 1).max(1), blend(col, BLACK, 0.5));
        }
    }
    c.rect(ox, py, w + 1, total_h, DARK_GREY);
    if p.highlight {
        for k in 1..=3 {
            c.rect(ox - k, py - k, w + 1 + 2 * k, total_h + 2 * k, BLACK);
        }
    }
}

/// One swatch and name per instrument along the bottom.
fn draw_legend(c: &mut Canvas, l: &Layout, colours: &Colours, names: &InstrumentNames) {
    let mut lx = l.left;
    let ly = l.height - l.legend_h + 6;
    for &(inst, drum) in &colours.0 {
        let name = if drum {
            "drums".to_string()
        } else {
            names
                .iter()
                .find(|(i, _)| *i == inst)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| format!("instrument {inst}"))
        };
        c.fill_rect(lx, ly, 12, 10, colours.of(inst, drum));
        c.text(lx + 16, ly + 1, &name, 1, BLACK);
        lx += Canvas::text_width(&name, 1) + 36;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::melody::melody_to_sequence;

    #[test]
    fn names() {
        assert_eq!(note_name(60), "C4");
        assert_eq!(note_name(69), "A4");
        assert_eq!(note_name(21), "A0");
    }

    #[test]
    fn notes_are_drawn_where_they_belong() {
        // One note of pitch 60 from step 0 to 4, then 64 from step 8 to 16.
        let seq = melody_to_sequence(&[41, 0, 0, 0, 1, 0, 0, 0, 45, 0, 0, 0, 0, 0, 0, 0], 120.0);
        let p = RollPanel::from_sequence(&seq, "x", None);
        assert_eq!(p.steps, 16);
        assert_eq!(p.notes.len(), 2);
        assert!((p.notes[0].end - 4.0).abs() < 1e-9);
        let c = draw_piano_roll(&[p.clone(), p], "test", &vec![(0, "melody".into())]);
        // Some pixels carry the first palette colour (blended by velocity 80).
        let col = blend(WHITE, PALETTE[0], 0.45 + 0.55 * 80.0 / 127.0);
        let n = (0..c.width())
            .flat_map(|x| (0..c.height()).map(move |y| (x, y)))
            .filter(|&(x, y)| c.pixel(x, y) == Some(col))
            .count();
        assert!(n > 100, "{n}");
    }

    /// A 16-bar phrase is drawn as two lines of 8 bars, one under the other: the note in bar 12
    /// is on the second line at its offset in that line, a note held across the break is on
    /// both, and the bar labels of the second line go on from 9.
    #[test]
    fn sixteen_bars_break_into_two_lines_of_eight() {
        let note = |pitch: u8, start: f64, end: f64| RollNote {
            pitch,
            start,
            end,
            velocity: 80,
            instrument: 0,
            is_drum: false,
        };
        let p = RollPanel {
            caption: "phrase".into(),
            notes: vec![
                note(60, 0.0, 4.0),
                note(62, 120.0, 136.0),
                note(64, 11.0 * 16.0, 11.0 * 16.0 + 4.0),
            ],
            steps: 256,
            highlight: false,
            first_bar: 0,
        };
        let two = [p.clone(), p];
        let lines = wrap_long_panels(&two).expect("16 bars are wrapped");
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].caption, "phrase (bars 1-8)");
        assert_eq!(lines[1].caption, "bars 9-16");
        assert_eq!((lines[0].steps, lines[1].steps), (128, 128));
        assert_eq!((lines[0].first_bar, lines[1].first_bar), (0, 8));
        let second: Vec<(u8, f64, f64)> = lines[1]
            .notes
            .iter()
            .map(|n| (n.pitch, n.start, n.end))
            .collect();
        assert_eq!(second, vec![(62, 0.0, 8.0), (64, 48.0, 52.0)]);
        assert_eq!(lines[0].notes.len(), 2, "the held note ends the first line");
        assert!((lines[0].notes[1].end - 128.0).abs() < 1e-9);
        // One column, one line per row: 4 rows; 8 bars at 5 pixels a step.
        let l = Layout::new(&lines, Some(1));
        assert_eq!((l.cols, l.sx, l.panel_w), (1, 5, 640));
        let c = draw_piano_roll(&two, "a title longer than the two lines of bars are wide, which must not be cut at the right edge", &vec![]);
        assert!(c.height() as i64 >= l.top + 4 * l.cell_h);
        assert!(c.width() as i64 >= Canvas::text_width("a title longer than the two lines of bars are wide, which must not be cut at the right edge", 2));
        // Phrases of 8 bars or fewer are left as they are.
        let short = RollPanel::from_sequence(
            &crate::music::melody::melody_to_sequence(&[41; 32], 120.0),
            "s",
            None,
        );
        assert!(wrap_long_panels(&[short]).is_none());
    }

    /// A drum-only picture is the drum grid alone: no pitch rows, taller drum rows, every class
    /// name fully inside the picture, each hit in its class's row.
    #[test]
    fn drum_only_panels_are_a_named_grid() {
        use crate::data::converter::{window_to_sequence, DataKind, Window};
        let mut t = vec![0u16; 32];
        t[0] = 1; // kick
        t[4] = 1 << 2; // closed hi-hat
        let seq = window_to_sequence(DataKind::Drums, &Window { tracks: vec![t] }, 120.0);
        let p = RollPanel::from_sequence(&seq, "beat", None);
        let l = Layout::new(std::slice::from_ref(&p), None);
        assert!(!l.has_pitched && l.has_drums);
        assert_eq!(l.pitch_h, 0);
        assert_eq!(l.drum_h, DRUM_CLASSES as i64 * 14);
        let widest = DRUM_CLASS_NAMES
            .iter()
            .map(|n| Canvas::text_width(n, 1))
            .max()
            .unwrap_or(0);
        assert!(l.left >= widest + 4, "labels fit: {} vs {widest}", l.left);
        let c = draw_piano_roll(&[p], "drums", &vec![]);
        let col = blend(WHITE, PALETTE[0], 0.45 + 0.55 * 80.0 / 127.0);
        // The kick (row 0) and the hi-hat (row 2), at their steps.
        let oy = l.top + 14;
        for (step, row) in [(0i64, 0i64), (4, 2)] {
            let (x, y) = (l.left + step * l.sx + 1, oy + row * 14 + 7);
            assert_eq!(
                c.pixel(x as u32, y as u32),
                Some(col),
                "step {step} row {row}"
            );
        }
    }
}
