//! The SoundFont engine: finds a General MIDI SoundFont (`--soundfont`, `$MUSICVAE_SOUNDFONT` or
//! the usual system folders) and renders a note sequence with the pure-Rust `rustysynth`
//! synthesizer (its reverb and chorus on).
//!
//! Notes are sent as MIDI note-on/off messages at their exact sample positions. Each GM program is
//! given its own MIDI channel (drums on channel 10); when more than 15 programs are in use a channel
//! is re-used with a program change before the note.

use crate::error::{Error, Result};
use crate::music::NoteSequence;
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Environment variable naming a SoundFont to use when `--soundfont` is not given; set it to
/// `none` to use the built-in synthesizer even where a SoundFont is installed.
pub const SOUNDFONT_ENV: &str = "MUSICVAE_SOUNDFONT";

/// Level that a SoundFont's piano A4 at velocity 100 is brought to (RMS over its sustain, dBFS):
/// about the level of the built-in melodic voice, so both engines sound equally loud.
pub const REFERENCE_RMS_DBFS: f64 = -19.0;
/// Most make-up gain given to a quiet SoundFont, dB.
pub const MAX_MAKEUP_DB: f64 = 24.0;

/// Seconds rendered after the last note-off for releases and reverb (trailing silence is trimmed).
pub const TAIL_SECONDS: f64 = 2.0;

/// Folders searched for a SoundFont, in order (Debian/Ubuntu, Fedora/Arch, Homebrew, the user's).
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = [
        "/usr/share/sounds/sf2",
        "/usr/share/soundfonts",
        "/usr/share/sounds/soundfonts",
        "/usr/local/share/soundfonts",
        "/usr/local/share/sounds/sf2",
        "/opt/homebrew/share/soundfonts",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        dirs.push(home.join(".local/share/soundfonts"));
        dirs.push(home.join(".soundfonts"));
    }
    dirs
}

/// Well-known General MIDI SoundFont file names, preferred in this order in each folder.
const PREFERRED: [&str; 6] = [
    "default-GM.sf2",
    "default.sf2",
    "FluidR3_GM.sf2",
    "GeneralUser GS v1.471.sf2",
    "TimGM6mb.sf2",
    "MuseScore_General.sf2",
];

fn is_sf2(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("sf2")) && p.is_file()
}

/// The first SoundFont (`.sf2`; rustysynth cannot read compressed `.sf3`) in `dirs`: a well-known
/// GM name first, then any `.sf2` in name order.
pub fn find_in(dirs: &[PathBuf]) -> Option<PathBuf> {
    for d in dirs {
        for name in PREFERRED {
            let p = d.join(name);
            if is_sf2(&p) {
                return Some(p);
            }
        }
        if let Ok(rd) = std::fs::read_dir(d) {
            let mut all: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| is_sf2(p))
                .collect();
            all.sort();
            if let Some(p) = all.into_iter().next() {
                return Some(p);
            }
        }
    }
    None
}

/// What `$MUSICVAE_SOUNDFONT` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvChoice {
    Unset,
    /// `none` (or `builtin`): never use a SoundFont automatically.
    Disabled,
    Path(PathBuf),
}

pub fn env_choice() -> EnvChoice {
    match std::env::var_os(SOUNDFONT_ENV) {
        None => EnvChoice::Unset,
        Some(v) if v.is_empty() => EnvChoice::Unset,
        Some(v) => {
            let s = v.to_string_lossy();
            if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("builtin") {
                EnvChoice::Disabled
            } else {
                EnvChoice::Path(PathBuf::from(v))
            }
        }
    }
}

/// The SoundFont `render` uses when none is given: `$MUSICVAE_SOUNDFONT` (an error if it names a
/// missing file), else the first one found in [`search_dirs`]; `Ok(None)` = use the built-in synth.
pub fn find_soundfont() -> Result<Option<PathBuf>> {
    match env_choice() {
        EnvChoice::Disabled => Ok(None),
        EnvChoice::Path(p) => {
            if p.is_file() {
                Ok(Some(p))
            } else {
                Err(Error::bad_input(
                    &p,
                    format!("no such SoundFont file (named by ${SOUNDFONT_ENV})"),
                ))
            }
        }
        EnvChoice::Unset => Ok(find_in(&search_dirs())),
    }
}

/// Run `f`, turning a panic inside rustysynth (a malformed file it does not check) into an error
/// without printing the panic message.
fn guarded<T>(path: &Path, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    r.unwrap_or_else(|_| {
        Err(Error::bad_input(
            path,
            format!("malformed SoundFont ({what} failed)"),
        ))
    })
}

/// Read and check a SoundFont file.
pub fn load_soundfont(path: &Path) -> Result<Arc<SoundFont>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    guarded(path, "reading", || {
        let mut cursor = std::io::Cursor::new(bytes);
        SoundFont::new(&mut cursor)
            .map(Arc::new)
            .map_err(|e| Error::bad_input(path, format!("not a usable SoundFont ({e})")))
    })
}

/// Make-up gain (linear, ≥ 1) for `font`: SoundFonts differ by 20 dB and more in level, so a piano
/// A4 at velocity 100 is rendered and measured, and the gain that brings it to
/// [`REFERENCE_RMS_DBFS`] is returned (at most [`MAX_MAKEUP_DB`]).
pub fn makeup_gain(font: &Arc<SoundFont>, path: &Path, sample_rate: u32) -> Result<f32> {
    let probe = NoteSequence {
        notes: vec![crate::music::Note {
            pitch: 69,
            velocity: 100,
            start_time: 0.0,
            end_time: 0.5,
            start_tick: 0,
            end_tick: 0,
            program: 0,
            instrument: 0,
            is_drum: false,
        }],
        ..Default::default()
    };
    let x = render_soundfont(&probe, font, path, sample_rate)?;
    let sr = sample_rate as usize;
    let (a, b) = ((0.05 * sr as f64) as usize, (0.45 * sr as f64) as usize);
    let mono: Vec<f32> = x[2 * a..2 * b]
        .chunks(2)
        .map(|f| 0.5 * (f[0] + f[1]))
        .collect();
    let level = super::analysis::rms_dbfs(&mono);
    let db = (REFERENCE_RMS_DBFS - level).clamp(0.0, MAX_MAKEUP_DB);
    Ok(10f64.powf(db / 20.0) as f32)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    // Offs sort before ons at the same sample so a repeated key is re-struck.
    Off,
    On,
}

#[derive(Debug, Clone, Copy)]
struct Event {
    frame: usize,
    kind: Kind,
    channel: i32,
    key: i32,
    velocity: i32,
    program: u8,
}

/// MIDI channel of each program, in order of first use (drums always on channel 9, 0-based).
fn channel_for(program: u8, used: &mut Vec<u8>) -> i32 {
    const MELODIC_CHANNELS: [i32; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15];
    let idx = match used.iter().position(|&p| p == program) {
        Some(i) => i,
        None => {
            used.push(program);
            used.len() - 1
        }
    };
    MELODIC_CHANNELS[idx % MELODIC_CHANNELS.len()]
}

/// Render `seq` with the SoundFont at `sample_rate` (16 000–192 000 Hz): interleaved stereo,
/// unlimited. `path` is only used to name the file in errors.
pub fn render_soundfont(
    seq: &NoteSequence,
    font: &Arc<SoundFont>,
    path: &Path,
    sample_rate: u32,
) -> Result<Vec<f32>> {
    let sr = sample_rate as f64;
    let mut used: Vec<u8> = Vec::new();
    let mut events: Vec<Event> = Vec::with_capacity(2 * seq.notes.len());
    for n in seq
        .notes
        .iter()
        .filter(|n| n.velocity > 0 && n.start_time >= 0.0 && n.start_time.is_finite())
    {
        let channel = if n.is_drum {
            9
        } else {
            channel_for(n.program.min(127), &mut used)
        };
        let on = (n.start_time * sr).round() as usize;
        // A note always lasts at least 10 ms so the synthesizer starts it.
        let off = ((n.end_time * sr).round() as usize).max(on + (0.01 * sr) as usize);
        let e = Event {
            frame: on,
            kind: Kind::On,
            channel,
            key: n.pitch.min(127) as i32,
            velocity: n.velocity.min(127) as i32,
            program: n.program.min(127),
        };
        events.push(e);
        events.push(Event {
            frame: off,
            kind: Kind::Off,
            ..e
        });
    }
    events.sort_by_key(|e| (e.frame, e.kind));
    let last = events.last().map(|e| e.frame).unwrap_or(0);
    let frames = last + (TAIL_SECONDS * sr) as usize;
    guarded(path, "synthesis", || {
        let settings = SynthesizerSettings::new(sample_rate as i32);
        let mut synth = Synthesizer::new(font, &settings)
            .map_err(|e| Error::Invalid(format!("cannot start the SoundFont synthesizer: {e}")))?;
        let mut program_of: [i32; 16] = [-1; 16];
        let mut left = vec![0f32; frames];
        let mut right = vec![0f32; frames];
        let mut pos = 0usize;
        for e in &events {
            if e.frame > pos {
                synth.render(&mut left[pos..e.frame], &mut right[pos..e.frame]);
                pos = e.frame;
            }
            match e.kind {
                Kind::On => {
                    let ch = e.channel as usize;
                    if e.channel != 9 && program_of[ch] != e.program as i32 {
                        synth.process_midi_message(e.channel, 0xC0, e.program as i32, 0);
                        program_of[ch] = e.program as i32;
                    }
                    synth.note_on(e.channel, e.key, e.velocity);
                }
                Kind::Off => synth.note_off(e.channel, e.key),
            }
        }
        if pos < frames {
            synth.render(&mut left[pos..], &mut right[pos..]);
        }
        Ok(left
            .iter()
            .zip(&right)
            .flat_map(|(l, r)| [*l, *r])
            .collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_skip_the_drum_channel_and_wrap() {
        let mut used = Vec::new();
        let chans: Vec<i32> = (0..17).map(|p| channel_for(p, &mut used)).collect();
        assert_eq!(&chans[..10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 10]);
        assert!(!chans.contains(&9));
        assert_eq!(chans[15], 0);
        assert_eq!(channel_for(3, &mut used), 3);
    }

    #[test]
    fn finds_sf2_by_preference_and_ignores_sf3() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.sf3"), b"x").unwrap();
        assert_eq!(find_in(&[d.path().to_path_buf()]), None);
        std::fs::write(d.path().join("b.sf2"), b"x").unwrap();
        std::fs::write(d.path().join("TimGM6mb.sf2"), b"x").unwrap();
        assert_eq!(
            find_in(&[PathBuf::from("/nonexistent"), d.path().to_path_buf()]),
            Some(d.path().join("TimGM6mb.sf2"))
        );
    }

    #[test]
    fn garbage_is_a_clean_error() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("bad.sf2");
        std::fs::write(&p, b"RIFF\x10\x00\x00\x00sfbkLIST").unwrap();
        let e = load_soundfont(&p).unwrap_err().to_string();
        assert!(e.contains("bad.sf2"), "{e}");
        let e = load_soundfont(&d.path().join("missing.sf2"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.sf2"), "{e}");
    }
}
