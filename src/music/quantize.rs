//! Splitting at tempo/meter changes and quantization to a step grid, as note_seq does it
//! (`split_note_sequence_on_time_changes`, `quantize_note_sequence`), so step indices match Magenta's.

use super::note_sequence::{NoteSequence, Tempo, TimeSignature, DEFAULT_QPM};
use serde::{Deserialize, Serialize};

/// Steps per quarter note used by every MusicVAE config.
pub const STEPS_PER_QUARTER: u32 = 4;
/// Steps per 4/4 bar at 4 steps per quarter.
pub const STEPS_PER_BAR: u32 = 16;
/// note_seq's QUANTIZE_CUTOFF.
const QUANTIZE_CUTOFF: f64 = 0.5;
/// Largest step index a quantized time may take (2^40 steps ≈ 4 million hours at 120 qpm). Times
/// beyond it are clamped to it: no converter reads that far (melodies and drum tracks keep 100 bars,
/// trios 1024), and every later step arithmetic (`end + bar`, `bar * 16`) stays far from overflow.
pub const MAX_STEP: i64 = 1 << 40;

/// A note on the step grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantizedNote {
    pub pitch: u8,
    pub velocity: u8,
    pub start_step: i64,
    pub end_step: i64,
    pub program: u8,
    pub instrument: u32,
    pub is_drum: bool,
}

/// A section of constant tempo and meter, quantized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizedSequence {
    pub notes: Vec<QuantizedNote>,
    pub steps_per_quarter: u32,
    pub qpm: f64,
    pub numerator: u32,
    pub denominator: u32,
    pub total_steps: i64,
    /// Where this section starts in the source file, in seconds.
    pub source_start_time: f64,
}

impl QuantizedSequence {
    /// A 4/4 section at 120 qpm and 4 steps per quarter, starting at time 0.
    pub fn four_four(notes: Vec<QuantizedNote>, total_steps: i64) -> QuantizedSequence {
        QuantizedSequence {
            notes,
            steps_per_quarter: 4,
            qpm: 120.0,
            numerator: 4,
            denominator: 4,
            total_steps,
            source_start_time: 0.0,
        }
    }

    /// Steps per bar as a float (note_seq `steps_per_bar_in_quantized_sequence`).
    pub fn steps_per_bar_f64(&self) -> f64 {
        self.steps_per_quarter as f64 * (4.0 / self.denominator as f64) * self.numerator as f64
    }
    /// True when a bar is exactly 16 steps (4/4, 2/2): the only sections MusicVAE uses.
    pub fn has_16_step_bars(&self) -> bool {
        self.steps_per_bar_f64() == STEPS_PER_BAR as f64
    }
}

/// Why a section yields no bars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QuantizeError {
    BadTimeSignature(String),
    MultipleTimeSignatures,
    MultipleTempos,
    NegativeTime,
}

impl std::fmt::Display for QuantizeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuantizeError::BadTimeSignature(s) => write!(f, "bad time signature {s}"),
            QuantizeError::MultipleTimeSignatures => {
                write!(f, "time signature changes inside the section")
            }
            QuantizeError::MultipleTempos => write!(f, "tempo changes inside the section"),
            QuantizeError::NegativeTime => write!(f, "negative note time"),
        }
    }
}

/// A piece of the source between two time changes, with its start time.
#[derive(Debug, Clone)]
pub struct Section {
    pub start_time: f64,
    pub sequence: NoteSequence,
}

enum TimeChange<'a> {
    Ts(&'a TimeSignature),
    Tempo(&'a Tempo),
}

impl TimeChange<'_> {
    fn time(&self) -> f64 {
        match self {
            TimeChange::Ts(t) => t.time,
            TimeChange::Tempo(t) => t.time,
        }
    }
}

/// Split a sequence wherever the tempo or time signature changes (note_seq semantics:
/// a change at time 0 or at or after the last note's end never splits; notes crossing a split
/// are cut at it; each piece carries the tempo and meter in force at its start).
pub fn split_on_time_changes(seq: &NoteSequence) -> Vec<Section> {
    let mut changes: Vec<TimeChange> = seq
        .time_signatures
        .iter()
        .map(TimeChange::Ts)
        .chain(seq.tempos.iter().map(TimeChange::Tempo))
        .collect();
    // Python's sort is stable; time signatures come first on ties, as in note_seq.
    changes.sort_by(|a, b| a.time().total_cmp(&b.time()));
    changes.retain(|c| c.time() < seq.total_time);

    let (mut num, mut den, mut qpm) = (4u32, 4u32, DEFAULT_QPM);
    let mut splits = vec![0.0f64];
    for c in &changes {
        match c {
            TimeChange::Ts(t) => {
                if t.numerator == num && t.denominator == den {
                    continue;
                }
            }
            TimeChange::Tempo(t) => {
                if t.qpm == qpm {
                    continue;
                }
            }
        }
        let last = *splits.last().unwrap_or(&0.0);
        if c.time() > last {
            splits.push(c.time());
        }
        match c {
            TimeChange::Ts(t) => {
                num = t.numerator;
                den = t.denominator;
            }
            TimeChange::Tempo(t) => qpm = t.qpm,
        }
    }
    let last = *splits.last().unwrap_or(&0.0);
    if seq.total_time > last {
        splits.push(seq.total_time);
    }
    if splits.len() < 2 {
        return Vec::new();
    }
    extract_subsequences(seq, &splits)
}

fn extract_subsequences(seq: &NoteSequence, splits: &[f64]) -> Vec<Section> {
    let n = splits.len() - 1;
    let mut pieces: Vec<NoteSequence> = (0..n)
        .map(|_| NoteSequence {
            // No instrument list per piece: quantization never reads it, and a file with many
            // sections and long track names would otherwise copy every name once per section.
            ticks_per_quarter: seq.ticks_per_quarter,
            ..Default::default()
        })
        .collect();
    let mut notes: Vec<&super::note_sequence::Note> = seq.notes.iter().collect();
    notes.sort_by(|a, b| a.start_time.total_cmp(&b.start_time));
    let mut idx: isize = -1;
    for note in notes {
        if note.start_time < splits[0] {
            continue;
        }
        while idx < n as isize && note.start_time >= splits[(idx + 1) as usize] {
            idx += 1;
        }
        if idx == n as isize {
            break;
        }
        let i = idx as usize;
        let mut nn = note.clone();
        nn.start_time -= splits[i];
        nn.end_time = note.end_time.min(splits[i + 1]) - splits[i];
        if nn.end_time > pieces[i].total_time {
            pieces[i].total_time = nn.end_time;
        }
        pieces[i].notes.push(nn);
    }
    // State events (time signatures, tempos): note_seq `_extract_subsequences`.
    fn distribute<T: Clone>(
        events: &[T],
        time: impl Fn(&T) -> f64,
        set_time: impl Fn(&mut T, f64),
        splits: &[f64],
        out: &mut [Vec<T>],
    ) {
        let n = splits.len() - 1;
        let mut sorted: Vec<&T> = events.iter().collect();
        sorted.sort_by(|a, b| time(a).total_cmp(&time(b)));
        let mut previous: Option<&T> = None;
        let mut idx: isize = -1;
        for ev in sorted {
            let t = time(ev);
            if t <= splits[0] {
                previous = Some(ev);
                continue;
            }
            let mut done = false;
            while idx < n as isize && t > splits[(idx + 1) as usize] {
                idx += 1;
                if idx == n as isize {
                    done = true;
                    break;
                }
                if let Some(p) = previous {
                    let mut e = p.clone();
                    set_time(&mut e, 0.0);
                    out[idx as usize].push(e);
                }
            }
            if done || idx == n as isize {
                break;
            }
            if idx >= 0 && t < splits[(idx + 1) as usize] {
                let mut e = ev.clone();
                set_time(&mut e, t - splits[idx as usize]);
                out[idx as usize].push(e);
            }
            previous = Some(ev);
        }
        while idx < n as isize - 1 {
            idx += 1;
            if let Some(p) = previous {
                let mut e = p.clone();
                set_time(&mut e, 0.0);
                out[idx as usize].push(e);
            }
        }
    }
    let mut ts_out: Vec<Vec<TimeSignature>> = vec![Vec::new(); n];
    distribute(
        &seq.time_signatures,
        |t| t.time,
        |t, v| t.time = v,
        splits,
        &mut ts_out,
    );
    let mut tempo_out: Vec<Vec<Tempo>> = vec![Vec::new(); n];
    distribute(
        &seq.tempos,
        |t| t.time,
        |t, v| t.time = v,
        splits,
        &mut tempo_out,
    );
    pieces
        .into_iter()
        .zip(ts_out)
        .zip(tempo_out)
        .enumerate()
        .map(|(i, ((mut p, ts), tempos))| {
            p.time_signatures = ts;
            p.tempos = tempos;
            Section {
                start_time: splits[i],
                sequence: p,
            }
        })
        .collect()
}

fn quantize_to_step(seconds: f64, steps_per_second: f64) -> i64 {
    let steps = seconds * steps_per_second;
    // Python int() truncates toward zero. Clamped to ±MAX_STEP explicitly (a NaN gives 0).
    let step = (steps + (1.0 - QUANTIZE_CUTOFF)).trunc();
    if step.is_nan() {
        0
    } else {
        step.clamp(-(MAX_STEP as f64), MAX_STEP as f64) as i64
    }
}

/// Quantize one constant-tempo, constant-meter section (note_seq `quantize_note_sequence`).
pub fn quantize(
    seq: &NoteSequence,
    steps_per_quarter: u32,
) -> Result<QuantizedSequence, QuantizeError> {
    let (mut num, mut den) = (4u32, 4u32);
    if !seq.time_signatures.is_empty() {
        let mut ts: Vec<&TimeSignature> = seq.time_signatures.iter().collect();
        ts.sort_by(|a, b| a.time.total_cmp(&b.time));
        let first = ts[0];
        if first.time != 0.0 && !(first.numerator == 4 && first.denominator == 4) {
            return Err(QuantizeError::MultipleTimeSignatures);
        }
        let f0 = &seq.time_signatures[0];
        for t in &ts[1..] {
            if t.numerator != f0.numerator || t.denominator != f0.denominator {
                return Err(QuantizeError::MultipleTimeSignatures);
            }
        }
        if first.numerator == 0 || !first.denominator.is_power_of_two() {
            return Err(QuantizeError::BadTimeSignature(format!(
                "{}/{}",
                first.numerator, first.denominator
            )));
        }
        num = f0.numerator;
        den = f0.denominator;
    }
    let qpm = if !seq.tempos.is_empty() {
        let mut tempos: Vec<&Tempo> = seq.tempos.iter().collect();
        tempos.sort_by(|a, b| a.time.total_cmp(&b.time));
        if tempos[0].time != 0.0 && tempos[0].qpm != DEFAULT_QPM {
            return Err(QuantizeError::MultipleTempos);
        }
        let q0 = seq.tempos[0].qpm;
        if tempos[1..].iter().any(|t| t.qpm != q0) {
            return Err(QuantizeError::MultipleTempos);
        }
        q0
    } else {
        DEFAULT_QPM
    };
    let steps_per_second = steps_per_quarter as f64 * qpm / 60.0;
    let mut total_steps = quantize_to_step(seq.total_time, steps_per_second);
    let mut notes = Vec::with_capacity(seq.notes.len());
    for n in &seq.notes {
        let start = quantize_to_step(n.start_time, steps_per_second);
        let mut end = quantize_to_step(n.end_time, steps_per_second);
        if end == start {
            end += 1;
        }
        if start < 0 || end < 0 || n.start_time < 0.0 {
            return Err(QuantizeError::NegativeTime);
        }
        total_steps = total_steps.max(end);
        notes.push(QuantizedNote {
            pitch: n.pitch,
            velocity: n.velocity,
            start_step: start,
            end_step: end,
            program: n.program,
            instrument: n.instrument,
            is_drum: n.is_drum,
        });
    }
    Ok(QuantizedSequence {
        notes,
        steps_per_quarter,
        qpm,
        numerator: num,
        denominator: den,
        total_steps,
        source_start_time: 0.0,
    })
}

/// Outcome of splitting and quantizing one section.
#[derive(Debug, Clone)]
pub struct SectionResult {
    pub start_time: f64,
    pub result: Result<QuantizedSequence, QuantizeError>,
}

/// Split at time changes and quantize every section at 4 steps per quarter.
pub fn quantized_sections(seq: &NoteSequence) -> Vec<SectionResult> {
    split_on_time_changes(seq)
        .into_iter()
        .map(|s| SectionResult {
            start_time: s.start_time,
            result: quantize(&s.sequence, STEPS_PER_QUARTER).map(|mut q| {
                q.source_start_time = s.start_time;
                q
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::note_sequence::Note;

    fn note(pitch: u8, s: f64, e: f64) -> Note {
        Note {
            pitch,
            velocity: 80,
            start_time: s,
            end_time: e,
            start_tick: 0,
            end_tick: 0,
            program: 0,
            instrument: 0,
            is_drum: false,
        }
    }

    #[test]
    fn rounding_matches_note_seq() {
        // 120 qpm, 4 spq → 8 steps per second; 0.0624 s = 0.499 steps → 0; 0.0625 s = 0.5 steps → 1.
        assert_eq!(quantize_to_step(0.0624, 8.0), 0);
        assert_eq!(quantize_to_step(0.0625, 8.0), 1);
        assert_eq!(quantize_to_step(0.1874, 8.0), 1);
    }

    #[test]
    fn steps_are_clamped() {
        assert_eq!(quantize_to_step(1e300, 8.0), MAX_STEP);
        assert_eq!(quantize_to_step(-1e300, 8.0), -MAX_STEP);
        assert_eq!(quantize_to_step(f64::INFINITY, 8.0), MAX_STEP);
        assert_eq!(quantize_to_step(f64::NAN, 8.0), 0);
    }

    #[test]
    fn zero_length_notes_get_one_step() {
        let seq = NoteSequence {
            notes: vec![note(60, 0.0, 0.01)],
            total_time: 0.01,
            ..Default::default()
        };
        let q = quantize(&seq, 4).unwrap();
        assert_eq!((q.notes[0].start_step, q.notes[0].end_step), (0, 1));
    }

    #[test]
    fn splits_at_meter_change_and_cuts_notes() {
        let seq = NoteSequence {
            notes: vec![note(60, 0.0, 3.0), note(62, 2.5, 3.5)],
            tempos: vec![Tempo {
                time: 0.0,
                qpm: 120.0,
            }],
            time_signatures: vec![
                TimeSignature {
                    time: 0.0,
                    numerator: 4,
                    denominator: 4,
                },
                TimeSignature {
                    time: 2.0,
                    numerator: 3,
                    denominator: 4,
                },
            ],
            total_time: 3.5,
            ..Default::default()
        };
        let parts = split_on_time_changes(&seq);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].sequence.notes.len(), 1);
        assert_eq!(parts[0].sequence.notes[0].end_time, 2.0);
        assert_eq!(parts[1].sequence.time_signatures[0].numerator, 3);
        assert_eq!(parts[1].sequence.time_signatures[0].time, 0.0);
        assert_eq!(parts[1].sequence.notes[0].start_time, 0.5);
        let q0 = quantize(&parts[0].sequence, 4).unwrap();
        assert!(q0.has_16_step_bars());
        let q1 = quantize(&parts[1].sequence, 4).unwrap();
        assert!(!q1.has_16_step_bars());
    }

    #[test]
    fn no_change_no_split() {
        let seq = NoteSequence {
            notes: vec![note(60, 0.0, 1.0)],
            tempos: vec![
                Tempo {
                    time: 0.0,
                    qpm: 100.0,
                },
                Tempo {
                    time: 0.5,
                    qpm: 100.0,
                },
            ],
            total_time: 1.0,
            ..Default::default()
        };
        let parts = split_on_time_changes(&seq);
        assert_eq!(parts.len(), 1);
        let q = quantize(&parts[0].sequence, 4).unwrap();
        assert_eq!(q.qpm, 100.0);
    }
}
