//! Drum tracks: Magenta's 9-class drum map, extraction (note_seq `DrumTrack.from_quantized_sequence`
//! + `extract_drum_tracks`) and the 512-way token (index = Σ 2^class of the classes hit).

use super::note_sequence::Note;
use super::quantize::{QuantizedSequence, STEPS_PER_BAR};

pub const DRUM_CLASSES: usize = 9;
pub const DRUM_TOKENS: usize = 512;

/// Magenta's `DEFAULT_DRUM_TYPE_PITCHES`; the first pitch of each class is the one written back.
pub const DRUM_CLASS_PITCHES: [&[u8]; DRUM_CLASSES] = [
    &[36, 35],
    &[38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85],
    &[42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22],
    &[46, 67, 72, 74, 79, 81, 26],
    &[45, 29, 41, 43, 61, 64, 84],
    &[48, 47, 60, 63, 77, 86, 87],
    &[50, 30, 62, 76, 83],
    &[49, 52, 55, 57, 58],
    &[51, 53, 59, 82],
];

pub const DRUM_CLASS_NAMES: [&str; DRUM_CLASSES] = [
    "kick",
    "snare",
    "closed hi-hat",
    "open hi-hat",
    "low tom",
    "mid tom",
    "high tom",
    "crash",
    "ride",
];

/// Class of a General MIDI drum pitch, if mapped.
pub fn drum_class(pitch: u8) -> Option<usize> {
    DRUM_CLASS_PITCHES.iter().position(|ps| ps.contains(&pitch))
}

/// An extracted drum track: one token per step.
#[derive(Debug, Clone, PartialEq)]
pub struct DrumTrack {
    pub start_step: i64,
    pub tokens: Vec<u16>,
}

/// Extract drum tracks (all drum instruments together) with Magenta's DrumsConverter options:
/// min 1 bar, gap 1 bar, truncated to 100 bars, padded to a bar. Unmapped pitches are dropped first.
///
/// Hits are merged into one (step, classes) list sorted by step once, and each track search starts
/// at its first step by binary search: O(N log N) in the hits. A track's tokens are stored only up
/// to `max_bars` bars; its full length is still counted, since it decides where the next search
/// starts.
pub fn extract_drum_tracks(
    q: &QuantizedSequence,
    gap_bars: f64,
    max_bars: usize,
) -> Vec<DrumTrack> {
    let spb = STEPS_PER_BAR as i64;
    let mut hits: Vec<(i64, u16)> = q
        .notes
        .iter()
        .filter(|n| n.is_drum && n.velocity > 0)
        .filter_map(|n| drum_class(n.pitch).map(|c| (n.start_step, 1u16 << c)))
        .collect();
    hits.sort_by_key(|h| h.0);
    // One entry per step, classes OR-ed together.
    let mut steps: Vec<(i64, u16)> = Vec::with_capacity(hits.len());
    for (s, tok) in hits {
        match steps.last_mut() {
            Some(last) if last.0 == s => last.1 |= tok,
            _ => steps.push((s, tok)),
        }
    }
    let max_steps = max_bars * spb as usize;
    let mut out = Vec::new();
    let mut search = 0i64;
    loop {
        let from = steps.partition_point(|x| x.0 < search);
        let Some(&(first, _)) = steps.get(from) else {
            break;
        };
        let start = first - (first - search).rem_euclid(spb);
        let mut ev: Vec<u16> = Vec::new();
        let mut len = 0i64;
        let mut gap_start = 0i64;
        for &(s, tok) in &steps[from..] {
            let idx = s - start;
            if len > 0 && (idx - gap_start) as f64 >= gap_bars * spb as f64 {
                break;
            }
            len = idx + 1;
            if (idx as usize) < max_steps {
                ev.resize(idx as usize + 1, 0);
                ev[idx as usize] = tok;
            }
            gap_start = idx + 1;
        }
        len += (spb - len % spb) % spb;
        let end = start + len;
        search = end + (0 - end).rem_euclid(spb);
        if len < spb {
            continue;
        }
        ev.resize((len as usize).min(max_steps), 0);
        out.push(DrumTrack {
            start_step: start,
            tokens: ev,
        });
    }
    out
}

/// Decode drum tokens to one-step drum notes (first pitch of each class, channel 10).
pub fn drum_tokens_to_notes(tokens: &[u16], qpm: f64, velocity: u8, instrument: u32) -> Vec<Note> {
    let sps = 60.0 / qpm / 4.0;
    let mut notes = Vec::new();
    for (step, &t) in tokens.iter().enumerate() {
        for (c, pitches) in DRUM_CLASS_PITCHES.iter().enumerate() {
            if t & (1 << c) != 0 {
                notes.push(Note {
                    pitch: pitches[0],
                    velocity,
                    start_time: step as f64 * sps,
                    end_time: (step + 1) as f64 * sps,
                    start_tick: 0,
                    end_tick: 0,
                    program: 0,
                    instrument,
                    is_drum: true,
                });
            }
        }
    }
    notes
}

/// Drum tokens of a section placed on a fixed grid from step 0 (reading back a window we wrote).
pub fn drum_grid_tokens(q: &QuantizedSequence, len: usize) -> Vec<u16> {
    let mut out = vec![0u16; len];
    for n in q.notes.iter().filter(|n| n.is_drum && n.velocity > 0) {
        if let (Some(c), true) = (drum_class(n.pitch), (0..len as i64).contains(&n.start_step)) {
            out[n.start_step as usize] |= 1 << c;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::quantize::QuantizedNote;

    fn hit(pitch: u8, s: i64) -> QuantizedNote {
        QuantizedNote {
            pitch,
            velocity: 100,
            start_step: s,
            end_step: s + 1,
            program: 0,
            instrument: 0,
            is_drum: true,
        }
    }

    #[test]
    fn map_and_tokens() {
        assert_eq!(drum_class(36), Some(0));
        assert_eq!(drum_class(35), Some(0));
        assert_eq!(drum_class(22), Some(2));
        assert_eq!(drum_class(1), None);
        let q =
            QuantizedSequence::four_four(vec![hit(36, 0), hit(42, 0), hit(38, 4), hit(51, 8)], 16);
        let t = extract_drum_tracks(&q, 1.0, 100);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].tokens.len(), 16);
        assert_eq!(t[0].tokens[0], 1 | 4);
        assert_eq!(t[0].tokens[4], 2);
        assert_eq!(t[0].tokens[8], 256);
        let notes = drum_tokens_to_notes(&t[0].tokens, 120.0, 100, 9);
        assert_eq!(notes.len(), 4);
    }

    #[test]
    fn far_apart_hits_make_separate_tracks_without_filling_the_gap() {
        let far = 1i64 << 39;
        let q = QuantizedSequence::four_four(
            vec![hit(36, 0), hit(38, 1), hit(42, far), hit(36, far)],
            far + 1,
        );
        let t = extract_drum_tracks(&q, 1.0, 100);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].start_step, t[0].tokens.len()), (0, 16));
        assert_eq!((t[1].start_step, t[1].tokens[0]), (far, 1 | 4));
    }
}
