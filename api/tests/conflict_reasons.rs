//! One list of rejection names: the 409 `reason`s of the API (`hitl_api::routes::CONFLICT_REASONS`)
//! are the names of the domain's rejections plus `idempotency_key_reused`, and the OpenAPI
//! document, the review page's messages and the tables of `docs/API.md` name exactly those.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use hitl_api::routes::CONFLICT_REASONS;
use hitl_domain::rules::Rejection;
use serde_json::Value;

/// The 409 reasons the API names that are not a domain rule's rejection.
const NOT_A_RULE: [&str; 1] = ["idempotency_key_reused"];

fn reasons() -> BTreeSet<&'static str> {
    let set: BTreeSet<&str> = CONFLICT_REASONS.into_iter().collect();
    assert_eq!(
        set.len(),
        CONFLICT_REASONS.len(),
        "CONFLICT_REASONS lists a name twice"
    );
    set
}

#[test]
fn the_conflict_reasons_are_the_rejection_names_and_the_idempotency_conflict() {
    let names: BTreeSet<&str> = hitl_domain::testing::one_rejection_of_each_kind()
        .iter()
        .map(Rejection::name)
        .collect();
    assert_eq!(
        names.len(),
        hitl_domain::testing::one_rejection_of_each_kind().len(),
        "two rejections share a name"
    );
    let expected: BTreeSet<&str> = names.iter().copied().chain(NOT_A_RULE).collect();
    let listed = reasons();
    let missing: Vec<_> = expected.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&expected).collect();
    assert!(
        missing.is_empty(),
        "rejections missing from CONFLICT_REASONS: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "CONFLICT_REASONS names no rejection: {extra:?}"
    );
}

#[test]
fn the_openapi_enum_of_conflict_reasons_is_the_list() {
    let spec: Value = serde_norway::from_str(include_str!("../openapi.yaml")).unwrap();
    let described: Vec<&str> = spec["components"]["schemas"]["Conflict"]["properties"]["reason"]
        ["enum"]
        .as_array()
        .expect("openapi.yaml: components.schemas.Conflict.properties.reason.enum")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut listed = CONFLICT_REASONS.to_vec();
    let mut described_sorted = described.clone();
    listed.sort_unstable();
    described_sorted.sort_unstable();
    assert_eq!(described_sorted, listed, "as sets");
    assert_eq!(described.len(), CONFLICT_REASONS.len(), "no duplicates");
}

/// The keys of the page's `CONFLICT_MESSAGES = { key: '…', … };` object.
fn page_message_keys(script: &str) -> BTreeSet<String> {
    let start = script
        .find("CONFLICT_MESSAGES = {")
        .expect("the page's script has no CONFLICT_MESSAGES = { … }");
    let body = &script[start..];
    let body = &body[..body
        .find("};")
        .expect("CONFLICT_MESSAGES is not closed by };")];
    body.lines()
        .skip(1)
        .filter_map(|line| {
            let (key, _) = line.trim().split_once(':')?;
            let key = key.trim();
            (!key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                .then(|| key.to_owned())
        })
        .collect()
}

#[test]
fn the_page_has_a_message_for_every_conflict_reason() {
    let keys = page_message_keys(include_str!("../web/js/messages.js"));
    let listed: BTreeSet<String> = reasons().into_iter().map(str::to_owned).collect();
    let missing: Vec<_> = listed.difference(&keys).collect();
    let extra: Vec<_> = keys.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "the page has no message for: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "the page has messages for unknown reasons: {extra:?}"
    );
}

#[test]
fn the_page_message_parser_reads_keys_and_stops_at_the_end() {
    let script = "const X = 1;\n  const CONFLICT_MESSAGES = {\n    a_b: 'one: two',\n    \
        c: 'x',\n  };\n  const OTHER = {\n    d: 'y',\n  };\n";
    let keys: Vec<String> = page_message_keys(script).into_iter().collect();
    assert_eq!(keys, ["a_b", "c"]);
}

/// The backticked names in the first column of every table in `docs/API.md` whose first
/// header cell is `reason` or `409 reason` (a cell may name several: `` `a` / `b` ``).
fn documented_reasons(markdown: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_table = false;
    let mut lines = markdown.lines().peekable();
    while let Some(line) = lines.next() {
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let first = line.split('|').nth(1).unwrap_or("").trim();
        if !in_table {
            // A header row: is it a table of reasons?
            in_table = first == "reason" || first == "409 reason";
            if in_table {
                assert!(
                    lines.next().is_some_and(|l| l.starts_with("|---")),
                    "{line}"
                );
            }
            continue;
        }
        names.extend(first.split('`').skip(1).step_by(2).map(str::to_owned));
    }
    names
}

#[test]
fn the_api_docs_tables_of_409_reasons_cover_the_list() {
    let documented = documented_reasons(include_str!("../../docs/API.md"));
    let listed: BTreeSet<String> = reasons().into_iter().map(str::to_owned).collect();
    let missing: Vec<_> = listed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "no row in the 409 tables of docs/API.md for: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "docs/API.md's 409 tables name unknown reasons: {extra:?}"
    );
}

#[test]
fn the_reasons_table_parser_reads_only_reason_tables() {
    let markdown = "| reason | meaning |\n|---|---|\n| `a` | x |\n| `b` / `c` | y |\n\ntext\n\n\
        | Method | Path |\n|---|---|\n| GET | `/x` |\n\n| 409 reason | meaning |\n|---|---|\n\
        | `d` | z |\n";
    let names: Vec<String> = documented_reasons(markdown).into_iter().collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
}
