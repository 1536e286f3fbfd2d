//! Issue 27: the domain does no I/O. Its sources write nothing to stdout (metrics go through
//! the `MetricsSink` port) and read no file outside the crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `code` calls `needle` as a whole word (`eprintln!` is not `println!`: stderr is
/// the failpoints' crash notice, not output).
fn mentions(code: &str, needle: &str) -> bool {
    code.match_indices(needle).any(|(at, _)| {
        !code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

fn offending(needles: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 10, "found only {files:?}");
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if let Some(needle) = needles.iter().find(|needle| mentions(code, needle)) {
                found.push(format!("{}:{}: {needle}", file.display(), n + 1));
            }
        }
    }
    found
}

#[test]
fn the_domain_writes_nothing_to_stdout() {
    let found = offending(&["print!(", "println!(", "stdout(", "dbg!("]);
    assert!(found.is_empty(), "stdout writes in hitl-domain: {found:#?}");
}

#[test]
fn the_domain_includes_no_file_outside_its_crate() {
    let found = offending(&["include_str!(\"../..", "include_bytes!(\"../.."]);
    assert!(
        found.is_empty(),
        "files from outside hitl-domain: {found:#?}"
    );
}
