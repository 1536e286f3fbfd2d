//! `GET /workflows/{id}` and `GET /workflows/{id}/feedback`: one workflow as the page shows it,
//! and its audit trail a page at a time.

use std::collections::HashMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;

use super::{not_found, query_integer, store_error, visible_workflow};
use crate::error::ApiError;
use crate::state::{AppState, Caller};
use crate::views;

pub(crate) async fn get_workflow(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<views::WorkflowView>, ApiError> {
    let Path(id) = path.map_err(|_| not_found("(unreadable id)"))?;
    let workflow = visible_workflow(&state, &caller, &id).await?;
    let store = &state.ports.store;
    let artifacts = store.list_artifacts(&id).await.map_err(store_error)?;
    let trail = store.list_feedback(&id).await.map_err(store_error)?;
    Ok(Json(views::workflow_view(
        &workflow,
        &artifacts,
        &trail,
        state.ports.clock.now(),
        &caller,
        &state.ports.types,
    )))
}

pub(crate) async fn list_feedback(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<views::FeedbackPage>, ApiError> {
    let Path(id) = path.map_err(|_| not_found("(unreadable id)"))?;
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let mut errors = Vec::new();
    let page = match query.get("page").map(|p| query_integer(p)) {
        None => 1,
        Some(Some(n)) if (1..=1000).contains(&n) => n as usize,
        Some(_) => {
            errors.push(hitl_domain::FieldError::new(
                "page",
                "must be an integer in 1..=1000",
            ));
            1
        }
    };
    for key in query.keys().filter(|k| k.as_str() != "page") {
        errors.push(hitl_domain::FieldError::new(
            key.chars().take(64).collect::<String>(),
            "is not a known parameter; expected page",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    visible_workflow(&state, &caller, &id).await?;
    let store = &state.ports.store;
    let trail = store.list_feedback(&id).await.map_err(store_error)?;
    Ok(Json(views::feedback_page(&trail, page)))
}
