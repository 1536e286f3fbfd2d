//! The AWS adapters against `aws-smithy-mocks`: success, throttling then success (the SDK's
//! own retry), and permanent errors mapped to the right domain names.
#![allow(clippy::unwrap_used)]

use aws_smithy_mocks::{mock, mock_client, RuleMode};
use hitl_aws::{BedrockAgent, BedrockReadiness, SfnResumer, SnsNotifier};
use hitl_domain::model::TaskToken;
use hitl_domain::ports::{
    AgentReadiness, ExecutionResumer, GenerationRequest, MetadataAgent, Notification,
    NotificationKind, Notifier, ResumeError,
};

fn retrying<B: RetryConfigurable>(builder: B) -> B {
    builder.with_fast_retries()
}

trait RetryConfigurable {
    fn with_fast_retries(self) -> Self;
}

macro_rules! fast_retries {
    ($krate:ident) => {
        impl RetryConfigurable for $krate::config::Builder {
            fn with_fast_retries(self) -> Self {
                self.retry_config(
                    aws_smithy_types::retry::RetryConfig::standard()
                        .with_max_attempts(3)
                        .with_initial_backoff(std::time::Duration::from_millis(1)),
                )
            }
        }
    };
}
fast_retries!(aws_sdk_sfn);
fast_retries!(aws_sdk_bedrockagent);

mod sfn {
    use super::*;
    use aws_sdk_sfn::operation::send_task_success::{SendTaskSuccessError, SendTaskSuccessOutput};
    use aws_sdk_sfn::types::error::{InvalidToken, TaskTimedOut};
    use aws_sdk_sfn::Client;

    #[tokio::test]
    async fn success_sends_the_token_and_output() {
        let rule = mock!(Client::send_task_success)
            .match_requests(|r| {
                r.task_token() == Some("tok") && r.output() == Some("{\"decision\":\"approve\"}")
            })
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let client = mock_client!(aws_sdk_sfn, [&rule]);
        SfnResumer::new(client)
            .resume(
                &TaskToken::new("tok"),
                &serde_json::json!({"decision": "approve"}),
            )
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn throttling_then_success_is_retried_by_the_sdk() {
        let rule = mock!(Client::send_task_success)
            .sequence()
            .http_status(503, None)
            .times(2)
            .output(|| SendTaskSuccessOutput::builder().build())
            .build();
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&rule], retrying);
        SfnResumer::new(client)
            .resume(&TaskToken::new("tok"), &serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test]
    async fn a_closed_task_is_task_closed_not_transient() {
        let timed_out = mock!(Client::send_task_success)
            .then_error(|| SendTaskSuccessError::TaskTimedOut(TaskTimedOut::builder().build()));
        let client = mock_client!(aws_sdk_sfn, [&timed_out]);
        let err = SfnResumer::new(client)
            .resume(&TaskToken::new("tok"), &serde_json::json!({}))
            .await
            .unwrap_err();
        assert_eq!(err, ResumeError::TaskClosed("TaskTimedOut".into()));
        let invalid = mock!(Client::send_task_success)
            .then_error(|| SendTaskSuccessError::InvalidToken(InvalidToken::builder().build()));
        let client = mock_client!(aws_sdk_sfn, [&invalid]);
        let err = SfnResumer::new(client)
            .resume(&TaskToken::new("tok"), &serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(matches!(err, ResumeError::TaskClosed(_)));
    }

    #[tokio::test]
    async fn persistent_service_failure_is_transient_after_retries() {
        let rule = mock!(Client::send_task_success)
            .sequence()
            .http_status(500, None)
            .times(3)
            .build();
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&rule], retrying);
        let err = SfnResumer::new(client)
            .resume(&TaskToken::new("tok"), &serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(matches!(err, ResumeError::Transient(_)), "{err:?}");
    }
}

mod bedrock {
    use super::*;
    use aws_sdk_bedrockagent::operation::get_agent_alias::{
        GetAgentAliasError, GetAgentAliasOutput,
    };
    use aws_sdk_bedrockagent::types::error::ResourceNotFoundException;
    use aws_sdk_bedrockagent::types::{AgentAlias, AgentAliasStatus};
    use aws_sdk_bedrockagentruntime::operation::invoke_agent::InvokeAgentError;
    use aws_sdk_bedrockagentruntime::types::error::{AccessDeniedException, ThrottlingException};

    fn alias(status: AgentAliasStatus) -> GetAgentAliasOutput {
        let now = aws_smithy_types::DateTime::from_secs(1_700_000_000);
        GetAgentAliasOutput::builder()
            .agent_alias(
                AgentAlias::builder()
                    .agent_id("AGENT")
                    .agent_alias_id("ALIAS")
                    .agent_alias_name("live")
                    .agent_alias_arn("arn:aws:bedrock:eu-west-1:1:agent-alias/AGENT/ALIAS")
                    .created_at(now)
                    .updated_at(now)
                    .agent_alias_status(status)
                    .set_routing_configuration(Some(vec![]))
                    .build()
                    .unwrap(),
            )
            .build()
    }

    #[tokio::test]
    async fn prepared_alias_is_ready() {
        let rule = mock!(aws_sdk_bedrockagent::Client::get_agent_alias)
            .match_requests(|r| {
                r.agent_id() == Some("AGENT") && r.agent_alias_id() == Some("ALIAS")
            })
            .then_output(|| alias(AgentAliasStatus::Prepared));
        let client = mock_client!(aws_sdk_bedrockagent, [&rule]);
        BedrockReadiness::new(client, hitl_aws::AgentAlias::new("AGENT", "ALIAS"))
            .ensure_ready()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn throttling_then_prepared_is_ready() {
        let rule = mock!(aws_sdk_bedrockagent::Client::get_agent_alias)
            .sequence()
            .http_status(503, None)
            .output(|| alias(AgentAliasStatus::Prepared))
            .build();
        let client = mock_client!(
            aws_sdk_bedrockagent,
            RuleMode::Sequential,
            [&rule],
            retrying
        );
        BedrockReadiness::new(client, hitl_aws::AgentAlias::new("AGENT", "ALIAS"))
            .ensure_ready()
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 2);
    }

    #[tokio::test]
    async fn unprepared_or_missing_alias_is_agent_not_ready() {
        let rule = mock!(aws_sdk_bedrockagent::Client::get_agent_alias)
            .then_output(|| alias(AgentAliasStatus::Updating));
        let client = mock_client!(aws_sdk_bedrockagent, [&rule]);
        let err = BedrockReadiness::new(client, hitl_aws::AgentAlias::new("AGENT", "ALIAS"))
            .ensure_ready()
            .await
            .unwrap_err();
        assert_eq!(err.name().as_str(), "AgentNotReady");
        assert!(err.to_string().contains("UPDATING"), "{err}");
        let missing = mock!(aws_sdk_bedrockagent::Client::get_agent_alias).then_error(|| {
            GetAgentAliasError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message("no alias")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_bedrockagent, [&missing]);
        let err = BedrockReadiness::new(client, hitl_aws::AgentAlias::new("AGENT", "ALIAS"))
            .ensure_ready()
            .await
            .unwrap_err();
        assert_eq!(err.name().as_str(), "AgentNotReady");
    }

    fn request() -> GenerationRequest {
        GenerationRequest {
            workflow_id: "wf-1".into(),
            subject: hitl_domain::store::contract::sample_workflow("wf-1").subject,
            iteration: 1,
            previous: None,
            feedback: vec![],
            artifact_type: Default::default(),
        }
    }

    #[tokio::test]
    async fn invoke_agent_errors_map_to_throttled_or_failed() {
        let throttled = mock!(aws_sdk_bedrockagentruntime::Client::invoke_agent).then_error(|| {
            InvokeAgentError::ThrottlingException(
                ThrottlingException::builder().message("slow").build(),
            )
        });
        let client = mock_client!(aws_sdk_bedrockagentruntime, [&throttled]);
        let err = BedrockAgent::new(client, hitl_aws::AgentAlias::new("AGENT", "ALIAS"))
            .generate(&request())
            .await
            .unwrap_err();
        assert_eq!(err.name().as_str(), "AgentThrottled");
        let denied = mock!(aws_sdk_bedrockagentruntime::Client::invoke_agent).then_error(|| {
            InvokeAgentError::AccessDeniedException(
                AccessDeniedException::builder().message("no").build(),
            )
        });
        let client = mock_client!(aws_sdk_bedrockagentruntime, [&denied]);
        let err = BedrockAgent::new(client, hitl_aws::AgentAlias::new("AGENT", "ALIAS"))
            .generate(&request())
            .await
            .unwrap_err();
        assert_eq!(err.name().as_str(), "AgentInvocationFailed");
    }

    #[test]
    fn completion_parsing_tolerates_prose_and_rejects_garbage() {
        let parsed =
            hitl_aws::parse_agent_completion("Here you go:\n```json\n{\"name\": \"A\"}\n```")
                .unwrap();
        assert_eq!(parsed["name"], "A");
        let err = hitl_aws::parse_agent_completion("sorry, I cannot").unwrap_err();
        assert_eq!(err.name().as_str(), "ArtifactInvalid");
        let prompt = hitl_aws::agent_prompt(&request());
        assert!(prompt.contains("generate_brand_metadata") && prompt.contains("Acme Coffee"));
    }
}

mod sns {
    use super::*;
    use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
    use aws_sdk_sns::types::error::AuthorizationErrorException;

    fn notification() -> Notification {
        Notification {
            kind: NotificationKind::Escalated,
            workflow_id: "wf-1".into(),
            subject_name: "Acme".into(),
            iteration: 3,
            reviewer_group: "reviewers".into(),
            reason: Some("iteration_limit".into()),
            message: "limit".into(),
            link: None,
        }
    }

    #[tokio::test]
    async fn publishes_with_attributes_and_maps_failures() {
        let ok = mock!(aws_sdk_sns::Client::publish)
            .match_requests(|r| {
                r.topic_arn() == Some("arn:topic")
                    && r.message_attributes()
                        .and_then(|m| m.get("kind"))
                        .and_then(|v| v.string_value())
                        == Some("escalated")
                    && r.subject().is_some_and(|s| s.contains("Acme"))
            })
            .then_output(|| PublishOutput::builder().message_id("m1").build());
        let client = mock_client!(aws_sdk_sns, [&ok]);
        SnsNotifier::new(client, "arn:topic")
            .publish(&notification())
            .await
            .unwrap();
        assert_eq!(ok.num_calls(), 1);
        let denied = mock!(aws_sdk_sns::Client::publish).then_error(|| {
            PublishError::AuthorizationErrorException(
                AuthorizationErrorException::builder().build(),
            )
        });
        let client = mock_client!(aws_sdk_sns, [&denied]);
        let err = SnsNotifier::new(client, "arn:topic")
            .publish(&notification())
            .await
            .unwrap_err();
        assert_eq!(err.name().as_str(), "NotificationFailed");
    }
}

mod lambda_config {
    use hitl_aws::lambda_config_from;
    use hitl_domain::ErrorName;
    use std::collections::HashMap;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn missing_variables_are_named_in_a_config_error() {
        let err = lambda_config_from(env(&[("AWS_ACCESS_KEY_ID", "AKID"), ("AWS_REGION", " ")]))
            .unwrap_err();
        assert_eq!(err.name(), ErrorName::ConfigError);
        let message = err.to_string();
        assert!(message.contains("AWS_REGION"), "{message}");
        assert!(message.contains("AWS_SECRET_ACCESS_KEY"), "{message}");
        assert!(!message.contains("AWS_ACCESS_KEY_ID"), "{message}");
    }

    /// The configuration drives a real SDK client end to end: a signed DynamoDB request with the
    /// environment's key and session token reaches the endpoint, and the answer is parsed.
    #[tokio::test(flavor = "current_thread")]
    async fn a_client_built_from_it_signs_and_sends_to_the_endpoint() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if request.len() >= head_end + 4 + length {
                        break;
                    }
                }
                assert!(n > 0, "connection closed mid-request");
            }
            let body = r#"{"TableNames":["hitl-workflows"]}"#;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&request).to_string()
        });
        let sdk = lambda_config_from(env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDLAMBDA"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session-token"),
            ("AWS_ENDPOINT_URL", &endpoint),
        ]))
        .unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"));
        let out = aws_sdk_dynamodb::Client::new(&sdk)
            .list_tables()
            .send()
            .await
            .unwrap();
        assert_eq!(out.table_names(), ["hitl-workflows".to_string()]);
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(request.starts_with("post / http/1.1"), "{request}");
        assert!(
            request.contains("x-amz-target: dynamodb_20120810.listtables"),
            "{request}"
        );
        assert!(
            request.contains("credential=akidlambda/") && request.contains("/eu-west-1/dynamodb/"),
            "signed with the environment's key for the region: {request}"
        );
        assert!(
            request.contains("x-amz-security-token: session-token"),
            "{request}"
        );
    }
}
