//! Checks that the deployed ASL definition and the code agree: substitutions, error names,
//! Task resources, state names and retry policy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use hitl_domain::deployment::FUNCTION_SUBSTITUTIONS;
use hitl_domain::ErrorName;
use serde_json::Value;
use statemachine::DEFINITION;

fn definition() -> Value {
    serde_json::from_str(DEFINITION).expect("definition is JSON")
}

/// Every state, including those nested in Map/Parallel, as (name, state).
fn all_states(scope: &Value, out: &mut Vec<(String, Value)>) {
    if let Some(states) = scope.get("States").and_then(Value::as_object) {
        for (name, state) in states {
            out.push((name.clone(), state.clone()));
            for key in ["ItemProcessor", "Iterator"] {
                if let Some(inner) = state.get(key) {
                    all_states(inner, out);
                }
            }
            for branch in state
                .get("Branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                all_states(branch, out);
            }
        }
    }
}

fn states() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    all_states(&definition(), &mut out);
    out
}

fn substitutions(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').expect("unterminated substitution");
        names.insert(after[..end].to_owned());
        rest = &after[end..];
    }
    names
}

#[test]
fn every_substitution_is_known_and_every_function_is_used() {
    let used = substitutions(DEFINITION);
    let known: BTreeSet<String> = FUNCTION_SUBSTITUTIONS
        .iter()
        .map(|(s, _)| (*s).to_owned())
        .collect();
    assert_eq!(used, known);
}

#[test]
fn every_task_resource_maps_to_a_function_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut tasks = 0;
    for (name, state) in states() {
        if state["Type"] != "Task" {
            continue;
        }
        tasks += 1;
        let resource = state["Resource"].as_str().unwrap();
        match resource {
            "arn:aws:states:::lambda:invoke"
            | "arn:aws:states:::lambda:invoke.waitForTaskToken" => {
                let function = state["Parameters"]["FunctionName"].as_str().unwrap();
                let key = function.trim_start_matches("${").trim_end_matches('}');
                let (_, krate) = FUNCTION_SUBSTITUTIONS
                    .iter()
                    .find(|(s, _)| *s == key)
                    .unwrap_or_else(|| panic!("{name}: unknown function {function}"));
                assert!(
                    root.join("functions")
                        .join(krate)
                        .join("Cargo.toml")
                        .exists(),
                    "{name}: no crate functions/{krate}"
                );
                assert!(
                    state["Parameters"].get("Payload").is_some(),
                    "{name}: no Payload"
                );
            }
            "arn:aws:states:::states:startExecution" => {}
            other => panic!("{name}: unexpected resource {other}"),
        }
    }
    assert!(tasks >= 9, "found only {tasks} tasks");
}

fn is_known_error(name: &str) -> bool {
    const LAMBDA: [&str; 5] = [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.Unknown",
    ];
    const STATES: [&str; 6] = [
        "States.ALL",
        "States.TaskFailed",
        "States.Timeout",
        "States.HeartbeatTimeout",
        "States.Runtime",
        "States.Permissions",
    ];
    const SFN: [&str; 2] = [
        "StepFunctions.ExecutionLimitExceededException",
        "StepFunctions.SdkClientException",
    ];
    LAMBDA.contains(&name)
        || STATES.contains(&name)
        || SFN.contains(&name)
        || ErrorName::ALL.iter().any(|e| e.as_str() == name)
}

#[test]
fn every_error_equals_names_an_error_that_can_be_emitted() {
    let mut seen = BTreeSet::new();
    for (name, state) in states() {
        for key in ["Retry", "Catch"] {
            for rule in state
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for error in rule["ErrorEquals"].as_array().unwrap() {
                    let error = error.as_str().unwrap();
                    assert!(is_known_error(error), "{name}.{key}: unknown error {error}");
                    seen.insert(error.to_owned());
                }
            }
        }
    }
    for name in ErrorName::ALL.iter().filter(|e| e.is_transient()) {
        if *name != ErrorName::ArtifactInvalid {
            assert!(
                seen.contains(name.as_str()),
                "transient {name:?} is never retried"
            );
        }
    }
}

#[test]
fn lambda_tasks_retry_transient_errors_only_and_catch_everything_last() {
    for (name, state) in states() {
        let is_lambda = state["Resource"]
            .as_str()
            .is_some_and(|r| r.starts_with("arn:aws:states:::lambda:invoke"));
        if !is_lambda {
            continue;
        }
        let retry = state["Retry"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no Retry"));
        for rule in retry {
            assert_eq!(
                rule["JitterStrategy"], "FULL",
                "{name}: retry without jitter"
            );
            for error in rule["ErrorEquals"].as_array().unwrap() {
                let error = error.as_str().unwrap();
                if let Some(domain) = ErrorName::ALL.iter().find(|e| e.as_str() == error) {
                    assert!(
                        domain.is_transient(),
                        "{name}: permanent {error} is retried"
                    );
                }
                assert_ne!(
                    error, "States.ALL",
                    "{name}: retrying States.ALL retries permanent errors"
                );
            }
        }
        let catch = state["Catch"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no Catch"));
        let last = catch.last().unwrap();
        assert_eq!(
            last["ErrorEquals"],
            serde_json::json!(["States.ALL"]),
            "{name}"
        );
    }
}

#[test]
fn the_review_loop_has_the_documented_states_and_wiring() {
    let def = definition();
    let s = &def["States"];
    for required in [
        "InitWorkflow",
        "GenerateMetadata",
        "WaitForFeedback",
        "FeedbackProcessing",
        "IterationCheck",
        "MetadataRegeneration",
        "Escalation",
        "WorkflowApproved",
        "WorkflowEscalated",
        "WorkflowFailed",
    ] {
        assert!(s.get(required).is_some(), "missing state {required}");
    }
    let wait = &s["WaitForFeedback"];
    assert_eq!(
        wait["Resource"],
        "arn:aws:states:::lambda:invoke.waitForTaskToken"
    );
    assert_eq!(
        wait["Parameters"]["Payload"]["task_token.$"],
        "$$.Task.Token"
    );
    assert_eq!(
        wait["TimeoutSecondsPath"],
        "$.workflow.review_timeout_seconds"
    );
    assert_eq!(
        wait["Catch"][0]["ErrorEquals"],
        serde_json::json!(["States.Timeout"])
    );
    assert_eq!(
        s[wait["Catch"][0]["Next"].as_str().unwrap()]["Next"],
        "Escalation"
    );
    // Issue 16: the escalation is a human task; its resolution decides where the same
    // execution goes (extend → regenerate, reassign → review again, resolve/abandon → publish);
    // unresolved within the escalation SLA it ends escalated.
    let escalation = &s["Escalation"];
    assert_eq!(
        escalation["Resource"],
        "arn:aws:states:::lambda:invoke.waitForTaskToken"
    );
    assert_eq!(
        escalation["Parameters"]["Payload"]["task_token.$"],
        "$$.Task.Token"
    );
    assert_eq!(
        escalation["TimeoutSecondsPath"],
        "$.workflow.escalation_timeout_seconds"
    );
    assert_eq!(escalation["Catch"][0]["Next"], "EscalationUnresolved");
    assert_eq!(escalation["Next"], "ResolutionDecision");
    let routes: Vec<(String, String)> = s["ResolutionDecision"]["Choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["StringEquals"].as_str().unwrap().to_owned(),
                c["Next"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let route = |action: &str| {
        routes
            .iter()
            .find(|(a, _)| a == action)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    // The Choice matches the resolution names the processor emits.
    for action in hitl_domain::feedback::RESOLUTION_ACTIONS {
        assert!(!route(action).is_empty(), "no route for {action}");
    }
    assert_eq!(s[route("extend").as_str()]["Next"], "MetadataRegeneration");
    assert_eq!(s[route("reassign").as_str()]["Next"], "WaitForFeedback");
    assert_eq!(route("resolve"), "PublishResolution");
    assert_eq!(route("abandon"), "PublishResolution");
    assert_eq!(s["PublishResolution"]["Next"], "WorkflowResolved");
    // Issue 18: every finished workflow is published before its execution ends.
    assert_eq!(s["EscalationUnresolved"]["Next"], "PublishEscalation");
    assert_eq!(s["PublishEscalation"]["Next"], "WorkflowEscalated");
    assert_eq!(s["MarkApproved"]["Next"], "PublishOutcome");
    assert_eq!(s["PublishOutcome"]["Next"], "WorkflowApproved");
    for publish in ["PublishOutcome", "PublishEscalation", "PublishResolution"] {
        assert_eq!(
            s[publish]["Parameters"]["FunctionName"],
            "${PublishOutcomeFunctionArn}"
        );
        assert_eq!(s[publish]["Catch"][0]["Next"], "RecordFailure");
        let retried = serde_json::to_string(&s[publish]["Retry"]).unwrap();
        assert!(
            retried.contains("PublishFailed"),
            "{publish} retries PublishFailed"
        );
    }
    assert_eq!(s["WorkflowEscalated"]["Type"], "Succeed");
    assert_eq!(s["WorkflowFailed"]["Type"], "Fail");
    // The Choice matches the decision names the feedback processor emits.
    let choices: Vec<&str> = s["FeedbackProcessing"]["Choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["StringEquals"].as_str().unwrap())
        .collect();
    assert_eq!(
        choices,
        vec![
            hitl_domain::model::Decision::Approve.as_str(),
            hitl_domain::model::Decision::RequestChanges.as_str(),
            hitl_domain::model::Decision::Reject.as_str(),
            // request-review's answer for a draft identical to the previous one
            "no_progress",
        ]
    );
    assert_eq!(
        s["FeedbackProcessing"]["Choices"][2]["Next"],
        "RejectedByReviewer"
    );
    assert_eq!(
        s["RejectedByReviewer"]["Parameters"]["reason"],
        "rejected_by_reviewer"
    );
    assert_eq!(s["RejectedByReviewer"]["Next"], "Escalation");
    assert_eq!(s["FeedbackProcessing"]["Choices"][3]["Next"], "NoProgress");
    assert_eq!(s["NoProgress"]["Next"], "Escalation");
    let escalate = serde_json::to_value(hitl_domain::contracts::IterationAction::Escalate).unwrap();
    assert_eq!(
        s["IterationDecision"]["Choices"][0]["StringEquals"],
        escalate
    );
    assert_eq!(
        s["IterationDecision"]["Choices"][0]["Variable"],
        "$.workflow.action"
    );
    // Issue 16: a request-changes iteration is five transitions: WaitForFeedback,
    // FeedbackProcessing, IterationCheck, IterationDecision, MetadataRegeneration.
    assert_eq!(s["IterationCheck"]["ResultPath"], "$.workflow");
    assert_eq!(s["IterationDecision"]["Default"], "MetadataRegeneration");
    assert_eq!(s["MetadataRegeneration"]["Next"], "WaitForFeedback");
}
