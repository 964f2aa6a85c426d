//! `scripts/fuzz [--seconds N | --cases N] [--seed S] [--write-hostile]`: the mutational fuzzer of
//! tests/fuzz.rs for as long as asked. Prints executions, panics, cases over budget, max memory and
//! max time; writes every failing input to tests/fixtures/fuzz/ (replayed by `cargo test`).

#[path = "../tests/support/fuzz_driver.rs"]
mod fuzz_driver;

use fuzz_driver::*;
use std::time::{Duration, Instant};

fn main() {
    if let Err(e) = run() {
        eprintln!("fuzz: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut seconds, mut cases, mut seed, mut write_hostile) = (None, None, 1u64, false);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{what} needs a whole number"))
        };
        match a.as_str() {
            "--seconds" => seconds = Some(num("--seconds")?),
            "--cases" => cases = Some(num("--cases")? as usize),
            "--seed" => seed = num("--seed")?,
            "--write-hostile" => write_hostile = true,
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: scripts/fuzz [--seconds N | --cases N] [--seed S] [--write-hostile]"
                ))
            }
        }
    }
    let dir = root().join("tests/fixtures/fuzz");
    if write_hostile {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (name, b) in musicvae::data::fuzz::hostile_files() {
            let p = dir.join(format!("{name}.mid"));
            std::fs::write(&p, b).map_err(|e| format!("{}: {e}", p.display()))?;
            println!("wrote {}", p.display());
        }
        return Ok(());
    }
    let corpus = corpus();
    if corpus.is_empty() {
        return Err("no MIDI files under midi_data/".into());
    }
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let count = cases.unwrap_or(if deadline.is_some() {
        usize::MAX
    } else {
        100_000
    });
    let t0 = Instant::now();
    let mut last_report = Instant::now();
    let totals = fuzz(&corpus, seed, count, |i| {
        if last_report.elapsed() > Duration::from_secs(30) {
            eprintln!(
                "  … {i} executions, {:.0}/s",
                i as f64 / t0.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        deadline.is_none_or(|d| Instant::now() < d)
    });
    let secs = t0.elapsed().as_secs_f64();
    println!("seed {seed}: {}", totals.summary());
    println!(
        "{:.1} s, {:.0} executions/s",
        secs,
        totals.cases as f64 / secs.max(1e-9)
    );
    for (i, b) in &totals.failures {
        let p = dir.join(format!("found-{seed}-{i}.mid"));
        std::fs::write(&p, b).map_err(|e| format!("{}: {e}", p.display()))?;
        println!("failing input written to {}", p.display());
    }
    if totals.failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} failing input(s)", totals.failures.len()))
    }
}
