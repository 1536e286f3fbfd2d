//! `api/openapi.yaml` and the router's route table (`hitl_api::routes::ROUTES`) describe the
//! same routes and status codes, and every route in the table is actually routed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use hitl_api::routes::{CONFLICT_REASONS, ROUTES};
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

#[test]
fn the_conflict_reasons_are_described() {
    let spec = spec();
    let described: Vec<&str> = spec["components"]["schemas"]["Conflict"]["properties"]["reason"]
        ["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(described, CONFLICT_REASONS);
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
