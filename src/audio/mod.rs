//! Listening: render note sequences and MIDI files to audio and WAV files, and play them.
//!
//! Two engines render a [`NoteSequence`]:
//! * a SoundFont synthesizer (pure-Rust `rustysynth`) when a SoundFont is given or a General MIDI
//!   one is installed (see [`soundfont::find_soundfont`]);
//! * otherwise the built-in synthesizer ([`synth`]): a melodic voice, a bass voice (GM programs
//!   32–39) and synthesized drums for Magenta's 9 drum classes, all with click-free envelopes.
//!
//! Both go through a look-ahead [`limiter`] (ceiling -1 dBFS), so a render never clips, and are
//! written as 16-bit WAV ([`wav`]). Real-time playback ([`play_audio`]) needs the cargo feature
//! `playback` (rodio; ALSA's development files on Linux); without it the play functions return an
//! error that says how to enable it.

pub mod analysis;
pub mod drumkit;
pub mod dsp;
pub mod envelope;
pub mod limiter;
#[cfg(feature = "playback")]
mod playback;
pub mod soundfont;
pub mod synth;
pub mod timeline;
pub mod voices;
pub mod wav;

pub use limiter::LimiterReport;
pub use timeline::BarClock;
pub use wav::{read_wav, write_wav};

use crate::error::{Error, Result};
use crate::music::{read_midi_file, NoteSequence};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Default output sample rate.
pub const DEFAULT_SAMPLE_RATE: u32 = 44_100;
/// Sample rates accepted by both engines.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 16_000..=192_000;
/// Longest render accepted (a guard against files with a stray note hours in).
pub const MAX_SECONDS: f64 = 30.0 * 60.0;

/// Most sound a render may synthesise, summed over its notes (each note's sounding time, release
/// included): the built-in synthesiser's work is notes × note length × sample rate, so a file of
/// many long notes is refused up front, with a clear error, instead of running for hours. 24 hours
/// of note time is a 30-minute piece with 48 voices sounding all the time.
pub const MAX_NOTE_SECONDS: f64 = 24.0 * 3600.0;

/// Total sounding time of the notes a render plays, in seconds.
pub fn note_seconds(seq: &NoteSequence) -> f64 {
    seq.notes
        .iter()
        .filter(|n| n.velocity > 0 && n.start_time >= 0.0 && n.start_time.is_finite())
        .map(synth::sounding_seconds)
        .sum()
}

/// Whether this build can play audio in real time (cargo feature `playback`).
pub const PLAYBACK_AVAILABLE: bool = cfg!(feature = "playback");

/// What to say when real-time playback is not built in.
pub const PLAYBACK_HINT: &str = "real-time playback is not built into this musicvae. To enable it, \
install ALSA's development files (Debian/Ubuntu: `sudo apt-get install libasound2-dev`) and rebuild \
with the `playback` feature: `cargo install --path . --features playback`. Or render a WAV file and \
open it in any player: `musicvae render FILE.mid -o FILE.wav`";

/// Interleaved audio samples in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub channels: u16,
    pub sample_rate: u32,
}

impl Audio {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1) as usize
    }

    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.frames() as f64 / self.sample_rate.max(1) as f64
    }

    /// The channels averaged into one.
    pub fn mono(&self) -> Vec<f32> {
        let ch = self.channels.max(1) as usize;
        self.samples
            .chunks(ch)
            .map(|f| f.iter().sum::<f32>() / ch as f32)
            .collect()
    }

    /// The mono mix between two times in seconds (clamped to the audio).
    pub fn mono_between(&self, from: f64, to: f64) -> Vec<f32> {
        let sr = self.sample_rate as f64;
        let n = self.frames();
        let a = ((from.max(0.0) * sr) as usize).min(n);
        let b = ((to.max(0.0) * sr) as usize).clamp(a, n);
        let ch = self.channels.max(1) as usize;
        self.samples[a * ch..b * ch]
            .chunks(ch)
            .map(|f| f.iter().sum::<f32>() / ch as f32)
            .collect()
    }
}

/// Which engine to render with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EngineChoice {
    /// A SoundFont from `$MUSICVAE_SOUNDFONT` or the system folders if there is one, else built-in.
    #[default]
    Auto,
    Builtin,
    SoundFont(PathBuf),
}

/// The engine a render used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    Builtin,
    SoundFont(PathBuf),
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Engine::Builtin => write!(f, "built-in synthesizer"),
            Engine::SoundFont(p) => write!(f, "SoundFont {}", p.display()),
        }
    }
}

/// How to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    pub sample_rate: u32,
    pub engine: EngineChoice,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            sample_rate: DEFAULT_SAMPLE_RATE,
            engine: EngineChoice::Auto,
        }
    }
}

/// A render: stereo audio, the engine that made it and what the limiter did.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub audio: Audio,
    pub engine: Engine,
    pub limiter: LimiterReport,
}

/// What [`render_sequence_to_wav`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderReport {
    pub path: PathBuf,
    pub engine: Engine,
    pub sample_rate: u32,
    pub channels: u16,
    pub seconds: f64,
    pub notes: usize,
    pub peak_dbfs: f64,
    pub rms_dbfs: f64,
    pub limiter: LimiterReport,
}

/// Decide the engine: an explicit SoundFont (must exist), the built-in synth, or (auto) the
/// SoundFont [`soundfont::find_soundfont`] finds, else the built-in synth.
pub fn resolve_engine(choice: &EngineChoice) -> Result<Engine> {
    match choice {
        EngineChoice::Builtin => Ok(Engine::Builtin),
        EngineChoice::SoundFont(p) => {
            if p.is_file() {
                Ok(Engine::SoundFont(p.clone()))
            } else {
                Err(Error::bad_input(p, "no such SoundFont file"))
            }
        }
        EngineChoice::Auto => Ok(soundfont::find_soundfont()?
            .map(Engine::SoundFont)
            .unwrap_or(Engine::Builtin)),
    }
}

/// Number of notes a render plays (velocity > 0, valid onset).
fn playable_notes(seq: &NoteSequence) -> usize {
    seq.notes
        .iter()
        .filter(|n| n.velocity > 0 && n.start_time >= 0.0 && n.start_time.is_finite())
        .count()
}

/// Render a note sequence to stereo audio (limited to -1 dBFS, trailing silence trimmed, never
/// shorter than the sequence).
pub fn render_sequence(seq: &NoteSequence, opts: &RenderOptions) -> Result<Rendered> {
    if !SAMPLE_RATES.contains(&opts.sample_rate) {
        return Err(Error::Invalid(format!(
            "sample rate {} Hz is not supported (use {}–{} Hz)",
            opts.sample_rate,
            SAMPLE_RATES.start(),
            SAMPLE_RATES.end()
        )));
    }
    if playable_notes(seq) == 0 {
        return Err(Error::Invalid("nothing to render: no notes".into()));
    }
    let end = seq
        .notes
        .iter()
        .map(|n| n.end_time.max(n.start_time))
        .fold(seq.total_time, f64::max);
    if !end.is_finite() || end > MAX_SECONDS {
        return Err(Error::Invalid(format!(
            "the music lasts {:.0} minutes; renders are limited to {:.0} minutes",
            end / 60.0,
            MAX_SECONDS / 60.0
        )));
    }
    let work = note_seconds(seq);
    if !work.is_finite() || work > MAX_NOTE_SECONDS {
        return Err(Error::Invalid(format!(
            "the notes sound for {:.0} hours in total (notes × their length); renders are limited \
             to {:.0} hours of note time: render a shorter excerpt",
            work / 3600.0,
            MAX_NOTE_SECONDS / 3600.0
        )));
    }
    let engine = resolve_engine(&opts.engine)?;
    let sr = opts.sample_rate;
    let mut samples = match &engine {
        Engine::Builtin => synth::render_builtin(seq, sr),
        Engine::SoundFont(path) => {
            let font = soundfont::load_soundfont(path)?;
            let gain = soundfont::makeup_gain(&font, path, sr)?;
            let mut x = soundfont::render_soundfont(seq, &font, path, sr)?;
            x.iter_mut().for_each(|s| *s *= gain);
            x
        }
    };
    // Trim what is below -80 dBFS at the end (50 ms kept), but keep the sequence's own length.
    let last_loud = samples
        .iter()
        .rposition(|s| s.abs() > 1e-4)
        .map(|i| i / 2)
        .unwrap_or(0);
    let keep = (last_loud + (0.05 * sr as f64) as usize)
        .max((seq.total_time.max(0.0) * sr as f64).ceil() as usize);
    samples.resize(2 * keep, 0.0);
    let limiter = limiter::limit(&mut samples, 2, sr, limiter::CEILING);
    Ok(Rendered {
        audio: Audio {
            samples,
            channels: 2,
            sample_rate: sr,
        },
        engine,
        limiter,
    })
}

/// Render a note sequence and write it as a 16-bit WAV file (atomically).
pub fn render_sequence_to_wav(
    seq: &NoteSequence,
    path: &Path,
    opts: &RenderOptions,
) -> Result<RenderReport> {
    let r = render_sequence(seq, opts)?;
    write_wav(path, &r.audio)?;
    Ok(RenderReport {
        path: path.to_path_buf(),
        sample_rate: r.audio.sample_rate,
        channels: r.audio.channels,
        seconds: r.audio.seconds(),
        notes: playable_notes(seq),
        peak_dbfs: analysis::dbfs(analysis::peak(&r.audio.samples) as f64),
        rms_dbfs: analysis::rms_dbfs(&r.audio.samples),
        limiter: r.limiter,
        engine: r.engine,
    })
}

/// Read a MIDI file; an error naming the file if it holds no notes.
pub fn read_midi_for_audio(midi: &Path) -> Result<NoteSequence> {
    let seq = read_midi_file(midi)?;
    if playable_notes(&seq) == 0 {
        return Err(Error::bad_input(
            midi,
            "the MIDI file has no notes to render",
        ));
    }
    Ok(seq)
}

/// Render a MIDI file to a 16-bit WAV file.
pub fn render_midi_file_to_wav(
    midi: &Path,
    wav: &Path,
    opts: &RenderOptions,
) -> Result<RenderReport> {
    let seq = read_midi_for_audio(midi)?;
    render_sequence_to_wav(&seq, wav, opts)
}

/// How a playback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayOutcome {
    Finished,
    /// `stop` was set (Ctrl-C).
    Stopped,
}

/// Play `audio` on the default output device, blocking until it has finished or `stop` is set;
/// `on_tick(position_seconds)` is called about 20 times a second. Needs the `playback` feature
/// (otherwise an error with [`PLAYBACK_HINT`]).
pub fn play_audio(
    audio: &Audio,
    stop: &AtomicBool,
    on_tick: &mut dyn FnMut(f64),
) -> Result<PlayOutcome> {
    #[cfg(feature = "playback")]
    {
        playback::play(audio, stop, on_tick)
    }
    #[cfg(not(feature = "playback"))]
    {
        let _ = (audio, stop, on_tick);
        Err(Error::Invalid(PLAYBACK_HINT.to_string()))
    }
}

/// [`play_audio`] with the progress line (`0:12.3 / 0:45.0  bar 7/23`) on stderr when stderr is a
/// terminal; the line is cleared at the end so the terminal is left clean.
pub fn play_with_progress(
    audio: &Audio,
    clock: Option<&BarClock>,
    stop: &AtomicBool,
) -> Result<PlayOutcome> {
    let length = audio.seconds();
    let tty = std::io::stderr().is_terminal();
    let mut last = String::new();
    let mut tick = |pos: f64| {
        if tty {
            let line = timeline::progress_line(pos, length, clock);
            if line != last {
                eprint!("\r\x1b[2K▶ {line}");
                last = line;
            }
        }
    };
    let r = play_audio(audio, stop, &mut tick);
    if tty && !last.is_empty() {
        eprint!("\r\x1b[2K");
    }
    r
}

/// Render `seq` and play it with a progress line (for `sample --play`, `interpolate --play`);
/// `stop` ends playback early (set it from a Ctrl-C handler).
pub fn play_sequence(
    seq: &NoteSequence,
    opts: &RenderOptions,
    stop: &AtomicBool,
) -> Result<PlayOutcome> {
    if !PLAYBACK_AVAILABLE {
        return Err(Error::Invalid(PLAYBACK_HINT.to_string()));
    }
    let r = render_sequence(seq, opts)?;
    let clock = BarClock::from_sequence(seq);
    play_with_progress(&r.audio, Some(&clock), stop)
}

/// [`play_sequence`] that Ctrl-C stops: installs a Ctrl-C handler for the process (if none is
/// installed yet; the `ctrlc` crate allows one) and plays. On [`PlayOutcome::Stopped`] the caller
/// should exit with code 130 after its own cleanup.
pub fn play_sequence_until_ctrl_c(seq: &NoteSequence, opts: &RenderOptions) -> Result<PlayOutcome> {
    play_sequence(seq, opts, &crate::io_util::ctrl_c_flag())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::Note;

    #[test]
    fn total_note_time_is_bounded_with_a_clear_error() {
        // 100 voices held for 20 minutes: within 30 minutes, but 33 hours of note time.
        let notes = (0..100u8)
            .map(|i| Note {
                pitch: 20 + i,
                velocity: 80,
                start_time: 0.0,
                end_time: 1200.0,
                start_tick: 0,
                end_tick: 0,
                program: 0,
                instrument: 0,
                is_drum: false,
            })
            .collect();
        let mut seq = NoteSequence {
            notes,
            ..Default::default()
        };
        seq.update_total_time();
        assert!(note_seconds(&seq) > MAX_NOTE_SECONDS);
        let t0 = std::time::Instant::now();
        let e = render_sequence(&seq, &RenderOptions::default()).unwrap_err();
        assert!(t0.elapsed().as_secs_f64() < 1.0);
        let msg = e.to_string();
        assert!(
            msg.contains("hours of note time") && !msg.contains('\n'),
            "{msg}"
        );
    }
}
