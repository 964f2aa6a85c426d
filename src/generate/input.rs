//! Taking one phrase of a model's length out of a MIDI file: Magenta's extraction gives every
//! window; the user picks one with `--window`, otherwise the first with enough notes is used.

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
    w.tracks
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let is_drums = kind == DataKind::Drums || (kind == DataKind::Trio && k == 2);
            t.iter()
                .filter(|&&x| if is_drums { x > 0 } else { x >= 2 })
                .count()
        })
        .sum()
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
        Some(i) if i < count => i,
        Some(i) => {
            return Err(Error::bad_input(
                path,
                format!(
                "--window {i} is out of range: the file has {count} window(s), numbered 0 to {}",
                count - 1
            ),
            ))
        }
        None => default_window(cfg.kind, &ex.windows).unwrap_or(0),
    };
    let origin = ex.origins[index].clone();
    let qpm = ex
        .sections
        .get(origin.section)
        .and_then(|s| s.qpm)
        .unwrap_or(crate::music::note_sequence::DEFAULT_QPM);
    Ok(PickedWindow {
        path: path.to_path_buf(),
        window: ex.windows[index].clone(),
        index,
        count,
        origin,
        qpm,
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
