//! Helpers shared by the `hitl` binary's integration tests: the workspace root, running `hitl`
//! on a data directory, and `hitl serve` on a free loopback port.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod moto;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The workspace root (parent of `cli/`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the cli crate sits in the workspace")
        .to_path_buf()
}

/// Runs `hitl --data-dir <data> <args>` to completion, whatever its exit status.
pub fn hitl(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hitl"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("hitl runs")
}

/// [`hitl`], failing the test (with hitl's stderr) unless it exits 0.
pub fn hitl_ok(data: &Path, args: &[&str]) -> Output {
    let out = hitl(data, args);
    assert!(
        out.status.success(),
        "hitl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `hitl serve`, killed when dropped.
pub struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `hitl serve` on `data` at a free loopback port and returns it with its base URL
/// (no trailing slash). The server's stderr goes to `log` when given, else nowhere.
pub fn serve(data: &Path, log: Option<&Path>) -> (Served, String) {
    serve_with(data, log, &[])
}

/// [`serve`] with extra `hitl serve` arguments.
pub fn serve_with(data: &Path, log: Option<&Path>, extra: &[&str]) -> (Served, String) {
    let stderr = match log {
        Some(path) => Stdio::from(File::create(path).unwrap()),
        None => Stdio::null(),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let served = Served(child);
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| {
            panic!(
                "no address in {line:?}; server log:\n{}",
                log.and_then(|p| std::fs::read_to_string(p).ok())
                    .unwrap_or_default()
            )
        })
        .trim_end_matches('/')
        .to_owned();
    (served, base)
}
