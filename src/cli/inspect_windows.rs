//! `musicvae inspect FILE.mid --windows`: every window a command could take from the file for a
//! model — index (`--window I`), first bar (`--bar B`), start time, onsets — with a tiny text
//! piano roll of each, so a phrase is easy to choose.

use anyhow::Result;
use musicvae::data::converter::{extract, ConverterConfig, DataKind, Window};
use musicvae::data::representation::Vocab;
use musicvae::generate::input::{default_window, onsets};
use musicvae::music::melody::token_pitch;
use musicvae::music::note_sequence::NoteSequence;
use musicvae::music::quantize::STEPS_PER_BAR;

/// Rows of a melodic roll at most; pitches are grouped into bands when the range is wider.
const MAX_ROWS: usize = 6;

/// A tiny roll of melody tokens: one row per pitch band (highest first), `#` at an onset, `=`
/// while the note sounds, `|` at bar lines, `.` elsewhere. 16-bar windows use one column per
/// quarter note.
pub fn melody_roll(tokens: &[u16]) -> Vec<String> {
    let mut sounding: Vec<Option<(u8, bool)>> = Vec::with_capacity(tokens.len());
    let mut cur: Option<u8> = None;
    for &t in tokens {
        match token_pitch(t) {
            Some(p) => {
                cur = Some(p);
                sounding.push(Some((p, true)));
            }
            None if t == 0 => sounding.push(cur.map(|p| (p, false))),
            None => {
                cur = None;
                sounding.push(None);
            }
        }
    }
    let pitches: Vec<u8> = sounding.iter().flatten().map(|&(p, _)| p).collect();
    let (Some(&lo), Some(&hi)) = (pitches.iter().min(), pitches.iter().max()) else {
        return vec![columns(tokens.len(), |_| None)];
    };
    let span = (hi - lo) as usize + 1;
    let rows = span.min(MAX_ROWS);
    let row_of = |p: u8| (p - lo) as usize * rows / span;
    (0..rows)
        .rev()
        .map(|r| {
            columns(tokens.len(), |s| match sounding[s] {
                Some((p, onset)) if row_of(p) == r => Some(if onset { '#' } else { '=' }),
                _ => None,
            })
        })
        .collect()
}

/// A tiny drum roll: kick, snare, hi-hats, the other classes; `x` where a class is hit.
pub fn drum_roll(tokens: &[u16]) -> Vec<String> {
    // Magenta's drum token: bit k = drum class k (0 kick, 1 snare, 2 closed hh, 3 open hh, …).
    let rows: [(&str, u16); 4] = [
        ("kick ", 0b1),
        ("snare", 0b10),
        ("hats ", 0b1100),
        ("other", !0b1111),
    ];
    rows.iter()
        .map(|(name, mask)| {
            format!(
                "{name} {}",
                columns(tokens.len(), |s| (tokens[s] & mask != 0).then_some('x'))
            )
        })
        .collect()
}

/// One character per step (per quarter note past 4 bars), bar lines between bars.
fn columns(steps: usize, at: impl Fn(usize) -> Option<char>) -> String {
    let bar = STEPS_PER_BAR as usize;
    let stride = if steps > 4 * bar { 4 } else { 1 };
    let mut out = String::new();
    for s in (0..steps).step_by(stride) {
        if s % bar == 0 {
            out.push('|');
        }
        let c = (s..(s + stride).min(steps)).find_map(&at).unwrap_or('.');
        out.push(c);
    }
    out.push('|');
    out
}

fn roll(kind: DataKind, w: &Window) -> Vec<String> {
    let roll_of = |vocab: Vocab, tokens: &[u16]| match vocab {
        Vocab::Melody => melody_roll(tokens),
        Vocab::Drums => drum_roll(tokens),
    };
    let tracks = kind.representation().tracks;
    if let ([only], Some(tokens)) = (tracks, w.tracks.first()) {
        return roll_of(only.vocab, tokens);
    }
    // Several tracks: the pitched ones, each row labelled with its track.
    let pitched = || tracks.iter().zip(&w.tracks).filter(|(t, _)| !t.is_drums());
    let width = pitched().map(|(t, _)| t.name.len()).max().unwrap_or(0);
    pitched()
        .flat_map(|(t, tokens)| {
            roll_of(t.vocab, tokens)
                .into_iter()
                .map(move |l| format!("{:<width$} {l}", t.name))
        })
        .collect()
}

/// Print every window of `seq` for converter `cfg` (`model` names it in the heading).
pub fn print_windows(
    file: &str,
    seq: &NoteSequence,
    cfg: &ConverterConfig,
    model: &str,
) -> Result<()> {
    let ex = extract(seq, cfg);
    println!(
        "{file}: {} {}-bar {} window(s) for {model}",
        ex.windows.len(),
        cfg.slice_bars,
        cfg.kind.name()
    );
    if ex.windows.is_empty() {
        println!(
            "  none: {}",
            ex.why_none.as_deref().unwrap_or("no usable phrase")
        );
        return Ok(());
    }
    let default = default_window(cfg.kind, &ex.windows);
    println!("  --window I / --bar B pick one; * marks the one commands take by default");
    for (i, (w, o)) in ex.windows.iter().zip(&ex.origins).enumerate() {
        println!(
            "  {}{i:>3}  bars {}–{} of section {} (--bar {}), from {:.1} s, {} onsets{}",
            if Some(i) == default { "*" } else { " " },
            o.start_bar + 1,
            o.start_bar + cfg.slice_bars as i64,
            o.section,
            o.start_bar + 1,
            o.start_time,
            onsets(cfg.kind, w),
            o.instrument
                .map(|k| format!(", instrument #{k}"))
                .unwrap_or_default()
        );
        for line in roll(cfg.kind, w) {
            println!("        {line}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use musicvae::music::melody::pitch_token;

    #[test]
    fn melody_roll_marks_onsets_sustains_and_bars() {
        let mut t = vec![0u16; 32];
        t[0] = pitch_token(60);
        t[4] = 1; // note-off
        t[16] = pitch_token(67);
        let r = melody_roll(&t);
        assert_eq!(r.len(), 6); // 8 semitones in 6 bands
        assert_eq!(r[0], "|................|#===============|");
        assert_eq!(r[5], "|#===............|................|");
        // Silence: one empty row.
        assert_eq!(
            melody_roll(&[0u16; 16]),
            vec!["|................|".to_string()]
        );
    }

    #[test]
    fn drum_roll_rows() {
        let mut t = vec![0u16; 16];
        t[0] = 0b1;
        t[4] = 0b10 | 0b100;
        let r = drum_roll(&t);
        assert_eq!(r[0], "kick  |x...............|");
        assert_eq!(r[1], "snare |....x...........|");
        assert_eq!(r[2], "hats  |....x...........|");
    }
}
