//! Task handlers and resource resolution.
//!
//! Supported resources:
//! - `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` — handler `NAME` (or the ARN);
//! - `arn:aws:states:::lambda:invoke[.waitForTaskToken]` — `Parameters.FunctionName` + `Payload`;
//! - `arn:aws:states:::states:startExecution` — a child execution in the same engine;
//! - any other `arn:aws:states:::SERVICE:ACTION[.waitForTaskToken]` for which a handler is
//!   registered under the resource ARN or `SERVICE:ACTION` (e.g. `sns:publish`).

use async_trait::async_trait;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// Context passed to a handler invocation.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// Execution ARN.
    pub execution_arn: String,
    /// Task state name.
    pub state_name: String,
    /// Task token for `.waitForTaskToken` tasks.
    pub task_token: Option<String>,
    /// Retry count (0 on the first attempt).
    pub attempt: u32,
}

/// A handler failure: the task fails with `error` (e.g. `WorkflowConflict`) and `cause`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskFailure {
    /// Error name.
    pub error: String,
    /// Cause.
    pub cause: String,
}

impl TaskFailure {
    /// Builds a failure.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// An in-process implementation of a Task resource.
#[async_trait]
pub trait TaskHandler: Send + Sync {
    /// Runs the task with its effective input.
    async fn invoke(&self, input: Value, ctx: TaskContext) -> Result<Value, TaskFailure>;
}

/// Answers some tasks in place of their handlers (a mock configuration): consulted before the
/// registry for every task that is not a `.waitForTaskToken` callback.
pub trait TaskOverride: Send + Sync {
    /// `Some` answers the task (its result or its failure); `None` leaves it to the handler.
    /// `resource` is the Task state's `Resource`.
    fn answer(&self, ctx: &TaskContext, resource: &str) -> Option<Result<Value, TaskFailure>>;
}

struct FnHandler<F>(F);

#[async_trait]
impl<F, Fut> TaskHandler for FnHandler<F>
where
    F: Fn(Value, TaskContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value, TaskFailure>> + Send + 'static,
{
    async fn invoke(&self, input: Value, ctx: TaskContext) -> Result<Value, TaskFailure> {
        (self.0)(input, ctx).await
    }
}

/// Handlers by name (Lambda function name, full ARN, or `service:action`).
#[derive(Clone, Default)]
pub struct HandlerRegistry {
    handlers: HashMap<String, Arc<dyn TaskHandler>>,
}

impl HandlerRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a handler under `name`.
    pub fn with(mut self, name: impl Into<String>, handler: Arc<dyn TaskHandler>) -> Self {
        self.handlers.insert(name.into(), handler);
        self
    }

    /// Registers an async closure under `name`.
    pub fn with_fn<F, Fut>(self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(Value, TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskFailure>> + Send + 'static,
    {
        self.with(name, Arc::new(FnHandler(f)))
    }

    /// Registers a handler in place.
    pub fn insert(&mut self, name: impl Into<String>, handler: Arc<dyn TaskHandler>) {
        self.handlers.insert(name.into(), handler);
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.handlers.keys().cloned().collect();
        v.sort();
        v
    }

    /// Finds the handler for a Lambda function name or ARN (exact match first, then the
    /// function name without qualifier).
    pub fn resolve_function(&self, function: &str) -> Option<(String, Arc<dyn TaskHandler>)> {
        if let Some(h) = self.handlers.get(function) {
            return Some((function.to_string(), h.clone()));
        }
        let name = lambda_function_name(function);
        self.handlers.get(&name).map(|h| (name, h.clone()))
    }

    /// Finds a handler by exact name.
    pub fn get(&self, name: &str) -> Option<Arc<dyn TaskHandler>> {
        self.handlers.get(name).cloned()
    }
}

/// Extracts the function name from a Lambda name, partial ARN or full ARN (dropping any
/// version/alias qualifier).
pub fn lambda_function_name(s: &str) -> String {
    if let Some(i) = s.find("function:") {
        let rest = &s[i + "function:".len()..];
        return rest.split(':').next().unwrap_or(rest).to_string();
    }
    s.split(':').next().unwrap_or(s).to_string()
}

/// A classified Task resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A Lambda function ARN used directly; the handler gets the effective input.
    LambdaArn {
        /// Function name.
        function: String,
    },
    /// `arn:aws:states:::lambda:invoke` (optionally `.waitForTaskToken`).
    LambdaInvoke {
        /// Callback pattern.
        wait_for_token: bool,
    },
    /// `arn:aws:states:::states:startExecution` (fire-and-forget, or `.sync` variants).
    StartExecution {
        /// `.sync` / `.sync:2` (not supported at run time).
        sync: bool,
        /// Callback pattern.
        wait_for_token: bool,
    },
    /// Another `arn:aws:states:::SERVICE:ACTION` integration.
    Service {
        /// `SERVICE:ACTION`.
        service_action: String,
        /// Callback pattern.
        wait_for_token: bool,
        /// `.sync`.
        sync: bool,
    },
    /// An activity ARN.
    Activity {
        /// Activity ARN.
        arn: String,
    },
    /// Anything else.
    Unknown,
}

/// Integrations that support `.waitForTaskToken`.
pub const WAIT_FOR_TOKEN_SUPPORTED: &[&str] = &[
    "lambda:invoke",
    "sqs:sendMessage",
    "sns:publish",
    "states:startExecution",
    "events:putEvents",
    "ecs:runTask",
    "batch:submitJob",
    "glue:startJobRun",
    "codebuild:startBuild",
    "eks:runJob",
    "apigateway:invoke",
    "sagemaker:createTransformJob",
];

/// Integrations that support `.sync`.
pub const SYNC_SUPPORTED: &[&str] = &[
    "states:startExecution",
    "ecs:runTask",
    "batch:submitJob",
    "glue:startJobRun",
    "codebuild:startBuild",
    "athena:startQueryExecution",
    "elasticmapreduce:createCluster",
    "elasticmapreduce:addStep",
    "sagemaker:createTrainingJob",
    "sagemaker:createTransformJob",
    "sagemaker:createProcessingJob",
    "eks:runJob",
    "emr-serverless:startJobRun",
    "databrew:startJobRun",
    "mediaconvert:createJob",
];

/// Classifies a resource ARN.
pub fn classify(resource: &str) -> Resource {
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
        let (base, suffix) = match rest.find('.') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let wait_for_token = suffix == "waitForTaskToken";
        let sync = suffix == "sync" || suffix == "sync:2";
        if !suffix.is_empty() && !wait_for_token && !sync {
            return Resource::Unknown;
        }
        return match base {
            "lambda:invoke" if !sync => Resource::LambdaInvoke { wait_for_token },
            "states:startExecution" => Resource::StartExecution {
                sync,
                wait_for_token,
            },
            b if b.contains(':') => Resource::Service {
                service_action: b.to_string(),
                wait_for_token,
                sync,
            },
            _ => Resource::Unknown,
        };
    }
    let parts: Vec<&str> = resource.split(':').collect();
    if parts.len() >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function" {
        return Resource::LambdaArn {
            function: parts[6].to_string(),
        };
    }
    if parts.len() >= 7 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "activity" {
        return Resource::Activity {
            arn: resource.to_string(),
        };
    }
    Resource::Unknown
}

/// The `base` (`SERVICE:ACTION`) and suffix (`waitForTaskToken`, `sync`) of an optimized
/// integration ARN, if it is one.
pub fn integration_parts(resource: &str) -> Option<(&str, &str)> {
    let rest = resource.strip_prefix("arn:aws:states:::")?;
    Some(match rest.find('.') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    })
}

/// Wraps a handler result the way `lambda:invoke` returns it.
pub fn lambda_invoke_envelope(payload: Value) -> Value {
    let request_id = uuid::Uuid::new_v4().to_string();
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "HttpHeaders": { "Content-Type": "application/json", "X-Amzn-Requestid": request_id },
            "HttpStatusCode": 200
        },
        "SdkResponseMetadata": { "RequestId": request_id },
        "StatusCode": 200
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn classify_resources() {
        assert_eq!(
            classify("arn:aws:lambda:us-east-1:123456789012:function:my-fn"),
            Resource::LambdaArn {
                function: "my-fn".into()
            }
        );
        assert_eq!(
            classify("arn:aws:lambda:us-east-1:123456789012:function:my-fn:prod"),
            Resource::LambdaArn {
                function: "my-fn".into()
            }
        );
        assert_eq!(
            classify("arn:aws:states:::lambda:invoke.waitForTaskToken"),
            Resource::LambdaInvoke {
                wait_for_token: true
            }
        );
        assert_eq!(
            classify("arn:aws:states:::states:startExecution"),
            Resource::StartExecution {
                sync: false,
                wait_for_token: false
            }
        );
        assert_eq!(
            classify("arn:aws:states:::sns:publish.waitForTaskToken"),
            Resource::Service {
                service_action: "sns:publish".into(),
                wait_for_token: true,
                sync: false
            }
        );
        assert_eq!(
            classify("arn:aws:states:::lambda:invoke.bogus"),
            Resource::Unknown
        );
        assert_eq!(classify("nonsense"), Resource::Unknown);
    }

    #[test]
    fn function_names() {
        assert_eq!(lambda_function_name("fn"), "fn");
        assert_eq!(lambda_function_name("fn:alias"), "fn");
        assert_eq!(
            lambda_function_name("arn:aws:lambda:us-east-1:1:function:fn:$LATEST"),
            "fn"
        );
        assert_eq!(lambda_function_name("123456789012:function:fn"), "fn");
    }

    #[tokio::test]
    async fn registry_resolution() {
        let reg = HandlerRegistry::new()
            .with_fn("init", |input: Value, _ctx: TaskContext| async move {
                Ok(json!({"echo": input}))
            });
        let (name, h) = reg
            .resolve_function("arn:aws:lambda:eu-west-1:1:function:init")
            .unwrap();
        assert_eq!(name, "init");
        let ctx = TaskContext {
            execution_arn: "e".into(),
            state_name: "s".into(),
            task_token: None,
            attempt: 0,
        };
        assert_eq!(h.invoke(json!(1), ctx).await.unwrap(), json!({"echo": 1}));
        assert!(reg.resolve_function("other").is_none());
    }

    #[test]
    fn envelope_shape() {
        let e = lambda_invoke_envelope(json!({"a": 1}));
        assert_eq!(e["Payload"], json!({"a": 1}));
        assert_eq!(e["StatusCode"], json!(200));
        assert_eq!(e["ExecutedVersion"], json!("$LATEST"));
        assert!(e["SdkHttpMetadata"].is_object());
        assert!(e["SdkResponseMetadata"].is_object());
    }
}
