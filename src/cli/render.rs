//! `musicvae render FILE.mid [-o FILE.wav] [--soundfont FILE.sf2 | --builtin] [--sample-rate HZ]`.

use anyhow::{anyhow, Result};
use clap::Args;
use musicvae::audio::{
    analysis, read_midi_for_audio, render_sequence, write_wav, EngineChoice, RenderOptions,
    DEFAULT_SAMPLE_RATE,
};
use std::path::{Path, PathBuf};

/// Engine and sample-rate options shared by `render` and `play`.
#[derive(Args, Debug, Clone)]
pub struct SynthArgs {
    /// SoundFont (.sf2) to render with. Without it a General MIDI SoundFont is looked up in
    /// $MUSICVAE_SOUNDFONT and the usual system folders (e.g. /usr/share/sounds/sf2, from Debian's
    /// timgm6mb-soundfont or fluid-soundfont-gm); if none is found the built-in synthesizer is used.
    #[arg(long, value_name = "FILE.sf2", conflicts_with = "builtin")]
    pub soundfont: Option<PathBuf>,
    /// Use the built-in synthesizer even if a SoundFont is installed.
    #[arg(long)]
    pub builtin: bool,
    /// Output sample rate in Hz (16000–192000).
    #[arg(long, default_value_t = DEFAULT_SAMPLE_RATE, value_name = "HZ")]
    pub sample_rate: u32,
}

impl SynthArgs {
    pub fn options(&self) -> RenderOptions {
        RenderOptions {
            sample_rate: self.sample_rate,
            engine: match (&self.soundfont, self.builtin) {
                (Some(p), _) => EngineChoice::SoundFont(p.clone()),
                (None, true) => EngineChoice::Builtin,
                (None, false) => EngineChoice::Auto,
            },
        }
    }
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// The MIDI file to render (any MIDI file, ours or anyone's).
    pub file: PathBuf,
    /// The WAV file to write (16-bit); default: FILE with the extension .wav.
    #[arg(long, short, value_name = "FILE.wav")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub synth: SynthArgs,
    /// Also draw the waveform of the render into this PNG.
    #[arg(long, value_name = "FILE.png")]
    pub waveform: Option<PathBuf>,
    /// Also draw a spectrogram of the render into this PNG.
    #[arg(long, value_name = "FILE.png")]
    pub spectrogram: Option<PathBuf>,
}

/// A library error as a one-line message: errors that already name a file stay as they are, the
/// others are prefixed with the MIDI file being worked on.
pub fn name_file(e: musicvae::Error, file: &Path) -> anyhow::Error {
    match e {
        musicvae::Error::Invalid(msg) => anyhow!("{}: {msg}", file.display()),
        other => other.into(),
    }
}

fn default_out(midi: &Path) -> PathBuf {
    midi.with_extension("wav")
}

pub fn run(a: RenderArgs) -> Result<()> {
    let out = a.out.clone().unwrap_or_else(|| default_out(&a.file));
    let mut files = super::guard::Files::new()
        .input("the MIDI file", &a.file)
        .output("--out", &out);
    if let Some(sf) = &a.synth.soundfont {
        files = files.input("--soundfont", sf);
    }
    if let Some(p) = &a.waveform {
        files = files.output("--waveform", p);
    }
    if let Some(p) = &a.spectrogram {
        files = files.output("--spectrogram", p);
    }
    files.check()?;
    let seq = read_midi_for_audio(&a.file)?;
    let opts = a.synth.options();
    // Library errors name the file and the cause on one line.
    let r = render_sequence(&seq, &opts).map_err(|e| name_file(e, &a.file))?;
    write_wav(&out, &r.audio)?;
    let name = a
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(png) = &a.waveform {
        let title = format!("{name} ({})", r.engine);
        musicvae::plot::waveform(&r.audio.mono(), r.audio.sample_rate, &title, 1200, 360)
            .save_png(png)?;
    }
    if let Some(png) = &a.spectrogram {
        let title = format!("{name}: spectrogram ({})", r.engine);
        musicvae::plot::spectrogram(&r.audio.mono(), r.audio.sample_rate, &title, 1200, 420)
            .save_png(png)?;
    }
    let mut level = Vec::new();
    if r.limiter.headroom_db > 0.0 {
        level.push(format!(
            "turned down {:.1} dB for headroom",
            r.limiter.headroom_db
        ));
    }
    if r.limiter.limited_frames > 0 {
        level.push(format!(
            "limiter up to {:.1} dB on {:.1}% of the audio",
            r.limiter.max_reduction_db,
            100.0 * r.limiter.limited_frames as f64 / r.audio.frames().max(1) as f64
        ));
    }
    let limiter = if level.is_empty() {
        "no limiting needed".to_string()
    } else {
        level.join(", ")
    };
    println!(
        "wrote {}: {:.1} s, {} Hz stereo 16-bit, {}; peak {:.1} dBFS, RMS {:.1} dBFS, {limiter}",
        out.display(),
        r.audio.seconds(),
        r.audio.sample_rate,
        r.engine,
        analysis::dbfs(analysis::peak(&r.audio.samples) as f64),
        analysis::rms_dbfs(&r.audio.samples),
    );
    Ok(())
}
