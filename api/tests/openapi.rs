//! `api/openapi.yaml`, the router's route table (`hitl_api::routes::ROUTES`) and the routes table
//! of `docs/API.md` describe the same routes and status codes, and every route in the table is
//! actually routed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use hitl_api::routes::ROUTES;
use serde_json::Value;

fn spec() -> Value {
    serde_norway::from_str(include_str!("../openapi.yaml")).unwrap()
}

#[test]
fn every_route_and_status_in_the_router_is_described_and_vice_versa() {
    let spec = spec();
    assert_eq!(spec["openapi"].as_str().unwrap(), "3.1.0");
    let methods = [
        "get", "put", "post", "delete", "patch", "head", "options", "trace",
    ];
    let mut described = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !methods.contains(&method.as_str()) {
                continue;
            }
            for status in operation["responses"].as_object().unwrap().keys() {
                described.insert((method.clone(), path.clone(), status.parse::<u16>().unwrap()));
            }
        }
    }
    let routed: BTreeSet<(String, String, u16)> = ROUTES
        .iter()
        .flat_map(|r| {
            r.statuses
                .iter()
                .map(move |s| (r.method.to_owned(), r.path.to_owned(), *s))
        })
        .collect();
    let missing: Vec<_> = routed.difference(&described).collect();
    let extra: Vec<_> = described.difference(&routed).collect();
    assert!(
        missing.is_empty(),
        "in the router but not in openapi.yaml: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "in openapi.yaml but not in the router: {extra:?}"
    );
}

#[test]
fn public_routes_are_the_ones_without_security() {
    let spec = spec();
    for route in ROUTES {
        let op = &spec["paths"][route.path][route.method];
        let public = op["security"].as_array().is_some_and(|s| s.is_empty());
        assert_eq!(
            public, !route.authenticated,
            "{} {}",
            route.method, route.path
        );
        assert_eq!(
            route.statuses.contains(&401),
            route.authenticated,
            "{} {}",
            route.method,
            route.path
        );
    }
}

#[tokio::test]
async fn every_route_in_the_table_is_routed() {
    let s = common::Server::start().await;
    for route in ROUTES {
        let path = route.path.replace("{id}", "wf-none");
        let request = match route.method {
            "get" => s.client.get(format!("{}{path}", s.base)),
            "post" => s
                .client
                .post(format!("{}{path}", s.base))
                .header("content-type", "application/json")
                .header("idempotency-key", "k")
                .body("{}"),
            "delete" => s.client.delete(format!("{}{path}", s.base)),
            other => panic!("unexpected method {other}"),
        };
        let r = s.send(request.bearer_auth(&s.reviewers.rita)).await;
        assert_ne!(r.status, 405, "{} {}", route.method, path);
        assert!(
            !r.body.contains("no_route"),
            "{} {} fell through to the fallback",
            route.method,
            path
        );
        assert!(
            route.statuses.contains(&r.status),
            "{} {} answered {}",
            route.method,
            path,
            r.status
        );
    }
}

/// The routes table at the top of `docs/API.md`: `(method, path)` → statuses. A row may list
/// several paths (`` `/`, `/app.js` ``); a query string in a path (`/reviews?limit=`) is dropped.
fn documented_routes(markdown: &str) -> BTreeMap<(String, String), BTreeSet<u16>> {
    let table: Vec<&str> = markdown
        .lines()
        .skip_while(|l| l.trim() != "## Routes")
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(
        table.len() > 2,
        "docs/API.md has no routes table under \"## Routes\""
    );
    let header: Vec<&str> = table[0].split('|').map(str::trim).collect();
    assert_eq!(
        header,
        ["", "Method", "Path", "Auth", "Statuses", ""],
        "the columns of the routes table in docs/API.md"
    );
    let mut routes = BTreeMap::new();
    for row in &table[2..] {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells.len(), header.len(), "a malformed row: {row}");
        let method = cells[1].to_ascii_lowercase();
        let statuses: BTreeSet<u16> = cells[4]
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| n.len() == 3)
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(!statuses.is_empty(), "a row without statuses: {row}");
        let paths: Vec<&str> = cells[2].split('`').skip(1).step_by(2).collect();
        assert!(!paths.is_empty(), "a row without a `path`: {row}");
        for path in paths {
            let path = path.split('?').next().unwrap().to_owned();
            let before = routes.insert((method.clone(), path), statuses.clone());
            assert!(before.is_none(), "listed twice: {row}");
        }
    }
    routes
}

#[test]
fn the_routes_table_in_the_api_docs_lists_exactly_the_described_routes() {
    let spec = spec();
    let mut described = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if let Some(responses) = operation["responses"].as_object() {
                let statuses: BTreeSet<u16> =
                    responses.keys().map(|s| s.parse().unwrap()).collect();
                described.insert((method.clone(), path.clone()), statuses);
            }
        }
    }
    let documented = documented_routes(include_str!("../../docs/API.md"));
    let missing: Vec<_> = described
        .keys()
        .filter(|r| !documented.contains_key(*r))
        .collect();
    let extra: Vec<_> = documented
        .keys()
        .filter(|r| !described.contains_key(*r))
        .collect();
    assert!(
        missing.is_empty(),
        "in openapi.yaml but not in the routes table of docs/API.md: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "in the routes table of docs/API.md but not in openapi.yaml: {extra:?}"
    );
    for (route, statuses) in &documented {
        assert_eq!(
            statuses, &described[route],
            "the statuses of {} {} in docs/API.md differ from openapi.yaml",
            route.0, route.1
        );
    }
}

#[test]
fn the_routes_table_parser_reads_query_strings_and_several_paths_in_a_row() {
    let markdown = "## Routes\n\n| Method | Path | Auth | Statuses |\n|---|---|---|---|\n\
        | GET | `/reviews?limit=&cursor=` | yes | 200, 401 |\n\
        | GET | `/`, `/app.js` | no | 200 (the review page) |\n\n## Next\n| x |\n";
    let routes = documented_routes(markdown);
    let keys: Vec<(&str, &str)> = routes
        .keys()
        .map(|(m, p)| (m.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        keys,
        [("get", "/"), ("get", "/app.js"), ("get", "/reviews")]
    );
    assert_eq!(
        routes[&("get".to_owned(), "/reviews".to_owned())],
        BTreeSet::from([200, 401])
    );
}
