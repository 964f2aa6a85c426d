//! MIDI → tokens → MIDI → tokens is the identity on tokens for every window of every committed file:
//! each window is written as a Standard MIDI File (bytes, as `musicvae` writes them), read back with
//! the MIDI reader, quantized and put back on the step grid.

mod common;

use common::midi_data;
use musicvae::data::converter::{
    extract, sequence_to_window_grid, window_to_sequence, ConverterConfig, DataKind,
};
use musicvae::data::corpus::scan;
use musicvae::music::midi_in::parse_midi;
use musicvae::music::midi_out::sequence_to_midi_bytes;
use musicvae::music::read_midi_file;

#[test]
fn tokens_midi_tokens_is_identity_for_every_committed_file() {
    let files = scan(&midi_data()).expect("midi_data");
    assert_eq!(files.len(), 490);
    let configs = [
        ConverterConfig::melody(2, Some((0, 31))),
        ConverterConfig::melody(16, None),
    ];
    let (mut windows, mut files_with_windows) = (0usize, 0usize);
    for f in &files {
        let seq = read_midi_file(&f.path).unwrap_or_else(|e| panic!("{e}"));
        let mut any = false;
        for cfg in &configs {
            for w in extract(&seq, cfg).windows {
                // Through MIDI bytes at a tempo that is not the default, to exercise tick conversion.
                let qpm = 96.0;
                let bytes = sequence_to_midi_bytes(&window_to_sequence(DataKind::Melody, &w, qpm));
                let back = parse_midi(&bytes)
                    .unwrap_or_else(|e| panic!("{}: our own MIDI does not parse: {e}", f.rel));
                let again = sequence_to_window_grid(DataKind::Melody, &back, cfg.steps())
                    .expect("4/4 at one tempo");
                assert_eq!(again, w, "{}: window changed in the round trip", f.rel);
                windows += 1;
                any = true;
            }
        }
        files_with_windows += any as usize;
    }
    println!("round trip: {windows} windows from {files_with_windows} files, all identical");
    assert_eq!(files_with_windows, files.len());
}

#[test]
fn drum_and_trio_windows_survive_the_round_trip() {
    // Build windows token by token (the corpus has no drums): every drum class combination that
    // appears in a groove, and a trio with a melody, a bass line and drums.
    let steps = 32;
    let drums: Vec<u16> = (0..steps)
        .map(|i| {
            [
                1u16,
                0,
                4,
                0,
                2 | 4,
                0,
                4,
                8,
                1 | 256,
                0,
                16,
                32,
                64 | 128,
                0,
                511,
                0,
            ][i % 16]
        })
        .collect();
    let w = musicvae::data::converter::Window {
        tracks: vec![drums.clone()],
    };
    let bytes = sequence_to_midi_bytes(&window_to_sequence(DataKind::Drums, &w, 120.0));
    let back = parse_midi(&bytes).expect("parse");
    assert!(
        back.notes.iter().all(|n| n.is_drum),
        "drums are written on channel 10"
    );
    assert_eq!(
        sequence_to_window_grid(DataKind::Drums, &back, steps),
        Some(w)
    );

    let melody: Vec<u16> = (0..steps)
        .map(|i| {
            if i % 4 == 0 {
                40 + (i / 4) as u16
            } else if i % 4 == 3 {
                1
            } else {
                0
            }
        })
        .collect();
    let bass: Vec<u16> = (0..steps)
        .map(|i| if i % 8 == 0 { 20 + (i / 8) as u16 } else { 0 })
        .collect();
    let trio = musicvae::data::converter::Window {
        tracks: vec![melody, bass, drums],
    };
    let bytes = sequence_to_midi_bytes(&window_to_sequence(DataKind::Trio, &trio, 120.0));
    let back = parse_midi(&bytes).expect("parse");
    assert_eq!(
        sequence_to_window_grid(DataKind::Trio, &back, steps),
        Some(trio)
    );
}
