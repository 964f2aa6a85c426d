//! `scripts/synthetic-drums` on the committed Groove subset (midi_data_drums/) with the shipped
//! drum model: the new corpus links the real genre folders, adds the model's own beats to the
//! train split only (validation and test stay the dataset's), and `musicvae prepare` reads it.
//! A folder the script did not make is never replaced, and a bad -n is refused.

mod common;

use common::{musicvae, root, s, split_lines, text};
use std::fs;
use std::process::{Command, Output};

fn synthetic(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(root().join("scripts/synthetic-drums"))
        .args(["--corpus", "midi_data_drums"])
        .args(["--musicvae", env!("CARGO_BIN_EXE_musicvae")])
        .args(args)
        .current_dir(root())
        .output()
        .expect("bash runs scripts/synthetic-drums")
}

#[test]
fn synthetic_drums_adds_the_models_beats_to_the_train_split_only() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("synth");
    let o = synthetic(&["--out", s(&out), "-n", "3"]);
    assert!(o.status.success(), "{}", text(&o));

    let real = split_lines(&root().join("midi_data_drums"));
    let lines = split_lines(&out);
    assert_eq!(lines.len(), real.len() + 6, "{lines:?}");
    assert_eq!(
        &lines[..real.len()],
        &real[..],
        "the real split is kept as it is"
    );
    for line in &lines[real.len()..] {
        let (rel, which) = line.split_once('\t').expect("file<TAB>split");
        assert_eq!(which, "train", "{line}");
        assert!(
            rel.starts_with("zsynth/t05/") || rel.starts_with("zsynth/t10/"),
            "{line}"
        );
        assert!(out.join(rel).is_file(), "{rel} missing");
    }
    // The real genres are links to the corpus, not copies.
    let funk = out.join("funk");
    assert!(
        fs::symlink_metadata(&funk)
            .expect("funk")
            .file_type()
            .is_symlink(),
        "funk is a link"
    );

    // prepare reads it: the six beats are training windows, held-out files are the dataset's.
    let cache = d.path().join("cache");
    let o = musicvae(&[
        "prepare",
        s(&out),
        "--config",
        "cat-drums_2bar_small",
        "--out",
        s(&cache),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let meta: serde_json::Value =
        serde_json::from_slice(&fs::read(cache.join("cache.json")).expect("cache.json"))
            .expect("json");
    let files = meta["files"].as_array().expect("files");
    let synth: Vec<_> = files
        .iter()
        .filter(|f| f["rel"].as_str().is_some_and(|r| r.starts_with("zsynth/")))
        .collect();
    assert!(!synth.is_empty(), "no synthetic beat gave a window");
    for f in &synth {
        assert_eq!(f["split"].as_str(), Some("train"), "{f}");
        assert_eq!(f["held_out"].as_bool(), Some(false), "{f}");
    }

    // Rebuilding its own folder works; a folder it did not make is left alone.
    let o = synthetic(&["--out", s(&out), "-n", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(split_lines(&out).len(), real.len() + 2);
    let mine = d.path().join("mine");
    fs::create_dir_all(&mine).expect("mkdir");
    fs::write(mine.join("keep.txt"), "mine").expect("write");
    let o = synthetic(&["--out", s(&mine), "-n", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("was not made by this script"),
        "{}",
        text(&o)
    );
    assert!(mine.join("keep.txt").is_file(), "the folder was touched");

    let o = synthetic(&["--out", s(&out), "-n", "many"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("-n must be a whole number"),
        "{}",
        text(&o)
    );
}
