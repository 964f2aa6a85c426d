//! The genre classifier end to end through the real binary: train a tiny MobileNetV3-Small on a
//! few real files of two genres until it overfits, classify a file, and the error paths
//! (one label only, no such folder, a file without a usable window). The same for a drum-style
//! classifier on a few Groove MIDI files of two styles (midi_data_drums), with their split file.

mod common;

use common::{midi_data, musicvae, root, text};
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

    // Drum augmentations are refused for melodies, before any file is read.
    for flag in [&["--drop-hits", "0.1"][..], &["--no-rotate-bars"][..]] {
        let mut args = vec![
            "train-classifier",
            "--data",
            one.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(flag);
        let t = text(&musicvae(&args));
        assert!(
            t.contains(&format!("{} is a drum-style setting", flag[0])),
            "{t}"
        );
    }

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

/// Copy `per_split` files of `style` from midi_data_drums for each of "train" and "test" (as its
/// split.tsv says), each giving 2..=`max_windows` 2-bar drum windows; returns the split.tsv lines
/// of the copies (train files first).
fn copy_style(style: &str, per_split: usize, max_windows: usize, to: &Path) -> Vec<String> {
    let src = root().join("midi_data_drums");
    let split = std::fs::read_to_string(src.join("split.tsv")).unwrap();
    let cfg = ConverterConfig::drums(2);
    std::fs::create_dir_all(to.join(style)).unwrap();
    let mut lines = Vec::new();
    for want in ["train", "test"] {
        let mut n = 0;
        for line in split.lines().filter(|l| !l.starts_with('#')) {
            let Some((rel, s)) = line.split_once('\t') else {
                continue;
            };
            if s != want || !rel.starts_with(&format!("{style}/")) || n == per_split {
                continue;
            }
            let Ok(seq) = read_midi_file(&src.join(rel)) else {
                continue;
            };
            let k = extract(&seq, &cfg).windows.len();
            if (2..=max_windows).contains(&k) {
                std::fs::copy(src.join(rel), to.join(rel)).unwrap();
                lines.push(line.to_string());
                n += 1;
            }
        }
        assert_eq!(
            n, per_split,
            "not enough {want} {style} files in midi_data_drums"
        );
    }
    lines
}

#[test]
fn tiny_drum_style_classifier_trains_and_classifies() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("drums");
    let mut split = vec!["# file\tsplit".to_string()];
    split.extend(copy_style("pop", 2, 20, &data));
    split.extend(copy_style("hiphop", 2, 20, &data));
    std::fs::write(data.join("split.tsv"), split.join("\n") + "\n").unwrap();
    let pop_train = data.join(split[1].split('\t').next().unwrap());
    let model = d.path().join("model");
    let o = musicvae(&[
        "train-classifier",
        "--data",
        data.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        // The smallest, quickest network that learns two styles in 40 steps (~15 s here).
        "--arch",
        "resnet",
        "--width",
        "0.25",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "40",
        "--batch-size",
        "8",
        "--dropout",
        "0",
        "--bn-momentum",
        "0.3",
        "--warmup-steps",
        "5",
        "--lr",
        "0.003",
    ]);
    let out = text(&o);
    println!("{out}");
    assert!(o.status.success(), "{out}");
    // Detected as drums; the split file's test files are the held-out ones.
    assert!(
        out.contains("drums windows (detected from the data"),
        "{out}"
    );
    assert!(
        out.contains("split by the corpus's split.tsv (validation + test held out)"),
        "{out}"
    );
    assert!(out.contains("input [1, 9, 32]"), "{out}");
    assert!(out.contains("held-out: window accuracy"), "{out}");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["kind"], "drums");
    assert_eq!(cfg["onset_channel"], false);
    // Drum styles train on augmented windows by default.
    assert_eq!(cfg["rotate_bars"], true);
    assert_eq!(cfg["drop_hits"], 0.1);
    assert!(out.contains("bar rotation on, hit dropout 0.1"), "{out}");
    assert_eq!(cfg["labels"], serde_json::json!(["hiphop", "pop"]));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["held_out"]["files"], 4);
    assert_eq!(report["train"]["files"], 4);
    let acc = report["train"]["window_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.9, "training window accuracy {acc}\n{out}");

    // classify a drum file through the binary: a table and a style, JSON distributions.
    let o = musicvae(&[
        "classify",
        pop_train.to_str().unwrap(),
        "--classifier",
        model.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("drums windows of 2 bars"), "{out}");
    assert!(
        out.contains("whole file") && out.contains("style: pop"),
        "{out}"
    );
    let o = musicvae(&[
        "classify",
        pop_train.to_str().unwrap(),
        "--classifier",
        model.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(p["predicted"], "pop");
    let sum: f64 = p["file"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-4);

    // A melody file has no drums: one reason, non-zero exit.
    let tune = common::midi_data().join("chorale");
    let tune = std::fs::read_dir(tune)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let o = musicvae(&[
        "classify",
        tune.to_str().unwrap(),
        "--classifier",
        model.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("no usable drums window"), "{out}");
    assert!(!out.contains("panicked"), "{out}");

    // A melody VAE judged by this drum classifier: refused in one line naming both kinds.
    let o = musicvae(&[
        "eval-attributes",
        "-m",
        "models/mel_2bar",
        "--data",
        data.to_str().unwrap(),
        "--classifier",
        model.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("this classifier reads drums windows but model")
            && out.contains("writes melody windows"),
        "{out}"
    );

    // The shipped drum model's style vectors judged by this classifier on the held-out beats:
    // the table says how many hits (not only steps) each vector changed, and (--real-beats) how
    // far the nearest real beat of each style is. With a budget of every hit, each beat has a
    // real beat of the style within it (the other held-out file's), and the likeliest of them
    // raises the judge's probability at least as much as the nearest.
    let table = d.path().join("styles.json");
    let o = musicvae(&[
        "eval-attributes",
        "-m",
        "models/drums_2bar",
        "--data",
        data.to_str().unwrap(),
        "--classifier",
        model.to_str().unwrap(),
        "--max-per-label",
        "3",
        "--real-beats",
        "--hit-budget",
        "1",
        "-o",
        table.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("hits changed +v / −v"), "{out}");
    assert!(
        out.contains("the nearest real beat of the style changes"),
        "{out}"
    );
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(&table).unwrap()).unwrap();
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{t}");
    for r in rows {
        for key in ["hits_changed_toward", "hits_changed_away"] {
            let v = r[key].as_f64().unwrap_or(-1.0);
            assert!((0.0..=1.0).contains(&v), "{key}: {r}");
        }
    }
    let real = &t["real_beats"];
    assert_eq!(real["pool"], "held-out", "{real}");
    let real_rows = real["rows"].as_array().unwrap();
    assert_eq!(real_rows.len(), 2, "{real}");
    for r in real_rows {
        let hits = r["nearest_hits"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&hits), "{r}");
        assert_eq!(r["within_share"].as_f64().unwrap(), 1.0, "{r}");
        let (best, nearest) = (
            r["best_within_rise"].as_f64().unwrap(),
            r["nearest_rise"].as_f64().unwrap(),
        );
        assert!(best >= 0.0 && best >= nearest - 1e-9, "{r}");
    }
    // Random control vectors are never written over the model's own attributes.json.
    let o = musicvae(&[
        "attributes",
        "-m",
        "models/drums_2bar",
        "--data",
        data.to_str().unwrap(),
        "--labels",
        "folders",
        "--direction",
        "random",
    ]);
    let out = text(&o);
    assert!(
        !o.status.success() && out.contains("--direction random writes control vectors"),
        "{out}"
    );
    // A hit budget outside [0, 1] is refused in one line.
    let o = musicvae(&[
        "eval-attributes",
        "-m",
        "models/drums_2bar",
        "--data",
        data.to_str().unwrap(),
        "--classifier",
        model.to_str().unwrap(),
        "--real-beats",
        "--hit-budget",
        "40",
    ]);
    let out = text(&o);
    assert!(
        !o.status.success() && out.contains("--hit-budget must be a fraction of hits in [0, 1]"),
        "{out}"
    );

    // Melody-only settings are refused for drums; --kind melody on drums finds no melody.
    let again = d.path().join("again");
    let o = musicvae(&[
        "train-classifier",
        "--data",
        data.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
        "--transpose",
        "3",
    ]);
    let out = text(&o);
    assert!(
        !o.status.success() && out.contains("--transpose is a melody setting"),
        "{out}"
    );
    let o = musicvae(&[
        "train-classifier",
        "--data",
        data.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
        "--kind",
        "melody",
    ]);
    let out = text(&o);
    assert!(
        !o.status.success() && out.contains("melody window"),
        "{out}"
    );
}
