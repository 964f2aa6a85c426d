//! Issue 13's hostile inputs as a user meets them, through the real binary: tiny files that once
//! made `inspect` use GiBs, large ones that kept it busy for minutes, a corpus folder with a link
//! loop, and a render whose total note time is absurd. Each must finish quickly with a result or
//! a one-line error naming the file.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn musicvae(args: &[&str]) -> (Output, Duration) {
    let t0 = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_musicvae"))
        .args(args)
        .output()
        .expect("run musicvae");
    (o, t0.elapsed())
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Generous for a debug binary on a 2-core CI machine; the bugs took minutes or aborted.
const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn inspect_finishes_on_every_hostile_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/fuzz")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mid"))
        .collect();
    for (name, b) in musicvae::data::fuzz::large_hostile_files() {
        let p = tmp.path().join(format!("{name}.mid"));
        std::fs::write(&p, b).expect("write");
        files.push(p);
    }
    files.sort();
    assert!(files.len() >= 10);
    for f in &files {
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        let (o, t) = musicvae(&["inspect", f.to_str().expect("utf-8"), "--json"]);
        let (out, err) = text(&o);
        assert!(t < LIMIT, "{name}: {t:?}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        if name.starts_with("found-") {
            // Fuzzer finds are broken files: a clean one-line refusal naming the file.
            assert!(!o.status.success(), "{name}");
            assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
            assert!(err.contains(&*name), "{name}: {err}");
        } else {
            assert!(o.status.success(), "{name}: {err}");
            let v: serde_json::Value = serde_json::from_str(&out).expect("json report");
            assert_eq!(v["windows"].as_array().map(|a| a.len()), Some(4), "{name}");
        }
    }
}

#[test]
fn prepare_finishes_on_a_folder_with_a_link_loop() {
    let d = tempfile::tempdir().expect("tempdir");
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("midi_data/irish/oneills_0000.mid");
    std::fs::create_dir_all(d.path().join("irish/sub")).expect("mkdir");
    std::fs::copy(&good, d.path().join("irish/sub/a.mid")).expect("copy");
    std::os::unix::fs::symlink(d.path().join("irish"), d.path().join("irish/sub/loop"))
        .expect("symlink");
    let (o, t) = musicvae(&[
        "prepare",
        d.path().to_str().expect("utf-8"),
        "--config",
        "cat-mel_2bar",
        "--out",
        d.path().join("cache").to_str().expect("utf-8"),
    ]);
    let (out, err) = text(&o);
    assert!(t < LIMIT, "{t:?}");
    assert!(o.status.success(), "{err}");
    // The file is counted once, not once per trip around the loop.
    assert!(out.contains(": 1 files in"), "{out}");
}

#[test]
fn render_refuses_absurd_total_note_time_with_one_line() {
    use musicvae::data::fuzz::{note_off, note_on, smf};
    // 100 notes sounding together for 25 minutes (1 tick = 0.5 s at 120 qpm and 1 tick/quarter).
    let mut t = Vec::new();
    for p in 0..100u8 {
        t.extend(note_on(0, 0, 20 + p, 90));
    }
    for p in 0..100u8 {
        t.extend(note_off(if p == 0 { 3000 } else { 0 }, 0, 20 + p));
    }
    let d = tempfile::tempdir().expect("tempdir");
    let midi = d.path().join("wall.mid");
    std::fs::write(&midi, smf(0, 1, &[t])).expect("write");
    let wav = d.path().join("wall.wav");
    let (o, time) = musicvae(&[
        "render",
        midi.to_str().expect("utf-8"),
        "-o",
        wav.to_str().expect("utf-8"),
    ]);
    let (_, err) = text(&o);
    assert!(time < LIMIT, "{time:?}");
    assert!(!o.status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("wall.mid") && err.contains("hours of note time"),
        "{err}"
    );
    assert!(!wav.exists());
}
