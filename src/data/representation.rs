//! One place per music representation, as Magenta has one converter class per representation
//! (`OneHotMelodyConverter`, `DrumsConverter`, `TrioConverter` in `music_vae/data.py`): what a
//! window of each holds (tracks, token vocabularies, input encodings), which notes of a sequence
//! feed which track, which tracks transpose, and how tokens are written back as notes. Everything
//! else asks [`DataKind::representation`] instead of matching on the kind.

use super::converter::DataKind;
use crate::music::drums::{drum_grid_tokens, drum_tokens_to_notes, DRUM_CLASSES, DRUM_TOKENS};
use crate::music::melody::{grid_tokens, tokens_to_notes, MELODY_CLASSES};
use crate::music::note_sequence::Note;
use crate::music::quantize::QuantizedSequence;

pub use crate::music::trio::{BASS_PROGRAMS, MEL_PROGRAMS};
/// Velocity of decoded notes (note_seq's default when Magenta writes a melody back).
pub const DECODED_VELOCITY: u8 = 80;

/// Token vocabulary of one track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocab {
    /// note_seq `Melody` events: 0 no event, 1 note off, 2.. onsets of pitches 21..=108 (90 classes).
    Melody,
    /// One token per step: Σ 2^class of Magenta's 9 drum classes hit (512 tokens).
    Drums,
}

impl Vocab {
    /// Number of token classes.
    pub const fn depth(self) -> usize {
        match self {
            Vocab::Melody => MELODY_CLASSES,
            Vocab::Drums => DRUM_TOKENS,
        }
    }
    /// Whether `token` starts a note (a melody onset, or any drum hit).
    pub fn is_onset(self, token: u16) -> bool {
        match self {
            Vocab::Melody => token >= 2,
            Vocab::Drums => token > 0,
        }
    }
}

/// How a track's tokens are fed to the encoder and, shifted by one step, to the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEncoding {
    /// One-hot over the vocabulary.
    OneHot,
    /// 9 drum-class bits + 1 "no hit" bit (`DrumsConverter(roll_input=True)`).
    DrumRoll,
}

impl InputEncoding {
    /// Width of the encoding of one token of `vocab`.
    pub const fn width(self, vocab: Vocab) -> usize {
        match self {
            InputEncoding::OneHot => vocab.depth(),
            InputEncoding::DrumRoll => DRUM_CLASSES + 1,
        }
    }
}

/// One track of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Track {
    /// Its name in legends and listings ("melody", "bass", "drums").
    pub name: &'static str,
    pub vocab: Vocab,
    pub input: InputEncoding,
    /// Programs whose (non-drum) notes belong to this track when a sequence is read back on a grid
    /// or matched for dynamics; None = every program. Drum tracks take the drum notes.
    pub programs: Option<(u8, u8)>,
    /// Program of the notes written for it.
    pub program: u8,
    /// Instrument (MIDI channel) of the notes written for it; drums on channel 10 (9).
    pub instrument: u32,
    /// Transposed by the training augmentation (pitched tracks).
    pub transposes: bool,
}

impl Track {
    const fn pitched(
        name: &'static str,
        programs: Option<(u8, u8)>,
        program: u8,
        instrument: u32,
    ) -> Self {
        Track {
            name,
            vocab: Vocab::Melody,
            input: InputEncoding::OneHot,
            programs,
            program,
            instrument,
            transposes: true,
        }
    }
    const fn drums(input: InputEncoding) -> Self {
        Track {
            name: "drums",
            vocab: Vocab::Drums,
            input,
            programs: None,
            program: 0,
            instrument: 9,
            transposes: false,
        }
    }

    /// Token classes.
    pub const fn depth(&self) -> usize {
        self.vocab.depth()
    }
    /// Width of the per-step input encoding.
    pub const fn input_width(&self) -> usize {
        self.input.width(self.vocab)
    }
    pub fn is_drums(&self) -> bool {
        self.vocab == Vocab::Drums
    }
    /// Whether a non-drum note of `program` belongs to this pitched track.
    pub fn takes_program(&self, program: u8) -> bool {
        !self.is_drums()
            && self
                .programs
                .is_none_or(|(a, b)| (a..=b).contains(&program))
    }
    /// The track's tokens as notes at `qpm` (velocity [`DECODED_VELOCITY`]).
    pub fn to_notes(&self, tokens: &[u16], qpm: f64) -> Vec<Note> {
        match self.vocab {
            Vocab::Melody => tokens_to_notes(
                tokens,
                qpm,
                0.0,
                DECODED_VELOCITY,
                self.program,
                self.instrument,
            ),
            Vocab::Drums => drum_tokens_to_notes(tokens, qpm, DECODED_VELOCITY, self.instrument),
        }
    }
    /// The track's tokens read from a quantized sequence on a fixed grid from step 0.
    pub fn grid_tokens(&self, q: &QuantizedSequence, steps: usize) -> Vec<u16> {
        match (self.vocab, self.programs) {
            (Vocab::Drums, _) => drum_grid_tokens(q, steps),
            (Vocab::Melody, None) => grid_tokens(q, steps),
            (Vocab::Melody, Some(_)) => {
                let mut own = q.clone();
                own.notes
                    .retain(|n| !n.is_drum && self.takes_program(n.program));
                grid_tokens(&own, steps)
            }
        }
    }
}

/// Everything about one representation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Representation {
    pub kind: DataKind,
    /// Its name in messages ("melody", "drums", "trio").
    pub name: &'static str,
    /// Its part of Magenta's converter names (`mel_2bar`, `drums_2bar`, `trio_16bar`).
    pub short_name: &'static str,
    /// The Magenta converter class it reproduces.
    pub magenta_class: &'static str,
    /// The tracks of a window, in order.
    pub tracks: &'static [Track],
    /// Windows are cut from one instrument at a time (their origin names it).
    pub per_instrument: bool,
    /// Converter defaults: `gap_bars` and `max_bars`.
    pub gap_bars: f64,
    pub max_bars: usize,
}

/// `OneHotMelodyConverter`: one 90-class melody track, one-hot input.
pub const MELODY: Representation = Representation {
    kind: DataKind::Melody,
    name: "melody",
    short_name: "mel",
    magenta_class: "OneHotMelodyConverter",
    tracks: &[Track::pitched("melody", None, 0, 0)],
    per_instrument: true,
    gap_bars: 1.0,
    max_bars: 100,
};

/// `DrumsConverter(roll_input=True)`: one 512-token drum track, drum-roll input.
pub const DRUMS: Representation = Representation {
    kind: DataKind::Drums,
    name: "drums",
    short_name: "drums",
    magenta_class: "DrumsConverter",
    tracks: &[Track::drums(InputEncoding::DrumRoll)],
    per_instrument: false,
    gap_bars: 1.0,
    max_bars: 100,
};

/// `TrioConverter`: melody (programs 0–31), bass (32–39, written as program 33) and drums, all
/// one-hot.
pub const TRIO: Representation = Representation {
    kind: DataKind::Trio,
    name: "trio",
    short_name: "trio",
    magenta_class: "TrioConverter",
    tracks: &[
        Track::pitched("melody", Some(MEL_PROGRAMS), 0, 0),
        Track::pitched("bass", Some(BASS_PROGRAMS), 33, 1),
        Track::drums(InputEncoding::OneHot),
    ],
    per_instrument: false,
    gap_bars: 2.0,
    max_bars: 1024,
};

/// Every representation.
pub const REPRESENTATIONS: [&Representation; 3] = [&MELODY, &DRUMS, &TRIO];

impl Representation {
    /// Token classes per track (melody 90; drums 512; trio 90 + 90 + 512).
    pub fn track_depths(&self) -> Vec<usize> {
        self.tracks.iter().map(Track::depth).collect()
    }
    /// Width of the concatenated per-step input.
    pub fn input_width(&self) -> usize {
        self.tracks.iter().map(Track::input_width).sum()
    }
    /// The first pitched track (the melody), if any.
    pub fn melody_track(&self) -> Option<usize> {
        self.tracks.iter().position(|t| !t.is_drums())
    }
    /// Track a note of the input belongs to: drums to the drum track; other notes to the pitched
    /// track that takes their program, else to the melody.
    pub fn track_of(&self, is_drum: bool, program: u8) -> Option<usize> {
        if is_drum {
            self.tracks.iter().position(Track::is_drums)
        } else {
            self.tracks
                .iter()
                .position(|t| t.takes_program(program))
                .or_else(|| self.melody_track())
        }
    }
    /// Instruments and names of the pitched tracks of decoded phrases, for legends.
    pub fn instrument_names(&self) -> Vec<(u32, String)> {
        self.tracks
            .iter()
            .filter(|t| !t.is_drums())
            .map(|t| (t.instrument, t.name.to_string()))
            .collect()
    }
    /// Onsets in a window (all tracks; drums: steps with a hit).
    pub fn onsets(&self, tracks: &[Vec<u16>]) -> usize {
        tracks
            .iter()
            .zip(self.tracks)
            .map(|(t, spec)| t.iter().filter(|&&x| spec.vocab.is_onset(x)).count())
            .sum()
    }
    /// Transpose the pitched tracks by `k` semitones when every onset stays in range (else
    /// unchanged). Drum tracks never move.
    pub fn transpose(&self, tracks: &[Vec<u16>], k: i32) -> Option<Vec<Vec<u16>>> {
        let moving = || {
            tracks
                .iter()
                .zip(self.tracks)
                .filter(|(_, spec)| spec.transposes)
                .flat_map(|(t, _)| t)
        };
        if k == 0 || moving().next().is_none() {
            return None;
        }
        let fits = moving().all(|&t| t < 2 || (2..MELODY_CLASSES as i32).contains(&(t as i32 + k)));
        if !fits {
            return None;
        }
        Some(
            tracks
                .iter()
                .zip(self.tracks)
                .map(|(t, spec)| {
                    if spec.transposes {
                        t.iter()
                            .map(|&x| if x >= 2 { (x as i32 + k) as u16 } else { x })
                            .collect()
                    } else {
                        t.clone()
                    }
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_of_each_representation() {
        assert_eq!(MELODY.track_depths(), vec![90]);
        assert_eq!(DRUMS.track_depths(), vec![512]);
        assert_eq!(TRIO.track_depths(), vec![90, 90, 512]);
        assert_eq!(MELODY.input_width(), 90);
        assert_eq!(DRUMS.input_width(), 10);
        assert_eq!(TRIO.input_width(), 692);
        for r in REPRESENTATIONS {
            assert_eq!(r.kind.representation(), r);
        }
        assert_eq!(TRIO.track_of(true, 0), Some(2));
        assert_eq!(TRIO.track_of(false, 35), Some(1));
        assert_eq!(TRIO.track_of(false, 50), Some(0));
        assert_eq!(DRUMS.track_of(false, 0), None);
        assert_eq!(MELODY.track_of(true, 0), None);
        assert_eq!(DRUMS.melody_track(), None);
        assert_eq!(TRIO.instrument_names().len(), 2);
    }

    #[test]
    fn transpose_moves_pitched_tracks_only() {
        let w = vec![vec![2, 0, 1, 50], vec![10, 0, 0, 0], vec![3, 0, 0, 0]];
        let t = TRIO.transpose(&w, 2).unwrap();
        assert_eq!(
            t,
            vec![vec![4, 0, 1, 52], vec![12, 0, 0, 0], vec![3, 0, 0, 0]]
        );
        assert_eq!(TRIO.transpose(&w, -1), None);
        assert_eq!(DRUMS.transpose(&[vec![3]], 2), None);
    }
}
