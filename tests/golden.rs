//! Golden cross-check against Magenta: `tests/fixtures/golden_melody.json` holds what Magenta's own
//! `note_seq` + `OneHotMelodyConverter` extract from every committed `midi_data/` file (see
//! tests/fixtures/README.md and scripts/golden-note-seq). Our extraction must give the same
//! melodies (same order), the same number of distinct windows, and the same windows where stored.

mod common;

use common::midi_data;
use musicvae::data::converter::{extract, ConverterConfig};
use musicvae::music::melody::extract_melodies;
use musicvae::music::quantize::quantized_sections;
use musicvae::music::read_midi_file;
use serde_json::Value;
use std::path::Path;

fn tokens(v: &Value) -> Vec<Vec<u16>> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    m.as_array()
                        .map(|t| t.iter().map(|x| x.as_u64().unwrap_or(999) as u16).collect())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Our melodies in Magenta's order: sections in time order, instruments ascending, melodies in time order.
fn our_melodies(path: &Path, cfg: &ConverterConfig) -> Vec<Vec<u16>> {
    let seq = read_midi_file(path).expect("readable");
    let mut out = Vec::new();
    for s in quantized_sections(&seq) {
        let Ok(q) = s.result else { continue };
        if !q.has_16_step_bars() {
            continue;
        }
        out.extend(
            extract_melodies(&q, &cfg.melody_options())
                .into_iter()
                .map(|m| m.tokens),
        );
    }
    out
}

#[test]
fn extraction_matches_magenta_note_seq_on_every_committed_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read(root.join("tests/fixtures/golden_melody.json")).expect("fixture");
    let golden: Value = serde_json::from_slice(&raw).expect("json");
    let files = golden["files"].as_array().expect("files");
    assert_eq!(files.len(), 490, "the fixture covers every committed file");
    let configs = [
        ("mel_2bar", ConverterConfig::melody(2, Some((0, 31)))),
        ("mel_16bar", ConverterConfig::melody(16, None)),
    ];
    let (mut checked, mut identical, mut windows_compared) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for f in files {
        let rel = f["path"].as_str().expect("path");
        let path = root.join(rel);
        assert!(path.starts_with(midi_data()), "{rel}");
        assert!(
            f["error"].is_null(),
            "{rel}: Magenta failed on it: {}",
            f["error"]
        );
        let mut same = true;
        for (key, cfg) in &configs {
            checked += 1;
            let g = &f[*key];
            let g_mel = if g["melodies"].is_null() {
                tokens(&f["mel_2bar"]["melodies"])
            } else {
                tokens(&g["melodies"])
            };
            let ours = our_melodies(&path, cfg);
            if ours != g_mel {
                same = false;
                failures.push(format!(
                    "{rel} {key}: {} melodies vs Magenta's {}",
                    ours.len(),
                    g_mel.len()
                ));
            }
            let seq = read_midi_file(&path).expect("readable");
            let mut ws: Vec<Vec<u16>> = extract(&seq, cfg)
                .windows
                .into_iter()
                .map(|w| w.tracks[0].clone())
                .collect();
            ws.sort();
            let count = g["window_count"].as_u64().expect("window_count") as usize;
            if ws.len() != count {
                same = false;
                failures.push(format!(
                    "{rel} {key}: {} windows vs Magenta's {count}",
                    ws.len()
                ));
            }
            if !g["windows"].is_null() {
                windows_compared += 1;
                if ws != tokens(&g["windows"]) {
                    same = false;
                    failures.push(format!("{rel} {key}: window contents differ"));
                }
            }
        }
        if same {
            identical += 1;
        }
    }
    println!(
        "golden: {identical}/{} files identical to Magenta ({checked} file×config checks, {windows_compared} window sets compared token by token)",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
