//! libFuzzer on `musicvae::data::analyse_bytes` (MIDI bytes → every converter). Seed it with
//! midi_data/ and tests/fixtures/fuzz/: `cargo +nightly fuzz run analyse_bytes ../midi_data/irish`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = musicvae::data::analyse_bytes(data);
});
