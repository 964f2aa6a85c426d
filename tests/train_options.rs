//! `train --anneal-steps K --free-bits B`: the budget schedule, resolved into the run's
//! config.json, and its bad values; `--set dropout_keep_prob=K` (input dropout) likewise; a folder with fewer windows than a batch stops at once with
//! the counts; `--minutes M` stops cleanly with a checkpoint that `--resume` continues; run as a
//! user would on real files from midi_data/.

mod common;

use common::{root, s};

use std::path::Path;
use std::process::Command;

#[test]
fn anneal_steps_are_resolved_into_the_saved_config() {
    let d = tempfile::tempdir().expect("tempdir");
    let data = d.path().join("data");
    for (genre, file) in [
        ("irish", "oneills_0000.mid"),
        ("chorale", "bach_bwv104_6.mid"),
    ] {
        std::fs::create_dir_all(data.join(genre)).expect("mkdir");
        std::fs::copy(
            root().join("midi_data").join(genre).join(file),
            data.join(genre).join(file),
        )
        .expect("copy");
    }
    let run = d.path().join("run");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            s(&data),
            "--config",
            "tiny",
            "--out",
            s(&run),
            "--steps",
            "2",
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_musicvae"))
            .args(&args)
            .output()
            .expect("run musicvae")
    };
    let o = train(&[
        "--batch-size",
        "2",
        "--anneal-steps",
        "100",
        "--free-bits",
        "8",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("config.json")).expect("config"))
            .expect("json");
    let m = &cfg["model"];
    assert_eq!(m["anneal_steps"].as_u64(), Some(100), "{m}");
    assert_eq!(m["free_bits"].as_f64(), Some(8.0), "{m}");
    let rate = m["beta_rate"].as_f64().expect("beta_rate");
    assert!(
        (rate.powi(100) - 0.01).abs() < 1e-9,
        "β reaches 99 % at step 100: {rate}"
    );

    // Input dropout (Magenta's dropout_keep_prob): announced, trained with, saved; --force
    // replaces the run the first call left (its checkpoint).
    let o = train(&[
        "--force",
        "--batch-size",
        "2",
        "--set",
        "dropout_keep_prob=0.5",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("input dropout keep 0.5"), "{err}");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("config.json")).expect("config"))
            .expect("json");
    assert_eq!(cfg["model"]["dropout_keep_prob"].as_f64(), Some(0.5));

    for (args, needle) in [
        (
            vec![
                "--force",
                "--batch-size",
                "2",
                "--set",
                "dropout_keep_prob=0",
            ],
            "dropout_keep_prob must be in (0, 1]",
        ),
        (
            vec!["--force", "--batch-size", "2", "--anneal-steps", "0"],
            "--anneal-steps must be between 1",
        ),
        (
            vec!["--force", "--batch-size", "2", "--free-bits=-1"],
            "--free-bits must be a number",
        ),
        // Two files give fewer windows than one batch: stop at once, with the counts.
        (
            vec!["--force", "--batch-size", "4096"],
            "too few windows to train on",
        ),
    ] {
        let o = train(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains(needle),
            "{args:?}: {err}"
        );
    }
}

/// `train --data DIR --out RUN` with no preset: the quick recipe on cat-mel_2bar_small, resolved
/// into config.json; `--init RUN` fine-tunes that model (its sizes, the recipe's schedules, the
/// folder it started from recorded); weights of another size are refused with what differs.
#[test]
fn quick_recipe_and_init_from_a_model() {
    let d = tempfile::tempdir().expect("tempdir");
    let data = d.path().join("data");
    std::fs::create_dir_all(data.join("irish")).expect("mkdir");
    for file in ["oneills_0000.mid", "oneills_0081.mid", "oneills_0095.mid"] {
        std::fs::copy(
            root().join("midi_data/irish").join(file),
            data.join("irish").join(file),
        )
        .expect("copy");
    }
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec!["train", "--data", s(&data), "--out", s(out)];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_musicvae"))
            .args(&args)
            .output()
            .expect("run musicvae")
    };
    let config = |dir: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).expect("config"))
            .expect("json")
    };
    let base = d.path().join("base");
    let o = run(&base, &["--steps", "2", "--batch-size", "2"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("quick recipe (no --config)"), "{err}");
    let c = config(&base);
    assert_eq!(c["model"]["name"], "cat-mel_2bar_small", "{c}");
    assert_eq!(c["model"]["z_size"], 256, "{c}");
    // Two steps: β is fitted to reach its maximum at step 1 (half the run, at least 1).
    assert_eq!(c["model"]["anneal_steps"], 1, "{c}");
    assert!(c["train"].get("init_from").is_none(), "{c}");

    let tuned = d.path().join("tuned");
    let o = run(
        &tuned,
        &["--init", s(&base), "--steps", "4", "--batch-size", "2"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("from the weights of"), "{err}");
    // The compressed scheduled-sampling ramp is said, not only saved.
    assert!(
        err.contains("scheduled sampling") && err.contains("% of inputs by step 2 and"),
        "{err}"
    );
    let c = config(&tuned);
    assert_eq!(c["train"]["init_from"], s(&base), "{c}");
    assert_eq!(c["train"]["steps"], 4, "{c}");
    assert_eq!(c["model"]["anneal_steps"], 2, "{c}");

    // A schedule the user sets is kept as given, not compressed with the preset's own.
    let own = d.path().join("own");
    let o = run(
        &own,
        &[
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--set",
            "sampling.rate=50",
            "--set",
            "beta_rate=0.9",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let c = config(&own);
    assert_eq!(c["model"]["sampling"]["rate"], 50.0, "{c}");
    assert_eq!(c["model"]["beta_rate"], 0.9, "{c}");
    // β's 99 % step is said from the rate in force: ln 0.01 / ln 0.9 ≈ 44.
    assert!(err.contains("by step 44"), "{err}");

    // A preset of other sizes cannot start from these weights: one clear line, non-zero exit.
    let o = run(
        &d.path().join("bad"),
        &["--init", s(&base), "--config", "tiny", "--steps", "1"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("its weights do not fit this run") && err.contains("z_size 16 vs 256"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // --init of something that is not a model.
    let o = run(
        &d.path().join("bad2"),
        &["--init", s(&data), "--steps", "1"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("is not a model folder"),
        "{err}"
    );
}

/// `train --minutes M`: the run stops by itself when the time is up, with a checkpoint at the
/// step it reached, and `--resume` continues from that step; bad values are one clear line.
#[test]
fn minutes_stop_the_run_cleanly_with_a_checkpoint() {
    let d = tempfile::tempdir().expect("tempdir");
    let data = d.path().join("data");
    std::fs::create_dir_all(data.join("irish")).expect("mkdir");
    for file in ["oneills_0000.mid", "oneills_0081.mid"] {
        std::fs::copy(
            root().join("midi_data/irish").join(file),
            data.join("irish").join(file),
        )
        .expect("copy");
    }
    let run = d.path().join("run");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            s(&data),
            "--out",
            s(&run),
            "--batch-size",
            "2",
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_musicvae"))
            .args(&args)
            .output()
            .expect("run musicvae")
    };
    // A million steps, stopped by the clock after 1.5 s.
    let o = train(&[
        "--config",
        "tiny",
        "--steps",
        "1000000",
        "--minutes",
        "0.025",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("(--minutes 0.025 reached)"), "{out}");
    let step: u64 = out
        .split("stopped at step ")
        .nth(1)
        .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("the step it stopped at");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(run.join("checkpoint/complete.json")).expect("a complete checkpoint"),
    )
    .expect("json");
    assert_eq!(manifest["step"].as_u64(), Some(step), "{manifest}");

    let target = (step + 2).to_string();
    let o = train(&["--resume", "--steps", &target]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains(&format!("finished {target} steps")), "{out}");
    if step > 0 {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("first step finished"), "{err}");
    }

    for bad in ["0", "-1", "nan", "inf"] {
        let o = train(&["--config", "tiny", "--force", &format!("--minutes={bad}")]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("--minutes must be a positive number"),
            "{bad}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
