//! The GPU lease flow, dry-run on the CPU (`DEVICE=cpu`, tiny preset, a few seconds):
//! `scripts/gpu-prepare` packs the binary and a training cache → `bench/gpu-run.sh` trains into an
//! empty `$OUT` (ratio table skipped: `--no-bench`, or no PyTorch) and returns the checkpoint in
//! parts → `scripts/gpu-prepare --collect` reassembles the run → a second lease resumes the carried
//! checkpoint → `musicvae train --resume` continues here. The chunked curve must be the
//! uninterrupted run's, step by step. Also: the clock stop (`--minutes`) and the one-line errors
//! for a missing folder, a CPU binary sent to the GPU, no driver, and a missing part.

mod common;

use common::{root, s};
use std::path::Path;
use std::process::{Command, Output};

/// Run a script of the repository with `DEVICE=cpu` and extra environment.
fn script(path: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("bash");
    c.arg(root().join(path))
        .args(args)
        .current_dir(root())
        .env("DEVICE", "cpu")
        // No PyTorch: the ratio table is skipped unless a test asks otherwise.
        .env("PYTHON", "/nonexistent/python3")
        .env_remove("OUT");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run bash")
}

fn ok(o: &Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{what} failed:\n{text}");
    text
}

/// A failure with exactly one line on stderr containing every one of `needles`.
fn fails_with(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "should fail: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} in {err}");
    }
}

/// (step, loss) of every training line of a run's metrics.jsonl.
fn losses(run: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .expect("metrics.jsonl")
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((v["step"].as_u64()?, v["loss"].as_f64()?))
        })
        .collect()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn prepare_run_collect_resume_round_trip_on_cpu() {
    let t0 = std::time::Instant::now();
    // The repository's own .device (a real GPU package, maybe) is never touched by the test.
    let own = root().join(".device");
    let own_before = own.is_dir().then(|| files(&own));
    let d = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| d.path().join(name);
    let bin = env!("CARGO_BIN_EXE_musicvae");
    let data = p("data");
    for g in ["irish", "chorale"] {
        std::fs::create_dir_all(data.join(g)).expect("mkdir");
        let mut mids: Vec<_> = std::fs::read_dir(root().join("midi_data").join(g))
            .expect("midi_data")
            .map(|e| e.expect("entry").path())
            .filter(|f| f.extension().is_some_and(|x| x == "mid"))
            .collect();
        mids.sort();
        for f in mids.iter().take(5) {
            std::fs::copy(f, data.join(g).join(f.file_name().expect("name"))).expect("copy");
        }
    }
    let dev = p("dev");
    let train_args = [
        "--batch-size",
        "4",
        "--log-every",
        "1",
        "--set",
        "train.eval_every=0",
    ];

    // A CPU binary is refused for the GPU, naming the fix.
    let o = script(
        "scripts/gpu-prepare",
        &["--bin", bin, "--dest", s(&dev), "--data", s(&data)],
        &[("DEVICE", "cuda")],
    );
    fails_with(&o, &["has no GPU backend", "--features cuda-lean"]);

    // Lease 1: train tiny for 4 steps (well inside --minutes), return the checkpoint.
    let prep = &[
        "--bin",
        bin,
        "--dest",
        s(&dev),
        "--data",
        s(&data),
        "--train",
        "tiny",
        "--no-tokens",
    ];
    let text = ok(&script("scripts/gpu-prepare", prep, &[]), "gpu-prepare");
    assert!(text.contains("cache written to"), "{text}");
    for f in [
        "musicvae.gz",
        "musicvae.sha256",
        "cubecl.toml",
        "build.txt",
        "cache-tiny.tgz",
    ] {
        assert!(dev.join(f).is_file(), "{f} in {:?}", files(&dev));
    }
    let toml = std::fs::read_to_string(dev.join("cubecl.toml")).expect("cubecl.toml");
    assert!(
        toml.contains("[autotune]") && toml.contains("level = \"minimal\""),
        "{toml}"
    );

    let out1 = p("out1");
    let mut args = vec![
        "--device-dir",
        s(&dev),
        "--no-bench",
        "--train",
        "tiny",
        "--minutes",
        "1",
        "--",
        "--steps",
        "4",
    ];
    args.extend_from_slice(&train_args);
    let text = ok(
        &script("bench/gpu-run.sh", &args, &[("OUT", s(&out1))]),
        "gpu-run.sh",
    );
    assert!(text.contains("ratio table skipped (--no-bench)"), "{text}");
    assert!(text.contains("finished 4 steps"), "{text}");
    let got = files(&out1);
    assert!(got.len() <= 8, "{got:?}");
    for f in [
        "report.txt",
        "metrics.jsonl",
        "curves.png",
        "kernel-cache.tar.gz",
        "model-f16.tar",
        "checkpoint.tgz.part-1-of-1",
    ] {
        assert!(got.contains(&f.to_string()), "{f} in {got:?}");
    }
    for f in &got {
        let len = std::fs::metadata(out1.join(f)).expect("meta").len();
        assert!(len <= 16 << 20, "{f}: {len} bytes");
    }
    let report = std::fs::read_to_string(out1.join("report.txt")).expect("report");
    assert!(report.contains("checkpoint at step 4"), "{report}");
    assert!(report.contains("== summary"), "{report}");

    // Collect, carry the checkpoint to lease 2, which resumes it to step 6.
    let run1 = p("run1");
    let text = ok(
        &script(
            "scripts/gpu-prepare",
            &["--collect", s(&out1), "--run", s(&run1), "--dest", s(&dev)],
            &[],
        ),
        "collect",
    );
    assert!(text.contains("tiny at step 4"), "{text}");
    assert!(
        text.contains(&format!("--data {} --out", s(&data))),
        "{text}"
    );
    assert!(run1.join("model-f16/model.mpk").is_file());
    assert!(
        dev.join("kernel-cache.tar.gz").is_file(),
        "kept for the next lease"
    );
    let mut prep2 = prep.to_vec();
    prep2.extend_from_slice(&["--checkpoint", s(&run1)]);
    let text = ok(&script("scripts/gpu-prepare", &prep2, &[]), "gpu-prepare 2");
    assert!(
        text.contains("kernel cache: "),
        "the same binary's cache is carried: {text}"
    );
    let out2 = p("out2");
    let text = ok(
        &script(
            "bench/gpu-run.sh",
            &[
                "--device-dir",
                s(&dev),
                "--no-bench",
                "--resume",
                "--",
                "--steps",
                "6",
                "--log-every",
                "1",
            ],
            &[("OUT", s(&out2))],
        ),
        "gpu-run.sh --resume",
    );
    assert!(text.contains("kernel cache restored"), "{text}");
    assert!(
        text.contains("resuming the carried tiny checkpoint"),
        "{text}"
    );
    assert!(text.contains("finished 6 steps"), "{text}");

    // Back here: reassemble and continue on the CPU to step 8.
    let run2 = p("run2");
    ok(
        &script(
            "scripts/gpu-prepare",
            &["--collect", s(&out2), "--run", s(&run2), "--dest", s(&dev)],
            &[],
        ),
        "collect 2",
    );
    // The MIDI folder gives the cache's windows (same split seed and fraction).
    let cache = data.clone();
    let o = Command::new(bin)
        .args([
            "train",
            "--data",
            s(&cache),
            "--out",
            s(&run2),
            "--resume",
            "--steps",
            "8",
            "--log-every",
            "1",
        ])
        .output()
        .expect("musicvae");
    let text = ok(&o, "train --resume");
    assert!(text.contains("finished 8 steps"), "{text}");

    // The same 8 steps without a break.
    let reference = p("reference");
    let mut args = vec![
        "train",
        "--data",
        s(&cache),
        "--out",
        s(&reference),
        "--config",
        "tiny",
        "--steps",
        "8",
    ];
    args.extend_from_slice(&train_args);
    ok(
        &Command::new(bin).args(&args).output().expect("musicvae"),
        "reference",
    );
    let (chunked, whole) = (losses(&run2), losses(&reference));
    assert_eq!(chunked.len(), 8, "{chunked:?}");
    assert_eq!(whole.len(), 8, "{whole:?}");
    // Not bitwise: two uninterrupted runs already differ in the 7th digit (burn-ndarray's SIMD
    // reciprocal depends on memory alignment; see tests/model_training.rs); a resume that lost
    // the optimizer state, the RNG or the data position moves the loss by whole percents.
    let mut worst = 0f64;
    for ((sa, a), (sb, b)) in chunked.iter().zip(&whole) {
        assert_eq!(sa, sb);
        let rel = (a - b).abs() / b.abs().max(1.0);
        worst = worst.max(rel);
        assert!(
            rel < 1e-4,
            "step {sa}: chunked {a} vs whole {b} ({rel:.2e})"
        );
    }
    println!("largest relative difference, 4 + 2 + 2 steps vs 8: {worst:.2e}");

    // The clock: a lease's training stops itself with a checkpoint; no PyTorch → no table. With
    // 1 MiB parts the checkpoint takes 4 of the 8 slots, so the f16 model stays behind and
    // --collect exports it from the checkpoint.
    let out3 = p("out3");
    let text = ok(
        &script(
            "bench/gpu-run.sh",
            &[
                "--device-dir",
                s(&dev),
                "--train",
                "tiny",
                "--minutes",
                "0.02",
                "--",
                "--steps",
                "1000000",
                "--batch-size",
                "4",
            ],
            &[("OUT", s(&out3)), ("PART_MIB", "1")],
        ),
        "gpu-run.sh on the clock",
    );
    assert!(
        text.contains("ratio table skipped: /nonexistent/python3 has no torch"),
        "{text}"
    );
    assert!(text.contains("reached); checkpoint saved"), "{text}");
    let got = files(&out3);
    assert_eq!(got.len(), 8, "{got:?}");
    assert!(
        got.contains(&"checkpoint.tgz.part-4-of-4".to_string()),
        "{got:?}"
    );
    assert!(
        text.contains("left out: model-f16.tar (no slot left"),
        "{text}"
    );
    let run3 = p("run3");
    let text = ok(
        &script(
            "scripts/gpu-prepare",
            &["--collect", s(&out3), "--run", s(&run3), "--dest", s(&dev)],
            &[("MUSICVAE_BIN", bin)],
        ),
        "collect 3",
    );
    assert!(text.contains("f16 model: "), "{text}");
    assert!(run3.join("model-f16/model.mpk").is_file(), "{text}");

    // Bad input: one line each, naming the cause and the fix.
    let o = script(
        "bench/gpu-run.sh",
        &["--device-dir", s(&p("nothing"))],
        &[("OUT", s(&p("out4")))],
    );
    fails_with(&o, &["no ", "run scripts/gpu-prepare first"]);
    let o = script(
        "bench/gpu-run.sh",
        &["--device-dir", s(&dev), "--minutes", "soon"],
        &[("OUT", s(&p("out5")))],
    );
    fails_with(&o, &["--minutes must be a positive number"]);
    let o = script(
        "bench/gpu-run.sh",
        &["--device-dir", s(&dev), "--no-bench"],
        &[("OUT", s(&out1))],
    );
    fails_with(&o, &["is not empty"]);
    if Command::new("nvidia-smi").output().is_err() {
        let o = script(
            "bench/gpu-run.sh",
            &["--device-dir", s(&dev), "--no-bench"],
            &[("OUT", s(&p("out6"))), ("DEVICE", "cuda")],
        );
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(!o.status.success(), "{text}");
        assert!(
            text.contains("nvidia-smi not found: no NVIDIA driver"),
            "{text}"
        );
    }
    std::fs::remove_file(out2.join("checkpoint.tgz.part-1-of-1")).expect("rm");
    std::fs::write(out2.join("checkpoint.tgz.part-1-of-2"), b"x").expect("write");
    let o = script(
        "scripts/gpu-prepare",
        &[
            "--collect",
            s(&out2),
            "--run",
            s(&p("run4")),
            "--dest",
            s(&dev),
        ],
        &[],
    );
    fails_with(&o, &["1 of 2 checkpoint parts present"]);
    assert_eq!(
        own.is_dir().then(|| files(&own)),
        own_before,
        "{own:?} changed"
    );
    println!(
        "dry run of the GPU flow: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
