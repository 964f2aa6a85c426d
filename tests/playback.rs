//! Real-time playback (`--features playback`) into ALSA's `file` plugin: each test writes an
//! `.asoundrc` into a temporary HOME that points the default PCM at a WAV file (through the `null`
//! PCM, so no sound card is needed), runs `musicvae play`, and measures what was "played".
//!
//! The `null` PCM does not pace the stream in real time, so playback runs faster than real time
//! and the captured file has silence before and after the music (the mixer's output while the
//! player starts and drains); the tests measure the span between the first and the last sound.
//! Run by `.ci/playback`, which installs libasound2-dev first.
#![cfg(feature = "playback")]

use musicvae::music::{write_midi_file, Note, NoteSequence};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_musicvae"));
    c.env("MUSICVAE_SOUNDFONT", "none");
    c
}

/// A temporary HOME whose `.asoundrc` sends the default ALSA device to `capture.wav`: a `plug`
/// converts whatever the player sends to 16-bit stereo at 48 kHz (the `file` plugin labels float
/// samples as integers in the WAV header), then `file` writes it and `null` discards it.
fn alsa_home(dir: &Path) -> (PathBuf, PathBuf) {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let capture = dir.join("capture.wav");
    let rc = format!(
        r#"pcm.!default {{
    type plug
    slave {{
        pcm "musicvae_capture"
        format S16_LE
        rate 48000
        channels 2
    }}
}}
pcm.musicvae_capture {{
    type file
    slave.pcm "null"
    file "{}"
    format "wav"
}}
"#,
        capture.display()
    );
    std::fs::write(home.join(".asoundrc"), rc).unwrap();
    (home, capture)
}

/// A captured WAV: (channels, sample rate, interleaved samples). ALSA writes the header with the
/// final sizes when the stream closes; the data is read to the end of the file regardless.
fn read_capture(path: &Path) -> (usize, u32, Vec<f32>) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        b.len() > 44 && &b[0..4] == b"RIFF" && &b[8..12] == b"WAVE",
        "not a WAV"
    );
    let (mut pos, mut fmt, mut data) = (12usize, None, None);
    while pos + 8 <= b.len() {
        let id = &b[pos..pos + 4];
        let size = u32::from_le_bytes(b[pos + 4..pos + 8].try_into().unwrap()) as usize;
        if id == b"fmt " {
            fmt = Some(pos + 8);
        } else if id == b"data" {
            data = Some(pos + 8);
            break;
        }
        pos += 8 + size + (size & 1);
    }
    let (f, d) = (fmt.expect("fmt chunk"), data.expect("data chunk"));
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let tag = u16_at(f);
    let channels = u16_at(f + 2) as usize;
    let rate = u32::from_le_bytes(b[f + 4..f + 8].try_into().unwrap());
    let bits = u16_at(f + 14) as usize;
    let bytes = bits / 8;
    let body = &b[d..b.len() - (b.len() - d) % (bytes * channels)];
    let samples = body
        .chunks(bytes)
        .map(|s| match (tag, bits) {
            (3, 32) => f32::from_le_bytes(s.try_into().unwrap()),
            (1, 16) => i16::from_le_bytes(s.try_into().unwrap()) as f32 / 32768.0,
            (1, 24) => (i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8) as f32 / 8388608.0,
            (1, 32) => i32::from_le_bytes(s.try_into().unwrap()) as f32 / 2147483648.0,
            other => panic!("unexpected sample format {other:?}"),
        })
        .collect();
    (channels, rate, samples)
}

/// (first, last) second with sound above -80 dBFS, and the RMS level (dBFS) in between.
fn sound_span(channels: usize, rate: u32, x: &[f32]) -> Option<(f64, f64, f64)> {
    let loud = |s: &f32| s.abs() > 1e-4;
    let first = x.iter().position(loud)? / channels;
    let last = x.iter().rposition(loud)? / channels;
    let part = &x[first * channels..(last + 1) * channels];
    let rms = (part.iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / part.len() as f64).sqrt();
    Some((
        first as f64 / rate as f64,
        last as f64 / rate as f64,
        20.0 * rms.max(1e-10).log10(),
    ))
}

/// `bars` bars of quarter notes (melody, program 0) over half-note bass (program 33) at 120 qpm.
fn tune(bars: usize) -> NoteSequence {
    let mut notes = Vec::new();
    let scale = [60u8, 62, 64, 65, 67, 69, 71, 72];
    for q in 0..bars * 4 {
        let t = q as f64 * 0.5;
        notes.push(note(scale[q % 8], 90, t, t + 0.45, 0, 0));
        if q % 2 == 0 {
            notes.push(note(36 + (q % 5) as u8, 90, t, t + 0.95, 33, 1));
        }
    }
    NoteSequence::four_four(notes, 120.0)
}

fn note(pitch: u8, velocity: u8, start: f64, end: f64, program: u8, instrument: u32) -> Note {
    Note {
        pitch,
        velocity,
        start_time: start,
        end_time: end,
        start_tick: 0,
        end_tick: 0,
        program,
        instrument,
        is_drum: false,
    }
}

fn check_capture(capture: &Path, expected_seconds: f64, what: &str) {
    let (ch, rate, x) = read_capture(capture);
    let (first, last, rms) = sound_span(ch, rate, &x).unwrap_or_else(|| panic!("{what}: silent"));
    let span = last - first;
    eprintln!(
        "{what}: captured {ch} ch at {rate} Hz, {:.2} s in all; sound from {first:.2} s to \
         {last:.2} s = {span:.2} s (expected {expected_seconds:.2} s), RMS {rms:.1} dBFS",
        x.len() as f64 / ch as f64 / rate as f64
    );
    assert!(rms > -35.0, "{what}: too quiet ({rms:.1} dBFS)");
    assert!(
        (span - expected_seconds).abs() < 0.3,
        "{what}: {span:.2} s of sound, expected {expected_seconds:.2} s"
    );
}

#[test]
fn plays_a_midi_file_into_alsa_as_long_as_the_music() {
    let dir = tempfile::tempdir().unwrap();
    let (home, capture) = alsa_home(dir.path());
    let seq = tune(4);
    let mid = dir.path().join("tune.mid");
    write_midi_file(&seq, &mid).unwrap();
    let out = bin()
        .env("HOME", &home)
        .args(["play", mid.to_str().unwrap(), "--builtin"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("playing") && !err.contains("panicked"),
        "{err}"
    );
    // The music ends with the last melody note's release (0.18 s) after 7.95 s.
    check_capture(&capture, seq.total_time + 0.18, "MIDI");
}

#[test]
fn plays_a_wav_file_into_alsa() {
    let dir = tempfile::tempdir().unwrap();
    let (home, capture) = alsa_home(dir.path());
    let mid = dir.path().join("tune.mid");
    let wav = dir.path().join("tune.wav");
    write_midi_file(&tune(2), &mid).unwrap();
    let r = bin()
        .args([
            "render",
            mid.to_str().unwrap(),
            "-o",
            wav.to_str().unwrap(),
            "--builtin",
        ])
        .output()
        .unwrap();
    assert!(r.status.success());
    let rendered = musicvae::audio::read_wav(&wav).unwrap();
    let (_, _, span_rendered) = {
        let (f, l, _) = sound_span(2, rendered.sample_rate, &rendered.samples).unwrap();
        (f, l, l - f)
    };
    let out = bin()
        .env("HOME", &home)
        .args(["play", wav.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_capture(&capture, span_rendered, "WAV");
}

#[test]
fn progress_line_on_a_terminal() {
    // `script` gives the player a terminal, so it draws its progress line.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED progress_line_on_a_terminal: no `script` command (util-linux)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (home, _) = alsa_home(dir.path());
    let mid = dir.path().join("tune.mid");
    write_midi_file(&tune(4), &mid).unwrap();
    let cmd = format!(
        "'{}' play '{}' --builtin",
        env!("CARGO_BIN_EXE_musicvae"),
        mid.display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("HOME", &home)
        .env("MUSICVAE_SOUNDFONT", "none")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // 4 bars of music (8 s) plus the last release: `0:00.0 / 0:08.2  bar 1/4` … `bar 4/4`.
    assert!(
        text.contains(" / 0:08.2  bar "),
        "no progress line: {text:?}"
    );
    assert!(
        text.contains("bar 4/4") && !text.contains("bar 5"),
        "4 bars: {text:?}"
    );
    // The line is cleared at the end: the last thing written is the clear-line sequence.
    assert!(text.trim_end().ends_with("\r\x1b[2K"), "{text:?}");
}

#[test]
fn ctrl_c_stops_playback_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (home, capture) = alsa_home(dir.path());
    let mid = dir.path().join("long.mid");
    // 20 minutes: far longer than the test waits, even though the null device runs fast.
    let seq = tune(600);
    write_midi_file(&seq, &mid).unwrap();
    let mut child = bin()
        .env("HOME", &home)
        .args([
            "play",
            mid.to_str().unwrap(),
            "--builtin",
            "--sample-rate",
            "16000",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("playing"), "{first}");
    // The null device is not paced, so wait until music (not the silence before it) reaches the
    // capture file, then interrupt.
    let waited = Instant::now();
    let mut seen = 44u64; // after the WAV header
    let mut chunk = Vec::new();
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "playback ended before Ctrl-C"
        );
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "no sound reached the capture"
        );
        chunk.clear();
        if let Ok(mut f) = std::fs::File::open(&capture) {
            f.seek(SeekFrom::Start(seen)).unwrap();
            f.read_to_end(&mut chunk).unwrap();
        }
        chunk.truncate(chunk.len() & !1);
        seen += chunk.len() as u64;
        if chunk
            .chunks(2)
            .any(|s| i16::from_le_bytes([s[0], s[1]]).abs() > 100)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let t0 = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let rest: Vec<String> = lines.map_while(|l| l.ok()).collect();
    let status = child.wait().unwrap();
    eprintln!(
        "stopped {:?} after SIGINT; stderr after start: {rest:?}",
        t0.elapsed()
    );
    assert_eq!(status.code(), Some(130), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
    assert!(!rest.iter().any(|l| l.contains("panicked")), "{rest:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    // What was played before the stop is a valid, non-silent WAV shorter than the music.
    let (ch, rate, x) = read_capture(&capture);
    let (first, last, _) = sound_span(ch, rate, &x).expect("some sound before the stop");
    assert!(last - first < seq.total_time - 60.0, "{first} {last}");
}
