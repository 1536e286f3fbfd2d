//! Embeds the artifact types into the crate: the built-in ones (`types/` beside this file) and
//! the deployment's own, bundled at build time from `<workspace>/types/` (or the folder named
//! by `HITL_TYPES_DIR`). Each type is a folder of four files; `sam build` then ships them in
//! every function (docs/TYPES.md, "Shipping a type to AWS"). Writes `$OUT_DIR/types.rs`.
// A build script reports a problem by panicking: cargo prints the message and stops the build.
#![allow(clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The four files of a type folder, in the order `ArtifactType::from_files` takes them.
const FILES: [&str; 4] = [
    "artifact.schema.json",
    "subject.schema.json",
    "instructions.md",
    "hints.json",
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-env-changed=HITL_TYPES_DIR");
    let bundled = std::env::var_os("HITL_TYPES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../types"));
    let mut types: Vec<(String, Vec<PathBuf>)> = Vec::new();
    collect(&manifest.join("types"), true, &mut types);
    collect(&bundled, false, &mut types);
    let mut out = String::from(
        "/// Every type embedded at build time: the built-in ones, then the bundled ones.\n\
         const BUILT_IN: &[(&str, [&str; 4])] = &[\n",
    );
    for (name, files) in &types {
        let _ = write!(out, "    ({name:?}, [");
        for file in files {
            let _ = write!(out, "include_str!({:?}), ", file.display().to_string());
        }
        out.push_str("]),\n");
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("types.rs");
    std::fs::write(&target, out).expect("OUT_DIR is writable");
}

/// Adds every type folder of `dir` (sorted by name) to `types`. The built-in folder must
/// exist; the bundled one may not. A folder without its four files, or a bundled type named
/// like a built-in one, stops the build with the reason.
fn collect(dir: &Path, required: bool, types: &mut Vec<(String, Vec<PathBuf>)>) {
    // Only an existing path: cargo re-runs a build script whose watched path is missing on
    // every build.
    if dir.exists() {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(_) if !required => return,
        Err(e) => panic!("cannot read the built-in types at {}: {e}", dir.display()),
    };
    let mut folders: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let name = folder
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if types.iter().any(|(known, _)| *known == name) {
            panic!(
                "type folder {} is named like a built-in type ({name}); give it another name",
                folder.display()
            );
        }
        let files: Vec<PathBuf> = FILES
            .iter()
            .map(|file| {
                let path = folder.join(file);
                if !path.is_file() {
                    panic!(
                        "type folder {} has no {file} (a type is a folder of {})",
                        folder.display(),
                        FILES.join(", ")
                    );
                }
                std::fs::canonicalize(&path).unwrap_or(path)
            })
            .collect();
        types.push((name, files));
    }
}
