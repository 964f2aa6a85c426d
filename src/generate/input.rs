//! Taking one phrase of a model's length out of a MIDI file: Magenta's extraction gives every
//! window; the user picks one with `--window`, otherwise the first with enough notes is used.

use super::dynamics::{window_input_notes, InputNote};
use crate::data::converter::{extract, ConverterConfig, DataKind, Window, WindowOrigin};
use crate::error::{Error, Result};
use crate::music::quantize::STEPS_PER_BAR;
use crate::music::read_midi_file;
use std::path::{Path, PathBuf};

/// The phrase taken from a file, and where it came from.
#[derive(Debug, Clone)]
pub struct PickedWindow {
    pub path: PathBuf,
    pub window: Window,
    /// Index among the file's distinct windows, and how many there are.
    pub index: usize,
    pub count: usize,
    pub origin: WindowOrigin,
    /// Tempo of the section it came from.
    pub qpm: f64,
    /// The input's notes inside the window, with their velocities (for `--velocity input`).
    pub notes: Vec<InputNote>,
}

/// Which window of a file a command takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WindowChoice {
    /// The first window with at least two notes per bar (see [`default_window`]).
    #[default]
    Default,
    /// `--window I`: the I-th window as `musicvae inspect --windows` lists them.
    Index(usize),
    /// `--bar B`: the first window that starts at bar B (1-based) of its section.
    Bar(usize),
}

impl WindowChoice {
    /// From `--window` and `--bar` (at most one is given; `--bar` wins).
    pub fn new(window: Option<usize>, bar: Option<usize>) -> Self {
        match (bar, window) {
            (Some(b), _) => WindowChoice::Bar(b),
            (None, Some(i)) => WindowChoice::Index(i),
            (None, None) => WindowChoice::Default,
        }
    }
}

impl From<Option<usize>> for WindowChoice {
    fn from(o: Option<usize>) -> Self {
        o.map(WindowChoice::Index).unwrap_or_default()
    }
}

impl PickedWindow {
    /// "window 3 of 14 (bars 5–6, from 8.0 s)".
    pub fn describe(&self) -> String {
        let bars =
            self.window.tracks.first().map(|t| t.len()).unwrap_or(0) / STEPS_PER_BAR as usize;
        let first = self.origin.start_bar + 1;
        format!(
            "window {} of {} (bars {}–{} of its section, from {:.1} s)",
            self.index,
            self.count,
            first,
            first + bars as i64 - 1,
            self.origin.start_time
        )
    }
}

/// Onsets in a window (all tracks; drums: steps with a hit).
pub fn onsets(kind: DataKind, w: &Window) -> usize {
    kind.representation().onsets(&w.tracks)
}

/// The default choice: the first window with at least two onsets per bar on average and an onset
/// in its first bar; failing that, the window with the most onsets.
pub fn default_window(kind: DataKind, windows: &[Window]) -> Option<usize> {
    let spb = STEPS_PER_BAR as usize;
    let good = windows.iter().position(|w| {
        let bars = w.tracks.first().map(|t| t.len() / spb).unwrap_or(1).max(1);
        let first_bar = Window {
            tracks: w
                .tracks
                .iter()
                .map(|t| t[..spb.min(t.len())].to_vec())
                .collect(),
        };
        onsets(kind, w) >= 2 * bars && onsets(kind, &first_bar) > 0
    });
    good.or_else(|| {
        (0..windows.len()).max_by_key(|&i| (onsets(kind, &windows[i]), std::cmp::Reverse(i)))
    })
}

/// Read `path` and take one window for a model with converter `cfg` (`choice` = `--window`).
pub fn pick_window(
    path: &Path,
    cfg: &ConverterConfig,
    choice: Option<usize>,
) -> Result<PickedWindow> {
    pick(path, cfg, choice.into())
}

/// Read `path` and take the window `choice` names for a model with converter `cfg`.
pub fn pick(path: &Path, cfg: &ConverterConfig, choice: WindowChoice) -> Result<PickedWindow> {
    let seq = read_midi_file(path)?;
    let ex = extract(&seq, cfg);
    if ex.windows.is_empty() {
        let why = ex
            .why_none
            .unwrap_or_else(|| "no usable phrase".to_string());
        return Err(Error::bad_input(
            path,
            format!(
                "no {}-bar {} phrase for this model: {why}",
                cfg.slice_bars,
                cfg.kind.name()
            ),
        ));
    }
    let count = ex.windows.len();
    let index = match choice {
        WindowChoice::Index(i) if i < count => i,
        WindowChoice::Bar(b) => match ex.origins.iter().position(|o| o.start_bar + 1 == b as i64) {
            Some(i) => i,
            None => {
                let mut starts: Vec<i64> = ex.origins.iter().map(|o| o.start_bar + 1).collect();
                starts.sort_unstable();
                starts.dedup();
                let list: Vec<String> = starts.iter().take(12).map(|s| s.to_string()).collect();
                return Err(Error::bad_input(
                        path,
                        format!(
                            "--bar {b}: no window starts at bar {b}; windows start at bars {}{} (see `musicvae inspect --windows`)",
                            list.join(", "),
                            if starts.len() > 12 { ", …" } else { "" }
                        ),
                    ));
            }
        },
        WindowChoice::Index(i) => {
            return Err(Error::bad_input(
                path,
                format!(
                "--window {i} is out of range: the file has {count} window(s), numbered 0 to {}",
                count - 1
            ),
            ))
        }
        WindowChoice::Default => default_window(cfg.kind, &ex.windows).unwrap_or(0),
    };
    let origin = ex.origins[index].clone();
    let qpm = ex
        .sections
        .get(origin.section)
        .and_then(|s| s.qpm)
        .unwrap_or(crate::music::note_sequence::DEFAULT_QPM);
    let notes = window_input_notes(&seq, cfg.kind, &origin, qpm, cfg.steps());
    Ok(PickedWindow {
        path: path.to_path_buf(),
        window: ex.windows[index].clone(),
        index,
        count,
        origin,
        qpm,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_prefers_busy_windows_with_a_first_bar() {
        let quiet = Window {
            tracks: vec![[vec![40u16], vec![0; 31]].concat()],
        };
        let late = Window {
            tracks: vec![[
                vec![0u16; 16],
                (0..16).map(|i| if i % 2 == 0 { 40 } else { 0 }).collect(),
            ]
            .concat()],
        };
        let busy = Window {
            tracks: vec![(0..32).map(|i| if i % 4 == 0 { 42 } else { 0 }).collect()],
        };
        assert_eq!(
            default_window(
                DataKind::Melody,
                &[quiet.clone(), late.clone(), busy.clone()]
            ),
            Some(2)
        );
        // None good: the one with most onsets.
        assert_eq!(default_window(DataKind::Melody, &[quiet, late]), Some(1));
        assert_eq!(onsets(DataKind::Melody, &busy), 8);
    }
}
