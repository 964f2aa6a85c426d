//! Drums as a user meets them, on the committed Groove MIDI Dataset subset (midi_data_drums/):
//! `prepare` keeps the dataset's own split, a drum model trains and `eval --split test` reports
//! the drum prior-sample table, drum-only inputs pick the drum model by themselves, and a file
//! that gives no 2-bar drum window says why in one line.

mod common;

use common::{root, s};
use musicvae::music::read_midi_file;
use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str], models: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_musicvae"));
    c.current_dir(root()).args(args);
    c.env("MUSICVAE_SOUNDFONT", "none");
    if let Some(m) = models {
        c.env("MUSICVAE_MODELS", m);
    }
    c.output().expect("run musicvae")
}

fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The first line of a failed command: exit 1, no panic, `error: ` naming `what` and `why`.
fn assert_one_line_error(o: &Output, what: &str, why: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let first = err.lines().next().unwrap_or("");
    assert!(
        first.starts_with("error: ") && first.contains(what) && first.contains(why),
        "unexpected: {err}"
    );
}

/// A type-0 MIDI file of 32 eighth-note hits of `pitch` on channel 10, in `num`/4.
fn drum_file(path: &Path, pitch: u8, num: u8) {
    fn vlq(mut n: u32, out: &mut Vec<u8>) {
        let mut b = vec![(n & 0x7f) as u8];
        n >>= 7;
        while n > 0 {
            b.push(((n & 0x7f) | 0x80) as u8);
            n >>= 7;
        }
        out.extend(b.iter().rev());
    }
    let mut ev = vec![0x00, 0xff, 0x58, 0x04, num, 0x02, 0x18, 0x08];
    for i in 0..32 {
        vlq(if i == 0 { 0 } else { 120 }, &mut ev);
        ev.extend([0x99, pitch, 100]);
        vlq(120, &mut ev);
        ev.extend([0x89, pitch, 0]);
    }
    ev.extend([0x00, 0xff, 0x2f, 0x00]);
    let mut bytes = b"MThd".to_vec();
    bytes.extend([0, 0, 0, 6, 0, 0, 0, 1, 0x01, 0xe0]);
    bytes.extend(b"MTrk");
    bytes.extend((ev.len() as u32).to_be_bytes());
    bytes.extend(ev);
    std::fs::write(path, bytes).expect("write MIDI");
}

#[test]
fn drum_corpus_split_training_eval_and_drum_inputs() {
    let d = tempfile::tempdir().expect("tempdir");
    let data = root().join("midi_data_drums");
    let cache = d.path().join("cache");

    // prepare keeps the Groove MIDI Dataset's own split (split.tsv).
    let o = run(
        &[
            "prepare",
            s(&data),
            "--config",
            "cat-drums_2bar_small",
            "--out",
            s(&cache),
        ],
        None,
    );
    assert!(o.status.success(), "{}", both(&o));
    assert!(both(&o).contains("split from split.tsv"), "{}", both(&o));
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache.join("cache.json")).expect("cache.json"))
            .expect("json");
    let files = meta["files"].as_array().expect("files");
    let listed = std::fs::read_to_string(data.join("split.tsv")).expect("split.tsv");
    let (mut test_files, mut train_files) = (0, 0);
    for f in files {
        let rel = f["rel"].as_str().expect("rel");
        let want = listed
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{rel}\t")))
            .unwrap_or_else(|| panic!("{rel} not in split.tsv"));
        assert_eq!(f["split"].as_str(), Some(want), "{rel}");
        assert_eq!(f["held_out"].as_bool(), Some(want != "train"), "{rel}");
        test_files += usize::from(want == "test");
        train_files += usize::from(want == "train");
    }
    assert!(test_files >= 10, "{test_files} test files with windows");

    // A small drum model trains on it.
    let model = d.path().join("drums_2bar");
    let o = run(
        &[
            "train",
            "--data",
            s(&cache),
            "--config",
            "cat-drums_2bar_small",
            "--set",
            "z_size=8",
            "--set",
            "enc_rnn_size=[16]",
            "--set",
            "dec_rnn_size=[16,16]",
            "--steps",
            "3",
            "--batch-size",
            "8",
            "--out",
            s(&model),
        ],
        None,
    );
    assert!(o.status.success(), "{}", both(&o));

    // eval on the test split, with the drum prior-sample table.
    let o = run(
        &[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&cache),
            "--split",
            "test",
            "--max-windows",
            "64",
            "--pairs",
            "2",
            "--prior",
            "16",
        ],
        None,
    );
    let out = both(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains(&format!("held-out windows from {test_files} files")),
        "{out}"
    );
    for feature in ["hits per bar", "kick density", "hits off the beat"] {
        assert!(out.contains(feature), "{feature}: {out}");
    }
    let o = run(
        &[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&cache),
            "--split",
            "train",
        ],
        None,
    );
    assert_one_line_error(&o, "--split train", "--training-files");

    // --training-files: the memorisation check, on exactly the files the model learnt from.
    let report = d.path().join("train_eval.json");
    let o = run(
        &[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&cache),
            "--training-files",
            "--max-windows",
            "32",
            "--pairs",
            "0",
            "--json",
            s(&report),
        ],
        None,
    );
    let out = both(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains(&format!("training-file windows from {train_files} files")),
        "{out}"
    );
    assert!(
        out.contains("training-file reconstruction accuracy"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    assert_eq!(json[0]["training_files"].as_bool(), Some(true), "{json}");
    assert_eq!(json[0]["eval"]["windows"].as_u64(), Some(32), "{json}");
    let o = run(
        &[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&cache),
            "--training-files",
            "--split",
            "test",
        ],
        None,
    );
    assert!(!o.status.success(), "{}", both(&o));
    assert!(both(&o).contains("cannot be used with"), "{}", both(&o));

    // Two drum files and no --model: the drum model is picked (found as models/drums_2bar).
    let a = data.join("funk/drummer1_eval_session_2_funk-groove2_105_beat_4-4.mid");
    let b = data.join("rock/drummer3_session1_14_rock_120_beat_4-4.mid");
    assert!(
        a.is_file() && b.is_file(),
        "the committed subset has both files"
    );
    let out_mid = d.path().join("beats.mid");
    let out_png = d.path().join("beats.png"); // --png writes it beside the MIDI file
    let o = run(
        &[
            "interpolate",
            s(&a),
            s(&b),
            "-n",
            "3",
            "--out",
            s(&out_mid),
            "--png",
        ],
        Some(d.path()),
    );
    let text = both(&o);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("the inputs are drum tracks (channel 10 only): using the drum model"),
        "{text}"
    );
    let seq = read_midi_file(&out_mid).expect("the interpolation reads back");
    assert!(
        seq.notes.iter().all(|n| n.is_drum),
        "every note on the drum channel"
    );
    assert!(std::fs::metadata(&out_png).expect("png").len() > 1000);

    // A rock beat moved toward funk along the shipped drum model's style vector: every step says
    // how many steps and hits changed and how sure the shipped drum-style classifier is of funk.
    let morphed = d.path().join("toward_funk.mid");
    let o = run(
        &[
            "morph",
            s(&b),
            "--toward",
            "funk",
            "-n",
            "3",
            "--amount",
            "2",
            "-o",
            s(&morphed),
        ],
        None,
    );
    let text = both(&o);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("drums_2bar"),
        "the drum model is picked: {text}"
    );
    assert!(
        text.contains("the input: P(funk)") && text.contains("drum-style-classifier"),
        "{text}"
    );
    let steps: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("toward funk ×"))
        .collect();
    assert_eq!(steps.len(), 3, "{text}");
    for l in &steps {
        assert!(l.contains("% of hits)") && l.contains("; P(funk) "), "{l}");
    }
    let seq = read_midi_file(&morphed).expect("the morph reads back");
    assert!(!seq.notes.is_empty() && seq.notes.iter().all(|n| n.is_drum));

    // Files that give no 2-bar drum window: one line naming the file and the reason.
    let reconstruct = |file: &Path, out: &str| {
        run(
            &[
                "reconstruct",
                s(file),
                "--model",
                s(&model),
                "--out",
                s(&d.path().join(out)),
            ],
            None,
        )
    };
    let melody = root().join("midi_data/irish/oneills_0000.mid");
    let o = reconstruct(&melody, "x.mid");
    assert_one_line_error(&o, "oneills_0000.mid", "no drums (channel 10)");
    let odd = d.path().join("odd_pitches.mid");
    drum_file(&odd, 20, 4);
    let o = reconstruct(&odd, "y.mid");
    assert_one_line_error(&o, "odd_pitches.mid", "pitches 20");
    let waltz = d.path().join("waltz.mid");
    drum_file(&waltz, 36, 3);
    let o = reconstruct(&waltz, "z.mid");
    assert_one_line_error(&o, "waltz.mid", "3/4");
}
