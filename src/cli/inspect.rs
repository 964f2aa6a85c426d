//! `musicvae inspect FILE.mid [--json]`.

use anyhow::{bail, Result};
use clap::Args;
use musicvae::data::analyse::analyse;
use musicvae::music::read_midi_file;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  musicvae inspect midi_data/chorale/bach_bwv104_6.mid\n  musicvae inspect midi_data/irish/oneills_0000.mid --windows      # then --window I or --bar B on any command"
)]
pub struct InspectArgs {
    /// The MIDI file to inspect.
    pub file: PathBuf,
    /// Print a JSON report instead of text.
    #[arg(long, conflicts_with = "windows")]
    pub json: bool,
    /// List every window a command could take from the file for a model (index for --window,
    /// first bar for --bar, start time, onsets, a tiny text piano roll).
    #[arg(long)]
    pub windows: bool,
    /// The model whose phrase length and representation --windows uses (a model folder or a
    /// name under models/; default: the shipped models/mel_2bar).
    #[arg(long, short = 'm', requires = "windows")]
    pub model: Option<PathBuf>,
}

#[derive(Serialize)]
struct TrackReport {
    instrument: u32,
    track: usize,
    channel: u8,
    program: u8,
    is_drum: bool,
    name: String,
    notes: usize,
    lowest: Option<u8>,
    highest: Option<u8>,
}

#[derive(Serialize)]
struct KindReport {
    config: String,
    windows: usize,
    why_none: Option<String>,
    first_window_start_seconds: Option<f64>,
}

#[derive(Serialize)]
struct Report {
    file: String,
    ticks_per_quarter: u16,
    total_seconds: f64,
    notes: usize,
    tracks: Vec<TrackReport>,
    tempos: Vec<(f64, f64)>,
    time_signatures: Vec<(f64, String)>,
    sections: Vec<musicvae::data::converter::SectionReport>,
    windows: Vec<KindReport>,
}

pub fn run(a: InspectArgs) -> Result<()> {
    let seq = read_midi_file(&a.file)?;
    if seq.notes.is_empty() {
        bail!(
            "{}: the file has no notes (its tracks hold no note events that start and end)",
            a.file.display()
        );
    }
    if a.windows {
        let dir = musicvae::model_dir::resolve_model(
            a.model.as_deref(),
            musicvae::model_dir::DEFAULT_MODEL,
        )?;
        let config = musicvae::model::store::load_config(&dir.join("config.json"))?;
        return super::inspect_windows::print_windows(
            &a.file.display().to_string(),
            &seq,
            &config.model.data,
            &format!("{} ({})", config.model.name, dir.display()),
        );
    }
    // (notes, lowest, highest) per instrument index, in one pass over the notes.
    let mut stats: std::collections::HashMap<u32, (usize, u8, u8)> = Default::default();
    for n in &seq.notes {
        let e = stats.entry(n.instrument).or_insert((0, n.pitch, n.pitch));
        *e = (e.0 + 1, e.1.min(n.pitch), e.2.max(n.pitch));
    }
    let mut tracks = Vec::new();
    for inst in &seq.instruments {
        let st = stats.get(&inst.index);
        tracks.push(TrackReport {
            instrument: inst.index,
            track: inst.track,
            channel: inst.channel + 1,
            program: inst.program,
            is_drum: inst.is_drum,
            name: inst.name.clone(),
            notes: st.map_or(0, |s| s.0),
            lowest: st.map(|s| s.1),
            highest: st.map(|s| s.2),
        });
    }
    let mut windows = Vec::new();
    let mut sections = Vec::new();
    for (short, ex) in analyse(&seq) {
        if sections.is_empty() {
            sections = ex.sections.clone();
        }
        windows.push(KindReport {
            config: short.to_string(),
            windows: ex.windows.len(),
            why_none: ex.why_none.clone(),
            first_window_start_seconds: ex.origins.first().map(|o| o.start_time),
        });
    }
    let report = Report {
        file: a.file.display().to_string(),
        ticks_per_quarter: seq.ticks_per_quarter,
        total_seconds: seq.total_time,
        notes: seq.notes.len(),
        tracks,
        tempos: seq.tempos.iter().map(|t| (t.time, t.qpm)).collect(),
        time_signatures: seq
            .time_signatures
            .iter()
            .map(|t| (t.time, format!("{}/{}", t.numerator, t.denominator)))
            .collect(),
        sections,
        windows,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("{}", report.file);
    println!(
        "  {} notes, {:.1} s, {} ticks per quarter",
        report.notes, report.total_seconds, report.ticks_per_quarter
    );
    println!("  tracks:");
    if report.tracks.is_empty() {
        println!("    (none with notes)");
    }
    for t in &report.tracks {
        println!(
            "    #{:<2} track {:<2} channel {:<2} program {:<3} {:<5} {:>5} notes  {}{}",
            t.instrument,
            t.track,
            t.channel,
            t.program,
            if t.is_drum { "drums" } else { "" },
            t.notes,
            match (t.lowest, t.highest) {
                (Some(l), Some(h)) => format!("pitch {l}–{h}"),
                _ => String::new(),
            },
            if t.name.is_empty() {
                String::new()
            } else {
                format!("  \"{}\"", t.name)
            }
        );
    }
    let tempos: Vec<String> = report
        .tempos
        .iter()
        .map(|(t, q)| format!("{q:.1} qpm @ {t:.2}s"))
        .collect();
    println!("  tempo: {}", tempos.join(", "));
    let ts: Vec<String> = report
        .time_signatures
        .iter()
        .map(|(t, s)| format!("{s} @ {t:.2}s"))
        .collect();
    println!(
        "  meter: {}",
        if ts.is_empty() {
            "none (4/4 assumed)".to_string()
        } else {
            ts.join(", ")
        }
    );
    println!("  sections (split at tempo/meter changes):");
    for (i, s) in report.sections.iter().enumerate() {
        println!(
            "    {i}: from {:.2}s, {}{}{}",
            s.start_time,
            s.time_signature
                .map(|(n, d)| format!("{n}/{d}"))
                .unwrap_or_else(|| "?".into()),
            s.bars.map(|b| format!(", {b:.1} bars")).unwrap_or_default(),
            s.skipped
                .as_ref()
                .map(|r| format!(" — skipped: {r}"))
                .unwrap_or_default()
        );
    }
    println!("  windows:");
    for k in &report.windows {
        match &k.why_none {
            None => println!("    {:<11} {:>4}", k.config, k.windows),
            Some(why) => println!("    {:<11} {:>4}  ({why})", k.config, k.windows),
        }
    }
    Ok(())
}
