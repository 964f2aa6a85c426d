//! Trio = melody (programs 0–31) + bass (programs 32–39) + drums, aligned 16-bar windows
//! (Magenta `TrioConverter`): every (melody, bass, drums) instrument triple whose three parts are all
//! present (coverage widened by ±gap_bars bars) in a window yields one example.

use super::drums::drum_class;
use super::melody::{canonical, NOTE_OFF};
use super::quantize::{QuantizedNote, QuantizedSequence, STEPS_PER_BAR};

/// Tokens of one trio window, each `steps` long.
#[derive(Debug, Clone, PartialEq)]
pub struct TrioWindow {
    pub melody: Vec<u16>,
    pub bass: Vec<u16>,
    pub drums: Vec<u16>,
}

/// Melody and bass instruments of a section that a trio pairs (the first that play).
pub const MAX_PARTS: usize = 64;

/// Magenta's `MEL_PROGRAMS` (`range(0, 32)`): a trio's melody part, and the melody programs of the
/// 2-bar melody configs.
pub const MEL_PROGRAMS: (u8, u8) = (0, 31);
/// Magenta's `BASS_PROGRAMS` (`range(32, 40)`): a trio's bass part.
pub const BASS_PROGRAMS: (u8, u8) = (32, 39);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mel,
    Bass,
    Drums,
}

fn kind(n: &QuantizedNote) -> Option<Kind> {
    if n.is_drum {
        Some(Kind::Drums)
    } else if (MEL_PROGRAMS.0..=MEL_PROGRAMS.1).contains(&n.program) {
        Some(Kind::Mel)
    } else if (BASS_PROGRAMS.0..=BASS_PROGRAMS.1).contains(&n.program) {
        Some(Kind::Bass)
    } else {
        None
    }
}

/// Monophonic tokens of one instrument over steps [0, len) (highest note wins on a shared onset,
/// an onset cuts the sounding note), before [`canonical`]. `notes` sorted by (start, pitch desc).
///
/// A window at step `from` is `canonical(&stream[from..from + steps])`: a note starting before
/// `from` only leaves note-offs or silence before the window's first onset (canonical turns such a
/// note-off into silence), and a note starting inside it is placed exactly as if the window were
/// built alone (notes after it clear everything past their start; a note-off past the window's end
/// is cut off with the slice).
fn mono_stream(notes: &[&QuantizedNote], len: usize) -> Vec<u16> {
    let mut ev: Vec<i32> = vec![-2; len + 1];
    let mut last_on = -1i64;
    // Past the latest onset everything is silence but that note's note-off.
    let mut last_off: Option<usize> = None;
    for n in notes {
        if !(21..=108).contains(&n.pitch) || n.start_step < 0 || n.start_step >= len as i64 {
            continue;
        }
        let s = n.start_step;
        if s == last_on {
            continue;
        }
        let e = (n.end_step.max(s + 1) as usize).min(len);
        // Everything after the onset is cleared: only the previous note-off can be there.
        if let Some(o) = last_off {
            if o > s as usize {
                ev[o] = -2;
            }
        }
        ev[s as usize] = n.pitch as i32;
        ev[e] = -1;
        last_off = Some(e);
        last_on = s;
    }
    ev.truncate(len);
    ev.into_iter()
        .map(|e| match e {
            -2 => 0,
            -1 => NOTE_OFF,
            p => super::melody::pitch_token(p as u8),
        })
        .collect()
}

/// Bars (from 0, at most `bars`) that an instrument's notes cover, widened by ±`gap` bars, as a
/// bit set of `bars` bits. Linear in the notes (a difference array), whatever their lengths.
fn coverage(notes: &[&QuantizedNote], gap: usize, total_bars: usize, bars: usize) -> Vec<u64> {
    let spb = STEPS_PER_BAR as i64;
    let mut diff = vec![0i64; bars + 1];
    for n in notes {
        let b0 = n.start_step / spb;
        let b1 = ((n.end_step - 1).max(n.start_step) / spb).min(total_bars as i64 - 1);
        if b0 > b1 || b0 < 0 {
            continue;
        }
        let lo = (b0 - gap as i64).max(0) as usize;
        let hi = ((b1 + gap as i64) as usize)
            .min(total_bars - 1)
            .min(bars.saturating_sub(1));
        if lo >= bars || lo > hi {
            continue;
        }
        diff[lo] += 1;
        diff[hi + 1] -= 1;
    }
    let mut bits = vec![0u64; bars.div_ceil(64)];
    let mut acc = 0i64;
    for (b, d) in diff.iter().take(bars).enumerate() {
        acc += d;
        if acc > 0 {
            bits[b / 64] |= 1 << (b % 64);
        }
    }
    bits
}

/// Trio windows of `bars` bars (hop 1 bar) in a 16-step-bar section, at most `limit` of them.
///
/// Only windows inside the first `max_bars` bars of the section are built (TrioConverter's
/// max_bars = 1024, over half an hour at 120 qpm), so the work is linear in the notes plus
/// `max_bars` per instrument, whatever the section's length; within that range the windows are
/// those of Magenta's rule: every bar covered by the melody, the bass and the drums.
pub fn extract_trio_windows(
    q: &QuantizedSequence,
    bars: usize,
    gap_bars: usize,
    max_bars: usize,
    limit: usize,
) -> Vec<TrioWindow> {
    let spb = STEPS_PER_BAR as i64;
    let total_bars = ((q.total_steps.max(0) + spb - 1) / spb) as usize;
    let cap_bars = total_bars.min(max_bars);
    if cap_bars < bars || bars == 0 {
        return Vec::new();
    }
    // Group instruments by kind; an instrument mixing kinds is invalid.
    let mut kinds: std::collections::BTreeMap<u32, Option<Kind>> = Default::default();
    for n in &q.notes {
        let k = kind(n);
        let e = kinds.entry(n.instrument).or_insert(k);
        if *e != k {
            *e = None;
        }
    }
    // Notes per instrument, sorted by (start, pitch descending).
    let mut notes_of: std::collections::BTreeMap<u32, Vec<&QuantizedNote>> = Default::default();
    for n in &q.notes {
        if kinds.get(&n.instrument).copied().flatten().is_some() {
            notes_of.entry(n.instrument).or_default().push(n);
        }
    }
    for v in notes_of.values_mut() {
        v.sort_by(|a, b| a.start_step.cmp(&b.start_step).then(b.pitch.cmp(&a.pitch)));
    }
    // Instruments of a kind in order of first appearance (as the original grouping did).
    let mut order: Vec<u32> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for n in &q.notes {
        if seen.insert(n.instrument) && kinds.get(&n.instrument).copied().flatten().is_some() {
            order.push(n.instrument);
        }
    }
    let of = |k: Kind| -> Vec<u32> {
        order
            .iter()
            .copied()
            .filter(|i| kinds.get(i).copied().flatten() == Some(k))
            .collect()
    };
    let (mut mels, mut basses, drums) = (of(Kind::Mel), of(Kind::Bass), of(Kind::Drums));
    // At most MAX_PARTS melody and bass instruments (the first to play) are paired: real trios
    // have a handful, and this bounds the pairs and the cached bass tracks.
    mels.truncate(MAX_PARTS);
    basses.truncate(MAX_PARTS);
    if mels.is_empty() || basses.is_empty() || drums.is_empty() {
        return Vec::new();
    }
    let cov = |i: u32| coverage(&notes_of[&i], gap_bars, total_bars, cap_bars);
    let mut drum_cov = vec![0u64; cap_bars.div_ceil(64)];
    for &i in &drums {
        for (a, b) in drum_cov.iter_mut().zip(cov(i)) {
            *a |= b;
        }
    }
    let steps = bars * spb as usize;
    let cap_steps = cap_bars * spb as usize;
    // The drum grid over the capped range (as `drum_grid_tokens`); a window's drums are a slice.
    let mut drum_grid = vec![0u16; cap_steps];
    for n in q.notes.iter().filter(|n| n.is_drum && n.velocity > 0) {
        if let (Some(c), Ok(s)) = (drum_class(n.pitch), usize::try_from(n.start_step)) {
            if s < cap_steps {
                drum_grid[s] |= 1 << c;
            }
        }
    }
    let bass_streams: Vec<(Vec<u64>, Vec<u16>)> = basses
        .iter()
        .map(|&b| (cov(b), mono_stream(&notes_of[&b], cap_steps)))
        .collect();
    let mut out = Vec::new();
    'pairs: for &m in &mels {
        let mc = cov(m);
        let mstream = mono_stream(&notes_of[&m], cap_steps);
        for (bc, bstream) in &bass_streams {
            let all: Vec<u64> = mc
                .iter()
                .zip(bc)
                .zip(&drum_cov)
                .map(|((a, b), c)| a & b & c)
                .collect();
            if all.iter().all(|&w| w == 0) {
                continue;
            }
            let covered = |i: usize| all[i / 64] >> (i % 64) & 1 == 1;
            // Run of covered bars ending at the current bar: a window fits when it reaches `bars`.
            let mut run = 0usize;
            for bar in 0..cap_bars {
                run = if covered(bar) { run + 1 } else { 0 };
                if run < bars {
                    continue;
                }
                if out.len() >= limit {
                    break 'pairs;
                }
                let from = (bar + 1 - bars) * spb as usize;
                out.push(TrioWindow {
                    melody: canonical(&mstream[from..from + steps]),
                    bass: canonical(&bstream[from..from + steps]),
                    drums: drum_grid[from..from + steps].to_vec(),
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
        let q = QuantizedSequence::four_four(notes.clone(), 64);
        let w = extract_trio_windows(&q, 2, 2, 1024, usize::MAX);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].melody[0], crate::music::melody::pitch_token(72));
        assert_eq!(w[0].drums[0], 1);
        let q2 = QuantizedSequence {
            notes: notes.into_iter().filter(|n| !n.is_drum).collect(),
            ..q
        };
        assert!(extract_trio_windows(&q2, 2, 2, 1024, usize::MAX).is_empty());
    }

    #[test]
    fn a_million_bar_trio_is_capped_at_max_bars_and_limit() {
        let far = 16 * 1_000_000i64;
        let notes = vec![
            n(72, 0, far, 0, 0, false),
            n(36, 0, far, 33, 1, false),
            n(36, 0, far, 0, 2, true),
        ];
        let q = QuantizedSequence::four_four(notes, far);
        // Windows start in the first 1024 bars only; all but the first are identical silence
        // (held notes leave no onset), deduplicated.
        let w = extract_trio_windows(&q, 16, 2, 1024, usize::MAX);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].melody[0], crate::music::melody::pitch_token(72));
        assert_eq!(extract_trio_windows(&q, 16, 2, 1024, 1).len(), 1);
        assert!(extract_trio_windows(&q, 16, 2, 8, usize::MAX).is_empty());
    }
}
