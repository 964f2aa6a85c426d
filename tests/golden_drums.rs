//! Golden cross-check against Magenta, drums: `tests/fixtures/golden_drums.json` holds what
//! Magenta's own `note_seq` + `DrumsConverter` (the converter of `cat-drums_2bar_small`) extract
//! from every committed `midi_data_drums/` file (see tests/fixtures/README.md and
//! `scripts/golden-note-seq --drums`). Our extraction must give the same sections, the same drum
//! tracks (start step and tokens, same order) and the same distinct windows in the same
//! first-seen order; our drum-roll encoder input must be the rule the script checked Magenta's
//! roll inputs against (9 class bits + a final "no hit" bit).

mod common;

use common::root;
use musicvae::data::converter::{extract, DataKind};
use musicvae::model::batch::TrackInput;
use musicvae::model::config::converter_named;
use musicvae::music::drums::{extract_drum_tracks, DRUM_CLASSES};
use musicvae::music::quantize::quantized_sections;
use musicvae::music::read_midi_file;
use serde_json::Value;
use std::path::Path;

/// Tokens from the fixture's encoding: 3 lowercase hex digits per token.
fn hex_tokens(s: &str) -> Vec<u16> {
    assert_eq!(s.len() % 3, 0, "3 hex digits per token: {s}");
    s.as_bytes()
        .chunks(3)
        .map(|c| {
            let d = std::str::from_utf8(c).expect("ascii");
            u16::from_str_radix(d, 16).expect("hex token")
        })
        .collect()
}

fn hex_list(v: &Value) -> Vec<Vec<u16>> {
    v.as_array()
        .expect("list")
        .iter()
        .map(|x| hex_tokens(x.as_str().expect("hex string")))
        .collect()
}

/// Our drum tracks in Magenta's order (sections in time order, tracks in time order) and how
/// many sections reached the extractor (quantized, 16-step bars).
fn our_tracks(path: &Path, gap_bars: f64, max_bars: usize) -> (usize, Vec<(i64, Vec<u16>)>) {
    let seq = read_midi_file(path).expect("readable");
    let (mut sections, mut out) = (0, Vec::new());
    for s in quantized_sections(&seq) {
        let Ok(q) = s.result else { continue };
        if !q.has_16_step_bars() {
            continue;
        }
        sections += 1;
        out.extend(
            extract_drum_tracks(&q, gap_bars, max_bars)
                .into_iter()
                .map(|t| (t.start_step, t.tokens)),
        );
    }
    (sections, out)
}

#[test]
fn drum_extraction_matches_magenta_drums_converter_on_every_committed_file() {
    let root = root();
    let raw = std::fs::read(root.join("tests/fixtures/golden_drums.json")).expect("fixture");
    let golden: Value = serde_json::from_slice(&raw).expect("json");

    // The fixture was made with cat-drums_2bar_small's converter; ours must be that converter.
    let cfg = converter_named("cat-drums_2bar_small").expect("preset");
    assert_eq!(cfg.kind, DataKind::Drums);
    let g = &golden["config"];
    assert_eq!(g["name"], "cat-drums_2bar_small");
    assert_eq!(
        g["converter"]["slice_bars"].as_u64(),
        Some(cfg.slice_bars as u64)
    );
    assert_eq!(
        g["converter"]["max_bars"].as_u64(),
        Some(cfg.max_bars as u64)
    );
    assert_eq!(g["extractor"]["gap_bars"].as_f64(), Some(cfg.gap_bars));
    assert_eq!(g["extractor"]["min_bars"].as_u64(), Some(1));
    assert_eq!(g["extractor"]["pad_end"].as_bool(), Some(true));
    assert_eq!(
        g["extractor"]["max_steps_truncate"].as_u64(),
        Some(cfg.max_bars as u64 * 16)
    );
    let classes: Vec<Vec<u8>> =
        serde_json::from_value(g["pitch_classes"].clone()).expect("classes");
    let ours: Vec<Vec<u8>> = musicvae::music::drums::DRUM_CLASS_PITCHES
        .iter()
        .map(|c| c.to_vec())
        .collect();
    assert_eq!(classes, ours, "Magenta's DEFAULT_DRUM_TYPE_PITCHES");

    let roll = TrackInput::of(&DataKind::Drums.representation().tracks[0]);
    assert_eq!(roll, TrackInput::DrumRoll);

    let files = golden["files"].as_array().expect("files");
    assert_eq!(files.len(), 100, "the fixture covers every committed file");
    let (mut identical, mut tracks_compared, mut windows_compared) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for f in files {
        let rel = f["path"].as_str().expect("path");
        assert!(rel.starts_with("midi_data_drums/"), "{rel}");
        let path = root.join(rel);
        assert!(
            f["error"].is_null(),
            "{rel}: Magenta failed on it: {}",
            f["error"]
        );
        let mut same = true;

        let (sections, tracks) = our_tracks(&path, cfg.gap_bars, cfg.max_bars);
        if Some(sections as u64) != f["sections"].as_u64() {
            same = false;
            failures.push(format!(
                "{rel}: {sections} sections vs Magenta's {}",
                f["sections"]
            ));
        }
        let g_tracks: Vec<(i64, Vec<u16>)> = f["tracks"]
            .as_array()
            .expect("tracks")
            .iter()
            .map(|t| {
                (
                    t["start_step"].as_i64().expect("start_step"),
                    hex_tokens(t["tokens"].as_str().expect("tokens")),
                )
            })
            .collect();
        tracks_compared += g_tracks.len();
        if tracks != g_tracks {
            same = false;
            let summary = |ts: &[(i64, Vec<u16>)]| -> Vec<(i64, usize)> {
                ts.iter().map(|(s, t)| (*s, t.len())).collect()
            };
            failures.push(format!(
                "{rel}: tracks (start, steps) {:?} vs Magenta's {:?}{}",
                summary(&tracks),
                summary(&g_tracks),
                if summary(&tracks) == summary(&g_tracks) {
                    " (same shape, tokens differ)"
                } else {
                    ""
                }
            ));
        }

        let seq = read_midi_file(&path).expect("readable");
        let ws: Vec<Vec<u16>> = extract(&seq, &cfg)
            .windows
            .into_iter()
            .map(|w| {
                assert_eq!(w.tracks.len(), 1);
                w.tracks.into_iter().next().unwrap_or_default()
            })
            .collect();
        let g_ws = hex_list(&f["windows"]);
        assert_eq!(f["window_count"].as_u64(), Some(g_ws.len() as u64), "{rel}");
        windows_compared += g_ws.len();
        if ws != g_ws {
            same = false;
            let mut a = ws.clone();
            let mut b = g_ws.clone();
            a.sort();
            b.sort();
            failures.push(format!(
                "{rel}: {} windows vs Magenta's {}{}",
                ws.len(),
                g_ws.len(),
                if a == b {
                    " (same set, other order)"
                } else {
                    ""
                }
            ));
        }
        // Our encoder input for every window: class bits + "no hit" bit, as Magenta's roll.
        for w in &ws {
            for &t in w {
                let mut v = vec![0.0f32; roll.width()];
                roll.write(t, &mut v);
                let want: Vec<f32> = (0..DRUM_CLASSES)
                    .map(|c| f32::from(u8::from(t & (1 << c) != 0)))
                    .chain([f32::from(u8::from(t == 0))])
                    .collect();
                assert_eq!(v, want, "{rel}: roll of token {t}");
            }
        }
        if same {
            identical += 1;
        }
    }
    println!(
        "golden drums: {identical}/{} files identical to Magenta ({tracks_compared} drum tracks, {windows_compared} windows compared token by token, in order)",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
