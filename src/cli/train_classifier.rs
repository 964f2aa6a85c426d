//! `musicvae train-classifier --data DIR --arch mobilenetv3-small --out DIR [--bars 2] …`: a genre
//! classifier on melody windows, or a drum-style classifier on drum windows (`--kind`, detected
//! from the data when not given).

use super::progress::bar;
use anyhow::{bail, Context, Result};
use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use musicvae::classifier::config::ARCH_NAMES;
use musicvae::classifier::data::detect_kind;
use musicvae::classifier::eval::confusion_table;
use musicvae::classifier::train::{EpochReport, StepInfo};
use musicvae::classifier::{
    train_classifier, Arch, ClassifierConfig, ClassifierData, ClassifierObserver, Reduction,
};
use musicvae::data::converter::DataKind;
use std::path::PathBuf;

/// What the classifier reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Melody windows (90-class tokens) as an 88-pitch piano roll: a genre classifier.
    Melody,
    /// Drum windows (512-way tokens) as a 9-drum-class roll: a drum-style classifier.
    Drums,
}

impl From<KindArg> for DataKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Melody => DataKind::Melody,
            KindArg::Drums => DataKind::Drums,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PitchRange {
    /// The 88 piano keys 21..=108 (every melody token's pitch).
    Piano,
    /// All 128 MIDI pitches.
    Midi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReductionArg {
    Strided,
    Factorized,
}

/// An `--arch` value: a network and how its stride-2 layers downsample. `--help` lists the six
/// names; parsing goes through [`Arch::parse`], which also takes its aliases (`resnet18`,
/// `small`, …) in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchArg {
    pub arch: Arch,
    pub reduction: Reduction,
}

impl ValueEnum for ArchArg {
    fn value_variants<'a>() -> &'a [Self] {
        const fn v(arch: Arch, reduction: Reduction) -> ArchArg {
            ArchArg { arch, reduction }
        }
        use {Arch::*, Reduction::*};
        const ALL: [ArchArg; 6] = [
            v(MobileNetV3Small, Strided),
            v(MobileNetV3Large, Strided),
            v(ResNet, Strided),
            v(MobileNetV3Small, Factorized),
            v(MobileNetV3Large, Factorized),
            v(ResNet, Factorized),
        ];
        &ALL
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        let how = match self.reduction {
            Reduction::Strided => "strided downsampling",
            Reduction::Factorized => "ENAS factorized reduction instead of strides",
        };
        let what = match self.arch {
            Arch::MobileNetV3Small => "MobileNetV3-Small (squeeze-and-excitation, h-swish)",
            Arch::MobileNetV3Large => "MobileNetV3-Large (squeeze-and-excitation, h-swish)",
            Arch::ResNet => "ResNet-18 layout (width 0.5 unless --width)",
        };
        let name = ARCH_NAMES
            .into_iter()
            .find(|n| Arch::parse(n).ok() == Some((self.arch, self.reduction)))?;
        Some(PossibleValue::new(name).help(format!("{what}, {how}")))
    }
}

/// Parses `--arch` with [`Arch::parse`] (its own "unknown --arch" message) and shows
/// [`ArchArg`]'s values in `--help`.
#[derive(Debug, Clone, Copy)]
struct ArchParser;

impl TypedValueParser for ArchParser {
    type Value = ArchArg;
    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> std::result::Result<ArchArg, clap::Error> {
        Arch::parse(&value.to_string_lossy())
            .map(|(arch, reduction)| ArchArg { arch, reduction })
            .map_err(|e| clap::Error::raw(ErrorKind::InvalidValue, format!("{e}\n")).with_cmd(cmd))
    }
    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            ArchArg::value_variants()
                .iter()
                .filter_map(ValueEnum::to_possible_value),
        ))
    }
}

#[derive(Args, Debug)]
pub struct TrainClassifierArgs {
    /// A folder of MIDI files with one sub-folder per genre or drum style (the labels), or a
    /// cache written by `musicvae prepare DIR --config mel_<bars>bar|drums_<bars>bar --out CACHE`
    /// (faster for repeated runs). A `split.tsv` in the folder (as in midi_data_drums/) decides
    /// the split of the files it names: validation and test files are held out.
    #[arg(long)]
    pub data: PathBuf,
    /// Melody (genre) or drums (drum style). Default: drums when the MIDI files hold only drum
    /// notes (channel 10), or the kind of a prepared cache; melody otherwise.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// Network; a `-fr` name uses the ENAS factorized reduction in place of strided downsampling.
    #[arg(long, default_value = "mobilenetv3-small", value_parser = ArchParser)]
    pub arch: ArchArg,
    /// Where to write model.mpk, config.json (with the labels), metrics.jsonl, report.json and the
    /// confusion matrices (confusion.png, confusion_files.png).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Window length in bars: 2 (the 2-bar VAE's phrases), 4, 16 (the hierarchical VAE's), …
    #[arg(long, default_value_t = 2)]
    pub bars: usize,
    /// Override the downsampling (same as the `-fr` suffix of --arch).
    #[arg(long, value_enum)]
    pub reduction: Option<ReductionArg>,
    /// Width multiplier (default 1.0 for MobileNetV3, 0.5 for the ResNet).
    #[arg(long)]
    pub width: Option<f64>,
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Class-balanced batches per epoch.
    #[arg(long)]
    pub steps_per_epoch: Option<usize>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Peak learning rate (AdamW, warm-up then cosine decay).
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub weight_decay: Option<f64>,
    #[arg(long)]
    pub warmup_steps: Option<usize>,
    #[arg(long)]
    pub dropout: Option<f64>,
    #[arg(long)]
    pub bn_momentum: Option<f64>,
    #[arg(long)]
    pub label_smoothing: Option<f64>,
    /// Random transposition of training windows by up to ±K semitones (0 = off; default 5).
    /// Melodies only.
    #[arg(long, value_name = "K")]
    pub transpose: Option<u8>,
    /// Drums: train on each window as it is, without starting it at a random bar of itself (bar
    /// rotation is on by default for drum styles).
    #[arg(long)]
    pub no_rotate_bars: bool,
    /// Drums: drop each hit of a training window with probability P (default 0.1; 0 = off).
    #[arg(long, value_name = "P")]
    pub drop_hits: Option<f64>,
    /// Seed of initialisation, sampling and augmentation (default 7).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seed of the stratified file-level split (default 42) of the files a split.tsv does not name.
    #[arg(long)]
    pub split_seed: Option<u64>,
    /// Fraction of each label's files held out (default 0.1), among the files a split.tsv does
    /// not name.
    #[arg(long)]
    pub held_out: Option<f64>,
    /// Held-out windows per file evaluated after each epoch (0 = all; the final evaluation uses all).
    #[arg(long)]
    pub eval_windows_per_file: Option<usize>,
    /// Pitch rows of the roll (melodies; default piano). A drum roll's rows are the 9 drum
    /// classes.
    #[arg(long, value_enum)]
    pub pitch_range: Option<PitchRange>,
    /// Leave out the onset channel (sounding notes only). Melodies; a drum roll has one channel.
    #[arg(long)]
    pub no_onset: bool,
    /// Train into --out even though it already holds a model (it is replaced). Without it such a
    /// folder is refused.
    #[arg(long)]
    pub force: bool,
}

impl TrainClassifierArgs {
    fn config(&self, kind: DataKind) -> Result<ClassifierConfig> {
        let ArchArg {
            arch,
            reduction: mut red,
        } = self.arch;
        if let Some(r) = self.reduction {
            red = match r {
                ReductionArg::Strided => Reduction::Strided,
                ReductionArg::Factorized => Reduction::Factorized,
            };
        }
        if kind == DataKind::Drums {
            let melody_only = [
                ("--transpose", self.transpose.is_some_and(|k| k > 0)),
                ("--pitch-range", self.pitch_range.is_some()),
                ("--no-onset", self.no_onset),
            ];
            if let Some((flag, _)) = melody_only.iter().find(|(_, given)| *given) {
                bail!(
                    "{flag} is a melody setting; a drum roll has the 9 drum classes as rows, one channel (hits) and no transposition"
                );
            }
        } else {
            let drums_only = [
                ("--no-rotate-bars", self.no_rotate_bars),
                ("--drop-hits", self.drop_hits.is_some()),
            ];
            if let Some((flag, _)) = drums_only.iter().find(|(_, given)| *given) {
                bail!("{flag} is a drum-style setting; melodies are augmented by --transpose");
            }
        }
        let mut c = ClassifierConfig::new_for(kind, arch, red, self.bars);
        macro_rules! set {
            ($($f:ident => $g:ident),*) => { $( if let Some(v) = self.$f { c.$g = v; } )* };
        }
        set!(width => width, epochs => epochs, steps_per_epoch => steps_per_epoch,
             batch_size => batch_size, lr => learning_rate, weight_decay => weight_decay,
             warmup_steps => warmup_steps, dropout => dropout, bn_momentum => bn_momentum,
             label_smoothing => label_smoothing, transpose => transpose, seed => seed,
             split_seed => split_seed, held_out => held_out_fraction,
             eval_windows_per_file => eval_windows_per_file, drop_hits => drop_hits);
        if self.no_rotate_bars {
            c.rotate_bars = false;
        }
        if self.pitch_range == Some(PitchRange::Midi) {
            c.pitch_min = 0;
            c.pitch_max = 127;
        }
        if kind == DataKind::Melody {
            c.onset_channel = !self.no_onset;
        }
        c.validate()?;
        Ok(c)
    }
}

struct Progress {
    pb: ProgressBar,
    epochs: usize,
}

impl ClassifierObserver for Progress {
    fn on_start(&mut self, total: u64) {
        self.pb.set_length(total);
    }
    fn on_step(&mut self, s: &StepInfo) {
        self.pb.set_position(s.step);
        self.pb.set_message(format!(
            "epoch {} loss {:.3} acc {:.3} lr {:.1e} {:.0} win/s",
            s.epoch, s.loss, s.accuracy, s.lr, s.windows_per_sec
        ));
    }
    fn on_epoch(&mut self, e: &EpochReport) {
        let held = match &e.held_out {
            Some(h) => format!(
                "held-out windows {:.4} (balanced {:.4}), files {:.4} (balanced {:.4}), loss {:.3}",
                h.window_accuracy,
                h.window_balanced_accuracy,
                h.file_accuracy,
                h.file_balanced_accuracy,
                h.loss
            ),
            None => "no held-out files".to_string(),
        };
        let line = format!(
            "epoch {}/{}: train loss {:.3} acc {:.4} | {held} | {:.0} s ({:.1} windows/s training, eval {:.0} s)",
            e.epoch,
            self.epochs,
            e.train_loss,
            e.train_accuracy,
            e.secs,
            e.train_windows_per_sec,
            e.eval_secs
        );
        // println on a hidden bar (no terminal) prints nothing: suspend + println always prints.
        self.pb.suspend(|| println!("{line}"));
    }
    fn on_message(&mut self, m: &str) {
        self.pb.suspend(|| println!("{m}"));
    }
}

pub fn run(a: TrainClassifierArgs) -> Result<()> {
    super::guard::refuse_model_folder(&a.out, "--out", a.force, "replace it with --force")?;
    let (kind, how) = match a.kind {
        Some(k) => (DataKind::from(k), "--kind"),
        None => (
            detect_kind(&a.data)?,
            "detected from the data; --kind overrides",
        ),
    };
    let cfg = a.config(kind).with_context(|| {
        format!(
            "bad settings (valid --arch values: {})",
            ARCH_NAMES.join(", ")
        )
    })?;
    let pb = bar(0, "reading MIDI");
    let data = ClassifierData::load(&a.data, &cfg, &|d, t| {
        pb.set_length(t as u64);
        pb.set_position(d as u64);
    })
    .with_context(|| {
        format!(
            "loading labelled {}-bar {} windows",
            cfg.bars,
            cfg.kind.name()
        )
    })?;
    pb.finish_and_clear();

    let stratified = format!(
        "stratified split seed {}, {:.0}% of each label held out",
        cfg.split_seed,
        100.0 * cfg.held_out_fraction
    );
    let split = match &data.split_file {
        Some(f) if data.split_file_files == data.files.len() => {
            format!("split by the corpus's {f} (validation + test held out)")
        }
        Some(f) => format!(
            "split by the corpus's {f} for the {} files it names (validation + test held out), the other {}: {stratified}",
            data.split_file_files,
            data.files.len() - data.split_file_files
        ),
        None => stratified,
    };
    println!(
        "{}: {} windows ({how}); {} labels, {} files, {} windows of {} bars ({} steps); {split}",
        a.data.display(),
        cfg.kind.name(),
        data.labels.len(),
        data.files.len(),
        data.windows.len(),
        cfg.bars,
        cfg.steps(),
    );
    if !data.dropped_labels.is_empty() {
        println!(
            "  left out: {} (the split file holds out every usable file of these labels, so there is nothing to train them on)",
            data.dropped_labels
                .iter()
                .map(|(l, n)| format!("{l} ({n} file{})", if *n == 1 { "" } else { "s" }))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if data.unlabelled_files > 0 {
        println!(
            "  ({} files directly in the folder have no label folder and are left out)",
            data.unlabelled_files
        );
    }
    println!(
        "{:<20} {:>11} {:>13} {:>13} {:>15}",
        "label", "train files", "held-out files", "train windows", "held-out windows"
    );
    for (l, c) in data.labels.iter().zip(data.counts()) {
        println!(
            "{:<20} {:>11} {:>13} {:>13} {:>15}",
            l, c.train_files, c.held_out_files, c.train_windows, c.held_out_windows
        );
    }
    let (dup, held) = data.held_out_duplicates();
    if held > 0 {
        println!(
            "{dup} of {held} held-out windows also occur verbatim in a training file (tunes shared between collections)"
        );
    }
    println!(
        "{} (width {}, input {:?} = [channels, {}, steps]), {} epochs × {} balanced batches of {}, AdamW lr {} wd {}, {}, seed {}",
        cfg.arch_name(),
        cfg.width,
        cfg.input_shape(),
        if cfg.kind == DataKind::Drums {
            "drum classes"
        } else {
            "pitches"
        },
        cfg.epochs,
        cfg.steps_per_epoch,
        cfg.batch_size,
        cfg.learning_rate,
        cfg.weight_decay,
        if cfg.kind == DataKind::Drums {
            format!(
                "bar rotation {}, hit dropout {}",
                if cfg.rotate_bars { "on" } else { "off" },
                cfg.drop_hits
            )
        } else {
            format!("transpose ±{}", cfg.transpose)
        },
        cfg.seed
    );

    let stop = musicvae::io_util::ctrl_c_flag();
    let mut obs = Progress {
        pb: bar(0, "train"),
        epochs: cfg.epochs,
    };
    let device = Default::default();
    let outcome = train_classifier::<super::backend::CpuTrain>(
        &cfg,
        &data,
        &a.out,
        &device,
        &mut obs,
        Some(&stop),
    )
    .with_context(|| format!("training the classifier into {}", a.out.display()))?;
    obs.pb.finish_and_clear();

    println!(
        "{} ({} parameters incl. BN statistics) trained in {:.0} s{}",
        outcome.arch,
        outcome.params,
        outcome.secs,
        if outcome.interrupted {
            " (stopped early by Ctrl-C)"
        } else {
            ""
        }
    );
    let t = &outcome.train;
    if t.windows > t.files {
        println!(
            "training files (no augmentation, {} windows of {} files): window accuracy {:.4} (balanced {:.4}), file accuracy {:.4}",
            t.windows, t.files, t.window_accuracy, t.window_balanced_accuracy, t.file_accuracy
        );
    } else {
        // One window per file: a file's accuracy is its window's.
        println!(
            "training files (no augmentation, one window from each of {} files): window accuracy {:.4} (balanced {:.4})",
            t.files, t.window_accuracy, t.window_balanced_accuracy
        );
    }
    match &outcome.held_out {
        Some(h) => {
            println!(
                "held-out: window accuracy {:.4} (balanced {:.4}, {} windows), file accuracy {:.4} (balanced {:.4}, {} files)",
                h.window_accuracy,
                h.window_balanced_accuracy,
                h.windows,
                h.file_accuracy,
                h.file_balanced_accuracy,
                h.files
            );
            println!("\nheld-out windows (rows = true, columns = predicted):");
            print!("{}", confusion_table(&h.labels, &h.window_confusion));
            println!("\nheld-out files, mean log-probability over each file's windows:");
            print!("{}", confusion_table(&h.labels, &h.file_confusion));
        }
        None => {
            println!(
                "no held-out files (--held-out 0): confusion matrices are of the training files"
            );
            print!("{}", confusion_table(&t.labels, &t.window_confusion));
        }
    }
    println!(
        "\nmodel, config and labels in {}; confusion.png, confusion_files.png, curve.png, report.json beside them",
        a.out.display()
    );
    if outcome.interrupted && outcome.epochs.is_empty() {
        bail!("stopped before the first epoch finished");
    }
    Ok(())
}
