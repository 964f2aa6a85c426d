//! Listening: the `render` and `play` commands on MIDI files the tests write and on the committed
//! corpus. Pitch, levels, clipping and drums are measured on the WAV files the binary writes.

use musicvae::audio::analysis::{estimate_f0, max_jump, peak, peaks, rms_dbfs};
use musicvae::audio::soundfont::find_soundfont;
use musicvae::audio::{read_wav, Audio};
use musicvae::data::converter::{window_to_sequence, DataKind, Window};
use musicvae::music::melody::pitch_token;
use musicvae::music::{read_midi_file, write_midi_file, Note, NoteSequence};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_musicvae"));
    // Tests choose their engine explicitly; never pick up a developer's SoundFont by accident.
    c.env("MUSICVAE_SOUNDFONT", "none");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run musicvae")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "musicvae failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn note(
    pitch: u8,
    velocity: u8,
    start: f64,
    end: f64,
    program: u8,
    instrument: u32,
    is_drum: bool,
) -> Note {
    Note {
        pitch,
        velocity,
        start_time: start,
        end_time: end,
        start_tick: 0,
        end_tick: 0,
        program,
        instrument,
        is_drum,
    }
}

fn sequence(notes: Vec<Note>) -> NoteSequence {
    NoteSequence::four_four(notes, 120.0)
}

/// Write `seq` as MIDI, render it with the binary and read the WAV back.
fn render(dir: &Path, name: &str, seq: &NoteSequence, extra: &[&str]) -> Audio {
    let mid = dir.join(format!("{name}.mid"));
    let wav = dir.join(format!("{name}.wav"));
    write_midi_file(seq, &mid).unwrap();
    let mut args = vec!["render", mid.to_str().unwrap(), "-o", wav.to_str().unwrap()];
    args.extend_from_slice(extra);
    ok(&run(&args));
    read_wav(&wav).unwrap()
}

/// One A4 quarter note (0–0.5 s at 120 qpm), then a rest, then a C5 at `second_at` seconds.
fn a4_then_rest(second_at: f64) -> NoteSequence {
    sequence(vec![
        note(69, 100, 0.0, 0.5, 0, 0, false),
        note(72, 100, second_at, second_at + 0.5, 0, 0, false),
    ])
}

fn soundfont_or_skip(test: &str) -> Option<PathBuf> {
    // The binary is told MUSICVAE_SOUNDFONT=none; the test itself looks in the usual places.
    let found = if std::env::var("MUSICVAE_SOUNDFONT").is_ok_and(|v| v != "none" && !v.is_empty()) {
        find_soundfont().ok().flatten()
    } else {
        musicvae::audio::soundfont::find_in(&musicvae::audio::soundfont::search_dirs())
    };
    if found.is_none() {
        eprintln!(
            "SKIPPED {test}: no SoundFont installed (apt-get install timgm6mb-soundfont, or set \
             MUSICVAE_SOUNDFONT=/path/to/file.sf2)"
        );
    }
    found
}

fn check_a4(audio: &Audio, engine: &str, rest: (f64, f64)) {
    let note = audio.mono_between(0.05, 0.45);
    let f0 = estimate_f0(&note, audio.sample_rate).expect("a pitch");
    eprintln!("{engine}: A4 f0 = {f0:.3} Hz");
    assert!((f0 - 440.0).abs() < 1.0, "{engine}: f0 {f0} Hz");
    let during = rms_dbfs(&note);
    let silent = rms_dbfs(&audio.mono_between(rest.0, rest.1));
    eprintln!("{engine}: RMS during the note {during:.1} dBFS, in the rest {silent:.1} dBFS");
    assert!(during >= -30.0, "{engine}: note RMS {during:.1} dBFS");
    assert!(silent <= -60.0, "{engine}: rest RMS {silent:.1} dBFS");
}

#[test]
fn builtin_a4_is_440_hz_loud_in_notes_and_silent_in_rests() {
    let dir = tempfile::tempdir().unwrap();
    let audio = render(dir.path(), "a4", &a4_then_rest(2.0), &["--builtin"]);
    assert_eq!((audio.channels, audio.sample_rate), (2, 44100));
    check_a4(&audio, "built-in", (0.8, 1.95));
    // Harmonic: partials at 2× and 3× the fundamental, nothing between them and the fundamental.
    let note = audio.mono_between(0.05, 0.45);
    let p = peaks(&note, 44100, 20.0, 0.01);
    for k in [2.0, 3.0] {
        assert!(
            p.iter().any(|(f, _)| (f - 440.0 * k).abs() < 2.0),
            "no harmonic {k}: {p:?}"
        );
    }
    assert!(
        p.iter().all(|(f, _)| *f > 430.0),
        "energy below the fundamental: {p:?}"
    );
    // No DC offset.
    let mono = audio.mono();
    let mean = mono.iter().map(|&s| s as f64).sum::<f64>() / mono.len() as f64;
    assert!(mean.abs() < 1e-4, "DC {mean}");
    // No clicks. Onsets (0 s, 2 s) fade in from zero: the first 0.5 ms stays under 5 % of the
    // note's peak. Note-offs (0.5 s, 2.5 s) make no step larger than the steady tone's own steps.
    // Releases end (0.68 s, 2.68 s) on silence: under 0.1 % of the peak.
    let note_peak = peak(&audio.mono_between(0.0, 0.5));
    let steady = max_jump(&audio.mono_between(0.1, 0.4));
    for t in [0.0, 2.0] {
        let start = peak(&audio.mono_between(t, t + 0.0005));
        assert!(
            start < 0.05 * note_peak,
            "onset at {t} s starts at {start} (peak {note_peak})"
        );
    }
    for t in [0.5, 2.5] {
        let step = max_jump(&audio.mono_between(t - 0.005, t + 0.01));
        assert!(
            step <= steady,
            "step {step} at the note-off at {t} s; steady tone {steady}"
        );
    }
    for t in [0.68, 2.68] {
        let tail = peak(&audio.mono_between(t - 0.002, t + 0.01));
        assert!(
            tail < 1e-3 * note_peak,
            "release ending at {t} s still at {tail}"
        );
    }
}

#[test]
fn soundfont_a4_is_440_hz_loud_in_notes_and_silent_in_rests() {
    let Some(sf) = soundfont_or_skip("soundfont_a4") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let audio = render(
        dir.path(),
        "a4sf",
        &a4_then_rest(4.0),
        &["--soundfont", sf.to_str().unwrap()],
    );
    check_a4(&audio, "SoundFont", (3.0, 3.95));
}

/// 16 bars of the densest trio the tokens can say: a melody onset on every 16th, a bass onset on
/// every 8th, all 9 drums on every 16th, all at velocity 127.
fn dense_trio() -> NoteSequence {
    let steps = 16 * 16;
    let melody: Vec<u16> = (0..steps)
        .map(|i| pitch_token(72 + (i % 12) as u8))
        .collect();
    let bass: Vec<u16> = (0..steps)
        .map(|i| {
            if i % 2 == 0 {
                pitch_token(36 + (i % 7) as u8)
            } else {
                0
            }
        })
        .collect();
    let drums = vec![511u16; steps];
    let w = Window {
        tracks: vec![melody, bass, drums],
    };
    let mut seq = window_to_sequence(DataKind::Trio, &w, 120.0);
    for n in &mut seq.notes {
        n.velocity = 127;
    }
    seq
}

/// Peak below full scale (and above `at_least`, so the test is not passing on silence).
fn assert_no_clipping(audio: &Audio, what: &str, at_least: f32) {
    let peak = peak(&audio.samples);
    let full_scale = 32767.0 / 32768.0;
    eprintln!("{what}: peak {:.2} dBFS", 20.0 * (peak as f64).log10());
    assert!(peak < full_scale, "{what}: peak {peak}");
    assert!(peak > at_least, "{what}: suspiciously quiet, peak {peak}");
}

#[test]
fn dense_trio_never_clips() {
    let dir = tempfile::tempdir().unwrap();
    let seq = dense_trio();
    assert_eq!(seq.instrument_ids(), vec![0, 1, 9]);
    let audio = render(
        dir.path(),
        "trio",
        &seq,
        &["--builtin", "--sample-rate", "22050"],
    );
    assert!(
        (audio.seconds() - 32.0).abs() < 2.5,
        "{} s",
        audio.seconds()
    );
    assert_no_clipping(&audio, "built-in dense trio", 0.5);
    if let Some(sf) = soundfont_or_skip("dense_trio (SoundFont)") {
        let audio = render(
            dir.path(),
            "trio_sf",
            &seq,
            &[
                "--soundfont",
                sf.to_str().unwrap(),
                "--sample-rate",
                "22050",
            ],
        );
        assert_no_clipping(&audio, "SoundFont dense trio", 0.5);
    }
}

/// Each of the 9 drum classes (and one pitch outside the map) alone, 0.5 s apart, on channel 10.
fn drum_parade() -> (NoteSequence, Vec<u8>) {
    let pitches: Vec<u8> = musicvae::music::drums::DRUM_CLASS_PITCHES
        .iter()
        .map(|p| p[0])
        .chain([81u8.saturating_add(20)])
        .collect();
    let notes = pitches
        .iter()
        .enumerate()
        .map(|(i, &p)| note(p, 100, i as f64 * 0.5, i as f64 * 0.5 + 0.125, 0, 9, true))
        .collect();
    (sequence(notes), pitches)
}

fn check_drums(audio: &Audio, pitches: &[u8], engine: &str) {
    for (i, p) in pitches.iter().enumerate() {
        let t = i as f64 * 0.5;
        let level = rms_dbfs(&audio.mono_between(t, t + 0.1));
        eprintln!("{engine}: drum pitch {p}: {level:.1} dBFS");
        assert!(
            level > -40.0,
            "{engine}: drum pitch {p} is silent ({level:.1} dBFS)"
        );
    }
}

#[test]
fn drums_render_audibly_on_the_drum_channel() {
    let dir = tempfile::tempdir().unwrap();
    let (seq, pitches) = drum_parade();
    let mid = dir.path().join("drums.mid");
    write_midi_file(&seq, &mid).unwrap();
    // The MIDI file really carries them on channel 10.
    let back = read_midi_file(&mid).unwrap();
    assert!(
        back.notes.iter().all(|n| n.is_drum) && back.instruments.iter().all(|i| i.channel == 9)
    );
    let audio = render(dir.path(), "drums", &seq, &["--builtin"]);
    check_drums(&audio, &pitches, "built-in");
    if let Some(sf) = soundfont_or_skip("drums (SoundFont)") {
        let audio = render(
            dir.path(),
            "drums_sf",
            &seq,
            &["--soundfont", sf.to_str().unwrap()],
        );
        check_drums(&audio, &pitches, "SoundFont");
    }
}

#[test]
fn renders_a_real_corpus_file_with_a_waveform_picture() {
    let dir = tempfile::tempdir().unwrap();
    let mid = Path::new(env!("CARGO_MANIFEST_DIR")).join("midi_data/irish/oneills_0000.mid");
    let seq = read_midi_file(&mid).unwrap();
    let wav = dir.path().join("tune.wav");
    let png = dir.path().join("tune.png");
    let out = run(&[
        "render",
        mid.to_str().unwrap(),
        "-o",
        wav.to_str().unwrap(),
        "--builtin",
        "--sample-rate",
        "22050",
        "--waveform",
        png.to_str().unwrap(),
    ]);
    ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("built-in synthesizer") && stdout.contains("tune.wav"),
        "{stdout}"
    );
    let audio = read_wav(&wav).unwrap();
    assert_eq!(audio.sample_rate, 22050);
    // As long as the music plus at most the last release.
    assert!(audio.seconds() >= seq.total_time && audio.seconds() < seq.total_time + 1.0);
    assert!(rms_dbfs(&audio.mono()) > -35.0);
    assert_no_clipping(&audio, "oneills_0000", 0.1);
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
    // Without -o the WAV goes next to the MIDI file.
    let copy = dir.path().join("copy.mid");
    std::fs::copy(&mid, &copy).unwrap();
    ok(&run(&[
        "render",
        copy.to_str().unwrap(),
        "--builtin",
        "--sample-rate",
        "16000",
    ]));
    assert!(dir.path().join("copy.wav").is_file());
}

/// A user error: non-zero exit, one line on stderr naming `name`, no panic, no file written.
fn fails_cleanly(args: &[&str], name: &str) -> String {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "should fail: {args:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(name), "the message should name {name}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn user_errors_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let good = d("good.mid");
    write_midi_file(&a4_then_rest(1.0), Path::new(&good)).unwrap();
    let out = d("out.wav");

    fails_cleanly(&["render", &d("missing.mid"), "-o", &out], "missing.mid");
    std::fs::write(d("text.mid"), "not midi at all").unwrap();
    fails_cleanly(&["render", &d("text.mid"), "-o", &out], "text.mid");
    let empty = d("empty.mid");
    write_midi_file(&sequence(Vec::new()), Path::new(&empty)).unwrap();
    let e = fails_cleanly(&["render", &empty, "-o", &out], "empty.mid");
    assert!(e.contains("no notes"), "{e}");
    std::fs::write(d("bad.sf2"), "RIFF....sfbk").unwrap();
    fails_cleanly(
        &["render", &good, "-o", &out, "--soundfont", &d("bad.sf2")],
        "bad.sf2",
    );
    fails_cleanly(
        &["render", &good, "-o", &out, "--soundfont", &d("none.sf2")],
        "none.sf2",
    );
    // Output inside a path that is a file.
    fails_cleanly(&["render", &good, "-o", &format!("{good}/x.wav")], "x.wav");
    let e = fails_cleanly(
        &["render", &good, "-o", &out, "--sample-rate", "1000"],
        "good.mid",
    );
    assert!(e.contains("16000"), "{e}");
    assert!(!Path::new(&out).exists());
    // Nothing half-written left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[cfg(not(feature = "playback"))]
#[test]
fn play_without_the_feature_says_how_to_enable_it() {
    let dir = tempfile::tempdir().unwrap();
    let mid = dir.path().join("a.mid");
    write_midi_file(&a4_then_rest(1.0), &mid).unwrap();
    let out = run(&["play", mid.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    for must in ["libasound2-dev", "--features playback", "musicvae render"] {
        assert!(err.contains(must), "missing {must:?}: {err}");
    }
}
