//! One entry point from MIDI bytes through every converter: parse → split and quantize → melody
//! (2 and 16 bars), drums and trio windows. `inspect` reports it; the fuzz tests drive it.

use super::converter::{extract, ConverterConfig, Extraction};
use crate::music::midi_in::parse_midi;
use crate::music::NoteSequence;

/// The converters `inspect` reports: (short name, Magenta config name).
pub const INSPECT_CONVERTERS: [(&str, &str); 4] = [
    ("mel_2bar", "cat-mel_2bar"),
    ("mel_16bar", "hierdec-mel_16bar"),
    ("drums_2bar", "cat-drums_2bar"),
    ("trio_16bar", "hierdec-trio_16bar"),
];

/// Every window of `seq` for each converter of [`INSPECT_CONVERTERS`], in that order.
pub fn analyse(seq: &NoteSequence) -> Vec<(&'static str, Extraction)> {
    INSPECT_CONVERTERS
        .iter()
        .filter_map(|&(short, name)| {
            ConverterConfig::named(name).map(|cfg| (short, extract(seq, &cfg)))
        })
        .collect()
}

/// What [`analyse_bytes`] found in a file.
#[derive(Debug)]
pub struct Analysis {
    pub sequence: NoteSequence,
    pub extractions: Vec<(&'static str, Extraction)>,
}

/// Parse MIDI bytes and run every converter. An unreadable file is an `Err` with a one-line reason;
/// any input, however hostile, returns (bounded time and memory, never a panic).
pub fn analyse_bytes(bytes: &[u8]) -> Result<Analysis, String> {
    if bytes.len() as u64 > crate::music::midi_in::MAX_MIDI_BYTES {
        return Err("larger than the MIDI size limit".into());
    }
    let sequence = parse_midi(bytes)?;
    let extractions = analyse(&sequence);
    Ok(Analysis {
        sequence,
        extractions,
    })
}
