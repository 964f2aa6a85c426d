//! Never overwrite what the user did not ask to overwrite: every command lists the files it reads
//! and the files it will write, and [`Files::check`] refuses, before any work, an output that is an
//! input or another output. Paths are compared by what they point at, not by how they are spelt:
//! the file identity (device, inode) of files that exist — so `./A.mid`, `dir/../A.mid`, a symlink
//! or a hard link to `A.mid` are all `A.mid` — and the canonical parent folder plus the file name
//! for files that do not exist yet.

use anyhow::{bail, Result};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a path points at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    /// (device, inode) when the file exists (symlinks followed).
    id: Option<(u64, u64)>,
    /// Canonical parent folder joined with the file name (the symlink itself when the path is a
    /// dangling symlink); `None` when the parent folder does not exist yet.
    name: Option<PathBuf>,
}

impl Key {
    fn of(p: &Path) -> Key {
        let id = std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        let name = match std::fs::canonicalize(p) {
            Ok(c) => Some(c),
            Err(_) => {
                let parent = match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                match (std::fs::canonicalize(&parent), p.file_name()) {
                    (Ok(d), Some(f)) => Some(d.join(f)),
                    // A parent that does not exist yet: compare the path as written, made
                    // absolute, with `.` and `..` resolved lexically.
                    _ => Some(lexical_absolute(p)),
                }
            }
        };
        Key { id, name }
    }

    fn same(&self, other: &Key) -> bool {
        matches!((self.id, other.id), (Some(a), Some(b)) if a == b)
            || matches!((&self.name, &other.name), (Some(a), Some(b)) if a == b)
    }
}

/// `p` made absolute against the working directory, `.` and `..` resolved without the filesystem.
fn lexical_absolute(p: &Path) -> PathBuf {
    let base = if p.is_absolute() {
        PathBuf::new()
    } else {
        std::env::current_dir().unwrap_or_default()
    };
    let mut out = PathBuf::new();
    for c in base.join(p).components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// True when the two paths name the same file or folder (see the module docs).
pub fn same_file(a: &Path, b: &Path) -> bool {
    Key::of(a).same(&Key::of(b))
}

/// The files one command reads and writes, each with the option that named it.
#[derive(Debug, Default)]
pub struct Files {
    inputs: Vec<(String, PathBuf)>,
    outputs: Vec<(String, PathBuf)>,
}

impl Files {
    pub fn new() -> Files {
        Files::default()
    }

    /// A file the command reads (`what` says which argument named it, e.g. "input A").
    pub fn input(mut self, what: &str, p: &Path) -> Files {
        self.inputs.push((what.to_string(), p.to_path_buf()));
        self
    }

    /// The files of a model folder (weights, config, attribute vectors, checkpoint): never an
    /// output of a generating command.
    pub fn model(mut self, dir: &Path) -> Files {
        for d in [dir.to_path_buf(), dir.join("checkpoint")] {
            for name in [
                "model.mpk",
                "config.json",
                "attributes.json",
                "optimizer.mpk",
            ] {
                let p = d.join(name);
                if p.exists() {
                    self.inputs.push((format!("the model's {name}"), p));
                }
            }
        }
        self
    }

    /// A file the command writes (`what`: the option, e.g. "--out", "--png").
    pub fn output(mut self, what: &str, p: &Path) -> Files {
        self.outputs.push((what.to_string(), p.to_path_buf()));
        self
    }

    /// Refuse an output that is an input, or that two outputs are the same file.
    pub fn check(&self) -> Result<()> {
        let inputs: Vec<Key> = self.inputs.iter().map(|(_, p)| Key::of(p)).collect();
        let outputs: Vec<Key> = self.outputs.iter().map(|(_, p)| Key::of(p)).collect();
        for (i, (what, p)) in self.outputs.iter().enumerate() {
            if let Some(j) = inputs.iter().position(|k| k.same(&outputs[i])) {
                let (iwhat, ip) = &self.inputs[j];
                bail!(
                    "{what} {} is {iwhat} ({}): refusing to overwrite an input; choose another output file",
                    p.display(),
                    ip.display()
                );
            }
            if let Some(j) = (0..i).find(|&j| outputs[j].same(&outputs[i])) {
                let (owhat, op) = &self.outputs[j];
                bail!(
                    "{what} {} and {owhat} {} are the same file; give them different names",
                    p.display(),
                    op.display()
                );
            }
        }
        Ok(())
    }
}

/// Refuse to write a model into a folder that already holds one, unless the user said so
/// (`--force`; `allowed` also covers `--resume`). `what` names the command's option.
pub fn refuse_model_folder(dir: &Path, what: &str, allowed: bool, how: &str) -> Result<()> {
    if allowed {
        return Ok(());
    }
    let holds = ["model.mpk", "config.json", "checkpoint", "metrics.jsonl"]
        .iter()
        .find(|n| dir.join(n).exists());
    if let Some(name) = holds {
        bail!(
            "{what} {}: the folder already holds a model ({name}); {how}, or choose another folder",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_equal_to_input_by_any_spelling_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.mid");
        std::fs::write(&a, b"MThd").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let link = dir.path().join("link.mid");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        let hard = dir.path().join("hard.mid");
        std::fs::hard_link(&a, &hard).unwrap();
        for out in [
            a.clone(),
            dir.path().join("sub/../a.mid"),
            dir.path().join("./a.mid"),
            link,
            hard,
        ] {
            let e = Files::new()
                .input("input A", &a)
                .output("--out", &out)
                .check()
                .unwrap_err()
                .to_string();
            assert!(e.contains("refusing to overwrite an input"), "{out:?}: {e}");
        }
        assert!(Files::new()
            .input("input A", &a)
            .output("--out", &dir.path().join("b.mid"))
            .check()
            .is_ok());
    }

    #[test]
    fn two_outputs_on_one_file_are_refused_even_when_neither_exists() {
        let dir = tempfile::tempdir().unwrap();
        let e = Files::new()
            .output("--out", &dir.path().join("x.mid"))
            .output("--wav", &dir.path().join("new/../x.mid"))
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("are the same file"), "{e}");
        // A parent that does not exist yet is compared lexically.
        let e = Files::new()
            .output("--out", &dir.path().join("new/x.png"))
            .output("--png", &dir.path().join("new/./x.png"))
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("are the same file"), "{e}");
    }

    #[test]
    fn model_files_are_inputs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("model.mpk"), b"x").unwrap();
        std::fs::write(dir.path().join("config.json"), b"{}").unwrap();
        let e = Files::new()
            .model(dir.path())
            .output("--out", &dir.path().join("config.json"))
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("the model's config.json"), "{e}");
    }

    #[test]
    fn model_folder_is_refused_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        assert!(refuse_model_folder(dir.path(), "--out", false, "add --force").is_ok());
        std::fs::write(dir.path().join("model.mpk"), b"x").unwrap();
        let e = refuse_model_folder(dir.path(), "--out", false, "add --force")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("already holds a model") && e.contains("--force"),
            "{e}"
        );
        assert!(refuse_model_folder(dir.path(), "--out", true, "add --force").is_ok());
    }
}
