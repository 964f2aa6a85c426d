//! Music representation: MIDI ↔ note sequence ↔ quantized sections ↔ MusicVAE tokens.

pub mod drums;
pub mod melody;
pub mod midi_in;
pub mod midi_out;
pub mod note_sequence;
pub mod quantize;
pub mod trio;

pub use midi_in::read_midi_file;
pub use midi_out::write_midi_file;
pub use note_sequence::{Note, NoteSequence};
