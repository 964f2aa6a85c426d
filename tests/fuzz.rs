//! A deterministic, seeded mutational fuzz test over the real files of midi_data/ through the whole
//! read → quantize → every converter path (`musicvae::data::analyse_bytes`), with a per-case memory
//! (counting global allocator) and time budget; and every hostile file of issue 13 plus every
//! regression input of tests/fixtures/fuzz/ replayed under the same budget. `scripts/fuzz` runs the
//! same for longer.

#[path = "support/fuzz_driver.rs"]
mod fuzz_driver;

use fuzz_driver::*;
use std::sync::Mutex;

/// The allocator's peak is process-wide: cases must not run concurrently.
static SERIAL: Mutex<()> = Mutex::new(());

fn check(name: &str, bytes: &[u8]) -> CaseStats {
    let s = run_case(bytes);
    assert!(!s.panicked, "{name}: panicked");
    assert!(
        s.peak_bytes < MAX_CASE_BYTES,
        "{name}: {} MiB",
        s.peak_bytes >> 20
    );
    assert!(s.time < MAX_CASE_TIME, "{name}: {:?}", s.time);
    s
}

#[test]
fn hostile_files_and_fuzz_fixtures_stay_within_budget() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut all: Vec<(String, Vec<u8>)> = fixtures();
    for (name, b) in musicvae::data::fuzz::hostile_files() {
        // The small hostile files are committed as regression fixtures, byte for byte.
        let committed = all.iter().find(|(n, _)| *n == format!("{name}.mid"));
        assert_eq!(
            committed.map(|c| &c.1),
            Some(&b),
            "tests/fixtures/fuzz/{name}.mid is missing or stale (regenerate: scripts/fuzz --write-hostile)"
        );
    }
    for (name, b) in musicvae::data::fuzz::large_hostile_files() {
        all.push((name.to_string(), b));
    }
    let mut worst = (0usize, std::time::Duration::ZERO);
    for (name, b) in &all {
        let s = check(name, b);
        // Every hostile file is a readable MIDI file: it must be analysed, not refused.
        if !name.starts_with("found-") {
            assert!(s.parsed, "{name}: refused");
        }
        worst = (worst.0.max(s.peak_bytes), worst.1.max(s.time));
    }
    eprintln!(
        "{} hostile/fixture files: max memory {:.1} MiB, max time {:.3} s",
        all.len(),
        worst.0 as f64 / (1 << 20) as f64,
        worst.1.as_secs_f64()
    );
}

#[test]
fn seeded_mutational_fuzz_over_midi_data() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let corpus = corpus();
    assert!(corpus.len() >= 400, "midi_data/ has {} files", corpus.len());
    let cases = std::env::var("MUSICVAE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let t = fuzz(&corpus, 13, cases, |_| true);
    eprintln!("fuzz (seed 13): {}", t.summary());
    assert_eq!(t.cases, cases);
    assert!(
        t.failures.is_empty(),
        "failing cases (replay with case_input(corpus, 13, i)): {:?}",
        t.failures.iter().map(|f| f.0).collect::<Vec<_>>()
    );
    // The mutations mostly keep files readable: the converters really run.
    assert!(t.parsed * 4 > t.cases, "{}", t.summary());
}
