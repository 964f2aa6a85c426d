//! The data commands as a user runs them: `musicvae inspect` on every committed MIDI file, bad input
//! of every kind (one-line error naming the file, exit code ≠ 0, never a panic), and `prepare`.

mod common;

use common::{midi_data, musicvae};
use musicvae::data::corpus::scan;
use std::path::Path;
use std::process::Output;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The command failed cleanly: exit code 1, no panic, a first line that names `file` and says `why`.
fn assert_clean_failure(o: &Output, file: &str, why: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code for {file}: {err}");
    assert!(!err.contains("panicked"), "panic on {file}: {err}");
    let first = err.lines().next().unwrap_or("");
    assert!(
        first.starts_with("error: ") && first.contains(file) && first.contains(why),
        "unexpected message for {file}: {err}"
    );
}

#[test]
fn inspect_succeeds_on_every_committed_file() {
    let files = scan(&midi_data()).expect("midi_data");
    assert_eq!(files.len(), 490);
    let mut with_2bar = 0;
    for f in &files {
        let o = musicvae(&["inspect", "--json", f.path.to_str().expect("utf-8 path")]);
        assert!(o.status.success(), "{}: {}", f.rel, stderr(&o));
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).expect("inspect --json prints JSON");
        assert!(v["notes"].as_u64().unwrap_or(0) > 0, "{}", f.rel);
        let mel2 = &v["windows"][0];
        assert_eq!(mel2["config"], "mel_2bar");
        if mel2["windows"].as_u64().unwrap_or(0) > 0 {
            with_2bar += 1;
        } else {
            assert!(
                mel2["why_none"].is_string(),
                "{}: no windows and no reason",
                f.rel
            );
        }
    }
    // Every committed file was chosen for having a 4/4 section with a melody.
    assert_eq!(with_2bar, files.len());
    // The text report names the sections and the windows.
    let o = musicvae(&["inspect", files[0].path.to_str().expect("utf-8")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("tracks:") && out.contains("windows:") && out.contains("mel_2bar"),
        "{out}"
    );
}

/// A minimal SMF: format 0, one track with the given event bytes (End of Track appended).
fn smf(track_events: &[u8]) -> Vec<u8> {
    let mut t = track_events.to_vec();
    t.extend_from_slice(&[0x00, 0xFF, 0x2F, 0x00]);
    let mut b = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk".to_vec();
    b.extend_from_slice(&(t.len() as u32).to_be_bytes());
    b.extend_from_slice(&t);
    b
}

#[test]
fn bad_input_gives_one_line_errors_and_no_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let real = std::fs::read(scan(&midi_data()).expect("scan")[0].path.clone()).expect("read");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.mid",
            real[..real.len() / 3].to_vec(),
            "truncated",
        ),
        (
            "not_midi.mid",
            b"%PDF-1.4 this is not a MIDI file".to_vec(),
            "no MIDI header",
        ),
        ("empty.mid", Vec::new(), "empty"),
        (
            "empty_track.mid",
            b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x00".to_vec(),
            "no notes",
        ),
        ("zero_notes.mid", smf(&[0x00, 0xC0, 0x00]), "no notes"),
        // Tempo meta event of 1 µs per quarter note = 60,000,000 qpm.
        (
            "absurd_tempo.mid",
            smf(&[
                0x00, 0xFF, 0x51, 0x03, 0x00, 0x00, 0x01, 0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0,
            ]),
            "absurd tempo",
        ),
        (
            "zero_tempo.mid",
            smf(&[
                0x00, 0xFF, 0x51, 0x03, 0x00, 0x00, 0x00, 0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0,
            ]),
            "absurd tempo",
        ),
    ];
    for (name, bytes, why) in &cases {
        let p = d.join(name);
        std::fs::write(&p, bytes).expect("write");
        assert_clean_failure(
            &musicvae(&["inspect", p.to_str().expect("utf-8")]),
            name,
            why,
        );
    }
    // A 50 MB file is refused before it is read.
    let big = d.join("huge.mid");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(50 * 1024 * 1024).expect("sparse 50 MB file");
    let t = std::time::Instant::now();
    assert_clean_failure(
        &musicvae(&["inspect", big.to_str().expect("utf-8")]),
        "huge.mid",
        "larger than",
    );
    assert!(t.elapsed().as_secs() < 10);
    // Missing file and folder instead of a file.
    assert_clean_failure(
        &musicvae(&["inspect", d.join("missing.mid").to_str().expect("utf-8")]),
        "missing.mid",
        "No such file",
    );
    assert_clean_failure(
        &musicvae(&["inspect", d.to_str().expect("utf-8")]),
        &d.display().to_string(),
        "folder",
    );

    // `prepare` over a folder holding all of them plus one good file never aborts, and says why
    // each bad file was skipped.
    let good = scan(&midi_data()).expect("scan")[0].path.clone();
    std::fs::copy(&good, d.join("good.mid")).expect("copy");
    let o = musicvae(&[
        "prepare",
        d.to_str().expect("utf-8"),
        "--config",
        "cat-mel_2bar",
        "--verbose",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    assert!(out.contains("skipped 8 files"), "{out}");
    for (name, _, why) in &cases {
        assert!(
            out.lines().any(|l| l.contains(name) && l.contains(why)),
            "{name} not reported with '{why}':\n{out}"
        );
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("total") && l.split_whitespace().nth(2) == Some("1")),
        "{out}"
    );
}

#[test]
fn prepare_reports_windows_per_genre_and_writes_a_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let o = musicvae(&[
        "prepare",
        midi_data().to_str().expect("utf-8"),
        "--config",
        "cat-mel_2bar",
        "--out",
        cache.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for genre in [
        "american_fiddle",
        "chinese_folk",
        "chorale",
        "german_folk",
        "irish",
        "renaissance",
        "scottish",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(genre))
            .unwrap_or_else(|| panic!("{genre} missing:\n{out}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[1], "70", "{line}");
        assert!(cols[3].parse::<usize>().unwrap_or(0) > 100, "{line}");
    }
    assert!(Path::new(&cache.join("cache.json")).is_file() && cache.join("windows.bin").is_file());
    // The cache loads and holds the windows it announced.
    let c = musicvae::data::Cache::load(&cache).expect("load");
    assert!(
        out.contains(&format!("({} windows)", c.windows.len())),
        "{out}"
    );
    // An unknown config is a clear error.
    let o = musicvae(&[
        "prepare",
        midi_data().to_str().expect("utf-8"),
        "--config",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown config 'nope'"));
}
