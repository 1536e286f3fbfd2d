//! Handler errors as Lambda reports them: the `errorType` is the stable [`ErrorName`], which
//! the state machine matches in `ErrorEquals`.
//!
//! [`ErrorName`]: hitl_domain::ErrorName

use std::future::Future;

use hitl_domain::HandlerError;
use lambda_runtime::{run, service_fn, Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Runs a function's handler for every invocation, one at a time: `handler(deps, payload)`,
/// its [`HandlerError`] reported as a [`LambdaError`] (the stable `errorType`). Every
/// function's `main.rs` is its ports' wiring and this one call.
pub async fn serve<D, I, O, F, Fut>(deps: D, handler: F) -> Result<(), lambda_runtime::Error>
where
    D: Clone + Send + 'static,
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(D, I) -> Fut,
    Fut: Future<Output = Result<O, HandlerError>> + Send,
{
    run(service_fn(|event: LambdaEvent<I>| {
        let invocation = handler(deps.clone(), event.payload);
        async move { invocation.await.map_err(LambdaError::from) }
    }))
    .await
}

/// A [`HandlerError`] on its way out of a Lambda handler (`handle(..).await.map_err(LambdaError::from)`).
#[derive(Debug)]
pub struct LambdaError(pub HandlerError);

impl From<HandlerError> for LambdaError {
    fn from(err: HandlerError) -> Self {
        Self(err)
    }
}

impl From<LambdaError> for Diagnostic {
    fn from(LambdaError(err): LambdaError) -> Self {
        Diagnostic {
            error_type: err.name().as_str().to_owned(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_type_is_the_stable_name() {
        let diagnostic = Diagnostic::from(LambdaError::from(HandlerError::field(
            "subject.id",
            "is required",
        )));
        assert_eq!(diagnostic.error_type, "InvalidInput");
        assert_eq!(
            diagnostic.error_message,
            "invalid input: subject.id: is required"
        );
    }
}
