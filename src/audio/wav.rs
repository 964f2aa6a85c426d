//! WAV files: 16-bit PCM output (written atomically: a temporary file renamed into place, never a
//! half-written WAV) and input of any PCM or float WAV for `play`.

use super::Audio;
use crate::error::{Error, Result};
use crate::io_util::write_atomic_with;
use std::path::Path;

/// Convert a sample in [-1, 1] to 16-bit PCM (rounded, clamped).
pub fn to_i16(s: f32) -> i16 {
    (s.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

/// Write `audio` as a 16-bit PCM WAV at `path` (atomically).
pub fn write_wav(path: &Path, audio: &Audio) -> Result<()> {
    if audio.channels == 0 || audio.sample_rate == 0 {
        return Err(Error::Invalid(format!(
            "cannot write {}: {} channels at {} Hz",
            path.display(),
            audio.channels,
            audio.sample_rate
        )));
    }
    let spec = hound::WavSpec {
        channels: audio.channels,
        sample_rate: audio.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    // A WAV's data chunk is at most 4 GiB.
    if audio.samples.len() as u64 * 2 > u32::MAX as u64 - 64 {
        return Err(Error::Invalid(format!(
            "cannot write {}: too long for a WAV file",
            path.display()
        )));
    }
    let written = write_atomic_with(path, |f| {
        let mut w = hound::WavWriter::new(std::io::BufWriter::new(f), spec).map_err(hound_io)?;
        for chunk in audio.samples.chunks(1 << 16) {
            let mut w16 = w.get_i16_writer(chunk.len() as u32);
            for &s in chunk {
                w16.write_sample(to_i16(s));
            }
            w16.flush().map_err(hound_io)?;
        }
        w.finalize().map_err(hound_io)
    });
    // A folder that cannot be made is reported against the WAV file the user asked for.
    written.map_err(|e| match e {
        Error::Io { path: p, source } if p != path => Error::bad_input(
            path,
            format!("cannot create the folder {}: {source}", p.display()),
        ),
        other => other,
    })
}

fn hound_io(e: hound::Error) -> std::io::Error {
    match e {
        hound::Error::IoError(e) => e,
        other => std::io::Error::other(other.to_string()),
    }
}

/// Read a WAV file (8/16/24/32-bit integer or 32-bit float PCM) into samples in [-1, 1].
pub fn read_wav(path: &Path) -> Result<Audio> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let bad = |e: hound::Error| Error::bad_input(path, format!("not a readable WAV file ({e})"));
    let mut r = hound::WavReader::new(std::io::BufReader::new(file)).map_err(bad)?;
    let spec = r.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(Error::bad_input(
            path,
            "WAV file with no channels or sample rate",
        ));
    }
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r
            .samples::<f32>()
            .collect::<std::result::Result<_, _>>()
            .map_err(bad)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1i64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<std::result::Result<_, _>>()
                .map_err(bad)?
        }
    };
    Ok(Audio {
        samples,
        channels: spec.channels,
        sample_rate: spec.sample_rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_16_bit() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.wav");
        let a = Audio {
            samples: vec![0.0, 0.5, -0.5, 1.0, -1.0, 2.0],
            channels: 2,
            sample_rate: 22050,
        };
        write_wav(&p, &a).unwrap();
        let b = read_wav(&p).unwrap();
        assert_eq!((b.channels, b.sample_rate, b.samples.len()), (2, 22050, 6));
        for (x, y) in a.samples.iter().zip(&b.samples) {
            assert!((x.clamp(-1.0, 1.0) - y).abs() < 1e-4, "{x} {y}");
        }
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn errors_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("notwav.wav");
        std::fs::write(&p, b"hello").unwrap();
        assert!(read_wav(&p).unwrap_err().to_string().contains("notwav.wav"));
        let a = Audio {
            samples: vec![0.0],
            channels: 1,
            sample_rate: 8000,
        };
        let blocked = p.join("under-a-file.wav");
        let e = write_wav(&blocked, &a).unwrap_err().to_string();
        assert!(
            e.contains("under-a-file.wav") && e.contains("cannot create the folder"),
            "{e}"
        );
    }
}
