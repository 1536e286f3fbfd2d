//! Section 6: deployment package size per function. Uses `target/lambda/lambda/<fn>/bootstrap.zip`
//! (from `scripts/package.sh`) when it is newer than the release binary; otherwise zips the release binary
//! (`target/release/<fn>`, stripped by the release profile) as `bootstrap` with Python's
//! `zipfile` (deflate, level 9) and reports that zip.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Result};

use crate::report::{Row, Target};

/// Limit of a function package, bytes (3 MB).
pub const LIMIT_BYTES: f64 = 3_000_000.0;

/// Limit of a function that links the JSON Schema validator (issue 28), bytes (4 MB); the
/// same rule as `scripts/check-sam-build.sh`.
pub const VALIDATOR_LIMIT_BYTES: f64 = 4_000_000.0;

/// A message only the `jsonschema` crate carries: its presence in a binary means the function
/// judges artifacts by their type's schema.
const VALIDATOR_MARK: &[u8] = b"listed in the 'anyOf' keyword";

/// Whether the binary at `path` links the validator (unreadable: no).
fn links_validator(path: &Path) -> bool {
    std::fs::read(path)
        .map(|bytes| {
            bytes
                .windows(VALIDATOR_MARK.len())
                .any(|w| w == VALIDATOR_MARK)
        })
        .unwrap_or(false)
}

/// Function names: the folders of `functions/` (each builds a binary of the same name).
pub fn functions(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("functions"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().join("Cargo.toml").exists())
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The zip `scripts/package.sh` built for `name`, if it is newer than the release binary this
/// run built (an older zip would describe an older build).
fn find_packaged(root: &Path, name: &str) -> Option<PathBuf> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let binary = modified(&root.join("target/release").join(name));
    [
        root.join("target/lambda/lambda")
            .join(name)
            .join("bootstrap.zip"),
        root.join("target/lambda").join(name).join("bootstrap.zip"),
    ]
    .into_iter()
    .find(|p| match (modified(p), binary) {
        (Some(zip), Some(bin)) => zip >= bin,
        (Some(_), None) => true,
        _ => false,
    })
}

fn zip_binary(binary: &Path, zip: &Path) -> Result<()> {
    let script = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    info = zipfile.ZipInfo('bootstrap', (2026, 1, 1, 0, 0, 0))
    info.external_attr = 0o755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(sys.argv[1], 'rb') as f:
        z.writestr(info, f.read(), compresslevel=9)
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(binary)
        .arg(zip)
        .status()?;
    if !status.success() {
        bail!("zipping {} failed", binary.display());
    }
    Ok(())
}

/// One row per function.
pub fn measure() -> Result<Vec<Row>> {
    let root = crate::workspace_root();
    let out = crate::out_dir().join("zips");
    std::fs::create_dir_all(&out)?;
    let mut rows = Vec::new();
    for name in functions(&root) {
        let binary = root.join("target/release").join(&name);
        let (zip, note) = match find_packaged(&root, &name) {
            Some(zip) => (zip, "zip from scripts/package.sh".to_owned()),
            None => {
                if !binary.exists() {
                    rows.push(Row::info(
                        "6 package",
                        &format!("{name}: zip size"),
                        f64::NAN,
                        "MB",
                        "no release binary: build it first",
                    ));
                    continue;
                }
                let zip = out.join(format!("{name}.zip"));
                zip_binary(&binary, &zip)?;
                let size = std::fs::metadata(&binary)?.len();
                (
                    zip,
                    format!(
                        "x86_64 release binary {:.2} MB (stripped), zipped here",
                        size as f64 / 1e6
                    ),
                )
            }
        };
        let bytes = std::fs::metadata(&zip)?.len() as f64;
        // cargo lambda leaves the unzipped bootstrap beside its zip
        let unzipped = zip.with_file_name("bootstrap");
        let limit = if links_validator(if unzipped.exists() {
            &unzipped
        } else {
            &binary
        }) {
            VALIDATOR_LIMIT_BYTES
        } else {
            LIMIT_BYTES
        };
        rows.push(Row {
            section: "6 package".into(),
            metric: format!("{name}: zip size"),
            value: bytes / 1e6,
            unit: "MB".into(),
            baseline_name: String::new(),
            baseline: None,
            target: Target::AtMost(limit / 1e6),
            note,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn the_validator_is_seen_in_a_binary_that_links_it() {
        let dir = std::env::temp_dir().join(format!("hitl-bench-mark-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let with = dir.join("with");
        let without = dir.join("without");
        std::fs::write(
            &with,
            [b"\0\x7fELF..".as_slice(), VALIDATOR_MARK, b"..."].concat(),
        )
        .unwrap();
        std::fs::write(&without, b"\0\x7fELF listed in the 'oneOf' keyword").unwrap();
        assert!(links_validator(&with));
        assert!(!links_validator(&without));
        assert!(!links_validator(&dir.join("absent")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lists_the_function_crates() {
        let names = functions(&crate::workspace_root());
        assert!(names.iter().any(|n| n == "iteration-check"), "{names:?}");
    }
}
