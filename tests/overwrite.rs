//! No command overwrites what the user did not ask to overwrite: an output that is an input (by
//! any spelling: `./A.mid`, `dir/../A.mid`, a symlink, a hard link), two outputs on one file, a
//! model folder as `train --out` / `export --out`. Each is refused with one line and exit code ≠ 0
//! before any work, and the input is byte-identical afterwards. Runs the real binary with the
//! shipped model on real files from midi_data/.

mod common;

use common::{musicvae, root, s};

use std::path::{Path, PathBuf};

/// Copies of two real MIDI files in a fresh folder (so a failed guard could not hurt the repo).
struct Inputs {
    dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
}

fn inputs() -> Inputs {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.mid");
    let b = dir.path().join("b.mid");
    std::fs::copy(root().join("midi_data/irish/oneills_0000.mid"), &a).expect("copy");
    std::fs::copy(root().join("midi_data/chorale/bach_bwv104_6.mid"), &b).expect("copy");
    Inputs { dir, a, b }
}

/// Run `args`, expect a refusal whose one line contains `needle`, and every file in `keep`
/// unchanged.
fn refused(args: &[&str], needle: &str, keep: &[&Path]) {
    let before: Vec<Vec<u8>> = keep
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    let o = musicvae(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} should fail; stderr: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected '{needle}' in: {err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{args:?}: one error line: {err}"
    );
    for (p, b) in keep.iter().zip(before) {
        assert_eq!(
            std::fs::read(p).expect("read"),
            b,
            "{} changed",
            p.display()
        );
    }
}

const INPUT: &str = "refusing to overwrite an input";
const SAME: &str = "are the same file";

#[test]
fn generating_commands_refuse_an_output_that_is_an_input() {
    let t = inputs();
    let (a, b) = (s(&t.a), s(&t.b));
    let sub = t.dir.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    let dotted = format!("{}/sub/../a.mid", s(t.dir.path()));
    let link = t.dir.path().join("link.mid");
    std::os::unix::fs::symlink(&t.a, &link).expect("symlink");
    let hard = t.dir.path().join("hard.mid");
    std::fs::hard_link(&t.b, &hard).expect("hard link");
    let keep = [t.a.as_path(), t.b.as_path()];

    refused(&["reconstruct", a, "-o", a], INPUT, &keep);
    refused(&["reconstruct", a, "-o", &dotted], INPUT, &keep);
    refused(&["reconstruct", a, "-o", s(&link)], INPUT, &keep);
    refused(&["interpolate", a, b, "-o", b], INPUT, &keep);
    refused(&["interpolate", a, b, "-o", s(&hard)], INPUT, &keep);
    refused(&["encode", a, "-o", a], INPUT, &keep);
    refused(
        &["morph", a, "--toward", "irish", "-o", &dotted],
        INPUT,
        &keep,
    );
    // --wav on an input, --png landing on an input (OUT.png beside OUT.mid).
    let wav_input = t.dir.path().join("c.wav");
    std::fs::copy(&t.b, &wav_input).expect("copy");
    refused(
        &[
            "interpolate",
            a,
            s(&wav_input),
            "-o",
            s(&t.dir.path().join("x.mid")),
            "--wav",
            s(&wav_input),
        ],
        INPUT,
        &[wav_input.as_path()],
    );
    let png_input = t.dir.path().join("y.png");
    std::fs::copy(&t.a, &png_input).expect("copy");
    refused(
        &[
            "morph",
            s(&png_input),
            "--toward",
            "irish",
            "-o",
            s(&t.dir.path().join("y.mid")),
            "--png",
        ],
        INPUT,
        &[png_input.as_path()],
    );
    // The model's own files are inputs too.
    let cfg = root().join("models/mel_2bar/config.json");
    refused(
        &["reconstruct", a, "-o", s(&cfg)],
        "the model's config.json",
        &[cfg.as_path()],
    );
}

#[test]
fn two_outputs_on_one_file_are_refused() {
    let t = inputs();
    let (a, b) = (s(&t.a), s(&t.b));
    // -o names the MIDI file; --wav the same file by another spelling.
    let out = t.dir.path().join("x.wav");
    refused(
        &[
            "interpolate",
            a,
            b,
            "-o",
            s(&out),
            "--wav",
            &format!("{}/./x.wav", s(t.dir.path())),
        ],
        SAME,
        &[t.a.as_path()],
    );
    assert!(!out.exists(), "nothing written");
    // render: --waveform and --spectrogram on one file; --out on the MIDI file by another spelling.
    let wave = t.dir.path().join("w.png");
    refused(
        &[
            "render",
            a,
            "-o",
            s(&t.dir.path().join("a.wav")),
            "--builtin",
            "--waveform",
            s(&wave),
            "--spectrogram",
            &format!("{}/./w.png", s(t.dir.path())),
        ],
        SAME,
        &[t.a.as_path()],
    );
    // A parent that does not exist is resolved by name.
    refused(
        &[
            "render",
            a,
            "-o",
            &format!("{}/missing/../a.mid", s(t.dir.path())),
            "--builtin",
        ],
        INPUT,
        &[t.a.as_path()],
    );
    refused(
        &[
            "render",
            a,
            "-o",
            &format!("{}/./a.mid", s(t.dir.path())),
            "--builtin",
        ],
        INPUT,
        &[t.a.as_path()],
    );
}

#[test]
fn train_and_export_refuse_a_folder_that_holds_a_model() {
    let t = inputs();
    let model = t.dir.path().join("model");
    std::fs::create_dir(&model).expect("mkdir");
    for f in ["model.mpk", "config.json", "attributes.json"] {
        std::fs::copy(root().join("models/mel_2bar").join(f), model.join(f)).expect("copy");
    }
    let weights = model.join("model.mpk");
    let keep = [weights.as_path()];
    refused(
        &[
            "train",
            "--data",
            "midi_data",
            "--config",
            "tiny",
            "--steps",
            "1",
            "--out",
            s(&model),
        ],
        "already holds a model",
        &keep,
    );
    refused(
        &["export", "models/mel_2bar", "--out", s(&model)],
        "already holds a model",
        &keep,
    );
    refused(
        &["export", s(&model), "--out", s(&model), "--force"],
        "is the folder being exported",
        &keep,
    );
    refused(
        &[
            "train-classifier",
            "--data",
            "midi_data",
            "--out",
            s(&model),
        ],
        "already holds a model",
        &keep,
    );
    // With --force, export replaces it.
    let o = musicvae(&[
        "export",
        "models/mel_2bar",
        "--out",
        s(&model),
        "--force",
        "--half",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
