//! `GET /reviews` and `GET /escalations`: the caller's queues, a page at a time.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use hitl_domain::model::WorkflowStatus;
use hitl_domain::store::StoreError;

use super::{query_integer, store_error};
use crate::error::ApiError;
use crate::identity::Identity;
use crate::state::{AppState, Caller};
use crate::views;

/// Default and largest page size of `GET /reviews`.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest page size of `GET /reviews`.
pub const MAX_PAGE_SIZE: usize = 100;
/// Store pages read at most to fill one page of the caller's queue.
const MAX_QUEUE_SCANS: usize = 20;

fn malformed_cursor(err: &StoreError) -> bool {
    matches!(err, StoreError::Backend(m) if m.contains("malformed cursor"))
}

/// Which reviews `GET /reviews?claim=` lists.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClaimFilter {
    Any,
    Mine,
    Unclaimed,
    Others,
}

/// `GET /reviews`: the caller's queue, optionally only one of their groups
/// (`reviewer_group=`) and by who works on it (`claim=mine|unclaimed|others|any`).
pub(crate) async fn list_reviews(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<views::ReviewPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let mut errors = Vec::new();
    let group = query.get("reviewer_group").cloned();
    if group
        .as_deref()
        .is_some_and(|g| !hitl_domain::contracts::valid_id(g))
    {
        errors.push(hitl_domain::FieldError::new(
            "reviewer_group",
            "must be 1..=64 characters of letters, digits, '-' or '_'",
        ));
    }
    let claim = match query.get("claim").map(String::as_str) {
        None | Some("any") => ClaimFilter::Any,
        Some("mine") => ClaimFilter::Mine,
        Some("unclaimed") => ClaimFilter::Unclaimed,
        Some("others") => ClaimFilter::Others,
        Some(_) => {
            errors.push(hitl_domain::FieldError::new(
                "claim",
                "must be one of any, mine, unclaimed, others",
            ));
            ClaimFilter::Any
        }
    };
    // Issue 30: search by subject (name or id) or workflow id, and filters by type and
    // category; text compares without case.
    let search = query.get("q").map(|q| q.trim().to_lowercase());
    if search
        .as_ref()
        .is_some_and(|q| q.is_empty() || q.chars().count() > 100)
    {
        errors.push(hitl_domain::FieldError::new(
            "q",
            "must be 1..=100 characters of a subject name, a subject id or a workflow id",
        ));
    }
    let artifact_type = query.get("type").cloned();
    if artifact_type
        .as_deref()
        .is_some_and(|t| !hitl_domain::types::valid_name(t))
    {
        errors.push(hitl_domain::FieldError::new(
            "type",
            "must be an artifact type name: 1..=64 characters of a-z, 0-9 and '-'",
        ));
    }
    let category = query.get("category").map(|c| c.trim().to_lowercase());
    if category
        .as_ref()
        .is_some_and(|c| c.is_empty() || c.chars().count() > 60)
    {
        errors.push(hitl_domain::FieldError::new(
            "category",
            "must be 1..=60 characters",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let matches_search = |w: &hitl_domain::model::Workflow| {
        search.as_ref().is_none_or(|q| {
            w.subject.name.to_lowercase().contains(q.as_str())
                || w.subject.id.to_lowercase().contains(q.as_str())
                || w.id.to_lowercase().contains(q.as_str())
        }) && artifact_type
            .as_ref()
            .is_none_or(|t| &w.config.artifact_type.name == t)
            && category.as_ref().is_none_or(|c| {
                w.subject
                    .category
                    .as_ref()
                    .is_some_and(|own| own.to_lowercase() == *c)
            })
    };
    let now = state.ports.clock.now();
    let visible = |caller: &Identity, w: &hitl_domain::model::Workflow| {
        let holder = w.pending_review.as_ref().and_then(|p| p.live_claim(now));
        let mine = holder.is_some_and(|c| c.held_by(&caller.id, &caller.name));
        caller.may_review(&w.config.reviewer_group)
            && matches_search(w)
            && group.as_ref().is_none_or(|g| &w.config.reviewer_group == g)
            && match claim {
                ClaimFilter::Any => true,
                ClaimFilter::Mine => mine,
                ClaimFilter::Unclaimed => holder.is_none(),
                ClaimFilter::Others => holder.is_some() && !mine,
            }
    };
    let (items, next_cursor) = queue(
        &state,
        &caller,
        query,
        &["reviewer_group", "claim", "q", "type", "category"],
        WorkflowStatus::AwaitingReview,
        &visible,
        views::review_item,
    )
    .await?;
    Ok(Json(views::ReviewPage {
        viewer: caller.name.clone(),
        items,
        next_cursor,
    }))
}

/// `GET /escalations`: escalated workflows waiting for a resolution by one of the caller's
/// groups (their escalation group, or any for `admin`), newest first.
pub(crate) async fn list_escalations(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<views::EscalationPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let (items, next_cursor) = queue(
        &state,
        &caller,
        query,
        &[],
        WorkflowStatus::Escalated,
        &|caller, w| {
            caller.may_review(&w.config.escalation_group)
                && w.escalation.as_ref().is_some_and(|e| e.awaiting.is_some())
        },
        views::escalation_item,
    )
    .await?;
    Ok(Json(views::EscalationPage { items, next_cursor }))
}

/// One page of the workflows in `status` that `visible` lets the caller see, mapped by `item`,
/// and the sealed cursor of the next page (`limit` and `cursor` as the query says).
async fn queue<T>(
    state: &AppState,
    caller: &Identity,
    query: HashMap<String, String>,
    filters: &[&str],
    status: WorkflowStatus,
    visible: &(dyn Fn(&Identity, &hitl_domain::model::Workflow) -> bool + Sync),
    item: fn(&hitl_domain::model::Workflow, chrono::DateTime<chrono::Utc>) -> T,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let mut errors = Vec::new();
    let limit = match query.get("limit").map(|l| query_integer(l)) {
        None => DEFAULT_PAGE_SIZE,
        Some(Some(n)) if (1..=MAX_PAGE_SIZE as u64).contains(&n) => n as usize,
        Some(_) => {
            errors.push(hitl_domain::FieldError::new(
                "limit",
                format!("must be an integer in 1..={MAX_PAGE_SIZE}"),
            ));
            0
        }
    };
    let mut cursor = match query.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match state.cursors.open(c) {
            Some(decoded) => Some(decoded),
            None => {
                errors.push(hitl_domain::FieldError::new(
                    "cursor",
                    "is not a cursor returned by this API",
                ));
                None
            }
        },
    };
    let known: Vec<&str> = ["limit", "cursor"].iter().chain(filters).copied().collect();
    for key in query.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.push(hitl_domain::FieldError::new(
            key.chars().take(64).collect::<String>(),
            format!("is not a known parameter; expected {}", known.join(", ")),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let mut items = Vec::new();
    for _ in 0..MAX_QUEUE_SCANS {
        let need = limit - items.len();
        let page = state
            .ports
            .store
            .list_by_status(status, need, cursor.as_deref())
            .await
            .map_err(|e| {
                if malformed_cursor(&e) {
                    ApiError::field("cursor", "is not a cursor returned by this API")
                } else {
                    store_error(e)
                }
            })?;
        let now = state.ports.clock.now();
        items.extend(
            page.items
                .iter()
                .filter(|w| visible(caller, w))
                .map(|w| item(w, now)),
        );
        cursor = page.next_cursor;
        if items.len() >= limit || cursor.is_none() {
            break;
        }
    }
    Ok((items, cursor.map(|c| state.cursors.seal(&c))))
}
