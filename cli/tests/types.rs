//! Issue 28: artifact types defined by JSON Schema, end to end through the `hitl` binary and
//! the real state machine definition: the loop (approve, request changes with nested
//! corrections, edit and approve, resolve with a final version) for the built-in
//! `product-description` type and for a type defined in a folder and added with
//! `hitl types add`; refusals that name the path; and a workflow that keeps the type version
//! it started with after the type changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{hitl, hitl_ok};
use serde_json::{json, Value};

fn json_of(o: &Output) -> Value {
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(text.lines().last().unwrap_or_default()))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn start(data: &Path, kind: &str, request: &str, subject: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "--json",
        "start",
        "--type",
        kind,
        "--request-id",
        request,
        "--subject",
        subject,
    ];
    args.extend_from_slice(extra);
    let started = hitl_ok(data, &args);
    json_of(&started)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn status(data: &Path, id: &str) -> Value {
    json_of(&hitl_ok(data, &["--json", "status", id]))
}

fn draft(data: &Path, id: &str) -> Value {
    status(data, id)["artifact"]["content"].clone()
}

/// A refused submission: exit 2, nothing recorded, and stderr that says `expected`.
fn refused(data: &Path, id: &str, args: &[&str], expected: &str) {
    let before = status(data, id)["feedback_total"].clone();
    let out = hitl(data, args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(
        stderr(&out).contains(expected),
        "{args:?}: expected {expected:?} in {}",
        stderr(&out)
    );
    assert_eq!(
        status(data, id)["feedback_total"],
        before,
        "{args:?} recorded"
    );
}

const FLASK: &str =
    r#"{"id":"p-1","name":"Trail Flask","category":"outdoor","attributes":{"sku":"TF-750"}}"#;

#[test]
fn product_descriptions_run_the_loop_with_nested_corrections() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The subject schema of the type judges `--subject` (nested unknown keys included).
    let out = hitl(
        &data,
        &[
            "start",
            "--type",
            "product-description",
            "--subject",
            r#"{"id":"p-9","name":"X","attributes":{"colour":"red"}}"#,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("subjects[0].attributes.colour: is not part of the schema"),
        "{}",
        stderr(&out)
    );

    let id = start(&data, "product-description", "pd-loop", FLASK, &[]);
    let first = draft(&data, &id);
    assert_eq!(
        first["name"], "Trail Flask",
        "bound to the subject: {first}"
    );
    assert!(
        first["specs"].is_array() && first["bullets"].is_array(),
        "{first}"
    );

    // Refusals name the path the user typed; nothing is recorded.
    refused(
        &data,
        &id,
        &["feedback", &id, "--request-changes", "x", "--correction", "audience.segment=aliens"],
        "--correction audience.segment: \"aliens\" is not one of consumers, professionals, businesses",
    );
    refused(
        &data,
        &id,
        &[
            "feedback",
            &id,
            "--request-changes",
            "x",
            "--correction",
            "name=Other Flask",
        ],
        "\"name\" cannot be corrected",
    );
    refused(
        &data,
        &id,
        &[
            "feedback",
            &id,
            "--request-changes",
            "x",
            "--correction",
            "specs[1].value=320 g",
        ],
        "--correction specs[1].value: specs[1].name: is required",
    );
    refused(
        &data,
        &id,
        &[
            "feedback",
            &id,
            "--request-changes",
            "x",
            "--correction",
            "specs[x].value=1",
        ],
        "is not a path like",
    );

    // Request changes with nested corrections: the next draft carries them.
    hitl_ok(
        &data,
        &[
            "feedback",
            &id,
            "--request-changes",
            "Fix the warranty and the second bullet",
            "--correction",
            "specs[0].value=1 year",
            "--correction",
            "bullets[1]=Fits any cup holder",
        ],
    );
    let second = draft(&data, &id);
    assert_eq!(status(&data, &id)["iteration"], 2);
    assert_eq!(second["specs"][0]["value"], "1 year", "{second}");
    assert_eq!(second["bullets"][1], "Fits any cup holder", "{second}");

    // Edit and approve: an array item appended whole through its fields, then approved.
    hitl_ok(
        &data,
        &[
            "feedback",
            &id,
            "--approve",
            "--correction",
            "headline=Hot for twelve hours",
            "--correction",
            "audience.segment=professionals",
        ],
    );
    let s = status(&data, &id);
    assert_eq!(s["status"], "approved", "{s}");
    let envelope = json_of(&hitl_ok(&data, &["export", &id]));
    assert_eq!(envelope["artifact"]["headline"], "Hot for twelve hours");
    assert_eq!(envelope["artifact"]["audience"]["segment"], "professionals");
    assert_eq!(envelope["artifact"]["specs"][0]["value"], "1 year");
}

#[test]
fn a_plain_approval_of_a_product_description_publishes_the_draft() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = start(&data, "product-description", "pd-approve", FLASK, &[]);
    let first = draft(&data, &id);
    hitl_ok(&data, &["feedback", &id, "--approve"]);
    assert_eq!(status(&data, &id)["status"], "approved");
    let envelope = json_of(&hitl_ok(&data, &["export", &id]));
    assert_eq!(envelope["artifact"], first);
}

/// Starts a workflow of `kind` with one iteration and sends its draft back: it escalates.
fn escalated(data: &Path, kind: &str, request: &str, subject: &str) -> String {
    let id = start(data, kind, request, subject, &["--max-iterations", "1"]);
    hitl_ok(
        data,
        &["feedback", &id, "--request-changes", "Not right yet"],
    );
    assert_eq!(status(data, &id)["status"], "escalated");
    id
}

#[test]
fn resolve_final_is_checked_against_the_type_and_bound_to_the_subject() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = escalated(&data, "product-description", "pd-resolve", FLASK);
    let mut final_version = draft(&data, &id);
    final_version["headline"] = json!("Hot all day, cold all night");

    let mut other = final_version.clone();
    other["name"] = json!("Alpha Roasters");
    let text = other.to_string();
    let out = hitl(&data, &["resolve", &id, "--final", &text]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("final.name: must be the subject's subject.name (\"Trail Flask\")"),
        "{}",
        stderr(&out)
    );

    let mut nested = final_version.clone();
    nested["specs"][0]["unit"] = json!({"deep": {"deeper": 1}});
    let text = nested.to_string();
    let out = hitl(&data, &["resolve", &id, "--final", &text]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("final.specs[0].unit: is not part of the schema"),
        "{}",
        stderr(&out)
    );
    assert_eq!(status(&data, &id)["status"], "escalated", "nothing changed");

    let text = final_version.to_string();
    hitl_ok(&data, &["resolve", &id, "--final", &text]);
    assert_eq!(status(&data, &id)["status"], "resolved");
    let envelope = json_of(&hitl_ok(&data, &["export", &id]));
    assert_eq!(envelope["artifact"], final_version);
}

#[test]
fn brand_metadata_finals_for_another_brand_are_refused_naming_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = escalated(
        &data,
        "brand-metadata",
        "bm-resolve",
        r#"{"id":"b-1","name":"Acme Coffee","category":"food"}"#,
    );
    let mut other = draft(&data, &id);
    other["name"] = json!("Alpha Roasters");
    let text = other.to_string();
    let out = hitl(&data, &["resolve", &id, "--final", &text]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("final.name: must be the subject's"),
        "{}",
        stderr(&out)
    );
    let mut nested = draft(&data, &id);
    nested["colors"]["extra"] = json!({"a": {"b": {"c": 1}}});
    let text = nested.to_string();
    let out = hitl(&data, &["resolve", &id, "--final", &text]);
    assert!(
        stderr(&out).contains("final.colors.extra: is not part of the schema"),
        "{}",
        stderr(&out)
    );
    assert_eq!(status(&data, &id)["status"], "escalated");
}

/// Writes a `release-note` type folder; `example` is the headline's schema example (what the
/// local generator writes), `max_title` the title's longest length.
fn release_note(root: &Path, example: &str, max_title: u64) -> std::path::PathBuf {
    let dir = root.join("release-note");
    std::fs::create_dir_all(&dir).unwrap();
    let artifact = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "required": ["product", "title", "accent", "changes"],
        "properties": {
            "product": {"type": "string"},
            "title": {"type": "string", "minLength": 3, "maxLength": max_title, "examples": [example]},
            "accent": {"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$", "default": "#1A2B3C"},
            "changes": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["kind", "text"],
                    "properties": {
                        "kind": {"enum": ["added", "fixed", "removed"]},
                        "text": {"type": "string", "minLength": 5}
                    }
                },
                "examples": [[{"kind": "added", "text": "Dark mode everywhere"}]]
            }
        }
    });
    let subject = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "category": {"type": "string"},
            "attributes": {"type": "object", "properties": {"release": {"type": "string"}}, "additionalProperties": false}
        }
    });
    let hints = json!({
        "order": ["product", "title", "accent", "changes"],
        "fields": {
            "accent": {"label": "Accent colour", "widget": "colour", "message": "must be a colour like #1A2B3C"},
            "changes[].text": {"widget": "long_text"}
        },
        "correctable": ["title", "accent", "changes[].kind", "changes[].text"],
        "bound": {"product": "subject.name"}
    });
    std::fs::write(dir.join("artifact.schema.json"), artifact.to_string()).unwrap();
    std::fs::write(dir.join("subject.schema.json"), subject.to_string()).unwrap();
    std::fs::write(
        dir.join("instructions.md"),
        "Write the release note of {{subject.name}} {{subject.attributes.release}}.\n",
    )
    .unwrap();
    std::fs::write(dir.join("hints.json"), hints.to_string()).unwrap();
    dir
}

const APP: &str = r#"{"id":"app-1","name":"Lumen App","attributes":{"release":"2.0"}}"#;

#[test]
fn a_type_added_from_a_folder_runs_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let folder = release_note(dir.path(), "Lumen 2.0 is here", 80);
    let folder = folder.to_str().unwrap();
    let checked = json_of(&hitl_ok(&data, &["--json", "types", "validate", folder]));
    assert_eq!(checked["name"], "release-note");
    // Unknown before it is added.
    let out = hitl(
        &data,
        &["start", "--type", "release-note", "--subject", APP],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--type: unknown artifact type release-note"),
        "{}",
        stderr(&out)
    );
    let added = json_of(&hitl_ok(&data, &["--json", "types", "add", folder]));
    assert_eq!(added["version"], checked["version"]);
    let list = json_of(&hitl_ok(&data, &["--json", "types", "list"]));
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "release-note"
                && t["version"] == added["version"]
                && t["source"] == "data directory"),
        "{list}"
    );
    let shown = json_of(&hitl_ok(
        &data,
        &["--json", "types", "show", "release-note"],
    ));
    assert_eq!(shown["hints"]["bound"]["product"], "subject.name");

    let id = start(&data, "release-note", "rn-loop", APP, &[]);
    // The page and `hitl status` offer the added type's correctable paths (its exact version).
    assert_eq!(
        status(&data, &id)["correctable_fields"],
        shown["hints"]["correctable"],
        "{}",
        status(&data, &id)
    );
    let first = draft(&data, &id);
    assert_eq!(
        first,
        json!({"product": "Lumen App", "title": "Lumen 2.0 is here", "accent": "#1A2B3C",
            "changes": [{"kind": "added", "text": "Dark mode everywhere"}]})
    );
    refused(
        &data,
        &id,
        &[
            "feedback",
            &id,
            "--request-changes",
            "x",
            "--correction",
            "accent=blue",
        ],
        "--correction accent: must be a colour like #1A2B3C",
    );
    refused(
        &data,
        &id,
        &[
            "feedback",
            &id,
            "--request-changes",
            "x",
            "--correction",
            "changes[0].kind=changed",
        ],
        "--correction changes[0].kind: \"changed\" is not one of added, fixed, removed",
    );
    hitl_ok(
        &data,
        &[
            "feedback",
            &id,
            "--request-changes",
            "Say what was fixed",
            "--correction",
            "changes[0].kind=fixed",
            "--correction",
            "changes[0].text=Crash on start-up fixed",
        ],
    );
    let second = draft(&data, &id);
    assert_eq!(
        second["changes"][0],
        json!({"kind": "fixed", "text": "Crash on start-up fixed"})
    );
    hitl_ok(
        &data,
        &[
            "feedback",
            &id,
            "--approve",
            "--correction",
            "accent=#FF8800",
        ],
    );
    let envelope = json_of(&hitl_ok(&data, &["export", &id]));
    assert_eq!(envelope["artifact"]["accent"], "#FF8800");
    assert_eq!(envelope["artifact"]["changes"][0]["kind"], "fixed");

    // Escalated, then resolved by corrections to the newest draft.
    let esc = escalated(&data, "release-note", "rn-resolve", APP);
    let out = hitl(&data, &["resolve", &esc, "--correction", "title=No"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("must be 3..=80 characters, got 2"),
        "{}",
        stderr(&out)
    );
    hitl_ok(
        &data,
        &["resolve", &esc, "--correction", "title=Lumen 2.0, fixed"],
    );
    assert_eq!(status(&data, &esc)["status"], "resolved");
    let envelope = json_of(&hitl_ok(&data, &["export", &esc]));
    assert_eq!(envelope["artifact"]["title"], "Lumen 2.0, fixed");
}

#[test]
fn a_workflow_keeps_the_type_version_it_started_with() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v1_dir = dir.path().join("v1");
    let v1 = release_note(&v1_dir, "Version one title", 80);
    let v1_version = json_of(&hitl_ok(
        &data,
        &["--json", "types", "add", v1.to_str().unwrap()],
    ))["version"]
        .clone();
    let old = start(&data, "release-note", "rn-v1", APP, &[]);

    // The type changes: titles at most 10 characters, another example. A new version.
    let v2_dir = dir.path().join("v2");
    let v2 = release_note(&v2_dir, "Version 2", 10);
    let v2_version = json_of(&hitl_ok(
        &data,
        &["--json", "types", "add", v2.to_str().unwrap()],
    ))["version"]
        .clone();
    assert_ne!(v1_version, v2_version);
    let list = json_of(&hitl_ok(&data, &["--json", "types", "list"]));
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "release-note")
        .unwrap()
        .clone();
    assert_eq!(
        (entry["version"].clone(), entry["versions"].clone()),
        (v2_version, json!(2))
    );
    let new = start(
        &data,
        "release-note",
        "rn-v2",
        r#"{"id":"app-2","name":"Lumen App"}"#,
        &[],
    );
    assert_eq!(draft(&data, &new)["title"], "Version 2");

    // The workflow started under v1 is still judged by v1: a 30-character title is fine for
    // it (v2 refuses it), its regenerated draft is v1's, and it finishes under v1.
    let long_title = "A title of thirty characters!!";
    refused(
        &data,
        &new,
        &[
            "feedback",
            &new,
            "--request-changes",
            "x",
            "--correction",
            &format!("title={long_title}"),
        ],
        "must be 3..=10 characters, got 30",
    );
    hitl_ok(
        &data,
        &[
            "feedback",
            &old,
            "--request-changes",
            "Fix the change",
            "--correction",
            "changes[0].text=Faster start-up",
        ],
    );
    let regenerated = draft(&data, &old);
    assert_eq!(regenerated["title"], "Version one title", "{regenerated}");
    hitl_ok(
        &data,
        &[
            "feedback",
            &old,
            "--approve",
            "--correction",
            &format!("title={long_title}"),
        ],
    );
    assert_eq!(status(&data, &old)["status"], "approved");
    let envelope = json_of(&hitl_ok(&data, &["export", &old]));
    assert_eq!(envelope["artifact"]["title"], long_title);
}

#[test]
fn a_broken_type_folder_is_refused_with_every_problem_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let folder = release_note(dir.path(), "Title", 80);
    std::fs::write(
        folder.join("hints.json"),
        r#"{"correctable": ["title", "changes[].colour"]}"#,
    )
    .unwrap();
    let out = hitl(&data, &["types", "validate", folder.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("hints.json: \"changes[].colour\": the schema has no \"changes[].colour\""),
        "{}",
        stderr(&out)
    );
    let out = hitl(&data, &["types", "add", folder.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!data.join("types").join("release-note").exists());
}
