//! The shipped models in `models/`, as a newcomer meets them: the README's first command works
//! with no other step, and each model card's check figures are what `musicvae eval` (the same code
//! path as the full evaluation) gives on the committed `midi_data` held-out files.

mod common;

use common::{musicvae, root, s, text};

use std::path::PathBuf;

#[test]
fn the_first_readme_command_works_with_the_default_model() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("interpolation.mid");
    let wav = d.path().join("out.wav");
    let o = musicvae(&[
        "interpolate",
        "midi_data/german_folk/essen_altdeu10_0122.mid",
        "midi_data/american_fiddle/ryans_allycroakersfavoritereel.mid",
        "-o",
        s(&out),
        "--png",
        "--wav",
        s(&wav),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("models/mel_2bar"),
        "the default model is used: {t}"
    );
    for p in [&out, &out.with_extension("png"), &wav] {
        let len = std::fs::metadata(p)
            .map(|m| m.len())
            .unwrap_or_else(|_| panic!("{} missing\n{t}", p.display()));
        assert!(len > 100, "{} is {len} bytes", p.display());
    }
}

/// `Check on midi_data: … teacher-forced 0.xxxx, sampled 0.xxxx …` from a model card.
fn card_check(card: &str) -> (f64, f64, String) {
    let line = card
        .lines()
        .find(|l| l.contains("Check on midi_data"))
        .expect("the card has a 'Check on midi_data' line");
    let num_after = |key: &str| -> f64 {
        let i = line
            .find(key)
            .unwrap_or_else(|| panic!("no '{key}' in: {line}"))
            + key.len();
        line[i..]
            .trim_start()
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("no number after '{key}' in: {line}"))
    };
    let cmd = line
        .split('`')
        .nth(1)
        .expect("the check line quotes its command in backticks")
        .to_string();
    (num_after("teacher-forced"), num_after("sampled"), cmd)
}

#[test]
fn model_card_figures_are_reproduced_by_eval() {
    // Every shipped model whose card states a check on midi_data (the VAEs; the default one must
    // be among them).
    let mut checked = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("models"))
        .expect("models/")
        .map(|e| e.expect("entry").path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(card) = std::fs::read_to_string(dir.join("MODEL_CARD.md")) else {
            continue;
        };
        if !card.contains("Check on midi_data") {
            continue;
        }
        assert!(dir.join("model.mpk").is_file(), "{name}: no weights");
        let (tf, sampled, cmd) = card_check(&card);
        // The card's command, run here with a JSON copy of the table.
        let d = tempfile::tempdir().expect("tempdir");
        let json = d.path().join("eval.json");
        let mut args: Vec<String> = cmd
            .split_whitespace()
            .skip(1) // "musicvae"
            .map(String::from)
            .collect();
        args.extend(["--json".into(), s(&json).into()]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = musicvae(&argv);
        assert!(o.status.success(), "{name}: {}", text(&o));
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).expect("eval JSON")).expect("JSON");
        let e = &v[0]["eval"];
        let got_tf = e["teacher_forced_accuracy"].as_f64().expect("tf");
        let got_s = e["sampled_accuracy"].as_f64().expect("sampled");
        // Argmax decoding of the same weights on the same windows: equal up to float noise.
        assert!(
            (got_tf - tf).abs() < 2e-3 && (got_s - sampled).abs() < 2e-3,
            "{name}: card says teacher-forced {tf}, sampled {sampled}; eval gives {got_tf:.4}, {got_s:.4}"
        );
        // Drum models also say which drums they miss: every class, hits counted in the windows.
        let classes = e["drum_classes"].as_array();
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).expect("config.json"))
                .expect("config JSON");
        if config["model"]["data"]["kind"] == "drums" {
            let classes = classes.unwrap_or_else(|| panic!("{name}: no drum_classes: {e}"));
            let names: Vec<&str> = classes.iter().filter_map(|c| c["class"].as_str()).collect();
            assert_eq!(names.len(), 9, "{name}: {names:?}");
            assert_eq!((names[0], names[8]), ("kick", "ride"), "{name}");
            let hits: u64 = classes.iter().filter_map(|c| c["hits"].as_u64()).sum();
            assert!(hits > 0, "{name}: no hits counted");
            for c in classes {
                for k in ["recall", "precision"] {
                    let x = c[k].as_f64().expect("share");
                    assert!((0.0..=1.0).contains(&x), "{name}: {c}");
                }
            }
            // The kick is played back far more often than not by a shipped drum model.
            assert!(
                classes[0]["recall"].as_f64().unwrap_or(0.0) > 0.7,
                "{name}: {}",
                classes[0]
            );
        } else {
            assert!(classes.is_none(), "{name}: drum classes for a melody model");
        }
        checked.push(name);
    }
    assert!(
        checked.iter().any(|n| n == "mel_2bar"),
        "checked {checked:?}"
    );
}

/// `eval --prior N`: the MGEval-style table of prior samples against held-out phrases, with the
/// real-vs-real ceiling; bad settings give one line and a non-zero exit.
#[test]
fn eval_prior_sample_quality_table() {
    let d = tempfile::tempdir().expect("tempdir");
    let json = d.path().join("eval.json");
    let o = musicvae(&[
        "eval",
        "--data",
        "midi_data",
        "--prior",
        "64",
        "--pairs",
        "0",
        "--max-windows",
        "128",
        "--json",
        s(&json),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for feature in [
        "note count",
        "pitch range",
        "mean |interval|",
        "in major scale",
        "real vs real",
    ] {
        assert!(t.contains(feature), "{feature} missing: {t}");
    }
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("parse");
    // Magenta's metric (z ~ q(z|x)) beside ours (z = μ).
    let post = &v[0]["eval"]["posterior_sample"];
    let tf_q = post["teacher_forced_accuracy"]
        .as_f64()
        .expect("z ~ q accuracy");
    let tf_mu = v[0]["eval"]["teacher_forced_accuracy"]
        .as_f64()
        .expect("z = μ");
    assert!(
        tf_q > 0.5 && tf_q <= 1.0 && (tf_q - tf_mu).abs() < 0.1,
        "{post}"
    );
    assert_eq!(
        post["sampled_per_bar"].as_array().map(Vec::len),
        Some(2),
        "{post}"
    );
    let q = &v[0]["prior_samples"];
    assert_eq!(q["generated_segments"].as_u64(), Some(64), "{q}");
    assert_eq!(q["real_segments"].as_u64(), Some(128), "{q}");
    let (gen, ceiling) = (
        q["mean_overlap"].as_f64().expect("mean_overlap"),
        q["mean_real_vs_real"].as_f64().expect("ceiling"),
    );
    assert!(
        (0.0..=1.0).contains(&gen) && (0.0..=1.0).contains(&ceiling),
        "{q}"
    );
    // Real phrases' pitch range is a handful of semitones; the table reports it.
    let real_range = q["rows"][1]["real_mean"].as_f64().expect("range");
    assert!((3.0..15.0).contains(&real_range), "{q}");

    for (args, needle) in [
        (vec!["--prior", "0"], "--prior must be between 1"),
        (
            vec!["--prior", "8", "--temperature", "-1"],
            "--temperature must be",
        ),
    ] {
        let mut all = vec!["eval", "--data", "midi_data"];
        all.extend(args);
        let o = musicvae(&all);
        let t = text(&o);
        assert!(!o.status.success() && t.contains(needle), "{all:?}: {t}");
    }
}

/// The reconstruction accuracy `reconstruct` prints, in percent.
fn reconstruction_percent(t: &str) -> f64 {
    t.lines()
        .find_map(|l| l.strip_prefix("reconstruction accuracy: "))
        .and_then(|r| r.split('%').next())
        .and_then(|x| x.trim().parse().ok())
        .unwrap_or_else(|| panic!("no reconstruction accuracy in: {t}"))
}

#[test]
fn refined_codes_reconstruct_held_out_phrases_at_least_as_well() {
    // A beat of the Groove test split for the drum model and a folk tune for the melody model: `--refine N` says what it did, lowers the teacher-forced loss and reconstructs the
    // phrase at least as faithfully as the encoder's μ.
    for file in [
        "midi_data_drums/funk/drummer1_eval_session_2_funk-groove2_105_beat_4-4.mid",
        "midi_data/irish/oneills_0000.mid",
    ] {
        let plain = musicvae(&["reconstruct", file]);
        let t0 = text(&plain);
        assert!(plain.status.success(), "{t0}");
        let refined = musicvae(&[
            "reconstruct",
            file,
            "--refine",
            "100",
            "--refine-anchor",
            "0.1",
        ]);
        let t1 = text(&refined);
        assert!(refined.status.success(), "{t1}");
        let line = t1
            .lines()
            .find(|l| l.starts_with("refined the input code (100 steps;"))
            .unwrap_or_else(|| panic!("no refinement line: {t1}"));
        let losses: Vec<f64> = line
            .split("loss ")
            .nth(1)
            .and_then(|r| r.split(" nats").next())
            .map(|r| r.split(" → ").filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default();
        assert!(
            losses.len() == 2 && losses[1] < losses[0],
            "loss did not fall: {line}"
        );
        let (a, b) = (reconstruction_percent(&t0), reconstruction_percent(&t1));
        assert!(b >= a, "{file}: refined {b}% < {a}%\n{t1}");
    }
    // Bad refinement settings: one clear line, a non-zero exit, no panic.
    for (flag, value, word) in [
        ("--refine-anchor", "-1", "anchor"),
        ("--refine-lr", "0", "step size"),
        ("--refine", "20000", "at most"),
    ] {
        let arg = format!("{flag}={value}");
        let o = musicvae(&["reconstruct", "midi_data/irish/oneills_0000.mid", &arg]);
        let t = text(&o);
        assert!(!o.status.success(), "{flag} {value}: {t}");
        assert!(
            t.contains(word) && !t.contains("panicked"),
            "{flag} {value}: {t}"
        );
    }
}
