//! Issue 27: the application layer links no SDK and no SQLite. Its normal dependencies are
//! the domain (which links neither: `shared/domain/tests/no_io.rs`) and plain libraries; the
//! adapters are handed in by each process's wiring.
#![allow(clippy::unwrap_used)]

const ALLOWED: &[&str] = &[
    "hitl-domain",
    "async-trait",
    "serde",
    "serde_json",
    "tracing",
    "chrono",
];

#[test]
fn the_application_layer_depends_on_the_domain_and_plain_libraries_only() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let normal = manifest
        .split("\n[")
        .find(|section| section.starts_with("dependencies]"))
        .unwrap();
    let names: Vec<&str> = normal
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .collect();
    assert!(names.contains(&"hitl-domain"), "{names:?}");
    let extra: Vec<&&str> = names.iter().filter(|n| !ALLOWED.contains(n)).collect();
    assert!(
        extra.is_empty(),
        "hitl-app must not link adapters (SDKs, SQLite, the runtime): {extra:?}"
    );
}
