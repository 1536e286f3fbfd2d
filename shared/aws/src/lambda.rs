//! Handler errors as Lambda reports them: the `errorType` is the stable [`ErrorName`], which
//! the state machine matches in `ErrorEquals`.
//!
//! [`ErrorName`]: hitl_domain::ErrorName

use hitl_domain::HandlerError;
use lambda_runtime::Diagnostic;

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
