//! What musicians reach for next, run as a user would with the shipped 2-bar model on real files
//! from midi_data/: the 4-corner latent grid, variations of a phrase, long chained pieces, tempo
//! and dynamics kept from the input, `inspect --windows` and `--bar`; and every bad input of them.

mod common;

use common::{musicvae, root, s, text};

use musicvae::music::{read_midi_file, write_midi_file};
use std::path::Path;

fn ok(args: &[&str]) -> String {
    let o = musicvae(args);
    let t = text(&o);
    assert!(o.status.success(), "{args:?}: {t}");
    t
}

fn fails(args: &[&str], needle: &str) {
    let o = musicvae(args);
    let t = text(&o);
    assert!(!o.status.success(), "{args:?} should fail: {t}");
    assert!(t.contains(needle), "{args:?}: expected '{needle}' in: {t}");
    assert!(!t.contains("panicked"), "{t}");
}

const A: &str = "midi_data/irish/oneills_0000.mid";
const B: &str = "midi_data/chorale/bach_bwv104_6.mid";
const C: &str = "midi_data/german_folk/essen_altdeu10_0122.mid";
const D: &str = "midi_data/chinese_folk/essen_han1_0051.mid";

#[test]
fn grid_of_four_corners() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("grid.mid");
    let t = ok(&[
        "grid",
        A,
        B,
        C,
        D,
        "--size",
        "3",
        "-o",
        s(&out),
        "--png",
        "-t",
        "0",
    ]);
    assert!(t.contains("decoded a 3×3 grid"), "{t}");
    let png = image_size(&out.with_extension("png"));
    assert!(png.0 > 600 && png.1 > 400, "{png:?}");
    // 9 two-bar cells with a bar of rest between them: 9·2 + 8 = 26 bars.
    let seq = read_midi_file(&out).expect("read grid");
    let bar = 60.0 / seq.initial_qpm() * 4.0;
    assert!(
        (seq.total_time / bar - 26.0).abs() < 1.01,
        "{} bars",
        seq.total_time / bar
    );
    // One file per cell.
    let cells = d.path().join("cells.mid");
    ok(&[
        "grid",
        A,
        B,
        C,
        D,
        "--size",
        "2",
        "-o",
        s(&cells),
        "--separate",
    ]);
    for name in ["r0_c0", "r0_c1", "r1_c0", "r1_c1"] {
        let p = d.path().join("cells").join(format!("{name}.mid"));
        assert!(read_midi_file(&p).is_ok(), "{}", p.display());
    }
    fails(&["grid", A, B, C], "grid needs exactly 4 MIDI files");
    fails(
        &["grid", A, B, C, D, "--size", "12"],
        "--size must be between 2 and 11",
    );
    fails(
        &["grid", A, B, C, D, "--size", "1"],
        "--size must be between 2 and 11",
    );
    let empty = d.path().join("empty.mid");
    let mut seq = read_midi_file(Path::new(&root().join(A))).expect("read");
    seq.notes.truncate(1);
    write_midi_file(&seq, &empty).expect("write");
    fails(&["grid", A, B, C, s(&empty)], "empty.mid");
}

#[test]
fn variations_are_sorted_by_distance() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("v.mid");
    let t = ok(&["variations", A, "-n", "6", "--amount", "1.5", "-o", s(&out)]);
    let dist: Vec<f64> = t
        .lines()
        .filter(|l| l.contains("of steps differ from the input"))
        .map(|l| {
            l.split(':')
                .nth(1)
                .expect("colon")
                .trim()
                .split('%')
                .next()
                .expect("%")
                .parse::<f64>()
                .expect("number")
        })
        .collect();
    assert_eq!(dist.len(), 6, "{t}");
    assert!(dist.windows(2).all(|w| w[0] <= w[1]), "{dist:?}");
    // Farther in prior units than in posterior units, on average.
    let t2 = ok(&[
        "variations",
        A,
        "-n",
        "6",
        "--amount",
        "1.5",
        "--prior-units",
        "-o",
        s(&out),
    ]);
    let mean = |t: &str| -> f64 {
        let v: Vec<f64> = t
            .lines()
            .filter(|l| l.contains("of steps differ"))
            .filter_map(|l| l.split(':').nth(1)?.trim().split('%').next()?.parse().ok())
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(
        mean(&t2) > mean(&t),
        "prior {} vs σ {}",
        mean(&t2),
        mean(&t)
    );
    // Amount 0 at argmax: the reconstruction every time.
    let t0 = ok(&["variations", A, "-n", "2", "--amount", "0", "-o", s(&out)]);
    let same: Vec<&str> = t0.lines().filter(|l| l.contains("variation ")).collect();
    assert!(
        same.len() == 2 && same[0].split(':').nth(1) == same[1].split(':').nth(1),
        "{t0}"
    );
    fails(
        &["variations", A, "--amount", "-1"],
        "--amount must be a number from 0",
    );
    fails(
        &["variations", A, "-n", "0"],
        "-n must be between 1 and 256",
    );
}

#[test]
fn chain_through_phrases_in_order() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("chain.mid");
    let t = ok(&[
        "chain",
        A,
        B,
        C,
        "--bars-between",
        "2",
        "-o",
        s(&out),
        "--png",
        "-t",
        "0",
    ]);
    // 2 pairs × (1 + 2) + the last = 7 phrases, 14 bars, no rest.
    assert!(t.contains("decoded 7 phrases (14 bars)"), "{t}");
    let seq = read_midi_file(&out).expect("read");
    let bar = 60.0 / seq.initial_qpm() * 4.0;
    assert!(
        seq.total_time / bar <= 14.0 + 1e-6 && seq.total_time / bar > 12.0,
        "{}",
        seq.total_time / bar
    );
    assert!(out.with_extension("png").is_file());
    let t = ok(&[
        "chain",
        A,
        B,
        "--bars-between",
        "1",
        "--loop",
        "-o",
        s(&out),
    ]);
    assert!(
        t.contains("decoded 5 phrases (10 bars, looping back to the first)"),
        "{t}"
    );
    fails(&["chain", A], "chain needs at least 2 MIDI files");
    fails(
        &["chain", A, B, "--bars-between", "65"],
        "--bars-between must be between 0 and 64",
    );
}

/// A copy of `src` with every note at `velocity` and the tempo set to `qpm`.
fn restyled(src: &str, velocity: u8, qpm: f64, out: &Path) {
    let mut seq = read_midi_file(&root().join(src)).expect("read");
    let scale = seq.initial_qpm() / qpm;
    for n in &mut seq.notes {
        n.velocity = velocity;
        n.start_time *= scale;
        n.end_time *= scale;
    }
    seq.tempos = vec![musicvae::music::note_sequence::Tempo { time: 0.0, qpm }];
    seq.update_total_time();
    write_midi_file(&seq, out).expect("write");
}

#[test]
fn tempo_and_dynamics_come_from_the_inputs() {
    let d = tempfile::tempdir().expect("tempdir");
    let (soft, loud) = (d.path().join("soft.mid"), d.path().join("loud.mid"));
    restyled(A, 30, 90.0, &soft);
    restyled(B, 120, 140.0, &loud);
    let out = d.path().join("i.mid");
    ok(&[
        "interpolate",
        s(&soft),
        s(&loud),
        "-n",
        "5",
        "-o",
        s(&out),
        "-t",
        "0",
    ]);
    let seq = read_midi_file(&out).expect("read");
    assert!(
        (seq.initial_qpm() - 90.0).abs() < 0.01,
        "tempo of the first input: {}",
        seq.initial_qpm()
    );
    // Phrases of 2 bars + 1 bar rest at 90 qpm: 8 s each.
    let phrase = |i: usize| -> Vec<u8> {
        seq.notes
            .iter()
            .filter(|n| (n.start_time / 8.0).floor() as usize == i)
            .map(|n| n.velocity)
            .collect()
    };
    assert!(
        phrase(0).iter().all(|&v| v == 30),
        "A's velocity: {:?}",
        phrase(0)
    );
    assert!(
        phrase(4).iter().all(|&v| v == 120),
        "B's velocity: {:?}",
        phrase(4)
    );
    assert!(
        phrase(2).iter().all(|&v| v == 75),
        "halfway blend: {:?}",
        phrase(2)
    );
    // --qpm and a fixed velocity.
    ok(&[
        "interpolate",
        s(&soft),
        s(&loud),
        "-o",
        s(&out),
        "--qpm",
        "100",
        "--velocity",
        "100",
    ]);
    let seq = read_midi_file(&out).expect("read");
    assert!((seq.initial_qpm() - 100.0).abs() < 0.01);
    assert!(seq.notes.iter().all(|n| n.velocity == 100));
    // The same options on reconstruct / morph.
    ok(&["reconstruct", s(&loud), "-o", s(&out)]);
    let seq = read_midi_file(&out).expect("read");
    assert!(
        (seq.initial_qpm() - 140.0).abs() < 0.01 && seq.notes.iter().all(|n| n.velocity == 120)
    );
    fails(
        &["interpolate", A, B, "--velocity", "loud"],
        "is not a velocity",
    );
    fails(
        &["interpolate", A, B, "--qpm", "0"],
        "--qpm must be between 1 and 1000",
    );
}

#[test]
fn inspect_lists_windows_and_bar_picks_one() {
    let t = ok(&["inspect", A, "--windows"]);
    assert!(
        t.contains("15 2-bar melody window(s) for cat-mel_2bar_small"),
        "{t}"
    );
    assert!(t.contains("*  0  bars 1–2 of section 0 (--bar 1)"), "{t}");
    assert!(t.contains("   3  bars 4–5 of section 0 (--bar 4)"), "{t}");
    // A tiny roll under each window: rows of 2 bars × 16 steps with bar lines.
    let roll_lines = t
        .lines()
        .filter(|l| l.trim_start().starts_with('|') && l.trim_end().len() == 8 + 35)
        .count();
    assert!(roll_lines >= 15, "{t}");
    // --bar B and --window I name the same window.
    let by_bar = ok(&["reconstruct", A, "--bar", "4"]);
    let by_index = ok(&["reconstruct", A, "--window", "3"]);
    assert!(by_bar.contains("window 3 of 15 (bars 4–5"), "{by_bar}");
    assert_eq!(by_bar, by_index);
    let t = ok(&["encode", A, "--bar", "4"]);
    assert!(t.contains("\"window\": 3"), "{t}");
    fails(
        &["reconstruct", A, "--bar", "99"],
        "--bar 99: no window starts at bar 99",
    );
    fails(
        &["reconstruct", A, "--bar", "2", "--window", "1"],
        "cannot be used with",
    );
}

/// Width and height of a PNG from its header.
fn image_size(p: &Path) -> (u32, u32) {
    let b = std::fs::read(p).expect("png");
    assert_eq!(&b[1..4], b"PNG");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}
