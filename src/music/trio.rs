//! Trio = melody (programs 0–31) + bass (programs 32–39) + drums, aligned 16-bar windows
//! (Magenta `TrioConverter`): every (melody, bass, drums) instrument triple whose three parts are all
//! present (coverage widened by ±gap_bars bars) in a window yields one example.

use super::drums::{drum_grid_tokens, DRUM_TOKENS};
use super::melody::{canonical, MELODY_CLASSES, NOTE_OFF};
use super::quantize::{QuantizedNote, QuantizedSequence, STEPS_PER_BAR};

/// Tokens of one trio window, each `steps` long.
#[derive(Debug, Clone, PartialEq)]
pub struct TrioWindow {
    pub melody: Vec<u16>,
    pub bass: Vec<u16>,
    pub drums: Vec<u16>,
}

pub const TRIO_DEPTHS: [usize; 3] = [MELODY_CLASSES, MELODY_CLASSES, DRUM_TOKENS];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mel,
    Bass,
    Drums,
}

fn kind(n: &QuantizedNote) -> Option<Kind> {
    if n.is_drum {
        Some(Kind::Drums)
    } else if n.program <= 31 {
        Some(Kind::Mel)
    } else if (32..=39).contains(&n.program) {
        Some(Kind::Bass)
    } else {
        None
    }
}

/// Monophonic tokens of one instrument over [from, from + len) (highest note wins on a shared onset,
/// an onset cuts the sounding note), not re-anchored: silence stays silence.
fn mono_tokens(notes: &[&QuantizedNote], from: i64, len: usize) -> Vec<u16> {
    let mut ev: Vec<i32> = vec![-2; len + 1];
    let mut sorted: Vec<&&QuantizedNote> = notes
        .iter()
        .filter(|n| n.start_step >= from && n.start_step < from + len as i64)
        .filter(|n| (21..=108).contains(&n.pitch))
        .collect();
    sorted.sort_by(|a, b| a.start_step.cmp(&b.start_step).then(b.pitch.cmp(&a.pitch)));
    let mut last_on = -1i64;
    for n in sorted {
        let s = n.start_step - from;
        if s == last_on {
            continue;
        }
        let e = ((n.end_step - from) as usize).min(len);
        ev[s as usize] = n.pitch as i32;
        for x in &mut ev[s as usize + 1..] {
            *x = -2;
        }
        ev[e] = -1;
        last_on = s;
    }
    ev.truncate(len);
    let toks: Vec<u16> = ev
        .into_iter()
        .map(|e| match e {
            -2 => 0,
            -1 => NOTE_OFF,
            p => super::melody::pitch_token(p as u8),
        })
        .collect();
    canonical(&toks)
}

/// All trio windows of `bars` bars (hop 1 bar) in a 16-step-bar section.
pub fn extract_trio_windows(
    q: &QuantizedSequence,
    bars: usize,
    gap_bars: usize,
) -> Vec<TrioWindow> {
    let spb = STEPS_PER_BAR as i64;
    let total_bars = ((q.total_steps + spb - 1) / spb).max(0) as usize;
    if total_bars < bars {
        return Vec::new();
    }
    // Group instruments by kind; an instrument mixing kinds is invalid.
    let mut insts: Vec<(u32, Kind)> = Vec::new();
    let mut invalid: Vec<u32> = Vec::new();
    for n in &q.notes {
        match (kind(n), insts.iter().find(|x| x.0 == n.instrument)) {
            (None, _) => invalid.push(n.instrument),
            (Some(k), Some(&(_, k0))) if k != k0 => invalid.push(n.instrument),
            (Some(k), None) => insts.push((n.instrument, k)),
            _ => {}
        }
    }
    insts.retain(|(i, _)| !invalid.contains(i));
    let coverage = |inst: u32| -> Vec<bool> {
        let mut cov = vec![false; total_bars];
        for n in q.notes.iter().filter(|n| n.instrument == inst) {
            let b0 = (n.start_step / spb) as usize;
            let b1 = (((n.end_step - 1).max(n.start_step)) / spb) as usize;
            for b in b0..=b1.min(total_bars - 1) {
                let lo = b.saturating_sub(gap_bars);
                let hi = (b + gap_bars).min(total_bars - 1);
                for c in &mut cov[lo..=hi] {
                    *c = true;
                }
            }
        }
        cov
    };
    let of = |k: Kind| -> Vec<u32> { insts.iter().filter(|x| x.1 == k).map(|x| x.0).collect() };
    let (mels, basses) = (of(Kind::Mel), of(Kind::Bass));
    let has_drums = !of(Kind::Drums).is_empty();
    if mels.is_empty() || basses.is_empty() || !has_drums {
        return Vec::new();
    }
    let drum_cov = {
        let mut c = vec![false; total_bars];
        for i in of(Kind::Drums) {
            for (a, b) in c.iter_mut().zip(coverage(i)) {
                *a |= b;
            }
        }
        c
    };
    let drum_seq = QuantizedSequence {
        notes: q.notes.iter().filter(|n| n.is_drum).cloned().collect(),
        ..q.clone()
    };
    let steps = bars * spb as usize;
    let mut out = Vec::new();
    for &m in &mels {
        let mc = coverage(m);
        let mnotes: Vec<&QuantizedNote> = q.notes.iter().filter(|n| n.instrument == m).collect();
        for &b in &basses {
            let bc = coverage(b);
            let bnotes: Vec<&QuantizedNote> =
                q.notes.iter().filter(|n| n.instrument == b).collect();
            for start_bar in 0..=(total_bars - bars) {
                let ok = (start_bar..start_bar + bars).all(|i| mc[i] && bc[i] && drum_cov[i]);
                if !ok {
                    continue;
                }
                let from = start_bar as i64 * spb;
                let shifted = QuantizedSequence {
                    notes: drum_seq
                        .notes
                        .iter()
                        .map(|n| QuantizedNote {
                            start_step: n.start_step - from,
                            end_step: n.end_step - from,
                            ..n.clone()
                        })
                        .collect(),
                    ..drum_seq.clone()
                };
                out.push(TrioWindow {
                    melody: mono_tokens(&mnotes, from, steps),
                    bass: mono_tokens(&bnotes, from, steps),
                    drums: drum_grid_tokens(&shifted, steps),
                });
            }
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(pitch: u8, s: i64, e: i64, program: u8, inst: u32, drum: bool) -> QuantizedNote {
        QuantizedNote {
            pitch,
            velocity: 90,
            start_step: s,
            end_step: e,
            program,
            instrument: inst,
            is_drum: drum,
        }
    }

    #[test]
    fn trio_needs_all_three_parts() {
        let mut notes = Vec::new();
        for bar in 0..4i64 {
            notes.push(n(72 + bar as u8, bar * 16, bar * 16 + 8, 0, 0, false));
            notes.push(n(36, bar * 16, bar * 16 + 16, 33, 1, false));
            notes.push(n(36, bar * 16, bar * 16 + 1, 0, 2, true));
        }
        let q = QuantizedSequence {
            notes: notes.clone(),
            steps_per_quarter: 4,
            qpm: 120.0,
            numerator: 4,
            denominator: 4,
            total_steps: 64,
            source_start_time: 0.0,
        };
        let w = extract_trio_windows(&q, 2, 2);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].melody[0], crate::music::melody::pitch_token(72));
        assert_eq!(w[0].drums[0], 1);
        let q2 = QuantizedSequence {
            notes: notes.into_iter().filter(|n| !n.is_drum).collect(),
            ..q
        };
        assert!(extract_trio_windows(&q2, 2, 2).is_empty());
    }
}
