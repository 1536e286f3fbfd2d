//! moto server for the tests that drive AWS APIs with the real SDK clients.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use serde_json::json;

use super::workspace;

/// The region every moto test uses.
pub const REGION: &str = "eu-west-1";

/// A moto server on a free loopback port, with Step Functions execution on; killed when dropped.
pub struct Moto {
    child: Child,
    /// Its base URL.
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts it and waits until it answers.
    pub async fn start() -> Self {
        let server = workspace().join(".tools/venv-moto/bin/moto_server");
        assert!(
            server.is_file(),
            "moto server not found at {}: run scripts/setup-test-tools.sh",
            server.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        while http
            .get(format!("{}/moto-api/", moto.url))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let configured = http
            .post(format!("{}/moto-api/config", moto.url))
            .json(&json!({"stepfunctions": {"execute_state_machine": true}, "lambda": {"use_docker": false}}))
            .send()
            .await
            .unwrap();
        assert!(configured.status().is_success());
        moto
    }

    /// An SDK configuration pointing every client at it.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(hitl_aws::https_client())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.url)
            .credentials_provider(aws_credential_types::Credentials::new(
                "test", "test", None, None, "moto",
            ))
            .load()
            .await
    }
}
