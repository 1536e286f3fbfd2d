//! `GET /analytics`: the learning report, and the parsing of its query.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hitl_domain::analytics;
use hitl_domain::store::collect_report_records;

use super::{query_integer, store_error};
use crate::error::ApiError;
use crate::identity;
use crate::routes;
use crate::state::{AppState, Caller};

/// Query parameters `GET /analytics` accepts.
const ANALYTICS_PARAMS: &str =
    "since, reviewer_group, category, type, include_smoke, stale_rounds, top";

/// The report options an analytics query asks for, or every field error in it.
fn analytics_options(
    query: &HashMap<String, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<analytics::ReportOptions, ApiError> {
    let mut errors = Vec::new();
    let mut options = analytics::ReportOptions::default();
    let since = query.get("since").map_or("30d", String::as_str);
    // ASCII first: slicing off the unit by bytes would split a multi-byte character (a
    // fuzzer's `since=%C2%80` panicked the handler here).
    let well_formed = since.len() >= 2
        && since.is_ascii()
        && since[..since.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && since.ends_with(['s', 'm', 'h', 'd', 'w']);
    match analytics::parse_lookback(since) {
        _ if !well_formed => errors.push(hitl_domain::FieldError::new(
            "since",
            format!(
                "must be a whole number (ASCII digits) and a unit s, m, h, d or w, e.g. 30d; got {:?}",
                since.chars().take(64).collect::<String>()
            ),
        )),
        Ok(lookback) if lookback <= chrono::Duration::days(routes::MAX_ANALYTICS_DAYS) => {
            options.since = Some(now - lookback);
        }
        Ok(_) => errors.push(hitl_domain::FieldError::new(
            "since",
            format!("must be at most {}d", routes::MAX_ANALYTICS_DAYS),
        )),
        Err(message) => errors.push(hitl_domain::FieldError::new("since", message)),
    }
    for (name, target) in [
        ("reviewer_group", &mut options.reviewer_group),
        ("category", &mut options.category),
        ("type", &mut options.artifact_type),
    ] {
        match query.get(name) {
            None => {}
            Some(v) if (1..=128).contains(&v.chars().count()) => *target = Some(v.clone()),
            Some(_) => errors.push(hitl_domain::FieldError::new(
                name,
                "must be 1 to 128 characters",
            )),
        }
    }
    match query.get("include_smoke").map(String::as_str) {
        None | Some("false") => {}
        Some("true") => options.include_smoke = true,
        Some(_) => errors.push(hitl_domain::FieldError::new(
            "include_smoke",
            "must be true or false",
        )),
    }
    match query.get("stale_rounds").map(|v| query_integer(v)) {
        None => {}
        Some(Some(n)) if (1..=100).contains(&n) => options.stale_rounds = n as u32,
        Some(_) => errors.push(hitl_domain::FieldError::new(
            "stale_rounds",
            "must be an integer in 1..=100",
        )),
    }
    match query.get("top").map(|v| query_integer(v)) {
        None => {}
        Some(Some(n)) if (1..=50).contains(&n) => options.top_n = n as usize,
        Some(_) => errors.push(hitl_domain::FieldError::new(
            "top",
            "must be an integer in 1..=50",
        )),
    }
    for key in query
        .keys()
        .filter(|k| !ANALYTICS_PARAMS.split(", ").any(|p| p == k.as_str()))
    {
        errors.push(hitl_domain::FieldError::new(
            key.chars().take(64).collect::<String>(),
            format!("is not a known parameter; expected {ANALYTICS_PARAMS}"),
        ));
    }
    if errors.is_empty() {
        Ok(options)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// `GET /analytics`: the learning report as JSON (the same document as
/// `hitl report --format json`), for members of the `analyst` or `admin` group.
pub(crate) async fn analytics(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    if !caller.may_read_analytics() {
        return Err(ApiError::Forbidden(format!(
            "{} is in neither the {} nor the {} group",
            caller.name,
            identity::ANALYST_GROUP,
            identity::ADMIN_GROUP
        )));
    }
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let now = state.ports.clock.now();
    let options = analytics_options(&query, now)?;
    let since = options.since.unwrap_or(now);
    let records = collect_report_records(state.ports.store.as_ref(), since, &mut |_| {})
        .await
        .map_err(store_error)?;
    // Costs at the deployment's prices (`HITL_PRICES`, `hitl serve --price`), as `hitl report
    // --price` shows them.
    let report = analytics::compute(&records.workflows, &records.feedback, &options)
        .priced(&state.ports.settings.prices);
    Ok(Json(report).into_response())
}
