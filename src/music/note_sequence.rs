//! The note sequence: an unquantized, instrument-aware list of notes plus tempo and meter maps,
//! the same information as note_seq's `NoteSequence` protobuf (the subset MusicVAE uses).

use serde::{Deserialize, Serialize};

/// Default tempo when a file has none (note_seq's `DEFAULT_QUARTERS_PER_MINUTE`).
pub const DEFAULT_QPM: f64 = 120.0;
/// Ticks per quarter note used when writing MIDI (note_seq's `STANDARD_PPQ`).
pub const STANDARD_PPQ: u16 = 220;

/// One note. Times are in seconds from the start of the sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub pitch: u8,
    pub velocity: u8,
    pub start_time: f64,
    pub end_time: f64,
    /// Source ticks (0 when the note was not read from a file).
    pub start_tick: u64,
    pub end_tick: u64,
    pub program: u8,
    /// Index of the instrument (pretty_midi's (program, channel, track) grouping).
    pub instrument: u32,
    pub is_drum: bool,
}

/// A tempo event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tempo {
    pub time: f64,
    pub qpm: f64,
}

/// A time-signature event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSignature {
    pub time: f64,
    pub numerator: u32,
    pub denominator: u32,
}

/// Per-instrument information kept from the source file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstrumentInfo {
    pub index: u32,
    pub program: u8,
    pub channel: u8,
    pub track: usize,
    pub is_drum: bool,
    pub name: String,
}

/// An unquantized note sequence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NoteSequence {
    pub notes: Vec<Note>,
    pub tempos: Vec<Tempo>,
    pub time_signatures: Vec<TimeSignature>,
    pub instruments: Vec<InstrumentInfo>,
    /// End of the last note, in seconds.
    pub total_time: f64,
    pub ticks_per_quarter: u16,
}

impl NoteSequence {
    /// A sequence of `notes` in 4/4 at a constant `qpm`, its total time set from the notes.
    pub fn four_four(notes: Vec<Note>, qpm: f64) -> NoteSequence {
        let mut seq = NoteSequence {
            notes,
            tempos: vec![Tempo { time: 0.0, qpm }],
            time_signatures: vec![TimeSignature {
                time: 0.0,
                numerator: 4,
                denominator: 4,
            }],
            ..Default::default()
        };
        seq.update_total_time();
        seq
    }

    /// The tempo in force at time 0 (or the default).
    pub fn initial_qpm(&self) -> f64 {
        self.tempos
            .iter()
            .rfind(|t| t.time <= 0.0)
            .map(|t| t.qpm)
            .unwrap_or(DEFAULT_QPM)
    }

    /// Recompute `total_time` from the notes.
    pub fn update_total_time(&mut self) {
        self.total_time = self.notes.iter().map(|n| n.end_time).fold(0.0, f64::max);
    }

    /// Number of distinct instruments that have notes.
    pub fn instrument_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.notes.iter().map(|n| n.instrument).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}
