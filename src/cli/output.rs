//! Output options shared by the generating commands (`--png`; pictures beside the MIDI output)
//! and the list of files written, printed at the end.

use anyhow::{Context, Result};
use clap::Args;
use musicvae::data::converter::DataKind;
use musicvae::generate::output::Panel;
use musicvae::music::note_sequence::NoteSequence;
use std::path::{Path, PathBuf};

#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Also write a piano-roll picture of the phrases (OUT.png beside the MIDI output).
    #[arg(long)]
    pub png: bool,
}

/// Files written by a command, printed at the end.
#[derive(Debug, Default)]
pub struct Written(pub Vec<PathBuf>);

impl Written {
    pub fn push(&mut self, p: PathBuf) {
        self.0.push(p);
    }
    pub fn print(&self) {
        for p in &self.0 {
            println!("wrote {}", p.display());
        }
    }
}

impl OutputArgs {
    /// Write the extra outputs for `phrases` (whose MIDI went to `out`); `seq` is the whole
    /// output as one note sequence.
    pub fn finish(
        &self,
        kind: DataKind,
        panels: &[Panel],
        title: &str,
        out: &Path,
        _seq: &NoteSequence,
        written: &mut Written,
    ) -> Result<()> {
        if self.png {
            let png = out.with_extension("png");
            musicvae::generate::output::write_png(kind, panels, title, &png)
                .with_context(|| format!("writing the picture {}", png.display()))?;
            written.push(png);
        }
        Ok(())
    }
}
