//! `hitl status ID` and `hitl aws status ID`, written once over a [`Backend`]: the local
//! data directory or a deployed stack. Both print the same text and the same `--json`
//! document, and that document is the reviewers' API's workflow view (`GET /workflows/{id}`,
//! `hitl_api::views::WorkflowView`) seen by an operator, with an `operator` object beside it
//! naming the execution and where the outcome was published.

use anyhow::{anyhow, Result};
use chrono::{DateTime, Utc};
use hitl_api::identity::Identity;
use hitl_api::views::{workflow_view, WorkflowView};
use hitl_domain::feedback::ADMIN_GROUP;
use serde::Serialize;

use crate::backend::Backend;
use crate::format::{human, printable, short, table};

/// What an operator sees beyond the reviewers' view.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorFacts {
    /// The workflow's Step Functions execution.
    pub execution_arn: Option<String>,
    /// Its status.
    pub execution_status: Option<String>,
    /// Where the approved outcome was published.
    pub outcome_location: Option<String>,
}

/// The one status document: the API's workflow view as an operator (an admin) sees it, and
/// the operator's facts.
#[derive(Debug, Clone, Serialize)]
pub struct StatusDocument {
    /// The reviewers' API's view of the workflow.
    #[serde(flatten)]
    pub view: WorkflowView,
    /// Execution and outcome.
    pub operator: OperatorFacts,
}

/// Who reads the status: an operator, with an admin's view.
fn operator() -> Identity {
    Identity::local("operator", vec![ADMIN_GROUP.to_owned()])
}

/// Builds the status document of workflow `id`.
pub async fn document(source: &dyn Backend, id: &str) -> Result<StatusDocument> {
    let store = source.store();
    let workflow = store
        .get_workflow(id)
        .await?
        .ok_or_else(|| anyhow!("workflow {id} not found"))?;
    let artifacts = store.list_artifacts(id).await?;
    let trail = store.list_feedback(id).await?;
    let view = workflow_view(
        &workflow,
        &artifacts,
        &trail,
        source.now(),
        &operator(),
        &source.ports().types,
    );
    Ok(StatusDocument {
        view,
        operator: OperatorFacts {
            execution_arn: workflow.execution_arn.clone(),
            execution_status: source.execution_status(&workflow).await?,
            outcome_location: source.outcome_location(&workflow),
        },
    })
}

/// Prints workflow `id` as JSON (the document) or text.
pub async fn show(source: &dyn Backend, id: &str, as_json: bool) -> Result<()> {
    let doc = document(source, id).await?;
    if as_json {
        println!("{}", serde_json::to_string(&doc)?);
    } else {
        print!("{}", render(&doc, source.now()));
    }
    Ok(())
}

/// The text form of a status document.
pub fn render(doc: &StatusDocument, now: DateTime<Utc>) -> String {
    use std::fmt::Write as _;
    let v = &doc.view;
    let mut out = String::new();
    let _ = writeln!(out, "workflow   {}", v.workflow_id);
    let _ = writeln!(
        out,
        "subject    {} ({})",
        printable(&v.subject.name),
        printable(&v.subject.id)
    );
    let _ = writeln!(
        out,
        "status     {}   iteration {}/{}",
        v.status, v.iteration, v.max_iterations
    );
    let _ = writeln!(
        out,
        "groups     reviewers: {}   escalations: {}",
        printable(&v.reviewer_group),
        printable(&v.escalation_group)
    );
    if let Some(arn) = &doc.operator.execution_arn {
        let _ = writeln!(
            out,
            "execution  {} ({})",
            arn,
            doc.operator.execution_status.as_deref().unwrap_or("—")
        );
    }
    if let Some(location) = &doc.operator.outcome_location {
        let _ = writeln!(out, "outcome    {location}");
    }
    if let Some(r) = &v.review {
        let _ = writeln!(
            out,
            "deadline   {} (in {})",
            r.deadline.format("%Y-%m-%d %H:%M UTC"),
            human(r.deadline - now)
        );
        if r.required_approvals > 1 {
            let _ = writeln!(
                out,
                "approvals  {} of {}{}",
                r.approved_by.len(),
                r.required_approvals,
                if r.approved_by.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.approved_by.join(", "))
                }
            );
        }
        if let Some(c) = &r.claim {
            let _ = writeln!(
                out,
                "claimed    by {} until {} (in {})",
                printable(&c.reviewer),
                c.expires_at.format("%Y-%m-%d %H:%M UTC"),
                human(c.expires_at - now)
            );
        }
    }
    if let Some(e) = &v.escalation {
        let _ = writeln!(out, "escalated  {} — {}", e.reason, printable(&e.detail));
        if let Some(deadline) = e.resolve_by {
            let _ = writeln!(
                out,
                "           waiting for a resolution until {} (in {}): hitl resolve {} --final @file.json | --correction f=v | --extend N | --reassign GROUP | --abandon --reason TEXT",
                deadline.format("%Y-%m-%d %H:%M UTC"),
                human(deadline - now),
                v.workflow_id
            );
        }
        if let Some(at) = e.unresolved_at {
            let _ = writeln!(
                out,
                "           unresolved: the escalation SLA ran out at {}",
                at.format("%Y-%m-%d %H:%M UTC")
            );
        }
    }
    if let Some(f) = &v.failure {
        let _ = writeln!(
            out,
            "failed     {} at {}",
            printable(&f.error),
            f.failed_at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    if let Some(a) = &v.artifact {
        match a.generator.strip_prefix("person:") {
            // An edit-and-approve or a resolution: a person's corrected version, stored after
            // the iteration they decided (not an iteration of its own).
            Some(person) => {
                let _ = writeln!(
                    out,
                    "\nfinal version (by {}, from the draft of iteration {}):",
                    printable(person),
                    v.previous_iteration.unwrap_or(v.iteration)
                );
            }
            None => {
                let _ = writeln!(out, "\ndraft (iteration {}):", a.iteration);
            }
        }
        let rows: Vec<Vec<String>> = a
            .content
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, value)| vec![k.clone(), short(value)])
            .collect();
        let _ = writeln!(out, "{}", table(&["FIELD", "VALUE"], &rows));
    }
    if !v.changes.is_empty() {
        let _ = writeln!(
            out,
            "\nchanges since iteration {}:",
            v.previous_iteration.unwrap_or(0)
        );
        let rows: Vec<Vec<String>> = v
            .changes
            .iter()
            .map(|c| {
                vec![
                    c.field.clone(),
                    c.before.as_ref().map_or_else(|| "—".into(), short),
                    c.after.as_ref().map_or_else(|| "—".into(), short),
                ]
            })
            .collect();
        let _ = writeln!(out, "{}", table(&["FIELD", "BEFORE", "AFTER"], &rows));
    }
    if !v.feedback.is_empty() {
        let shown = v.feedback.len();
        let _ = writeln!(
            out,
            "\nfeedback{}:",
            if v.feedback_total > shown {
                format!(" (newest {shown} of {})", v.feedback_total)
            } else {
                String::new()
            }
        );
        let rows: Vec<Vec<String>> = v
            .feedback
            .iter()
            .map(|e| {
                vec![
                    e.iteration.to_string(),
                    e.reviewer.clone(),
                    e.decision.as_str().into(),
                    match &e.reason {
                        None => "applied".into(),
                        Some(reason) => format!("rejected: {reason}"),
                    },
                    e.comments.chars().take(60).collect(),
                    e.corrections
                        .iter()
                        .map(|c| format!("{}={}", c.field, c.value))
                        .collect::<Vec<_>>()
                        .join("; ")
                        .chars()
                        .take(80)
                        .collect(),
                ]
            })
            .collect();
        let _ = writeln!(
            out,
            "{}",
            table(
                &[
                    "ITER",
                    "REVIEWER",
                    "DECISION",
                    "OUTCOME",
                    "COMMENTS",
                    "CORRECTIONS"
                ],
                &rows
            )
        );
    }
    if !v.claim_log.is_empty() {
        let _ = writeln!(out, "\nclaims:");
        let _ = writeln!(out, "{}", claim_log_table(&v.claim_log));
    }
    out
}

/// The claim log as a table: when, iteration, who, what (and which admin released it).
pub fn claim_log_table(log: &[hitl_domain::model::ClaimEvent]) -> String {
    let rows: Vec<Vec<String>> = log
        .iter()
        .map(|e| {
            vec![
                e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                e.iteration.to_string(),
                printable(&e.reviewer),
                match (e.action, &e.by) {
                    (hitl_domain::model::ClaimAction::Claimed, _) => "claimed".to_owned(),
                    (hitl_domain::model::ClaimAction::Released, None) => "released".to_owned(),
                    (hitl_domain::model::ClaimAction::Released, Some(by)) => {
                        format!("released by {}", printable(by))
                    }
                },
            ]
        })
        .collect();
    table(&["AT", "ITER", "REVIEWER", "WHAT"], &rows)
}
