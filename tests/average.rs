//! `musicvae average`: the mean of models' weights as a model folder. A model averaged with itself
//! is itself (evaluated through the binary on real held-out phrases); models of different
//! architectures, an output that is an input, and a folder holding a model without --force are
//! refused with one line; --force removes what described the replaced weights.

mod common;

use common::{musicvae, s, text};
use std::fs;
use std::path::Path;

/// Teacher-forced and sampled accuracy of `model` on midi_data's held-out phrases (128 windows).
fn accuracy(model: &str, dir: &Path) -> (f64, f64) {
    let json = dir.join(format!("{}.json", model.replace('/', "_")));
    let o = musicvae(&[
        "eval",
        "-m",
        model,
        "--data",
        "midi_data",
        "--max-windows",
        "128",
        "--pairs",
        "0",
        "--json",
        s(&json),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(&json).expect("eval JSON")).expect("JSON");
    let e = &v[0]["eval"];
    (
        e["teacher_forced_accuracy"].as_f64().expect("tf"),
        e["sampled_accuracy"].as_f64().expect("sampled"),
    )
}

fn one_line_error(o: &std::process::Output, why: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    assert!(!err.contains("panicked"), "{err}");
    let first = err.lines().next().unwrap_or("");
    assert!(first.starts_with("error: ") && first.contains(why), "{err}");
}

#[test]
fn average_of_a_model_with_itself_is_the_model_and_bad_inputs_are_refused() {
    let d = tempfile::tempdir().expect("tempdir");
    let same = d.path().join("same");
    let o = musicvae(&[
        "average",
        "models/mel_2bar",
        "./models/mel_2bar/",
        "-o",
        s(&same),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("averaged the weights of 2 models"),
        "{}",
        text(&o)
    );
    assert!(same.join("model.mpk").is_file() && same.join("config.json").is_file());
    assert!(!same.join("latent_prior.json").exists());
    let (tf, sampled) = accuracy("models/mel_2bar", d.path());
    let (tf2, sampled2) = accuracy(s(&same), d.path());
    assert!(tf > 0.5, "the shipped model reconstructs: {tf}");
    assert_eq!((tf, sampled), (tf2, sampled2), "(x + x) / 2 = x");

    // Different architectures (melody vs drums).
    let o = musicvae(&[
        "average",
        "models/mel_2bar",
        "models/drums_2bar",
        "-o",
        s(&d.path().join("mixed")),
    ]);
    one_line_error(&o, "only models of one architecture average");
    assert!(!d.path().join("mixed").exists(), "nothing written");
    // An output that is an input.
    let o = musicvae(&["average", "models/mel_2bar", s(&same), "-o", s(&same)]);
    one_line_error(&o, "is one of the models being averaged");
    // A folder that holds a model, without and with --force.
    let out = d.path().join("out");
    fs::create_dir_all(&out).expect("mkdir");
    fs::write(out.join("model.mpk"), b"old weights").expect("write");
    for stale in ["latent_prior.json", "attributes.json", "metrics.jsonl"] {
        fs::write(out.join(stale), b"{}").expect("write");
    }
    let o = musicvae(&["average", "models/mel_2bar", s(&same), "-o", s(&out)]);
    one_line_error(&o, "already holds a model");
    assert_eq!(
        fs::read(out.join("model.mpk")).expect("kept"),
        b"old weights"
    );
    let o = musicvae(&[
        "average",
        "models/mel_2bar",
        s(&same),
        "-o",
        s(&out),
        "--half",
        "--force",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    for stale in ["latent_prior.json", "attributes.json", "metrics.jsonl"] {
        assert!(!out.join(stale).exists(), "{stale} left beside new weights");
        assert!(text(&o).contains(&format!("removed {}", s(&out.join(stale)))));
    }
    assert!(text(&o).contains("f16 weights"), "{}", text(&o));
    // One model is not an average.
    let o = musicvae(&["average", "models/mel_2bar", "-o", s(&d.path().join("one"))]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
