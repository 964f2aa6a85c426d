//! The genre classifier end to end through the real binary: train a tiny MobileNetV3-Small on a
//! few real files of two genres until it overfits, classify a file, and the error paths
//! (one label only, no such folder, a file without a usable window).

mod common;

use common::{midi_data, musicvae, text};
use musicvae::data::converter::{extract, ConverterConfig};
use musicvae::music::read_midi_file;
use std::path::{Path, PathBuf};

/// Copy the first `n` files of `genre` that give between 3 and `max_windows` 2-bar windows.
fn copy_genre(genre: &str, n: usize, max_windows: usize, to: &Path) -> Vec<PathBuf> {
    let dir = midi_data().join(genre);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let cfg = ConverterConfig::melody(2, None);
    std::fs::create_dir_all(to.join(genre)).unwrap();
    let mut out = Vec::new();
    for p in names {
        let Ok(seq) = read_midi_file(&p) else {
            continue;
        };
        let k = extract(&seq, &cfg).windows.len();
        if (3..=max_windows).contains(&k) {
            let dst = to.join(genre).join(p.file_name().unwrap());
            std::fs::copy(&p, &dst).unwrap();
            out.push(dst);
            if out.len() == n {
                break;
            }
        }
    }
    assert_eq!(out.len(), n, "not enough {genre} files in midi_data");
    out
}

#[test]
fn tiny_classifier_overfits_then_classifies() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let chinese = copy_genre("chinese_folk", 3, 12, &data);
    copy_genre("chorale", 3, 60, &data);
    let model = d.path().join("model");
    let o = musicvae(&[
        "train-classifier",
        "--data",
        data.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--arch",
        "mobilenetv3-small",
        "--width",
        "0.35",
        "--epochs",
        "3",
        "--steps-per-epoch",
        "40",
        "--batch-size",
        "16",
        "--held-out",
        "0",
        "--transpose",
        "0",
        "--dropout",
        "0",
        "--bn-momentum",
        "0.1",
        "--warmup-steps",
        "10",
        "--lr",
        "0.003",
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for f in [
        "model.mpk",
        "config.json",
        "metrics.jsonl",
        "report.json",
        "confusion.png",
        "confusion_files.png",
        "curve.png",
    ] {
        assert!(model.join(f).is_file(), "{f} missing\n{out}");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("report.json")).unwrap()).unwrap();
    let acc = report["train"]["window_accuracy"].as_f64().unwrap();
    println!("{out}");
    assert!(acc >= 0.95, "training window accuracy {acc}\n{out}");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        cfg["labels"],
        serde_json::json!(["chinese_folk", "chorale"])
    );

    // classify: a table, and JSON whose probabilities are distributions.
    let o = musicvae(&[
        "classify",
        chinese[0].to_str().unwrap(),
        "--classifier",
        model.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("whole file") && out.contains("genre: chinese_folk"),
        "{out}"
    );
    let o = musicvae(&[
        "classify",
        chinese[0].to_str().unwrap(),
        "--classifier",
        model.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(p["predicted"], "chinese_folk");
    let sum: f64 = p["file"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-4);
    for w in p["windows"].as_array().unwrap() {
        let s: f64 = w["probs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((s - 1.0).abs() < 1e-4);
    }

    // A MIDI file without notes: one-line reason, non-zero exit.
    let empty = d.path().join("empty.mid");
    let seq = musicvae::music::note_sequence::NoteSequence::default();
    musicvae::music::midi_out::write_midi_file(&seq, &empty).unwrap();
    let o = musicvae(&[
        "classify",
        empty.to_str().unwrap(),
        "--classifier",
        model.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("no notes"), "{out}");
    assert!(!out.contains("panicked"), "{out}");
}

#[test]
fn clear_errors_and_nonzero_exit() {
    let d = tempfile::tempdir().unwrap();
    let one = d.path().join("one");
    copy_genre("irish", 2, 1000, &one);
    let out_dir = d.path().join("m");
    let o = musicvae(&[
        "train-classifier",
        "--data",
        one.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("only one label"), "{t}");

    let o = musicvae(&[
        "train-classifier",
        "--data",
        "/no/such/folder",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(!o.status.success() && t.contains("/no/such/folder"), "{t}");

    let empty = d.path().join("empty");
    std::fs::create_dir_all(empty.join("a")).unwrap();
    let o = musicvae(&[
        "train-classifier",
        "--data",
        empty.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(!o.status.success() && t.contains("no MIDI files"), "{t}");

    let o = musicvae(&[
        "train-classifier",
        "--data",
        one.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--arch",
        "vgg",
    ]);
    let t = text(&o);
    assert!(!o.status.success() && t.contains("unknown --arch"), "{t}");

    let o = musicvae(&[
        "classify",
        "/no/such.mid",
        "--classifier",
        d.path().to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("no classifier here"),
        "{t}"
    );
    assert!(!t.contains("panicked"), "{t}");
}
