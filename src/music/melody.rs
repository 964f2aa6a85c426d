//! Monophonic melodies: extraction from a quantized section with Magenta's rules
//! (`melody_pipelines.extract_melodies` + note_seq `Melody.from_quantized_sequence`), the 90-class
//! one-hot tokens of `OneHotMelodyConverter`, and decoding tokens back to notes.
//!
//! Tokens: 0 = no event (hold the sounding note or continue the rest), 1 = note-off,
//! 2..=89 = onset of MIDI pitch 21..=108.

use super::note_sequence::{Note, NoteSequence};
use super::quantize::{QuantizedNote, QuantizedSequence, STEPS_PER_BAR};

/// Number of melody token classes.
pub const MELODY_CLASSES: usize = 90;
pub const MIN_PITCH: u8 = 21;
pub const MAX_PITCH: u8 = 108;
pub const NO_EVENT: u16 = 0;
pub const NOTE_OFF: u16 = 1;

/// Token for an onset of `pitch` (must be in 21..=108).
pub fn pitch_token(pitch: u8) -> u16 {
    (pitch - MIN_PITCH) as u16 + 2
}

/// Pitch of an onset token, or None for no-event / note-off / out of range.
pub fn token_pitch(token: u16) -> Option<u8> {
    if (2..MELODY_CLASSES as u16).contains(&token) {
        Some((token - 2) as u8 + MIN_PITCH)
    } else {
        None
    }
}

/// Options of Magenta's melody extraction as `OneHotMelodyConverter` calls it.
#[derive(Debug, Clone)]
pub struct MelodyOptions {
    /// Programs kept (None = all). The 2-bar configs keep 0..=31 (MEL_PROGRAMS).
    pub valid_programs: Option<std::ops::RangeInclusive<u8>>,
    pub gap_bars: f64,
    pub min_bars: usize,
    /// Melodies longer than this many bars are truncated (converter max_bars = 100).
    pub max_bars: usize,
    pub min_unique_pitches: usize,
    pub ignore_polyphonic_notes: bool,
}

impl Default for MelodyOptions {
    fn default() -> Self {
        MelodyOptions {
            valid_programs: None,
            gap_bars: 1.0,
            min_bars: 1,
            max_bars: 100,
            min_unique_pitches: 1,
            ignore_polyphonic_notes: true,
        }
    }
}

/// An extracted melody: tokens from a bar boundary, length a multiple of 16.
#[derive(Debug, Clone, PartialEq)]
pub struct Melody {
    pub instrument: u32,
    pub program: u8,
    /// First step of the melody in the section (a bar boundary).
    pub start_step: i64,
    pub tokens: Vec<u16>,
}

/// Working melody in note_seq's event encoding (-2 no event, -1 off, pitch ≥ 0), stored sparsely:
/// the melody is `len` steps long and `ev` lists its steps that are not "no event", in step order.
/// Memory is then proportional to the notes, not to their lengths: one note held for a billion
/// steps costs two entries (a dense buffer sized by the note's end step asked for GiBs).
struct Events {
    len: i64,
    ev: Vec<(i64, i32)>,
}

const EV_NO: i32 = -2;
const EV_OFF: i32 = -1;

impl Events {
    /// note_seq `Melody.set_length`: truncate, or pad with no-events; when extending, a note still
    /// sounding at the old end gets a note-off there.
    fn set_length(&mut self, n: i64) {
        let old = self.len;
        if n > old {
            if let Some(&(_, last)) = self.ev.last() {
                if last != EV_OFF {
                    self.ev.push((old, EV_OFF));
                }
            }
        } else {
            let keep = self.ev.partition_point(|&(i, _)| i < n);
            self.ev.truncate(keep);
        }
        self.len = n;
    }
    fn add_note(&mut self, pitch: i32, start: i64, end: i64) {
        self.set_length(end + 1);
        // Steps start..=end are overwritten: drop what was there (entries are in step order).
        let keep = self.ev.partition_point(|&(i, _)| i < start);
        self.ev.truncate(keep);
        self.ev.push((start, pitch));
        if end > start {
            self.ev.push((end, EV_OFF));
        }
    }
    /// (index of last onset, index of first note-off after it or len)
    fn last_on_off(&self) -> (i64, i64) {
        let mut last_off = self.len;
        for &(i, e) in self.ev.iter().rev() {
            if e == EV_OFF {
                last_off = i;
            }
            if e >= 0 {
                return (i, last_off);
            }
        }
        (-1, last_off)
    }
    /// The first `min(len, max)` steps as a dense event list.
    fn dense(&self, max: usize) -> Vec<i32> {
        let n = (self.len.max(0) as usize).min(max);
        let mut out = vec![EV_NO; n];
        for &(i, e) in &self.ev {
            match usize::try_from(i) {
                Ok(i) if i < n => out[i] = e,
                _ => break,
            }
        }
        out
    }
}

/// One `Melody.from_quantized_sequence` call over the notes of one instrument, `notes` already
/// sorted by (start step, pitch descending) — the order note_seq sorts them in — and starting at or
/// after `search_start`. Returns (events, start_step, end_step).
fn melody_from_quantized(
    notes: &[&QuantizedNote],
    search_start: i64,
    gap_bars: f64,
    ignore_polyphonic: bool,
    pad_end: bool,
) -> Option<(Events, i64, i64)> {
    let spb = STEPS_PER_BAR as i64;
    let first = notes.first()?;
    let melody_start = first.start_step - (first.start_step - search_start).rem_euclid(spb);
    let mut m = Events {
        len: 0,
        ev: Vec::new(),
    };
    for n in notes {
        if n.is_drum || n.velocity == 0 {
            continue;
        }
        let start = n.start_step - melody_start;
        // A note always ends after it starts once quantized; keep that true for any input.
        let end = (n.end_step - melody_start).max(start + 1);
        if m.len == 0 {
            m.add_note(n.pitch as i32, start, end);
            continue;
        }
        let (last_on, last_off) = m.last_on_off();
        let on_distance = start - last_on;
        let off_distance = start - last_off;
        if on_distance == 0 {
            if ignore_polyphonic {
                continue;
            }
            return None;
        }
        if off_distance as f64 >= gap_bars * spb as f64 {
            break;
        }
        m.add_note(n.pitch as i32, start, end);
    }
    if m.len == 0 {
        return Some((m, 0, 0));
    }
    if m.ev.last() == Some(&(m.len - 1, EV_OFF)) {
        m.ev.pop();
        m.len -= 1;
    }
    let mut len = m.len;
    if pad_end {
        len += (spb - len % spb) % spb;
    }
    m.set_length(len);
    Some((m, melody_start, melody_start + len))
}

fn event_to_token(e: i32) -> u16 {
    match e {
        EV_NO => NO_EVENT,
        EV_OFF => NOTE_OFF,
        p => pitch_token(p as u8),
    }
}

/// Delete notes the converter ignores (programs outside `valid_programs`, pitches outside 21..=108).
pub fn filter_notes(q: &QuantizedSequence, opts: &MelodyOptions) -> QuantizedSequence {
    let mut out = q.clone();
    out.notes.retain(|n| {
        opts.valid_programs
            .as_ref()
            .is_none_or(|r| r.contains(&n.program))
            && (MIN_PITCH..=MAX_PITCH).contains(&n.pitch)
    });
    out
}

/// Extract every melody of a quantized 16-step-bar section (Magenta `extract_melodies`).
///
/// The notes of each instrument are sorted once; each melody search then starts at the first note
/// at or after the search step (a binary search), so N notes cost O(N log N), not O(N² log N).
pub fn extract_melodies(q: &QuantizedSequence, opts: &MelodyOptions) -> Vec<Melody> {
    let q = filter_notes(q, opts);
    let spb = STEPS_PER_BAR as i64;
    // Notes per instrument (ascending), each list in the order note_seq sorts them: the stable
    // sort of the whole list, then filtering by start step, equals filtering then sorting.
    let mut by_inst: std::collections::BTreeMap<u32, Vec<&QuantizedNote>> = Default::default();
    for n in &q.notes {
        by_inst.entry(n.instrument).or_default().push(n);
    }
    let mut out = Vec::new();
    let max_steps = opts.max_bars * STEPS_PER_BAR as usize;
    for (inst, mut notes) in by_inst {
        let program = notes.first().map(|n| n.program).unwrap_or(0);
        notes.sort_by(|a, b| {
            a.start_step
                .cmp(&b.start_step)
                .then((b.pitch as i32).cmp(&(a.pitch as i32)))
        });
        let mut search = 0i64;
        loop {
            let from = notes.partition_point(|n| n.start_step < search);
            let Some((m, start, end)) = melody_from_quantized(
                &notes[from..],
                search,
                opts.gap_bars,
                opts.ignore_polyphonic_notes,
                true,
            ) else {
                break;
            };
            search = end + (0 - end).rem_euclid(spb);
            if m.len == 0 {
                break;
            }
            if m.len < spb * opts.min_bars as i64 {
                continue;
            }
            // Melodies longer than max_bars are truncated (to whole bars): only that part is
            // ever materialised.
            let ev = m.dense(max_steps - max_steps % spb as usize);
            let mut pitches: Vec<i32> = ev.iter().copied().filter(|&e| e >= 0).collect();
            pitches.sort_unstable();
            pitches.dedup();
            if pitches.len() < opts.min_unique_pitches {
                continue;
            }
            out.push(Melody {
                instrument: inst,
                program,
                start_step: start,
                tokens: ev.into_iter().map(event_to_token).collect(),
            });
        }
    }
    out
}

/// Sliding windows of `len` steps with a hop of one bar (Magenta's slicing), in order, not
/// deduplicated. Plain slices: used for drum tracks.
pub fn slice_windows(tokens: &[u16], len: usize) -> Vec<Vec<u16>> {
    let mut out = Vec::new();
    let mut i = len;
    while i <= tokens.len() && len > 0 {
        out.push(tokens[i - len..i].to_vec());
        i += STEPS_PER_BAR as usize;
    }
    out
}

/// Melody windows: [`slice_windows`], then, as in Magenta (each window is a new `Melody`, whose
/// constructor drops note-offs before its first onset), note-offs before the first onset become
/// no-events.
pub fn windows(tokens: &[u16], len: usize) -> Vec<Vec<u16>> {
    let mut out = slice_windows(tokens, len);
    for w in &mut out {
        for t in w.iter_mut().take_while(|t| token_pitch(**t).is_none()) {
            *t = NO_EVENT;
        }
    }
    out
}

/// Decode melody tokens to notes (note_seq `Melody.to_sequence`): an onset ends the sounding note,
/// a note-off ends it, the end of the sequence ends it.
pub fn tokens_to_notes(
    tokens: &[u16],
    qpm: f64,
    start_time: f64,
    velocity: u8,
    program: u8,
    instrument: u32,
) -> Vec<Note> {
    let sps = 60.0 / qpm / 4.0;
    let mut notes: Vec<Note> = Vec::new();
    let mut current: Option<usize> = None;
    for (step, &t) in tokens.iter().enumerate() {
        let time = step as f64 * sps + start_time;
        if let Some(p) = token_pitch(t) {
            if let Some(c) = current {
                notes[c].end_time = time;
            }
            notes.push(Note {
                pitch: p,
                velocity,
                start_time: time,
                end_time: time,
                start_tick: 0,
                end_tick: 0,
                program,
                instrument,
                is_drum: false,
            });
            current = Some(notes.len() - 1);
        } else if t == NOTE_OFF {
            if let Some(c) = current.take() {
                notes[c].end_time = time;
            }
        }
    }
    if let Some(c) = current {
        notes[c].end_time = tokens.len() as f64 * sps + start_time;
    }
    notes
}

/// A note sequence holding one decoded melody (4/4, `qpm`).
pub fn melody_to_sequence(tokens: &[u16], qpm: f64) -> NoteSequence {
    NoteSequence::four_four(tokens_to_notes(tokens, qpm, 0.0, 80, 0, 0), qpm)
}

/// Canonical form of a window: a note-off with no sounding note carries no information and
/// is written as no-event (the only loss in tokens → MIDI → tokens).
pub fn canonical(tokens: &[u16]) -> Vec<u16> {
    let mut sounding = false;
    tokens
        .iter()
        .map(|&t| {
            if token_pitch(t).is_some() {
                sounding = true;
                t
            } else if t == NOTE_OFF {
                if sounding {
                    sounding = false;
                    t
                } else {
                    NO_EVENT
                }
            } else {
                t
            }
        })
        .collect()
}

/// Tokens of a quantized single-instrument section placed on a fixed grid of `len` steps from step 0
/// (no Magenta extraction: used to read back a window we wrote ourselves).
pub fn grid_tokens(q: &QuantizedSequence, len: usize) -> Vec<u16> {
    let mut ev = vec![EV_NO; len + 1];
    let mut notes: Vec<_> = q.notes.iter().filter(|n| !n.is_drum).collect();
    notes.sort_by(|a, b| a.start_step.cmp(&b.start_step).then(b.pitch.cmp(&a.pitch)));
    let mut last_on: i64 = -1;
    for n in notes {
        let s = n.start_step;
        if s == last_on || s < 0 || s as usize >= len {
            continue;
        }
        let e = (n.end_step as usize).min(len);
        ev[s as usize] = n.pitch as i32;
        for x in &mut ev[s as usize + 1..e] {
            *x = EV_NO;
        }
        ev[e] = EV_OFF;
        for x in &mut ev[e + 1..] {
            *x = EV_NO;
        }
        last_on = s;
    }
    ev.truncate(len);
    ev.into_iter()
        .map(|e| {
            if (0..MIN_PITCH as i32).contains(&e) || e > MAX_PITCH as i32 {
                NO_EVENT
            } else {
                event_to_token(e)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qn(pitch: u8, s: i64, e: i64) -> QuantizedNote {
        QuantizedNote {
            pitch,
            velocity: 90,
            start_step: s,
            end_step: e,
            program: 0,
            instrument: 0,
            is_drum: false,
        }
    }
    fn qs(notes: Vec<QuantizedNote>) -> QuantizedSequence {
        let total = notes.iter().map(|n| n.end_step).max().unwrap_or(0);
        QuantizedSequence::four_four(notes, total)
    }

    #[test]
    fn token_mapping() {
        assert_eq!(pitch_token(21), 2);
        assert_eq!(pitch_token(108), 89);
        assert_eq!(token_pitch(89), Some(108));
        assert_eq!(token_pitch(1), None);
    }

    #[test]
    fn extraction_basic_and_polyphony_keeps_highest() {
        // Two notes at step 0 (60 and 64): 64 wins. Note 62 at step 4 cuts it.
        let q = qs(vec![qn(60, 0, 8), qn(64, 0, 2), qn(62, 4, 6)]);
        let m = extract_melodies(&q, &MelodyOptions::default());
        assert_eq!(m.len(), 1);
        let t = &m[0].tokens;
        assert_eq!(t.len(), 16);
        assert_eq!(t[0], pitch_token(64));
        assert_eq!(t[2], NOTE_OFF);
        assert_eq!(t[4], pitch_token(62));
        // Magenta strips the final note-off, then padding to the bar ends the sounding note where it
        // stopped (note_seq `Melody.set_length`).
        assert_eq!(t[6], NOTE_OFF);
        assert!(t[7..].iter().all(|&x| x == NO_EVENT));
    }

    #[test]
    fn gap_of_a_bar_splits_and_leading_bars_dropped() {
        // Note in bar 1 (steps 16..20), then a gap ≥ 16 steps, then a note in bar 4.
        let q = qs(vec![qn(60, 17, 20), qn(62, 64, 66)]);
        let m = extract_melodies(&q, &MelodyOptions::default());
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].start_step, 16);
        assert_eq!(m[0].tokens[1], pitch_token(60));
        // Trailing note-off stripped, then restored by the padding to a bar.
        assert_eq!(m[0].tokens.len(), 16);
        assert_eq!(m[0].tokens[4], NOTE_OFF);
        assert_eq!(m[1].start_step, 64);
    }

    #[test]
    fn windows_hop_one_bar() {
        let t: Vec<u16> = (0..64).map(|i| (i % 90) as u16).collect();
        let w = windows(&t, 32);
        assert_eq!(w.len(), 3);
        assert_eq!(w[1][0], 16);
        // A leading note-off (no sounding note inside the window) becomes a no-event.
        let t = vec![
            40, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 42, 1, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0,
        ];
        let w = windows(&t, 16);
        assert_eq!(w[1][..4], [0, 0, 42, 1]);
        assert_eq!(slice_windows(&t, 16)[1][0], 1);
    }

    #[test]
    fn decode_then_grid_is_identity_on_canonical() {
        let t = vec![1u16, 0, 40, 0, 1, 0, 42, 44, 0, 0, 1, 1, 50, 0, 0, 0];
        let seq = melody_to_sequence(&t, 120.0);
        let q = crate::music::quantize::quantize(&seq, 4).unwrap();
        assert_eq!(grid_tokens(&q, 16), canonical(&t));
    }

    #[test]
    fn a_note_of_a_trillion_steps_costs_two_events_and_is_cut_at_max_bars() {
        use crate::music::quantize::MAX_STEP;
        // One note held to the step cap, then one far later: memory follows the notes.
        let q = qs(vec![qn(60, 0, MAX_STEP), qn(62, MAX_STEP, MAX_STEP + 1)]);
        let m = extract_melodies(&q, &MelodyOptions::default());
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].tokens.len(), 100 * 16);
        assert_eq!(m[0].tokens[0], pitch_token(60));
        assert!(m[0].tokens[1..].iter().all(|&t| t == NO_EVENT));
    }

    #[test]
    fn many_melodies_separated_by_bars_are_found_in_order() {
        // 20k one-bar melodies, each alone in its bar with a bar of rest: every one is found.
        let notes: Vec<_> = (0..20_000i64)
            .map(|i| qn(40 + (i % 40) as u8, i * 32, i * 32 + 2))
            .collect();
        let m = extract_melodies(&qs(notes), &MelodyOptions::default());
        assert_eq!(m.len(), 20_000);
        assert_eq!(m[19_999].start_step, 19_999 * 32);
    }
}
