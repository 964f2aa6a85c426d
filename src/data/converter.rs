//! Converters: a note sequence → MusicVAE training windows (tokens), the way Magenta's
//! `OneHotMelodyConverter`, `DrumsConverter` and `TrioConverter` do it, and windows → note sequences.

use super::representation::{self, Representation, MEL_PROGRAMS};
use crate::music::drums::extract_drum_tracks;
use crate::music::melody::{self, extract_melodies, MelodyOptions};
use crate::music::note_sequence::NoteSequence;
use crate::music::quantize::{quantized_sections, QuantizedSequence, STEPS_PER_BAR};
use crate::music::trio::extract_trio_windows;
use serde::{Deserialize, Serialize};

/// What a model reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    Melody,
    Drums,
    Trio,
}

impl DataKind {
    /// Everything about this representation (tracks, vocabularies, encodings, note mapping).
    pub const fn representation(self) -> &'static Representation {
        match self {
            DataKind::Melody => &representation::MELODY,
            DataKind::Drums => &representation::DRUMS,
            DataKind::Trio => &representation::TRIO,
        }
    }
    /// Token classes per track (melody 90; drums 512; trio 90 + 90 + 512).
    pub fn track_depths(&self) -> Vec<usize> {
        self.representation().track_depths()
    }
    pub fn name(&self) -> &'static str {
        self.representation().name
    }
}

/// Data settings of a model config (Magenta's `data_converter` arguments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConverterConfig {
    pub kind: DataKind,
    /// Window length in bars (2 or 16).
    pub slice_bars: usize,
    /// Melody programs kept, inclusive range (2-bar melody configs: [0, 31]); None = all.
    pub valid_programs: Option<(u8, u8)>,
    pub gap_bars: f64,
    pub max_bars: usize,
    /// Windows kept per file per pass over the data (Magenta: 5, random in training).
    pub max_windows_per_file: usize,
}

impl ConverterConfig {
    /// A converter for `kind` with that representation's `gap_bars` and `max_bars`.
    pub const fn new(kind: DataKind, slice_bars: usize, valid_programs: Option<(u8, u8)>) -> Self {
        let r = kind.representation();
        ConverterConfig {
            kind,
            slice_bars,
            valid_programs,
            gap_bars: r.gap_bars,
            max_bars: r.max_bars,
            max_windows_per_file: 5,
        }
    }
    pub const fn melody(slice_bars: usize, valid_programs: Option<(u8, u8)>) -> Self {
        Self::new(DataKind::Melody, slice_bars, valid_programs)
    }
    pub const fn drums(slice_bars: usize) -> Self {
        Self::new(DataKind::Drums, slice_bars, None)
    }
    pub const fn trio(slice_bars: usize) -> Self {
        Self::new(DataKind::Trio, slice_bars, None)
    }
    pub fn steps(&self) -> usize {
        self.slice_bars * STEPS_PER_BAR as usize
    }
    /// Magenta's melody-extraction options for this converter.
    pub fn melody_options(&self) -> MelodyOptions {
        MelodyOptions {
            valid_programs: self.valid_programs.map(|(a, b)| a..=b),
            gap_bars: self.gap_bars,
            max_bars: self.max_bars,
            ..Default::default()
        }
    }
}

/// One training example: a token sequence per track, each `steps` long.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Window {
    pub tracks: Vec<Vec<u16>>,
}

/// Where a window came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowOrigin {
    pub section: usize,
    /// Instrument of the melody (melody kind).
    pub instrument: Option<u32>,
    /// First bar of the window, counted from the section start.
    pub start_bar: i64,
    /// Start of the window in the source file, seconds.
    pub start_time: f64,
}

/// A section of the file and what came of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SectionReport {
    pub start_time: f64,
    pub qpm: Option<f64>,
    pub time_signature: Option<(u32, u32)>,
    pub bars: Option<f64>,
    /// None when the section gave windows; otherwise why not.
    pub skipped: Option<String>,
    pub tracks_found: usize,
}

/// All windows of one file for one converter, deduplicated in first-seen order, plus why none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Extraction {
    pub windows: Vec<Window>,
    pub origins: Vec<WindowOrigin>,
    pub sections: Vec<SectionReport>,
    /// Set when `windows` is empty: a one-line explanation for the user.
    pub why_none: Option<String>,
}

/// Most distinct windows kept from one file for one converter (a 100-bar melody gives 99; a whole
/// real corpus file a few hundred). A hostile file could otherwise ask for millions.
pub const MAX_WINDOWS_PER_FILE: usize = 65_536;

/// Windows in first-seen order without duplicates; each window is stored once (the set holds
/// indices into the list, keyed by hash).
#[derive(Default)]
struct DedupWindows {
    windows: Vec<Window>,
    origins: Vec<WindowOrigin>,
    by_hash: std::collections::HashMap<u64, Vec<usize>>,
    hasher: std::collections::hash_map::RandomState,
}

impl DedupWindows {
    fn push(&mut self, w: Window, o: WindowOrigin) {
        use std::hash::BuildHasher;
        if self.windows.len() >= MAX_WINDOWS_PER_FILE {
            return;
        }
        let h = self.hasher.hash_one(&w);
        let same = self.by_hash.entry(h).or_default();
        if same.iter().any(|&i| self.windows[i] == w) {
            return;
        }
        same.push(self.windows.len());
        self.windows.push(w);
        self.origins.push(o);
    }
    fn room(&self) -> usize {
        MAX_WINDOWS_PER_FILE - self.windows.len()
    }
}

/// Extract every distinct window of a file for a converter (at most [`MAX_WINDOWS_PER_FILE`]).
pub fn extract(seq: &NoteSequence, cfg: &ConverterConfig) -> Extraction {
    let mut found = DedupWindows::default();
    let mut sections = Vec::new();
    let mut seen = Seen::default();
    for (si, s) in quantized_sections(seq).into_iter().enumerate() {
        let q = match s.result {
            Ok(q) => q,
            Err(e) => {
                sections.push(SectionReport {
                    start_time: s.start_time,
                    qpm: None,
                    time_signature: None,
                    bars: None,
                    skipped: Some(e.to_string()),
                    tracks_found: 0,
                });
                continue;
            }
        };
        let mut report = SectionReport {
            start_time: s.start_time,
            qpm: Some(q.qpm),
            time_signature: Some((q.numerator, q.denominator)),
            bars: Some(q.total_steps as f64 / q.steps_per_bar_f64()),
            skipped: None,
            tracks_found: 0,
        };
        if !q.has_16_step_bars() {
            report.skipped = Some(format!(
                "{}/{} meter: bars are not 16 sixteenth-note steps (only 4/4 and 2/2 are used)",
                q.numerator, q.denominator
            ));
            sections.push(report);
            continue;
        }
        seen.any_16 = true;
        report.tracks_found = section_windows(&q, cfg, si, s.start_time, &mut found, &mut seen);
        if report.tracks_found > 0 {
            seen.any_tracks = true;
        }
        sections.push(report);
    }
    let DedupWindows {
        windows, origins, ..
    } = found;
    let why_none = if !windows.is_empty() {
        None
    } else {
        Some(why_none(seq, cfg, &sections, &seen))
    };
    Extraction {
        windows,
        origins,
        sections,
        why_none,
    }
}

/// What the sections of a file held, for explaining why it gave no window.
#[derive(Default)]
struct Seen {
    /// A section with 16-step bars.
    any_16: bool,
    /// A melody, drum track or trio in such a section.
    any_tracks: bool,
    /// The longest melody or drum track, in bars.
    longest_bars: usize,
}

/// Push the windows of the 4/4 section `si` (quantized as `q`, starting at `sec_start` seconds)
/// into `found`; returns how many melodies, drum tracks or trio windows it held.
fn section_windows(
    q: &QuantizedSequence,
    cfg: &ConverterConfig,
    si: usize,
    sec_start: f64,
    found: &mut DedupWindows,
    seen: &mut Seen,
) -> usize {
    let steps = cfg.steps();
    let spb = STEPS_PER_BAR as i64;
    let step_secs = 60.0 / q.qpm / 4.0;
    match cfg.kind {
        DataKind::Melody => {
            let mels = extract_melodies(q, &cfg.melody_options());
            for m in &mels {
                seen.longest_bars = seen.longest_bars.max(m.tokens.len() / spb as usize);
                for (k, w) in melody::windows(&m.tokens, steps).into_iter().enumerate() {
                    let start_bar = m.start_step / spb + k as i64;
                    found.push(
                        Window { tracks: vec![w] },
                        WindowOrigin {
                            section: si,
                            instrument: Some(m.instrument),
                            start_bar,
                            start_time: sec_start + (start_bar * spb) as f64 * step_secs,
                        },
                    );
                }
            }
            mels.len()
        }
        DataKind::Drums => {
            let tracks = extract_drum_tracks(q, cfg.gap_bars, cfg.max_bars);
            for t in &tracks {
                seen.longest_bars = seen.longest_bars.max(t.tokens.len() / spb as usize);
                for (k, w) in melody::slice_windows(&t.tokens, steps)
                    .into_iter()
                    .enumerate()
                {
                    let start_bar = t.start_step / spb + k as i64;
                    found.push(
                        Window { tracks: vec![w] },
                        WindowOrigin {
                            section: si,
                            instrument: None,
                            start_bar,
                            start_time: sec_start + (start_bar * spb) as f64 * step_secs,
                        },
                    );
                }
            }
            tracks.len()
        }
        DataKind::Trio => {
            let ws = extract_trio_windows(
                q,
                cfg.slice_bars,
                cfg.gap_bars as usize,
                cfg.max_bars,
                found.room(),
            );
            let n = ws.len();
            for w in ws {
                found.push(
                    Window {
                        tracks: vec![w.melody, w.bass, w.drums],
                    },
                    WindowOrigin {
                        section: si,
                        instrument: None,
                        start_bar: 0,
                        start_time: sec_start,
                    },
                );
            }
            n
        }
    }
}

/// A one-line explanation for a file that gave no window.
fn why_none(
    seq: &NoteSequence,
    cfg: &ConverterConfig,
    sections: &[SectionReport],
    seen: &Seen,
) -> String {
    let Seen {
        any_16,
        any_tracks,
        longest_bars,
    } = *seen;
    if seq.notes.is_empty() {
        "the file has no notes".to_string()
    } else if !any_16 {
        let meters: Vec<String> = sections
            .iter()
            .filter_map(|s| s.time_signature.map(|(n, d)| format!("{n}/{d}")))
            .collect();
        format!(
            "no 4/4 (or 2/2) section: MusicVAE needs bars of 16 sixteenth notes, this file is in {}",
            if meters.is_empty() { "an unreadable meter".to_string() } else { meters.join(", ") }
        )
    } else if !any_tracks && cfg.kind != DataKind::Drums && seq.notes.iter().all(|n| n.is_drum) {
        format!(
            "the file holds only drums (channel 10) and this is a {} model; use a drums model for it",
            cfg.kind.name()
        )
    } else if !any_tracks && cfg.kind == DataKind::Drums && !seq.notes.iter().any(|n| n.is_drum) {
        "the file has no drums (channel 10) and this is a drums model".to_string()
    } else if !any_tracks {
        match cfg.kind {
            DataKind::Melody => format!(
                "no melody found in the 4/4 sections (needs non-drum notes with pitch 21–108{})",
                cfg.valid_programs.map(|(a, b)| format!(" on programs {a}–{b}")).unwrap_or_default()
            ),
            DataKind::Drums => {
                let mut unmapped: Vec<u8> = seq
                    .notes
                    .iter()
                    .filter(|n| n.is_drum && crate::music::drums::drum_class(n.pitch).is_none())
                    .map(|n| n.pitch)
                    .collect();
                unmapped.sort_unstable();
                unmapped.dedup();
                let any_mapped = seq
                    .notes
                    .iter()
                    .any(|n| n.is_drum && crate::music::drums::drum_class(n.pitch).is_some());
                if unmapped.is_empty() || any_mapped {
                    "no drum notes (channel 10) in the 4/4 sections".to_string()
                } else {
                    let list: Vec<String> = unmapped.iter().take(8).map(u8::to_string).collect();
                    format!(
                        "its drum notes are on pitches {}{} that none of the 9 drum classes uses (General MIDI kit: kick 35/36, snare 38/40, hi-hats 42/44/46, toms 41–50, cymbals 49–59)",
                        list.join(", "),
                        if unmapped.len() > 8 { ", …" } else { "" }
                    )
                }
            }
            DataKind::Trio => "a trio needs a melody (programs 0–31), a bass (32–39) and drums (channel 10) playing together".to_string(),
        }
    } else {
        format!(
            "the longest {} phrase is {longest_bars} bar(s); this model needs {} bars without a gap of a bar or more",
            cfg.kind.name(),
            cfg.slice_bars
        )
    }
}

/// Turn a window back into a note sequence at `qpm` (melody velocity 80 as Magenta; bass program 33;
/// drums on channel 10).
pub fn window_to_sequence(kind: DataKind, window: &Window, qpm: f64) -> NoteSequence {
    let mut notes = Vec::new();
    for (tokens, track) in window.tracks.iter().zip(kind.representation().tracks) {
        notes.extend(track.to_notes(tokens, qpm));
    }
    NoteSequence::four_four(notes, qpm)
}

/// Several windows one after another (with `gap_bars` bars of rest between them) as one sequence.
pub fn windows_to_sequence(
    kind: DataKind,
    windows: &[Window],
    qpm: f64,
    gap_bars: usize,
) -> NoteSequence {
    let mut out = NoteSequence::four_four(Vec::new(), qpm);
    let step = 60.0 / qpm / 4.0;
    let mut offset = 0.0;
    for w in windows {
        let s = window_to_sequence(kind, w, qpm);
        for mut n in s.notes {
            n.start_time += offset;
            n.end_time += offset;
            out.notes.push(n);
        }
        let len = w.tracks.first().map(|t| t.len()).unwrap_or(0);
        offset += (len + gap_bars * STEPS_PER_BAR as usize) as f64 * step;
    }
    out.update_total_time();
    out.total_time = out.total_time.max(offset);
    out
}

/// Read back a window written with [`window_to_sequence`] on a fixed grid (no extraction rules).
pub fn sequence_to_window_grid(kind: DataKind, seq: &NoteSequence, steps: usize) -> Option<Window> {
    let q = crate::music::quantize::quantize(seq, 4).ok()?;
    let tracks = kind.representation().tracks;
    Some(Window {
        tracks: tracks.iter().map(|t| t.grid_tokens(&q, steps)).collect(),
    })
}

/// Named data converters, as `configs.py` names them (`mel_2bar_converter`, `mel_16bar_converter`,
/// `trio_16bar_converter`, the drums presets' `DrumsConverter`), with the other window lengths of
/// each representation. [`ConverterConfig::named`] looks them up.
pub const NAMED_CONVERTERS: [(&str, ConverterConfig); 9] = [
    // mel_2bar_converter: OneHotMelodyConverter(valid_programs=MEL_PROGRAMS, max_bars=100, slice_bars=2)
    ("mel_2bar", ConverterConfig::melody(2, Some(MEL_PROGRAMS))),
    ("mel_4bar", ConverterConfig::melody(4, None)),
    // mel_16bar_converter: OneHotMelodyConverter(max_bars=100, slice_bars=16)
    ("mel_16bar", ConverterConfig::melody(16, None)),
    // cat-drums_2bar_small: DrumsConverter(max_bars=100, slice_bars=2, roll_input=True)
    ("drums_2bar", ConverterConfig::drums(2)),
    ("drums_4bar", ConverterConfig::drums(4)),
    ("drums_16bar", ConverterConfig::drums(16)),
    ("trio_2bar", ConverterConfig::trio(2)),
    ("trio_4bar", ConverterConfig::trio(4)),
    // trio_16bar_converter: TrioConverter(slice_bars=16, gap_bars=2)
    ("trio_16bar", ConverterConfig::trio(16)),
];

impl ConverterConfig {
    /// A converter of [`NAMED_CONVERTERS`] by name, alone or with the decoder prefix of a Magenta
    /// config name (`mel_16bar`, `cat-mel_2bar`, `hierdec-trio_16bar`); case-insensitive. Presets
    /// (`cat-mel_2bar_small`, `tiny`) are looked up one layer up, by
    /// [`converter_named`](crate::model::config::converter_named).
    pub fn named(name: &str) -> Option<Self> {
        let n = name.to_ascii_lowercase();
        let n = ["cat-", "hierdec-"]
            .iter()
            .find_map(|p| n.strip_prefix(p))
            .unwrap_or(&n);
        NAMED_CONVERTERS
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, c)| c.clone())
    }
}
