//! `scripts/build-drums` on a small snapshot of the Groove MIDI Dataset made from the committed
//! subset (midi_data_drums/): the full corpus keeps the dataset's split, the committed subset is
//! rebuilt, and the drum-style corpus (`--styles-out`) links the chosen style folders with their
//! split lines, so that `musicvae prepare` reads it with the dataset's split. An unknown style is
//! refused with a one-line error.

mod common;

use common::{musicvae, root, s, split_lines, text};
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// A snapshot folder as the dataset ships it: `info.csv` and `drummerN/session/….mid`, holding
/// every committed file of `genres` (split as in midi_data_drums/split.tsv).
fn snapshot(dir: &Path, genres: &[&str]) -> usize {
    let split = fs::read_to_string(root().join("midi_data_drums/split.tsv")).expect("split.tsv");
    let mut csv = String::from(
        "drummer,session,id,style,bpm,beat_type,time_signature,midi_filename,audio_filename,duration,split\n",
    );
    let mut n = 0;
    for line in split.lines().filter(|l| !l.starts_with('#')) {
        let (rel, which) = line.split_once('\t').expect("file<TAB>split");
        let (genre, name) = rel.split_once('/').expect("genre/file");
        if !genres.contains(&genre) {
            continue;
        }
        let inner = format!("drummer1/session1/{name}");
        let dest = dir.join(&inner);
        fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        fs::copy(root().join("midi_data_drums").join(rel), &dest).expect("copy");
        csv.push_str(&format!(
            "drummer1,drummer1/session1,{n},{genre}/groove{n},100,beat,4-4,{inner},,20.0,{which}\n"
        ));
        n += 1;
    }
    fs::write(dir.join("info.csv"), csv).expect("info.csv");
    fs::write(dir.join("LICENSE"), "CC BY 4.0\n").expect("LICENSE");
    n
}

fn build(args: &[&str]) -> Output {
    Command::new("python3")
        .arg(root().join("scripts/build-drums"))
        .args(args)
        .output()
        .expect("python3 runs scripts/build-drums")
}

#[test]
fn build_drums_writes_the_corpus_the_subset_and_the_style_links() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("groove");
    let files = snapshot(&snap, &["funk", "jazz", "rock"]);
    assert!(files >= 20, "{files} files");
    let (full, sub, styles) = (
        tmp.path().join("full"),
        tmp.path().join("sub"),
        tmp.path().join("styles"),
    );
    let o = build(&[
        s(&snap),
        "--out",
        s(&full),
        "--subset",
        s(&sub),
        "--styles-out",
        s(&styles),
        "--styles",
        "funk,rock",
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains(&format!("{files} files")), "{out}");
    assert!(out.contains("styles: 2 styles"), "{out}");

    // The full corpus: every file, split kept.
    let all = split_lines(&full);
    assert_eq!(all.len(), files);
    for l in &all {
        let (rel, which) = l.split_once('\t').expect("file<TAB>split");
        assert!(full.join(rel).is_file(), "{rel}");
        assert!(["train", "validation", "test"].contains(&which), "{l}");
    }
    // The subset: beats of train and test, every genre present.
    let subset = split_lines(&sub);
    assert!(!subset.is_empty() && subset.len() <= files);
    assert!(sub.join("README.md").is_file() && sub.join("LICENSE").is_file());

    // The style corpus: links to the chosen styles only, with their split lines.
    let mut linked: Vec<String> = fs::read_dir(&styles)
        .expect("styles folder")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    linked.sort();
    assert_eq!(linked, ["funk", "rock"]);
    assert!(fs::symlink_metadata(styles.join("funk"))
        .expect("funk link")
        .file_type()
        .is_symlink());
    let chosen = split_lines(&styles);
    let expect: Vec<&String> = all
        .iter()
        .filter(|l| l.starts_with("funk/") || l.starts_with("rock/"))
        .collect();
    assert_eq!(chosen.iter().collect::<Vec<_>>(), expect);

    // `prepare` reads the links and the dataset's split.
    let cache = tmp.path().join("cache");
    let o = musicvae(&[
        "prepare",
        s(&styles),
        "--config",
        "cat-drums_2bar_small",
        "--out",
        s(&cache),
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("split from split.tsv"), "{out}");
    assert!(
        out.contains("funk") && out.contains("rock") && !out.contains("jazz"),
        "{out}"
    );
    assert!(cache.join("cache.json").is_file());

    // A style the dataset does not have: one line, exit 1, nothing half-written kept as success.
    let o = build(&[
        s(&snap),
        "--out",
        s(&full),
        "--subset",
        "",
        "--styles-out",
        s(&styles),
        "--styles",
        "funk,polka",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let first = err.lines().next().unwrap_or("");
    assert!(
        first.starts_with("error: --styles") && first.contains("polka"),
        "{err}"
    );
}
