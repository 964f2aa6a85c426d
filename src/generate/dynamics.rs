//! Dynamics kept from the input: decoded phrases carry no velocity (the tokens have none), so
//! each decoded note takes the velocity of the input note nearest to it in time and pitch — along
//! an interpolation a blend of A's and B's by the position on the path; drums take the velocity
//! of the nearest input hit of the same drum class. `--velocity N` writes every note at N.

use crate::data::converter::{DataKind, WindowOrigin};
use crate::music::drums::drum_class;
use crate::music::note_sequence::NoteSequence;
use crate::music::quantize::{STEPS_PER_BAR, STEPS_PER_QUARTER};

/// Velocity of notes written without a reference (and of the converter's own output).
pub const DEFAULT_VELOCITY: u8 = 80;

/// A note of an input phrase: its track in the model's window, pitch, onset in steps from the
/// window's start, velocity.
#[derive(Debug, Clone, PartialEq)]
pub struct InputNote {
    pub track: usize,
    pub pitch: u8,
    pub step: f64,
    pub velocity: u8,
}

/// How output notes get their velocity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Velocity {
    /// From the nearest input note (blended along a path).
    Input,
    /// Every note at this velocity (1–127).
    Fixed(u8),
}

impl std::str::FromStr for Velocity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("input") {
            return Ok(Velocity::Input);
        }
        let n = s
            .strip_prefix("fixed")
            .map(|r| r.trim_start_matches([':', '=', ' ']))
            .unwrap_or(s);
        match n.parse::<u8>() {
            Ok(v) if (1..=127).contains(&v) => Ok(Velocity::Fixed(v)),
            _ => Err(format!(
                "'{s}' is not a velocity: use `input` or a number from 1 to 127 (e.g. `fixed:100` or `100`)"
            )),
        }
    }
}

/// Track of the model's window a note belongs to (as the converters lay them out).
fn track_of(kind: DataKind, is_drum: bool, program: u8) -> Option<usize> {
    kind.representation().track_of(is_drum, program)
}

/// The notes of `seq` inside the window that `origin` describes (`steps` long at `qpm`), in
/// window steps. Melody windows keep the melody's own instrument only.
pub fn window_input_notes(
    seq: &NoteSequence,
    kind: DataKind,
    origin: &WindowOrigin,
    qpm: f64,
    steps: usize,
) -> Vec<InputNote> {
    let steps_per_second = qpm / 60.0 * STEPS_PER_QUARTER as f64;
    let t0 = origin.start_time;
    let t1 = t0 + steps as f64 / steps_per_second;
    seq.notes
        .iter()
        .filter(|n| n.start_time >= t0 - 1e-9 && n.start_time < t1 && n.velocity > 0)
        .filter(|n| {
            !kind.representation().per_instrument
                || origin.instrument.is_none_or(|i| i == n.instrument)
        })
        .filter_map(|n| {
            track_of(kind, n.is_drum, n.program).map(|track| InputNote {
                track,
                pitch: n.pitch,
                step: (n.start_time - t0) * steps_per_second,
                velocity: n.velocity,
            })
        })
        .collect()
}

/// Velocity of the input note nearest to a decoded note (distance: steps apart + half the
/// semitones apart; drums: the nearest hit of the same drum class, else the nearest hit).
pub fn nearest_velocity(
    notes: &[InputNote],
    track: usize,
    pitch: u8,
    step: f64,
    is_drum: bool,
) -> Option<u8> {
    let same_track = notes.iter().filter(|n| n.track == track);
    let nearest = |it: &mut dyn Iterator<Item = &InputNote>, pitch_weight: f64| {
        it.map(|n| {
            let d = (n.step - step).abs() + pitch_weight * (n.pitch as f64 - pitch as f64).abs();
            (d, n.velocity)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, v)| v)
    };
    if is_drum {
        let class = drum_class(pitch);
        let mut same_class = same_track
            .clone()
            .filter(|n| class.is_some() && drum_class(n.pitch) == class);
        nearest(&mut same_class, 0.0).or_else(|| nearest(&mut same_track.clone(), 0.0))
    } else {
        nearest(&mut same_track.clone(), 0.5)
    }
}

/// One phrase's references: (weight, the input notes) pairs; weights sum to 1.
pub type PhraseRefs<'a> = Vec<(f64, &'a [InputNote])>;

/// Set the velocity of every note of `seq` — phrases of `phrase_steps` steps laid out one after
/// another with `gap_bars` bars of rest, as `phrases_sequence` writes them at `qpm` — from the
/// references of its phrase (`refs[i]` for phrase i; a phrase without references keeps its
/// velocity). `Fixed(v)` sets every note to v.
pub fn apply_velocities(
    seq: &mut NoteSequence,
    kind: DataKind,
    phrase_steps: usize,
    gap_bars: usize,
    qpm: f64,
    refs: &[PhraseRefs],
    velocity: Velocity,
) {
    if let Velocity::Fixed(v) = velocity {
        seq.notes.iter_mut().for_each(|n| n.velocity = v);
        return;
    }
    let steps_per_second = qpm / 60.0 * STEPS_PER_QUARTER as f64;
    let stride = (phrase_steps + gap_bars * STEPS_PER_BAR as usize).max(1) as f64;
    for n in &mut seq.notes {
        let at = n.start_time * steps_per_second + 1e-6;
        let phrase = (at / stride).floor() as usize;
        let step = at - phrase as f64 * stride;
        let Some(r) = refs.get(phrase) else { continue };
        let Some(track) = track_of(kind, n.is_drum, n.program) else {
            continue;
        };
        let (mut sum, mut weight) = (0.0, 0.0);
        for (w, notes) in r {
            if let Some(v) = nearest_velocity(notes, track, n.pitch, step, n.is_drum) {
                sum += w * v as f64;
                weight += w;
            }
        }
        if weight > 0.0 {
            n.velocity = (sum / weight).round().clamp(1.0, 127.0) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::converter::{windows_to_sequence, Window};
    use crate::music::melody::pitch_token;

    fn note(track: usize, pitch: u8, step: f64, velocity: u8) -> InputNote {
        InputNote {
            track,
            pitch,
            step,
            velocity,
        }
    }

    #[test]
    fn velocity_parses() {
        assert_eq!("input".parse::<Velocity>(), Ok(Velocity::Input));
        assert_eq!("100".parse::<Velocity>(), Ok(Velocity::Fixed(100)));
        assert_eq!("fixed:64".parse::<Velocity>(), Ok(Velocity::Fixed(64)));
        assert!("0".parse::<Velocity>().is_err());
        assert!("loud".parse::<Velocity>().is_err());
    }

    #[test]
    fn nearest_in_time_and_pitch_and_drum_class() {
        let notes = [note(0, 60, 0.0, 30), note(0, 72, 8.0, 110)];
        assert_eq!(nearest_velocity(&notes, 0, 61, 1.0, false), Some(30));
        assert_eq!(nearest_velocity(&notes, 0, 71, 7.0, false), Some(110));
        assert_eq!(nearest_velocity(&notes, 1, 60, 0.0, false), None);
        // Drums: kick (36) and snare (38) classes; a snare hit takes the snare's velocity even
        // when a kick is nearer in time.
        let drums = [note(0, 36, 4.0, 120), note(0, 38, 12.0, 50)];
        assert_eq!(nearest_velocity(&drums, 0, 38, 4.0, true), Some(50));
        assert_eq!(nearest_velocity(&drums, 0, 36, 12.0, true), Some(120));
    }

    #[test]
    fn interpolation_blends_a_and_b() {
        // Three one-note phrases (A, middle, B); A's note is soft, B's loud.
        let w = Window {
            tracks: vec![[vec![pitch_token(60)], vec![0u16; 31]].concat()],
        };
        let mut seq = windows_to_sequence(DataKind::Melody, &[w.clone(), w.clone(), w], 100.0, 1);
        let (a, b) = ([note(0, 60, 0.0, 20)], [note(0, 60, 0.0, 120)]);
        let refs: Vec<PhraseRefs> = vec![
            vec![(1.0, &a[..]), (0.0, &b[..])],
            vec![(0.5, &a[..]), (0.5, &b[..])],
            vec![(0.0, &a[..]), (1.0, &b[..])],
        ];
        apply_velocities(
            &mut seq,
            DataKind::Melody,
            32,
            1,
            100.0,
            &refs,
            Velocity::Input,
        );
        let v: Vec<u8> = seq.notes.iter().map(|n| n.velocity).collect();
        assert_eq!(v, vec![20, 70, 120]);
        apply_velocities(
            &mut seq,
            DataKind::Melody,
            32,
            1,
            100.0,
            &refs,
            Velocity::Fixed(99),
        );
        assert!(seq.notes.iter().all(|n| n.velocity == 99));
    }
}
