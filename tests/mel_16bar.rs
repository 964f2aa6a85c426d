//! The shipped 16-bar hierarchical model (`models/mel_16bar`) as a musician meets it, on real
//! tunes of `midi_data/`: `interpolate --model mel_16bar` morphs two 16-bar tunes (MIDI of 16-bar
//! phrases, a PNG, a WAV), `sample` draws 16-bar phrases, `morph` moves a tune along the model's
//! 16-bar genre vectors, and a file without a 16-bar phrase is refused in one line naming the
//! file and the longest phrase it has. (Its model card's check figures are reproduced by
//! tests/shipped_models.rs.)

mod common;

use common::{musicvae, s, text};
use musicvae::music::read_midi_file;
use std::path::Path;

const A: &str = "midi_data/irish/oneills_0000.mid";
const B: &str = "midi_data/american_fiddle/ryans_allycroakersfavoritereel.mid";

/// Seconds from the first note's start to the last note's end, and seconds per 4/4 bar.
fn span_and_bar(path: &Path) -> (f64, f64) {
    let seq = read_midi_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = seq
        .notes
        .iter()
        .map(|n| n.start_time)
        .fold(f64::INFINITY, f64::min);
    let end = seq.notes.iter().map(|n| n.end_time).fold(0.0, f64::max);
    (end - start, 240.0 / seq.initial_qpm())
}

fn nonempty(p: &Path, t: &str) {
    let len = std::fs::metadata(p)
        .map(|m| m.len())
        .unwrap_or_else(|_| panic!("{} missing\n{t}", p.display()));
    assert!(len > 100, "{} is {len} bytes\n{t}", p.display());
}

#[test]
fn interpolate_sample_and_morph_in_sixteen_bars() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("interp16.mid");
    let wav = d.path().join("interp16.wav");
    let o = musicvae(&[
        "interpolate",
        A,
        B,
        "--model",
        "mel_16bar",
        "--steps",
        "3",
        "-o",
        s(&out),
        "--png",
        "--wav",
        s(&wav),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("mel_16bar"), "names the model: {t}");
    for p in [&out, &out.with_extension("png"), &wav] {
        nonempty(p, &t);
    }
    // Three decoded phrases of 16 bars one after another: the last starts after 32 bars.
    let (span, bar) = span_and_bar(&out);
    assert!(
        span > 32.0 * bar,
        "{span:.1} s is not 3 × 16 bars of {bar:.2} s"
    );
    // The picture of 7 phrases of 16 bars (inputs, reconstructions, path) in lines of 8 bars:
    // one column of 14 lines, each over 100 pixels high.
    let img = image::open(out.with_extension("png")).expect("PNG");
    assert!(img.height() > 14 * 100, "{} px high", img.height());

    // Prior samples are 16-bar phrases.
    let dir = d.path().join("prior");
    let o = musicvae(&[
        "sample",
        "--model",
        "mel_16bar",
        "-n",
        "2",
        "--seed",
        "3",
        "-o",
        s(&dir),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let mids: Vec<_> = std::fs::read_dir(&dir)
        .expect("sample folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "mid"))
        .collect();
    assert_eq!(mids.len(), 2, "{t}");
    for m in &mids {
        let (span, bar) = span_and_bar(m);
        assert!(span <= 16.0 * bar + 1e-6, "{}: {span:.1} s", m.display());
    }

    // A genre morph along the 16-bar attribute vectors.
    let morphed = d.path().join("morph16.mid");
    let o = musicvae(&[
        "morph",
        A,
        "--model",
        "mel_16bar",
        "--toward",
        "chorale",
        "--steps",
        "2",
        "-o",
        s(&morphed),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let (span, bar) = span_and_bar(&morphed);
    assert!(span > 16.0 * bar, "two 16-bar phrases: {span:.1} s");
}

#[test]
fn a_tune_without_a_sixteen_bar_phrase_is_refused_in_one_line() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("x.mid");
    let short = "midi_data/chinese_folk/essen_han1_0051.mid";
    let o = musicvae(&[
        "interpolate",
        short,
        B,
        "--model",
        "mel_16bar",
        "-o",
        s(&out),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let first = err.lines().next().unwrap_or("");
    assert!(
        first.starts_with("error: ")
            && first.contains("essen_han1_0051.mid")
            && first.contains("longest melody phrase is 9 bar(s)")
            && first.contains("16 bars"),
        "unexpected: {err}"
    );
    assert!(!out.exists(), "nothing written");
}
