//! `GET /types` and `GET /types/{name}`: the artifact types (issue 28) a client builds review
//! forms from — each type's schemas, instructions and review hints, at its current version or
//! at the exact version a workflow records (`?version=`). Any signed-in caller may read them;
//! they hold no workflow data.

use std::collections::HashMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use hitl_domain::types::{ArtifactType, Hints, TypeRef};
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::state::{AppState, Caller};

/// One type in the list.
#[derive(Debug, Serialize)]
pub struct TypeSummary {
    /// Its name.
    pub name: String,
    /// The version new workflows start with.
    pub version: String,
    /// Every version this deployment knows (workflows in flight may use older ones).
    pub versions: Vec<String>,
    /// The artifact schema's `title`, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// `GET /types`.
#[derive(Debug, Serialize)]
pub struct TypeList {
    /// Every type, by name.
    pub types: Vec<TypeSummary>,
}

/// `GET /types/{name}`: one type at one version.
#[derive(Debug, Serialize)]
pub struct TypeView {
    /// Its name.
    pub name: String,
    /// The version shown.
    pub version: String,
    /// Whether that is the version new workflows start with.
    pub current: bool,
    /// Every version this deployment knows.
    pub versions: Vec<String>,
    /// JSON Schema (2020-12) of the artifact.
    pub artifact_schema: Value,
    /// JSON Schema of the subject.
    pub subject_schema: Value,
    /// The agent's instructions (a template over the subject).
    pub instructions: String,
    /// Field order, labels, widgets, correctable and subject-bound paths.
    pub hints: Hints,
}

fn versions(state: &AppState, name: &str) -> Vec<String> {
    state
        .ports
        .types
        .versions(name)
        .iter()
        .map(|t| t.version.clone())
        .collect()
}

pub(crate) async fn list_types(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> Json<TypeList> {
    let registry = &state.ports.types;
    let types = registry
        .names()
        .into_iter()
        .filter_map(|name| registry.current(&name).ok())
        .map(|t| TypeSummary {
            versions: versions(&state, &t.name),
            title: t.artifact_schema["title"].as_str().map(str::to_owned),
            name: t.name.clone(),
            version: t.version.clone(),
        })
        .collect();
    Json(TypeList { types })
}

pub(crate) async fn get_type(
    State(state): State<AppState>,
    Caller(_caller): Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<TypeView>, ApiError> {
    let Path(name) = path.map_err(|_| ApiError::NotFound("no such artifact type".into()))?;
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let mut errors = Vec::new();
    for key in query.keys().filter(|k| k.as_str() != "version") {
        errors.push(hitl_domain::FieldError::new(
            key.chars().take(64).collect::<String>(),
            "is not a known parameter; expected version",
        ));
    }
    let version = query.get("version");
    if let Some(v) = version {
        if v.len() != 16 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
            errors.push(hitl_domain::FieldError::new(
                "version",
                "must be a type version: 16 hexadecimal digits",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let registry = &state.ports.types;
    let current = registry.current(&name).ok();
    let shown: Option<std::sync::Arc<ArtifactType>> = match version {
        None => current.clone(),
        Some(v) => registry
            .get(&TypeRef {
                name: name.clone(),
                version: v.to_ascii_lowercase(),
            })
            .ok(),
    };
    let Some(shown) = shown else {
        let shown_name: String = name.chars().take(64).collect();
        return Err(match version {
            Some(v) if current.is_some() => {
                ApiError::NotFound(format!("artifact type {shown_name} has no version {v}"))
            }
            _ => ApiError::NotFound(format!("no artifact type {shown_name:?}")),
        });
    };
    Ok(Json(TypeView {
        current: current.is_some_and(|c| c.version == shown.version),
        versions: versions(&state, &shown.name),
        name: shown.name.clone(),
        version: shown.version.clone(),
        artifact_schema: shown.artifact_schema.clone(),
        subject_schema: shown.subject_schema.clone(),
        instructions: shown.instructions.clone(),
        hints: shown.hints.clone(),
    }))
}
