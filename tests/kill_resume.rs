//! Crash consistency: `scripts/kill-test 3` SIGKILLs tiny-preset training at random moments,
//! resumes it each time, checks that the newest checkpoint never goes back and that the run folder
//! loads after every kill, and runs a last resume to its end (`scripts/kill-test 50` for the full test).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn three_sigkills_three_resumes() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new("bash")
        .arg(root.join("scripts/kill-test"))
        .arg("3")
        .env("MUSICVAE_BIN", env!("CARGO_BIN_EXE_musicvae"))
        .current_dir(&root)
        .output()
        .expect("run scripts/kill-test");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("3 kills, 3 resumes"), "{out}");
}
