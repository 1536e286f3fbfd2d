//! Business metrics as CloudWatch Embedded Metric Format (EMF) records.
//!
//! Each record is one JSON object; on Lambda the [`MetricsSink`](crate::ports::MetricsSink)
//! adapter (`hitl_aws::metrics::EmfStdout`) prints it as a single line to stdout, where
//! CloudWatch Logs extracts the metric from the log stream, so emitting costs no API call and
//! cannot fail the handler. Every function here is pure (it returns the record as a
//! [`serde_json::Value`]); writing is the sink's job.
//!
//! All metrics live in the namespace [`NAMESPACE`] with the dimension `Service` =
//! [`SERVICE`], and — for metrics that have a breakdown — a second dimension set
//! `[Service, <Breakdown>]` (for example `[Service, Reason]` for escalations). The alarms and
//! the dashboard in `infra/template.yaml` read exactly these names.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::model::{SmokeScenario, Workflow, WorkflowStatus};

/// CloudWatch namespace of every custom metric.
pub const NAMESPACE: &str = "HitlOrchestrator";
/// Name of the dimension present on every metric.
pub const SERVICE_DIMENSION: &str = "Service";
/// Value of [`SERVICE_DIMENSION`].
pub const SERVICE: &str = "hitl-orchestrator";

/// Metric names (the template's alarms and dashboard use the same strings).
pub mod names {
    /// A reviewer decision was applied (dimension `Decision`).
    pub const FEEDBACK_RECEIVED: &str = "FeedbackReceived";
    /// Iterations a workflow needed until approval.
    pub const ITERATIONS_TO_APPROVAL: &str = "IterationsToApproval";
    /// A workflow was escalated (dimension `Reason`).
    pub const ESCALATIONS: &str = "Escalations";
    /// An agent call failed (dimension `ErrorKind`).
    pub const AGENT_INVOCATION_ERRORS: &str = "AgentInvocationErrors";
    /// Seconds from review request to the reviewer's decision.
    pub const REVIEW_LATENCY: &str = "ReviewLatency";
    /// 1 when a smoke workflow ended as its scenario expects, 0 otherwise.
    pub const SMOKE_TEST_RESULT: &str = "SmokeTestResult";
    /// A decision by someone outside the workflow's reviewer group (dimension `Channel`); kept
    /// out of the workflow's audit trail.
    pub const UNAUTHORIZED_ATTEMPTS: &str = "UnauthorizedAttempts";
    /// A rejected submission answered but not stored: the trail's cap was reached (dimension
    /// `Reason`).
    pub const REJECTIONS_NOT_RECORDED: &str = "RejectionsNotRecorded";
    /// A channel gave up sending a notification after its last attempt (the outbox).
    pub const NOTIFICATIONS_GIVEN_UP: &str = "NotificationsGivenUp";
}

/// Dimension names of the breakdowns.
pub mod dimensions {
    /// Breakdown of `FeedbackReceived`.
    pub const DECISION: &str = "Decision";
    /// Breakdown of `Escalations`.
    pub const REASON: &str = "Reason";
    /// Breakdown of `AgentInvocationErrors`.
    pub const ERROR_KIND: &str = "ErrorKind";
    /// Breakdown of `UnauthorizedAttempts`.
    pub const CHANNEL: &str = "Channel";
}

/// CloudWatch units used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// A duration in seconds.
    Seconds,
}

impl Unit {
    /// The CloudWatch unit name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Seconds => "Seconds",
        }
    }
}

/// Longest dimension value kept (CloudWatch allows 1024 characters).
const MAX_DIMENSION_VALUE: usize = 250;

fn dimension_value(value: &str) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        "unknown".to_owned()
    } else {
        trimmed.chars().take(MAX_DIMENSION_VALUE).collect()
    }
}

/// Builds one EMF record for a single metric at `at`, with an optional breakdown dimension
/// `(name, value)`. The metric is published both without and with the breakdown.
pub fn record_at(
    metric: &str,
    unit: Unit,
    value: f64,
    breakdown: Option<(&str, &str)>,
    at: DateTime<Utc>,
) -> Value {
    let mut dimension_sets = vec![json!([SERVICE_DIMENSION])];
    let mut root = Map::new();
    root.insert(SERVICE_DIMENSION.to_owned(), json!(SERVICE));
    if let Some((name, raw)) = breakdown {
        dimension_sets.push(json!([SERVICE_DIMENSION, name]));
        root.insert(name.to_owned(), json!(dimension_value(raw)));
    }
    root.insert(metric.to_owned(), json!(value));
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimension_sets,
                "Metrics": [{"Name": metric, "Unit": unit.as_str()}],
            }],
        }),
    );
    Value::Object(root)
}

fn record(metric: &str, unit: Unit, value: f64, breakdown: Option<(&str, &str)>) -> Value {
    record_at(metric, unit, value, breakdown, Utc::now())
}

/// A reviewer decision was applied; `decision` is `approve` or `request_changes`.
pub fn feedback_received(decision: &str) -> Value {
    record(
        names::FEEDBACK_RECEIVED,
        Unit::Count,
        1.0,
        Some((dimensions::DECISION, decision)),
    )
}

/// What an applied decision on `before` reports: `FeedbackReceived` by decision and, once the
/// review is over, `ReviewLatency` (review request to the decision). An approval short of the
/// quorum counts as [`PARTIAL_APPROVAL`], not `approve`, and reports no latency: the review
/// goes on, so "approvals" on the dashboard stay one per approved iteration.
pub fn decision_applied(
    before: &crate::model::Workflow,
    applied: &crate::rules::AppliedDecision,
    decision: crate::model::Decision,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Value> {
    let approvals =
        |w: &crate::model::Workflow| w.pending_review.as_ref().map_or(0, |p| p.approvals.len());
    // Recorded, nothing to deliver, one more approval on the review that goes on.
    let partial = applied.task_token.is_none() && approvals(&applied.workflow) > approvals(before);
    if partial {
        return vec![feedback_received(PARTIAL_APPROVAL)];
    }
    let mut records = vec![feedback_received(decision.as_str())];
    if let Some(pending) = &before.pending_review {
        let waited = (now - pending.requested_at).num_milliseconds();
        records.push(review_latency_seconds(waited as f64 / 1000.0));
    }
    records
}

/// The `Decision` dimension of an approval recorded while more are needed.
pub const PARTIAL_APPROVAL: &str = "partial_approval";

/// Someone outside the workflow's reviewer group tried to decide it (through `channel`).
pub fn unauthorized_attempt(channel: &str) -> Value {
    record(
        names::UNAUTHORIZED_ATTEMPTS,
        Unit::Count,
        1.0,
        Some((dimensions::CHANNEL, channel)),
    )
}

/// A rejection was answered but not stored because the trail's cap was reached.
pub fn rejection_not_recorded(reason: &str) -> Value {
    record(
        names::REJECTIONS_NOT_RECORDED,
        Unit::Count,
        1.0,
        Some((dimensions::REASON, reason)),
    )
}

/// A workflow was approved after `iterations` drafts.
pub fn iterations_to_approval(iterations: u32) -> Value {
    record(
        names::ITERATIONS_TO_APPROVAL,
        Unit::Count,
        f64::from(iterations),
        None,
    )
}

/// A workflow was escalated; `reason` is `iteration_limit`, `no_progress` or
/// `review_timeout`.
pub fn escalation(reason: &str) -> Value {
    record(
        names::ESCALATIONS,
        Unit::Count,
        1.0,
        Some((dimensions::REASON, reason)),
    )
}

/// A channel gave up sending a notification after its last attempt.
pub fn notification_given_up() -> Value {
    record(names::NOTIFICATIONS_GIVEN_UP, Unit::Count, 1.0, None)
}

/// An agent call failed; `kind` is the error name (`AgentThrottled`,
/// `AgentInvocationFailed`, `AgentNotReady`, `ArtifactInvalid`).
pub fn agent_invocation_error(kind: &str) -> Value {
    record(
        names::AGENT_INVOCATION_ERRORS,
        Unit::Count,
        1.0,
        Some((dimensions::ERROR_KIND, kind)),
    )
}

/// Seconds between the review request and the reviewer's decision (negative inputs count
/// as zero).
pub fn review_latency_seconds(seconds: f64) -> Value {
    record(
        names::REVIEW_LATENCY,
        Unit::Seconds,
        if seconds.is_finite() {
            seconds.max(0.0)
        } else {
            0.0
        },
        None,
    )
}

/// Result of one smoke workflow: 1 passed, 0 failed.
pub fn smoke_test_result(passed: bool) -> Value {
    record(
        names::SMOKE_TEST_RESULT,
        Unit::Count,
        if passed { 1.0 } else { 0.0 },
        None,
    )
}

/// Whether a finished smoke workflow ended as its scenario expects (the same expectations as
/// the local smoke report): approved at iteration 1, approved at `max_iterations`, or
/// escalated for `iteration_limit` at `max_iterations`. `None` for a non-smoke workflow.
pub fn smoke_item_passed(workflow: &Workflow) -> Option<bool> {
    let scenario = workflow.smoke?;
    let max = workflow.config.max_iterations;
    let reason = workflow.escalation.as_ref().map(|e| e.reason.as_str());
    Some(match scenario {
        SmokeScenario::ApproveFirst => {
            workflow.status == WorkflowStatus::Approved && workflow.iteration == 1
        }
        SmokeScenario::ApproveByTwo => {
            workflow.status == WorkflowStatus::Approved
                && workflow.iteration == 1
                && workflow
                    .decisions
                    .last()
                    .is_some_and(|d| d.co_approvers.len() == 1)
        }
        SmokeScenario::EditAndApprove => {
            workflow.status == WorkflowStatus::Approved
                && workflow.iteration == 1
                && workflow.decisions.last().is_some_and(|d| d.edited)
        }
        SmokeScenario::ApproveAfterRevisions => {
            workflow.status == WorkflowStatus::Approved && workflow.iteration == max
        }
        SmokeScenario::EscalateAtLimit => {
            workflow.status == WorkflowStatus::Escalated
                && workflow.iteration == max
                && reason == Some("iteration_limit")
        }
    })
}

/// Adds context members (for example `workflow_id`) to a record. They are not metrics or
/// dimensions, so they cost nothing in CloudWatch, but they make the log line searchable
/// (Logs Insights: `filter SmokeTestResult = 0 | fields workflow_id`). Reserved names (`_aws`,
/// the metric and its dimensions) are never overwritten.
pub fn with_properties(mut record: Value, properties: &[(&str, &str)]) -> Value {
    if let Value::Object(map) = &mut record {
        for (key, value) in properties {
            if !map.contains_key(*key) {
                map.insert((*key).to_owned(), json!(value));
            }
        }
    }
    record
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{Escalation, EscalationReason};
    use crate::store::contract::sample_workflow;

    /// Checks the EMF envelope and returns the directive.
    fn directive(record: &Value) -> &Value {
        let aws = &record["_aws"];
        assert!(
            aws["Timestamp"].as_i64().unwrap() > 1_600_000_000_000,
            "{record}"
        );
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let d = &directives[0];
        assert_eq!(d["Namespace"], NAMESPACE);
        // Every dimension named in a set and every metric must be a root member.
        for set in d["Dimensions"].as_array().unwrap() {
            for name in set.as_array().unwrap() {
                let name = name.as_str().unwrap();
                assert!(
                    record[name].is_string(),
                    "dimension {name} missing: {record}"
                );
            }
        }
        for metric in d["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(record[name].is_number(), "metric {name} missing: {record}");
        }
        d
    }

    #[test]
    fn feedback_received_has_service_and_decision_dimensions() {
        let r = feedback_received("request_changes");
        let d = directive(&r);
        assert_eq!(
            d["Dimensions"],
            json!([["Service"], ["Service", "Decision"]])
        );
        assert_eq!(
            d["Metrics"],
            json!([{"Name": "FeedbackReceived", "Unit": "Count"}])
        );
        assert_eq!(r["Service"], SERVICE);
        assert_eq!(r["Decision"], "request_changes");
        assert_eq!(r["FeedbackReceived"], 1.0);
    }

    #[test]
    fn escalation_and_agent_errors_carry_their_breakdown() {
        let r = escalation("review_timeout");
        let d = directive(&r);
        assert_eq!(d["Dimensions"][1], json!(["Service", "Reason"]));
        assert_eq!(d["Metrics"][0]["Name"], "Escalations");
        assert_eq!(r["Reason"], "review_timeout");
        let r = agent_invocation_error("AgentThrottled");
        let d = directive(&r);
        assert_eq!(d["Dimensions"][1], json!(["Service", "ErrorKind"]));
        assert_eq!(r["ErrorKind"], "AgentThrottled");
        assert_eq!(r["AgentInvocationErrors"], 1.0);
    }

    #[test]
    fn value_metrics_have_only_the_service_dimension() {
        let r = iterations_to_approval(4);
        let d = directive(&r);
        assert_eq!(d["Dimensions"], json!([["Service"]]));
        assert_eq!(r["IterationsToApproval"], 4.0);
        let r = review_latency_seconds(3600.5);
        let d = directive(&r);
        assert_eq!(
            d["Metrics"][0],
            json!({"Name": "ReviewLatency", "Unit": "Seconds"})
        );
        assert_eq!(r["ReviewLatency"], 3600.5);
        assert_eq!(review_latency_seconds(-3.0)["ReviewLatency"], 0.0);
        assert_eq!(review_latency_seconds(f64::NAN)["ReviewLatency"], 0.0);
        assert_eq!(smoke_test_result(true)["SmokeTestResult"], 1.0);
        assert_eq!(smoke_test_result(false)["SmokeTestResult"], 0.0);
        directive(&smoke_test_result(false));
    }

    #[test]
    fn timestamp_is_epoch_milliseconds_of_the_given_instant() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc);
        let r = record_at("X", Unit::Count, 2.0, None, at);
        assert_eq!(r["_aws"]["Timestamp"], 1_767_323_045_678_i64);
        let now = Utc::now().timestamp_millis();
        let t = feedback_received("approve")["_aws"]["Timestamp"]
            .as_i64()
            .unwrap();
        assert!((now - t).abs() < 60_000);
    }

    #[test]
    fn empty_or_long_dimension_values_are_normalised() {
        assert_eq!(escalation("  ")["Reason"], "unknown");
        let long = "x".repeat(2000);
        assert_eq!(
            agent_invocation_error(&long)["ErrorKind"]
                .as_str()
                .unwrap()
                .len(),
            MAX_DIMENSION_VALUE
        );
    }

    #[test]
    fn properties_add_context_without_touching_the_metric() {
        let r = with_properties(
            smoke_test_result(false),
            &[("workflow_id", "wf-1"), ("Service", "x"), ("_aws", "x")],
        );
        directive(&r);
        assert_eq!(r["workflow_id"], "wf-1");
        assert_eq!(r["Service"], SERVICE);
        assert!(r["_aws"].is_object());
    }

    #[test]
    fn a_record_is_one_json_line() {
        let text = feedback_received("approve").to_string();
        assert!(!text.contains('\n'));
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
    }

    #[test]
    fn smoke_outcomes_match_the_scenarios() {
        let mut wf = sample_workflow("wf-smoke");
        assert_eq!(smoke_item_passed(&wf), None);
        wf.config.max_iterations = 3;
        wf.smoke = Some(SmokeScenario::ApproveFirst);
        wf.status = WorkflowStatus::Approved;
        wf.iteration = 1;
        assert_eq!(smoke_item_passed(&wf), Some(true));
        wf.iteration = 2;
        assert_eq!(smoke_item_passed(&wf), Some(false));
        wf.smoke = Some(SmokeScenario::ApproveAfterRevisions);
        wf.iteration = 3;
        assert_eq!(smoke_item_passed(&wf), Some(true));
        wf.smoke = Some(SmokeScenario::EscalateAtLimit);
        assert_eq!(smoke_item_passed(&wf), Some(false));
        wf.status = WorkflowStatus::Escalated;
        wf.escalation = Some(Escalation {
            awaiting: None,
            unresolved_at: None,
            reason: EscalationReason::IterationLimit,
            detail: "limit".into(),
            iteration: 3,
            escalated_at: wf.updated_at,
        });
        assert_eq!(smoke_item_passed(&wf), Some(true));
    }
}
