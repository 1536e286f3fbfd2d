//! Fixtures of the application layer's tests.

use chrono::{DateTime, Utc};
use hitl_domain::model::{TaskToken, Workflow};
use hitl_domain::rules;
use hitl_domain::store::contract::sample_workflow;

/// A workflow whose first draft waits for review under the task token `tok-<id>`, with an
/// execution to resume.
pub fn awaiting_review(id: &str, now: DateTime<Utc>) -> Workflow {
    let mut wf = sample_workflow(id);
    wf.execution_arn = Some(format!(
        "arn:aws:states:eu-west-1:123456789012:execution:hitl:{id}"
    ));
    let mut wf = rules::record_artifact(&wf, 1, "h", now)
        .ok()
        .flatten()
        .unwrap_or(wf);
    wf.version = 1;
    let mut wf =
        rules::request_review(&wf, 1, TaskToken::new(format!("tok-{id}")), now).unwrap_or(wf);
    wf.version = 1;
    wf
}
