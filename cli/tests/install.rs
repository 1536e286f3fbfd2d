//! On-call runs `hitl` without a checkout (issue 16): the binary carries everything it needs
//! (the state machine definition, the review page, the schemas it checks), so a copy of it,
//! run from outside the workspace with a fresh data directory, does the whole main job. The
//! install step the runbooks document (`cargo install --locked --path cli`) produces this
//! binary; running `cargo install` itself here would rebuild the CLI into the shared target
//! directory while other tests use it, so the test checks the command's prerequisites instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::workspace;

#[test]
fn a_copied_binary_runs_the_smoke_job_outside_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let hitl = bin.join("hitl");
    std::fs::copy(env!("CARGO_BIN_EXE_hitl"), &hitl).unwrap();
    let run = |args: &[&str]| {
        Command::new(&hitl)
            .args(args)
            .current_dir("/")
            .env_remove("HITL_DATA_DIR")
            .output()
            .unwrap()
    };
    let version = run(&["--version"]);
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("hitl "));
    let data = dir.path().join("data");
    let smoke = run(&["--data-dir", data.to_str().unwrap(), "smoke"]);
    let out = String::from_utf8_lossy(&smoke.stdout);
    assert!(
        smoke.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&smoke.stderr)
    );
    assert!(out.contains(", 0 failed"), "{out}");
    let validate = run(&[
        "validate",
        workspace()
            .join("statemachine/definition.asl.json")
            .to_str()
            .unwrap(),
    ]);
    assert!(validate.status.success());
}

#[test]
fn the_documented_install_command_can_work() {
    let root = workspace();
    // `--locked` needs the lock file; `--path cli` needs a binary named hitl there.
    assert!(root.join("Cargo.lock").is_file());
    let manifest = std::fs::read_to_string(root.join("cli/Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"hitl\""), "{manifest}");
    for doc in ["docs/runbooks/escalation-handling.md", "docs/DEPLOYMENT.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        assert!(
            text.contains("cargo install --locked --path cli"),
            "{doc} documents the install step"
        );
        assert!(
            !text.contains("cargo run -p hitl"),
            "{doc} uses `hitl`, not `cargo run`"
        );
        assert!(
            !text.contains("cargo run -q -p hitl"),
            "{doc} uses `hitl`, not `cargo run`"
        );
    }
}
