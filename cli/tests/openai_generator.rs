//! Issue 29: the loop on the real definition with the OpenAI-compatible adapter. A scripted
//! model behind a real HTTP server (the chat-completions wire format) drafts; it follows
//! feedback only if the prompt carries it: when the last request names "fair trade", its next
//! tagline says so. The reviewer sends the first draft back asking for it, then approves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// What the scripted model was asked, request by request.
type Asked = Arc<Mutex<Vec<Value>>>;

fn draft(tagline: &str) -> Value {
    json!({
        "name": "Acme Coffee",
        "tagline": tagline,
        "description": "Acme Coffee roasts small batches for people who start early.",
        "category": "food",
        "tone": "friendly",
        "target_audience": "early commuters",
        "keywords": ["coffee", "roastery", "espresso"],
        "colors": {"primary": "#6F4E37", "secondary": "#F5F5DC"}
    })
}

async fn chat(State(asked): State<Asked>, Json(request): Json<Value>) -> Json<Value> {
    let prompt = request["messages"].to_string();
    asked.lock().unwrap().push(request);
    let tagline = if prompt.contains("fair trade") {
        "Fair trade coffee for early starts"
    } else {
        "Coffee for early starts"
    };
    Json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "scripted-1",
        "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": draft(tagline).to_string()}}],
        "usage": {"prompt_tokens": 321, "completion_tokens": 54, "total_tokens": 375}
    }))
}

fn hitl(data: &std::path::Path, base_url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .arg("--data-dir")
        .arg(data)
        .args([
            "--generator",
            "openai",
            "--base-url",
            base_url,
            "--model",
            "scripted-1",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hitl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_model_that_follows_feedback_converges_on_the_real_definition() {
    let problems = hitl_domain::metadata::validate(&draft("Coffee for early starts"));
    assert!(problems.is_empty(), "{problems:?}");
    let asked: Asked = Arc::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(asked.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let data = tempfile::tempdir().unwrap();
    let (data_path, url) = (data.path().to_owned(), base_url.clone());

    let finished = tokio::task::spawn_blocking(move || {
        let wf = hitl(
            &data_path,
            &url,
            &[
                "start",
                "--quiet",
                "--subject",
                r#"{"id":"brand-001","name":"Acme Coffee","category":"food"}"#,
            ],
        )
        .trim()
        .to_owned();
        hitl(
            &data_path,
            &url,
            &[
                "feedback",
                &wf,
                "--request-changes",
                "Mention fair trade in the tagline",
            ],
        );
        hitl(&data_path, &url, &["feedback", &wf, "--approve"]);
        let report = hitl(
            &data_path,
            &url,
            &["--json", "report", "--price", "openai:scripted-1=1/2"],
        );
        (hitl(&data_path, &url, &["--json", "status", &wf]), report)
    })
    .await
    .unwrap();

    let (finished, report) = finished;
    let status: Value = serde_json::from_str(&finished).unwrap();
    assert_eq!(status["status"], "approved", "{status:#}");
    assert_eq!(status["iteration"], 2);
    assert_eq!(
        status["artifact"]["content"]["tagline"],
        "Fair trade coffee for early starts"
    );
    assert_eq!(status["artifact"]["generator"], "openai:scripted-1");
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 2, "one request per draft");
    assert_eq!(asked[0]["model"], "scripted-1");
    assert_eq!(asked[0]["response_format"]["type"], "json_schema");
    assert!(!asked[0]["messages"].to_string().contains("fair trade"));
    assert!(asked[1]["messages"]
        .to_string()
        .contains("Mention fair trade in the tagline"));

    // The report compares generators by rounds, tokens and cost: two drafts of 321 + 54
    // tokens; at 1 and 2 per million tokens, (642 × 1 + 108 × 2) / 1e6.
    let report: Value = serde_json::from_str(&report).unwrap();
    let generators = report["generators"].as_array().unwrap();
    assert_eq!(generators.len(), 1, "{generators:#?}");
    let g = &generators[0];
    assert_eq!(g["generator"], "openai:scripted-1");
    assert_eq!(
        (
            g["drafts"].as_u64(),
            g["input_tokens"].as_u64(),
            g["output_tokens"].as_u64()
        ),
        (Some(2), Some(642), Some(108))
    );
    assert_eq!(g["mean_iterations_to_approval"], 2.0);
    assert!(
        (g["cost_per_approved"].as_f64().unwrap() - 0.000_858).abs() < 1e-12,
        "{g}"
    );
}
