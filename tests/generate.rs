//! Generation as a user runs it: the real binary trains a tiny model on two real phrases from
//! midi_data (so it can reconstruct them), then `interpolate`, `sample`, `encode` / `decode` and
//! `reconstruct` run on the original files; every error a user will hit has a test.

mod common;

use common::{midi_data, musicvae, s};
use musicvae::data::converter::{
    sequence_to_window_grid, window_to_sequence, ConverterConfig, DataKind, Window,
};
use musicvae::generate::pick_window;
use musicvae::music::note_sequence::{Note, NoteSequence, Tempo, TimeSignature};
use musicvae::music::{read_midi_file, write_midi_file};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const A: &str = "irish/oneills_0000.mid";
const B: &str = "chorale/bach_bwv104_6.mid";

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    model: PathBuf,
    a: PathBuf,
    b: PathBuf,
    wa: Window,
    wb: Window,
}

/// Train (once per test binary) a tiny 2-bar model on exactly the default windows of A and B.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        let cfg = ConverterConfig::melody(2, Some((0, 31)));
        let (a, b) = (midi_data().join(A), midi_data().join(B));
        let wa = pick_window(&a, &cfg, None).expect("A").window;
        let wb = pick_window(&b, &cfg, None).expect("B").window;
        let data = root.join("data");
        for (name, w) in [("irish/a.mid", &wa), ("chorale/b.mid", &wb)] {
            write_midi_file(
                &window_to_sequence(DataKind::Melody, w, 120.0),
                &data.join(name),
            )
            .expect("write");
        }
        let model = root.join("run");
        let o = musicvae(&[
            "train",
            "--data",
            s(&data),
            "--config",
            "tiny",
            "--out",
            s(&model),
            "--steps",
            "250",
            "--batch-size",
            "2",
            "--set",
            "train.held_out_fraction=0",
            "--set",
            "train.learning_rate=0.005",
        ]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "training failed:\n{out}\n{err}");
        Fixture {
            _dir: dir,
            root,
            model,
            a,
            b,
            wa,
            wb,
        }
    })
}

fn percent_after(out: &str, marker: &str) -> f64 {
    let i = out
        .find(marker)
        .unwrap_or_else(|| panic!("'{marker}' not in:\n{out}"))
        + marker.len();
    out[i..]
        .trim_start()
        .split('%')
        .next()
        .and_then(|x| x.trim().parse().ok())
        .unwrap_or(-1.0)
}

fn read_window(path: &Path, steps: usize) -> Window {
    sequence_to_window_grid(
        DataKind::Melody,
        &read_midi_file(path).expect("valid MIDI"),
        steps,
    )
    .expect("grid")
}

#[test]
fn interpolate_writes_a_path_whose_ends_reconstruct_a_and_b() {
    let f = fixture();
    let out = f.root.join("interp/path.mid");
    let o = musicvae(&[
        "interpolate",
        s(&f.a),
        s(&f.b),
        "--model",
        s(&f.model),
        "--temperature",
        "0",
        "--png",
        "-o",
        s(&out),
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    println!("{stdout}");
    let acc_a = percent_after(&stdout, "first phrase matches A on");
    let acc_b = percent_after(&stdout, "last matches B on");
    assert!(
        acc_a >= 90.0 && acc_b >= 90.0,
        "reconstruction A {acc_a}%, B {acc_b}%"
    );
    assert!(
        stdout.contains("A: ") && stdout.contains("window 0 of 15"),
        "which window was used is printed:\n{stdout}"
    );
    // One valid MIDI: 5 phrases of 2 bars with 1 bar of rest between = 14 bars = 28 s at 120 qpm.
    let seq = read_midi_file(&out).expect("valid MIDI");
    assert!(
        seq.total_time > 24.0 && seq.total_time <= 28.0 + 1e-6,
        "{}",
        seq.total_time
    );
    // The first and last phrases, read back from the file, are the printed reconstructions.
    let steps = 32;
    let head = NoteSequence {
        notes: seq
            .notes
            .iter()
            .filter(|n| n.start_time < 4.0)
            .cloned()
            .collect(),
        ..seq.clone()
    };
    let first = read_window_of(&head, steps);
    let same = first.tracks[0]
        .iter()
        .zip(&f.wa.tracks[0])
        .filter(|(x, y)| x == y)
        .count();
    assert!(
        (same as f64 / 32.0 * 100.0 - acc_a).abs() < 3.2,
        "file vs printed accuracy"
    );
    let png = std::fs::read(out.with_extension("png")).expect("png written");
    assert_eq!(&png[1..4], b"PNG");
    // No temporary files left next to the outputs.
    let names: Vec<String> = std::fs::read_dir(out.parent().expect("dir"))
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // --separate: one file per phrase; --steps 3; linear path.
    let o = musicvae(&[
        "interpolate",
        s(&f.a),
        s(&f.b),
        "-m",
        s(&f.model),
        "--separate",
        "--steps",
        "3",
        "--path",
        "linear",
        "-o",
        s(&f.root.join("sep/x.mid")),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    for i in 0..3 {
        let w = read_window(&f.root.join(format!("sep/x_{i:02}.mid")), 32);
        assert_eq!(w.tracks[0].len(), 32);
    }
}

fn read_window_of(seq: &NoteSequence, steps: usize) -> Window {
    sequence_to_window_grid(DataKind::Melody, seq, steps).expect("grid")
}

#[test]
fn sample_writes_n_files_and_is_reproducible() {
    let f = fixture();
    let out = f.root.join("samples");
    let o = musicvae(&[
        "sample",
        "-m",
        s(&f.model),
        "-n",
        "4",
        "--seed",
        "7",
        "--png",
        "--wav",
        s(&out.join("samples.wav")),
        "--builtin",
        "-o",
        s(&out),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    // The WAV holds the four phrases one after another: 4 × 2 bars + 3 bars of rest at 120 qpm
    // is 22 s, plus the release of the last note or a closing bar of rest; and it is not silent.
    let wav = hound::WavReader::open(out.join("samples.wav")).expect("a readable WAV");
    let spec = wav.spec();
    assert_eq!(spec.bits_per_sample, 16);
    let secs = wav.duration() as f64 / spec.sample_rate as f64;
    assert!((22.0..=24.5).contains(&secs), "{secs} s");
    let samples: Vec<i16> = wav.into_samples().map(|x| x.expect("sample")).collect();
    let rms = (samples.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / samples.len() as f64)
        .sqrt()
        / 32768.0;
    assert!(20.0 * rms.log10() > -40.0, "rms {rms}");
    assert!(text(&o).0.contains("samples.wav"), "{:?}", text(&o));
    // --play in a build without the `playback` feature is refused before any work is done.
    if !musicvae::audio::PLAYBACK_AVAILABLE {
        let nothing = f.root.join("not_written");
        let o = musicvae(&["sample", "-m", s(&f.model), "--play", "-o", s(&nothing)]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o).1.contains("--features playback"), "{:?}", text(&o));
        assert!(!nothing.exists());
    }
    let files: Vec<Window> = (0..4)
        .map(|i| read_window(&out.join(format!("sample_{i:02}.mid")), 32))
        .collect();
    assert!(!out.join("sample_04.mid").exists());
    assert!(out.join("samples.png").is_file());
    let again = f.root.join("samples2");
    assert!(musicvae(&[
        "sample",
        "-m",
        s(&f.model),
        "-n",
        "4",
        "--seed",
        "7",
        "-o",
        s(&again)
    ])
    .status
    .success());
    for (i, w) in files.iter().enumerate() {
        assert_eq!(
            &read_window(&again.join(format!("sample_{i:02}.mid")), 32),
            w,
            "same seed, same sample"
        );
    }
}

#[test]
fn encode_then_decode_round_trips() {
    let f = fixture();
    let z = f.root.join("a.json");
    let o = musicvae(&["encode", s(&f.a), "-m", s(&f.model), "-o", s(&z)]);
    assert!(o.status.success(), "{:?}", text(&o));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&z).expect("json")).expect("valid JSON");
    assert_eq!(json["items"][0]["mu"].as_array().map(|v| v.len()), Some(16));
    let dec = f.root.join("a_decoded.mid");
    let o = musicvae(&["decode", s(&z), "-m", s(&f.model), "-t", "0", "-o", s(&dec)]);
    assert!(o.status.success(), "{:?}", text(&o));
    let w = read_window(&dec, 32);
    let same = w.tracks[0]
        .iter()
        .zip(&f.wa.tracks[0])
        .filter(|(x, y)| x == y)
        .count();
    assert!(same >= 29, "decode(encode(A)) matches A on {same}/32 steps");
    // reconstruct reports the same thing in one command.
    let o = musicvae(&[
        "reconstruct",
        s(&f.b),
        "-m",
        s(&f.model),
        "-o",
        s(&f.root.join("rec.mid")),
        "--png",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        percent_after(&out, "reconstruction accuracy:") >= 90.0,
        "{out}"
    );
    let rec = read_window(&f.root.join("rec.mid"), 32);
    assert_eq!(rec, f.wb, "the first phrase of the output is the input B");
    // A plain vector decodes too.
    let zv = f.root.join("zero.json");
    std::fs::write(&zv, serde_json::to_vec(&vec![0.0f32; 16]).expect("json")).expect("write");
    assert!(musicvae(&[
        "decode",
        s(&zv),
        "-m",
        s(&f.model),
        "-o",
        s(&f.root.join("zero.mid"))
    ])
    .status
    .success());
}

/// A 4/4 note sequence from (pitch, start step, end step, program, is_drum) at 120 qpm.
fn seq_of(notes: &[(u8, u32, u32, u8, bool)], numerator: u32) -> NoteSequence {
    let step = 0.125;
    let mut s = NoteSequence {
        notes: notes
            .iter()
            .map(|&(pitch, a, b, program, is_drum)| Note {
                pitch,
                velocity: 90,
                start_time: a as f64 * step,
                end_time: b as f64 * step,
                start_tick: 0,
                end_tick: 0,
                program,
                instrument: is_drum as u32,
                is_drum,
            })
            .collect(),
        tempos: vec![Tempo {
            time: 0.0,
            qpm: 120.0,
        }],
        time_signatures: vec![TimeSignature {
            time: 0.0,
            numerator,
            denominator: 4,
        }],
        ..Default::default()
    };
    s.update_total_time();
    s
}

#[test]
fn errors_users_will_hit_are_one_line_and_non_zero() {
    let f = fixture();
    let d = f.root.join("bad");
    let melody: Vec<(u8, u32, u32, u8, bool)> = (0..32)
        .map(|i| (60 + (i % 5) as u8, i * 2, i * 2 + 2, 0, false))
        .collect();
    let cases: Vec<(&str, NoteSequence, &str)> = vec![
        ("waltz.mid", seq_of(&melody, 3), "no 4/4"),
        ("one_bar.mid", seq_of(&melody[..8], 4), "needs 2 bars"),
        (
            "drums_only.mid",
            seq_of(
                &(0..32)
                    .map(|i| (36, i * 2, i * 2 + 1, 0, true))
                    .collect::<Vec<_>>(),
                4,
            ),
            "only drums",
        ),
        // Program 40 (violin) is not a melody program of the 2-bar configs (0–31, like Magenta).
        (
            "strings.mid",
            seq_of(
                &melody
                    .iter()
                    .map(|n| (n.0, n.1, n.2, 40, false))
                    .collect::<Vec<_>>(),
                4,
            ),
            "no melody",
        ),
    ];
    for (name, seq, why) in &cases {
        let p = d.join(name);
        write_midi_file(seq, &p).expect("write");
        for args in [
            vec![
                "interpolate",
                s(&p),
                s(&f.b),
                "-m",
                s(&f.model),
                "-o",
                s(&d.join("never.mid")),
            ],
            vec![
                "interpolate",
                s(&f.a),
                s(&p),
                "-m",
                s(&f.model),
                "-o",
                s(&d.join("never.mid")),
            ],
            vec!["encode", s(&p), "-m", s(&f.model)],
            vec!["reconstruct", s(&p), "-m", s(&f.model)],
        ] {
            let o = musicvae(&args);
            let (_, err) = text(&o);
            assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
            assert!(!err.contains("panicked"), "{err}");
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            assert!(
                err.contains(name) && err.contains(why),
                "{name}: expected '{why}' in: {err}"
            );
        }
    }
    assert!(!d.join("never.mid").exists(), "nothing written on error");
    // Window index out of range.
    let o = musicvae(&[
        "interpolate",
        s(&f.a),
        s(&f.b),
        "-m",
        s(&f.model),
        "--window",
        "99",
        "-o",
        s(&d.join("never.mid")),
    ]);
    assert!(text(&o).1.contains("out of range"), "{:?}", text(&o));
    // Not a model folder / a folder whose config is not a MusicVAE config (e.g. another kind of model).
    let o = musicvae(&["sample", "-m", s(&d), "-o", s(&d.join("s"))]);
    assert!(text(&o).1.contains("not a model folder"), "{:?}", text(&o));
    let other = d.join("other_model");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(
        other.join("config.json"),
        br#"{"arch": "mobilenetv3-small", "labels": ["a"]}"#,
    )
    .expect("write");
    std::fs::write(other.join("model.mpk"), b"").expect("write");
    let o = musicvae(&["sample", "-m", s(&other), "-o", s(&d.join("s"))]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("not a musicvae model config"), "{err}");
    // A latent vector of the wrong size, and bad JSON.
    let z = d.join("z.json");
    std::fs::write(&z, b"[1, 2, 3]").expect("write");
    let (_, err) = text(&musicvae(&["decode", s(&z), "-m", s(&f.model)]));
    assert!(
        err.contains("3 values") && err.contains("needs 16"),
        "{err}"
    );
    std::fs::write(&z, b"{oops").expect("write");
    let (_, err) = text(&musicvae(&["decode", s(&z), "-m", s(&f.model)]));
    assert!(err.contains("z.json") && err.contains("not JSON"), "{err}");
    // An output path that cannot be written: the error names it, nothing half-written remains.
    let blocker = d.join("file_not_dir");
    std::fs::write(&blocker, b"x").expect("write");
    let o = musicvae(&[
        "interpolate",
        s(&f.a),
        s(&f.b),
        "-m",
        s(&f.model),
        "-o",
        s(&blocker.join("out.mid")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("file_not_dir"), "{:?}", text(&o));
}

/// `musicvae attributes -m MODEL --data DATA EXTRA… -o OUT` on the fixture; must succeed; stdout.
fn attributes(f: &Fixture, extra: &[&str], out: &Path) -> String {
    let data = f.root.join("data");
    let mut args = vec!["attributes", "-m", s(&f.model), "--data", s(&data)];
    args.extend_from_slice(extra);
    args.extend(["-o", s(out)]);
    let o = musicvae(&args);
    let (stdout, err) = text(&o);
    assert!(o.status.success(), "{stdout}{err}");
    stdout
}

#[test]
fn attribute_vectors_move_a_phrase_toward_a_genre() {
    let f = fixture();
    // Folder labels of the training data: irish (A's window) and chorale (B's window), one window
    // each, so v_chorale = μ_B − μ_A and A + 1.0·v_chorale = μ_B.
    let attrs = f.root.join("attrs.json");
    let out = attributes(f, &[], &attrs);
    assert!(out.contains("chorale") && out.contains("irish"), "{out}");
    // `--labels auto`: no classifier beside the model, and the shipped one knows other genres.
    assert!(out.contains("labels: the folders"), "{out}");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&attrs).expect("written")).expect("json");
    assert_eq!(v["labels_from"], "folders");
    assert_eq!(v["direction"], "mean");
    assert_eq!(v["vectors"].as_array().map(|a| a.len()), Some(2));
    // The discriminant direction: same labels, each vector as long as its mean difference, but
    // reweighted per dimension (one window per label: C = diag(E[σ²])).
    let disc = f.root.join("attrs_disc.json");
    attributes(f, &["--direction", "discriminant"], &disc);
    let d: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&disc).expect("written")).expect("json");
    assert_eq!(d["direction"], "discriminant");
    for k in 0..2 {
        let (m, w) = (&v["vectors"][k], &d["vectors"][k]);
        assert_eq!(m["label"], w["label"]);
        let norm = |x: &serde_json::Value| x["norm"].as_f64().unwrap_or(f64::NAN);
        assert!((norm(m) - norm(w)).abs() < 1e-6, "{m} {w}");
        assert_ne!(m["vector"], w["vector"]);
    }
    let morph = f.root.join("morph.mid");
    let o = musicvae(&[
        "morph",
        s(&f.a),
        "-m",
        s(&f.model),
        "--attributes",
        s(&attrs),
        "--toward",
        "chorale",
        "--amount",
        "1",
        "--steps",
        "3",
        "-t",
        "0",
        "-o",
        s(&morph),
        "--png",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    // Phrases: 3 × 2 bars with a bar of rest between; the last is μ_A + v = μ_B, decoded ≈ B.
    let seq = read_midi_file(&morph).expect("valid MIDI");
    let tail = NoteSequence {
        notes: seq
            .notes
            .iter()
            .filter(|n| n.start_time >= 12.0 - 1e-9)
            .map(|n| Note {
                start_time: n.start_time - 12.0,
                end_time: n.end_time - 12.0,
                ..n.clone()
            })
            .collect(),
        ..seq.clone()
    };
    let last = read_window_of(&tail, 32);
    let same = last.tracks[0]
        .iter()
        .zip(&f.wb.tracks[0])
        .filter(|(x, y)| x == y)
        .count();
    assert!(
        same >= 28,
        "A moved fully toward chorale matches B on {same}/32 steps\n{out}"
    );
    assert!(morph.with_extension("png").is_file());
    // Away from chorale works too; an unknown genre lists the known ones.
    assert!(musicvae(&[
        "morph",
        s(&f.a),
        "-m",
        s(&f.model),
        "--attributes",
        s(&attrs),
        "--away-from",
        "chorale",
        "-o",
        s(&f.root.join("away.mid"))
    ])
    .status
    .success());
    let (_, err) = text(&musicvae(&[
        "morph",
        s(&f.a),
        "-m",
        s(&f.model),
        "--attributes",
        s(&attrs),
        "--toward",
        "jazz",
        "-o",
        s(&f.root.join("x.mid")),
    ]));
    assert!(
        err.contains("jazz") && err.contains("chorale, irish"),
        "{err}"
    );

    // A tiny genre classifier that knows the two windows; labels from it give the same vectors,
    // and eval-attributes sees the irish phrase moved toward chorale become chorale for it.
    let clf = f.root.join("classifier");
    let o = musicvae(&[
        "train-classifier",
        "--data",
        s(&f.root.join("data")),
        "--out",
        s(&clf),
        "--width",
        "0.35",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "30",
        "--batch-size",
        "8",
        "--held-out",
        "0",
        "--transpose",
        "0",
        "--dropout",
        "0",
        "--bn-momentum",
        "0.1",
        "--warmup-steps",
        "5",
        "--lr",
        "0.003",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let attrs_c = f.root.join("attrs_classifier.json");
    let out = attributes(
        f,
        &["--labels", "classifier", "--classifier", s(&clf)],
        &attrs_c,
    );
    // `--labels auto` (the default) picks a classifier that knows exactly the data's genres.
    let attrs_auto = f.root.join("attrs_auto.json");
    let out_auto = attributes(f, &["--classifier", s(&clf)], &attrs_auto);
    assert!(
        out_auto.contains("labels: the predictions of classifier"),
        "{out_auto}"
    );
    assert_eq!(
        std::fs::read(&attrs_auto).expect("written"),
        std::fs::read(&attrs_c).expect("written"),
        "auto = classifier labels here"
    );
    assert!(
        out.contains("agrees with the folder label on 100.0%"),
        "{out}"
    );
    let vc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&attrs_c).expect("written")).expect("json");
    assert_eq!(vc["labels_from"], "classifier");
    assert_eq!(vc["vectors"], v["vectors"], "same labels, same vectors");
    let table = f.root.join("eval_attributes.json");
    let o = musicvae(&[
        "eval-attributes",
        "-m",
        s(&f.model),
        "--data",
        s(&f.root.join("data")),
        "--all-files",
        "--classifier",
        s(&clf),
        "--attributes",
        s(&attrs),
        "-o",
        s(&table),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let e: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&table).expect("written")).expect("json");
    let row = |g: &str| {
        e["rows"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["label"] == g).cloned())
            .unwrap_or_else(|| panic!("no row for {g}: {e}"))
    };
    let chorale = row("chorale");
    let num = |r: &serde_json::Value, k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    // The irish window (the only other-genre one) moved by +v_chorale decodes to ≈ B.
    assert!(
        num(&chorale, "toward_others") - num(&chorale, "before_others") > 0.5,
        "{out}"
    );
    assert!(num(&chorale, "changed_toward") > 0.2, "{out}");
    // The chorale window's own reconstruction is surely chorale to the classifier: turning the
    // irish one into such a phrase is what a full conversion would add.
    assert!(
        num(&chorale, "before_own") > num(&chorale, "before_others") + 0.5,
        "{out}"
    );
    assert!(num(&chorale, "full_conversion") > 0.2, "{out}");
    assert!(out.contains("full conversion"), "{out}");
    // Without held-out files there is nothing to evaluate: a clear error.
    let (_, err) = text(&musicvae(&[
        "eval-attributes",
        "-m",
        s(&f.model),
        "--data",
        s(&f.root.join("data")),
        "--classifier",
        s(&clf),
        "--attributes",
        s(&attrs),
    ]));
    assert!(err.contains("no held-out windows"), "{err}");
}

#[test]
fn fitted_prior_samples_come_from_where_the_training_windows_were_encoded() {
    let f = fixture();
    // A copy of the model, so that the other tests keep sampling from N(0, I).
    let dir = f.root.join("fitted");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for name in ["model.mpk", "config.json"] {
        std::fs::copy(f.model.join(name), dir.join(name)).expect("copy");
    }
    // Asking for the fitted prior of a model that has none says how to make one.
    let o = musicvae(&[
        "sample",
        "-m",
        s(&dir),
        "--prior",
        "fitted",
        "-o",
        s(&f.root.join("none")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("musicvae fit-prior"), "{:?}", text(&o));
    // Two training windows (A and B), two components: the means are μ_A and μ_B.
    let data = f.root.join("data");
    let o = musicvae(&["fit-prior", "-m", s(&dir), "--data", s(&data), "-k", "2"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        out.contains("2 training-split windows") && out.contains("mixture of 2"),
        "{out}"
    );
    let fit: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("latent_prior.json")).expect("written"))
            .expect("json");
    assert_eq!(fit["windows"], 2);
    assert_eq!(fit["weights"].as_array().map(|w| w.len()), Some(2));
    // More components than windows is refused.
    let o = musicvae(&["fit-prior", "-m", s(&dir), "--data", s(&data), "-k", "3"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("3 components"), "{:?}", text(&o));
    // `sample` now draws from the fit by default and says so; --prior standard gives N(0, I).
    let n = 12;
    let draw = |prior: &str, name: &str| -> Vec<Window> {
        let out_dir = f.root.join(name);
        let o = musicvae(&[
            "sample",
            "-m",
            s(&dir),
            "-n",
            &n.to_string(),
            "-t",
            "0",
            "--prior",
            prior,
            "-o",
            s(&out_dir),
        ]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}{err}");
        let said = if prior == "standard" {
            "z ~ N(0, I)"
        } else {
            "fitted latent prior (2 training windows)"
        };
        assert!(out.contains(said), "{out}");
        (0..n)
            .map(|i| read_window(&out_dir.join(format!("sample_{i:02}.mid")), 32))
            .collect()
    };
    let closest = |ws: &[Window]| -> f64 {
        ws.iter()
            .map(|w| {
                musicvae::generate::token_accuracy(w, &f.wa)
                    .max(musicvae::generate::token_accuracy(w, &f.wb))
            })
            .sum::<f64>()
            / ws.len() as f64
    };
    let fitted = closest(&draw("auto", "fitted_samples"));
    let standard = closest(&draw("standard", "standard_samples"));
    // The model knows two phrases; samples of the fit are near them, N(0, I) ones less so.
    eprintln!(
        "nearest of A and B, mean step agreement: fitted prior {fitted:.3}, N(0, I) {standard:.3}"
    );
    assert!(
        fitted > 0.8 && fitted > standard,
        "fitted {fitted:.3}, standard {standard:.3}"
    );
    // `--scale S` is saved in the fit, and `sample` says it draws at that scale; a scale that
    // is not a positive number is refused before anything is encoded.
    let fit_at = |scale: &str| {
        musicvae(&[
            "fit-prior",
            "-m",
            s(&dir),
            "--data",
            s(&data),
            "-k",
            "2",
            "--scale",
            scale,
        ])
    };
    let o = fit_at("0");
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("outside (0, 4]"), "{:?}", text(&o));
    let o = fit_at("0.5");
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("draws at scale 0.5"), "{:?}", text(&o));
    let fit: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("latent_prior.json")).expect("written"))
            .expect("json");
    assert_eq!(fit["scale"], 0.5);
    let o = musicvae(&[
        "sample",
        "-m",
        s(&dir),
        "-n",
        "2",
        "-o",
        s(&f.root.join("scaled_samples")),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        text(&o)
            .0
            .contains("fitted latent prior (2 training windows, scale 0.5)"),
        "{:?}",
        text(&o)
    );
    // `export` takes the fit along; exporting other weights over it removes the stale fit.
    let exported = f.root.join("fitted_export");
    let o = musicvae(&["export", s(&dir), "--out", s(&exported)]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(exported.join("latent_prior.json").is_file());
    // Files of the replaced model that the new one has no copy of: stale, so removed; the
    // ones it has are replaced by its own.
    let stale = b"stale: left by the weights being replaced\n";
    for name in ["attributes.json", "metrics.jsonl", "curves.png"] {
        std::fs::write(exported.join(name), stale).expect("plant a stale file");
    }
    let o = musicvae(&["export", s(&f.model), "--out", s(&exported), "--force"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        text(&o).0.contains("fitted to the weights now replaced"),
        "{:?}",
        text(&o)
    );
    assert!(!exported.join("latent_prior.json").exists());
    for name in ["attributes.json", "metrics.jsonl", "curves.png"] {
        let (src, out) = (f.model.join(name), exported.join(name));
        if src.is_file() {
            let got = std::fs::read(&out).expect("replaced, not removed");
            assert_ne!(got, stale.to_vec(), "{name} kept from the replaced model");
        } else {
            assert!(
                !out.exists(),
                "{name} of the replaced model kept: {:?}",
                text(&o)
            );
            assert!(text(&o).0.contains(&format!("{name}:")), "{:?}", text(&o));
        }
    }
}
