//! Model folders, caches and latent files are input too: hostile `config.json`, `model.mpk`,
//! `cache.json` and `z.json` files (and `decode --qpm`) give a clean one-line error and exit != 0,
//! never a panic, a huge allocation or a read past the end of a buffer.

mod common;

use common::{musicvae, root, s};

use musicvae::data::cache::{Cache, CacheMeta, CachedFile, CACHE_VERSION};
use musicvae::data::converter::{ConverterConfig, Window};
use musicvae::model::store::save_model;
use musicvae::model::{Config, MusicVae};
use std::path::Path;
use std::process::Output;

type B = burn::backend::NdArray<f32>;

/// The command failed with a short error (the binary prints `error: context` and, at most, a
/// `caused by:` line) whose last line contains every word of `want`.
fn clean_error(o: &Output, want: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
    assert!(!o.status.success(), "should fail; stderr: {err}");
    assert!(o.status.code().is_some(), "killed by a signal: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(err.lines().count() <= 2, "not a short error: {err}");
    let last = err.lines().last().unwrap_or_default();
    for w in want {
        assert!(last.contains(w), "'{w}' not in: {err}");
    }
    err
}

/// A tiny f32 model folder and its config (config.json stamped with the weights).
fn tiny_model(dir: &Path) -> Config {
    let cfg = Config::preset("tiny").expect("preset");
    let m = MusicVae::<B>::new(&cfg.model, 1, &Default::default());
    save_model(dir, &m, &cfg).expect("save");
    cfg
}

fn sample(model: &Path, out: &Path) -> Output {
    musicvae(&["sample", "--model", s(model), "-n", "1", "--out", s(out)])
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&p).expect("read")).expect("json");
    f(&mut v);
    std::fs::write(&p, serde_json::to_vec(&v).expect("json")).expect("write");
}

#[test]
fn config_with_absurd_sizes_is_refused_before_allocating() {
    let d = tempfile::tempdir().expect("tempdir");
    let m = d.path().join("m");
    tiny_model(&m);
    edit_config(&m, |v| {
        v["model"]["dec_rnn_size"] = serde_json::json!([1_000_000_000])
    });
    let o = sample(&m, &d.path().join("out"));
    clean_error(&o, &["config.json", "dec_rnn_size"]);
    edit_config(&m, |v| {
        v["model"]["dec_rnn_size"] = serde_json::json!([8192, 8192, 8192, 8192, 8192, 8192])
    });
    clean_error(
        &sample(&m, &d.path().join("out")),
        &["config.json", "weights"],
    );
}

#[test]
fn config_not_matching_the_weights_is_a_clean_error() {
    let d = tempfile::tempdir().expect("tempdir");
    let m = d.path().join("m");
    tiny_model(&m);
    // Another z_size: a different weight count.
    edit_config(&m, |v| {
        v["model"]["z_size"] = serde_json::json!(8);
        v.as_object_mut().expect("object").remove("weights");
    });
    clean_error(
        &sample(&m, &d.path().join("out")),
        &["model.mpk", "config.json"],
    );
    // Same weight count, other shapes: encoder 128 → decoder and back moves weights between tensors.
    let mut cfg = tiny_model(&m);
    cfg.model.dec_rnn_size = vec![64, 64];
    let other = d.path().join("other");
    let om = MusicVae::<B>::new(&cfg.model, 1, &Default::default());
    save_model(&other, &om, &cfg).expect("save");
    std::fs::copy(other.join("model.mpk"), m.join("model.mpk")).expect("copy");
    // The stamp catches the swap first (a save interrupted between the two files)...
    clean_error(
        &sample(&m, &d.path().join("out")),
        &["model.mpk", "interrupted save"],
    );
    // ...and without a stamp (an old folder) the record check does.
    edit_config(&m, |v| {
        v.as_object_mut().expect("object").remove("weights");
    });
    clean_error(
        &sample(&m, &d.path().join("out")),
        &["model.mpk", "config.json"],
    );
}

/// Cut `cut` bytes from the data of the first tensor of an f32 record, keeping its shape.
fn truncate_first_tensor(bytes: &[u8], cut: u32) -> Vec<u8> {
    let key = [0xa5, b'b', b'y', b't', b'e', b's'];
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("a tensor")
        + key.len();
    let (tag, len_at) = (bytes[at], at + 1);
    let (len, hdr) = match tag {
        0xc5 => (
            u16::from_be_bytes([bytes[len_at], bytes[len_at + 1]]) as u32,
            2,
        ),
        0xc6 => (
            u32::from_be_bytes(bytes[len_at..len_at + 4].try_into().expect("4")),
            4,
        ),
        t => panic!("unexpected tag {t:#x}"),
    };
    let new = len - cut;
    let mut out = bytes[..len_at].to_vec();
    if hdr == 2 {
        out.extend((new as u16).to_be_bytes());
    } else {
        out.extend(new.to_be_bytes());
    }
    let data = len_at + hdr;
    out.extend(&bytes[data..data + new as usize]);
    out.extend(&bytes[data + len as usize..]);
    out
}

#[test]
fn weights_with_truncated_tensor_bytes_are_refused() {
    let d = tempfile::tempdir().expect("tempdir");
    let m = d.path().join("m");
    tiny_model(&m);
    let mp = m.join("model.mpk");
    let bytes = std::fs::read(&mp).expect("read");
    std::fs::write(&mp, truncate_first_tensor(&bytes, 4096)).expect("write");
    edit_config(&m, |v| {
        v.as_object_mut().expect("object").remove("weights");
    });
    let e = clean_error(
        &sample(&m, &d.path().join("out")),
        &["model.mpk", "bytes", "damaged"],
    );
    assert!(e.contains("needs"), "{e}");
    // A cut file is refused too.
    std::fs::write(&mp, &bytes[..bytes.len() / 2]).expect("write");
    clean_error(
        &sample(&m, &d.path().join("out")),
        &["model.mpk", "damaged"],
    );
}

fn write_cache(dir: &Path, edit: impl FnOnce(&mut CacheMeta)) {
    let conv = ConverterConfig::melody(2, Some((0, 31)));
    let windows: Vec<Window> = (0..4)
        .map(|i| Window {
            tracks: vec![vec![(i % 2) as u16; conv.steps()]],
        })
        .collect();
    let mut meta = CacheMeta {
        version: CACHE_VERSION,
        converter: conv,
        split_seed: 1,
        held_out_fraction: 0.0,
        split_file: None,
        files: vec![CachedFile {
            rel: "a.mid".into(),
            label: "x".into(),
            first_window: 0,
            num_windows: 4,
            held_out: false,
            split: None,
        }],
        skipped: vec![],
        labels: vec!["x".into()],
        num_windows: 4,
    };
    edit(&mut meta);
    let mut c = Cache { meta, windows };
    // Save the windows of a sane cache, then the (possibly hostile) metadata.
    let meta = c.meta.clone();
    c.meta.converter.slice_bars = 2;
    c.save(dir).expect("save");
    std::fs::write(
        dir.join("cache.json"),
        serde_json::to_vec(&meta).expect("json"),
    )
    .expect("write");
}

#[test]
fn hostile_cache_json_is_a_clean_error() {
    let d = tempfile::tempdir().expect("tempdir");
    type Edit = Box<dyn FnOnce(&mut CacheMeta)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("slice_bars", Box::new(|m| m.converter.slice_bars = 0)),
        ("bytes", Box::new(|m| m.num_windows = usize::MAX / 2)),
        ("outside", Box::new(|m| m.files[0].first_window = 3)),
        (
            "outside",
            Box::new(|m| {
                m.files[0].first_window = usize::MAX;
                m.files[0].num_windows = 2
            }),
        ),
    ];
    for (i, (want, edit)) in cases.into_iter().enumerate() {
        let c = d.path().join(format!("c{i}"));
        write_cache(&c, edit);
        let o = musicvae(&[
            "train",
            "--data",
            s(&c),
            "--config",
            "tiny",
            "--out",
            s(&d.path().join(format!("run{i}"))),
            "--steps",
            "1",
        ]);
        clean_error(&o, &[want]);
    }
}

#[test]
fn latent_tempo_is_range_checked() {
    let d = tempfile::tempdir().expect("tempdir");
    let z = d.path().join("z.json");
    let out = d.path().join("o.mid");
    for qpm in ["0", "-1", "1e300"] {
        let item = format!(
            r#"{{"format": "musicvae-latent/1", "model": "m", "z_size": 2, "items": [{{"source": "a", "window": 0, "windows_in_file": 1, "start_time": 0, "qpm": {qpm}, "mu": [0, 0], "sigma": [1, 1]}}]}}"#
        );
        std::fs::write(&z, item).expect("write");
        clean_error(
            &musicvae(&["decode", s(&z), "-o", s(&out)]),
            &["z.json", "qpm"],
        );
    }
    std::fs::write(&z, "[0.1, 0.2]").expect("write");
    for qpm in ["0", "-1", "NaN", "inf"] {
        clean_error(
            &musicvae(&["decode", s(&z), &format!("--qpm={qpm}"), "-o", s(&out)]),
            &["--qpm"],
        );
    }
    assert!(!out.exists());
}

#[test]
fn classifier_weights_are_checked_against_its_config() {
    let d = tempfile::tempdir().expect("tempdir");
    let c = d.path().join("clf");
    std::fs::create_dir_all(&c).expect("mkdir");
    for f in ["config.json", "model.mpk"] {
        std::fs::copy(root().join("models/genre-classifier").join(f), c.join(f)).expect("copy");
    }
    let midi = "midi_data/german_folk/essen_altdeu10_0122.mid";
    let classify = || musicvae(&["classify", "--classifier", s(&c), midi]);
    assert!(classify().status.success(), "the copy classifies");
    let good = std::fs::read(c.join("model.mpk")).expect("read");
    std::fs::write(c.join("model.mpk"), truncate_first_tensor(&good, 8)).expect("write");
    clean_error(&classify(), &["model.mpk", "needs", "damaged"]);
    std::fs::write(c.join("model.mpk"), &good).expect("write");
    edit_config(&c, |v| v["width"] = serde_json::json!(2.0));
    clean_error(&classify(), &["model.mpk", "config.json"]);
}

#[test]
fn broken_fitted_latent_prior_is_a_clean_error_and_the_standard_prior_still_samples() {
    use musicvae::generate::latent_prior::LatentPrior;
    let d = tempfile::tempdir().expect("tempdir");
    let m = d.path().join("m");
    let cfg = tiny_model(&m);
    let file = LatentPrior::path(&m);
    // Cut off mid-file.
    std::fs::write(
        &file,
        br#"{"format": "musicvae-latent-prior/1", "weights": [1.0"#,
    )
    .expect("write");
    clean_error(&sample(&m, &d.path().join("o1")), &["latent_prior.json"]);
    // A valid one-component fit for latent size z, written to the model's latent_prior.json.
    let write_fit = |z: usize| {
        let mus: Vec<Vec<f32>> = (0..4).map(|i| vec![i as f32; z]).collect();
        let sig = vec![vec![0.5f32; z]; 4];
        LatentPrior::fit("m", "d", &mus, &sig, 1, 0, &mut |_, _| {})
            .expect("fit")
            .save(&file)
            .expect("save");
    };
    // Fitted for another latent size.
    write_fit(cfg.model.z_size + 1);
    clean_error(
        &sample(&m, &d.path().join("o2")),
        &["latent_prior.json", "latent size", "fit-prior"],
    );
    // Non-finite means, at the right size.
    write_fit(cfg.model.z_size);
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    v["means"][0][0] = serde_json::json!(1e39);
    std::fs::write(&file, serde_json::to_vec(&v).expect("json")).expect("write");
    clean_error(&sample(&m, &d.path().join("o3")), &["latent_prior.json"]);
    // `--prior standard` does not read it.
    let o = musicvae(&[
        "sample",
        "--model",
        s(&m),
        "-n",
        "1",
        "--prior",
        "standard",
        "--out",
        s(&d.path().join("o4")),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
