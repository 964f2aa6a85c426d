//! Writing generated phrases: one MIDI file with the phrases one after another (optionally a few
//! bars of rest between them), or one file per phrase; a piano-roll PNG of them side by side.
//! Every file is written atomically.

use super::dynamics::{apply_velocities, PhraseRefs, Velocity};
use crate::data::converter::{window_to_sequence, windows_to_sequence, DataKind, Window};
use crate::error::Result;
use crate::music::note_sequence::NoteSequence;
use crate::music::write_midi_file;
use crate::plot::{draw_piano_roll_columns, RollPanel};
use std::path::{Path, PathBuf};

/// The phrases as one note sequence, `gap_bars` bars of rest between them.
pub fn phrases_sequence(
    kind: DataKind,
    windows: &[Window],
    qpm: f64,
    gap_bars: usize,
) -> NoteSequence {
    windows_to_sequence(kind, windows, qpm, gap_bars)
}

/// How decoded phrases are performed: tempo, and where velocities come from (`refs[i]`: the input
/// notes phrase i takes its dynamics from, with weights; see [`crate::generate::dynamics`]).
#[derive(Debug, Clone)]
pub struct Performance<'a> {
    pub qpm: f64,
    pub velocity: Velocity,
    pub refs: Vec<PhraseRefs<'a>>,
}

impl Performance<'_> {
    /// Tempo `qpm`, every note at the converter's default velocity.
    pub fn plain(qpm: f64) -> Performance<'static> {
        Performance {
            qpm,
            velocity: Velocity::Fixed(super::dynamics::DEFAULT_VELOCITY),
            refs: Vec::new(),
        }
    }
}

/// The phrases as one performed note sequence (tempo, velocities), `gap_bars` bars between them.
pub fn performed_sequence(
    kind: DataKind,
    windows: &[Window],
    gap_bars: usize,
    perf: &Performance,
) -> NoteSequence {
    let mut seq = windows_to_sequence(kind, windows, perf.qpm, gap_bars);
    let steps = windows
        .first()
        .and_then(|w| w.tracks.first())
        .map(|t| t.len())
        .unwrap_or(0);
    apply_velocities(
        &mut seq,
        kind,
        steps,
        gap_bars,
        perf.qpm,
        &perf.refs,
        perf.velocity,
    );
    seq
}

/// Write one performed MIDI file per phrase; returns the paths.
pub fn write_separate_performed(
    kind: DataKind,
    windows: &[Window],
    perf: &Performance,
    path: &Path,
) -> Result<Vec<PathBuf>> {
    let paths = numbered_paths(path, windows.len(), "mid");
    for (i, (w, p)) in windows.iter().zip(&paths).enumerate() {
        let one = Performance {
            qpm: perf.qpm,
            velocity: perf.velocity,
            refs: perf.refs.get(i).cloned().into_iter().collect(),
        };
        write_midi_file(
            &performed_sequence(kind, std::slice::from_ref(w), 0, &one),
            p,
        )?;
    }
    Ok(paths)
}

/// Write the phrases one after another into one MIDI file.
pub fn write_joined(
    kind: DataKind,
    windows: &[Window],
    qpm: f64,
    gap_bars: usize,
    path: &Path,
) -> Result<()> {
    write_midi_file(&phrases_sequence(kind, windows, qpm, gap_bars), path)
}

/// `dir/stem_00.mid`, `dir/stem_01.mid`, … for `n` items (width grows with n).
pub fn numbered_paths(path: &Path, n: usize, ext: &str) -> Vec<PathBuf> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let width = n.saturating_sub(1).to_string().len().max(2);
    (0..n)
        .map(|i| dir.join(format!("{stem}_{i:0width$}.{ext}")))
        .collect()
}

/// Write one MIDI file per phrase; returns the paths.
pub fn write_separate(
    kind: DataKind,
    windows: &[Window],
    qpm: f64,
    path: &Path,
) -> Result<Vec<PathBuf>> {
    let paths = numbered_paths(path, windows.len(), "mid");
    for (w, p) in windows.iter().zip(&paths) {
        write_midi_file(&window_to_sequence(kind, w, qpm), p)?;
    }
    Ok(paths)
}

/// Instrument names of decoded phrases, for the legend.
pub fn instrument_names(kind: DataKind) -> Vec<(u32, String)> {
    kind.representation().instrument_names()
}

/// One panel of a picture: a phrase, its caption, and whether it is an input (drawn in the second
/// colour, "input" in the legend) rather than a decoded phrase.
#[derive(Debug, Clone)]
pub struct Panel {
    pub window: Window,
    pub caption: String,
    pub is_input: bool,
    /// Drawn with a heavy frame (the corners of a grid).
    pub marked: bool,
}

impl Panel {
    pub fn decoded(window: Window, caption: impl Into<String>) -> Self {
        Panel {
            window,
            caption: caption.into(),
            is_input: false,
            marked: false,
        }
    }
    pub fn input(window: Window, caption: impl Into<String>) -> Self {
        Panel {
            window,
            caption: caption.into(),
            is_input: true,
            marked: false,
        }
    }
    /// The same panel with a heavy frame.
    pub fn mark(mut self) -> Self {
        self.marked = true;
        self
    }
}

/// A piano roll of the panels side by side.
pub fn write_png(kind: DataKind, panels: &[Panel], title: &str, path: &Path) -> Result<()> {
    write_png_columns(kind, panels, title, None, path)
}

/// [`write_png`] with `columns` panels per row (`None`: as many as fit).
pub fn write_png_columns(
    kind: DataKind,
    panels: &[Panel],
    title: &str,
    columns: Option<usize>,
    path: &Path,
) -> Result<()> {
    let any_input = panels.iter().any(|p| p.is_input);
    let rolls: Vec<RollPanel> = panels
        .iter()
        .map(|p| {
            let steps = p.window.tracks.first().map(|t| t.len());
            let mut roll = RollPanel::from_sequence(
                &window_to_sequence(kind, &p.window, 120.0),
                p.caption.clone(),
                steps,
            );
            roll.highlight = p.marked;
            if p.is_input {
                // Inputs get their own colours: instrument numbers after the decoded ones.
                for n in roll.notes.iter_mut().filter(|n| !n.is_drum) {
                    n.instrument += INPUT_OFFSET;
                }
            }
            roll
        })
        .collect();
    let mut names = instrument_names(kind);
    if any_input {
        let inputs: Vec<(u32, String)> = names
            .iter()
            .map(|(i, n)| (i + INPUT_OFFSET, format!("{n} (input)")))
            .collect();
        for (_, n) in names.iter_mut() {
            n.push_str(" (decoded)");
        }
        names.extend(inputs);
    }
    draw_piano_roll_columns(&rolls, title, &names, columns).save_png(path)
}

/// Instrument-number offset that gives input phrases their own colour.
const INPUT_OFFSET: u32 = 100;

/// `out.mid` → `out.png`.
pub fn with_extension(path: &Path, ext: &str) -> PathBuf {
    path.with_extension(ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered() {
        let p = numbered_paths(Path::new("dir/interp.mid"), 3, "mid");
        assert_eq!(p[2], Path::new("dir/interp_02.mid"));
        let p = numbered_paths(Path::new("x.mid"), 120, "mid");
        assert_eq!(p[7], Path::new("x_007.mid"));
    }

    #[test]
    fn joined_has_rests_between() {
        let w = Window {
            tracks: vec![[vec![40u16], vec![0; 31]].concat()],
        };
        let s = phrases_sequence(DataKind::Melody, &[w.clone(), w], 120.0, 1);
        assert_eq!(s.notes.len(), 2);
        // 2 bars + 1 bar rest at 120 qpm = 6 s.
        assert!((s.notes[1].start_time - 6.0).abs() < 1e-9);
    }
}
