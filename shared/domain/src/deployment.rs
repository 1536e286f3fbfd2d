//! Names that tie the definition, the function crates and the deployment template together.
//! The definition itself belongs to `hitl-statemachine` (`statemachine::DEFINITION`).

/// `(DefinitionSubstitutions key, function crate and binary name)` for every Lambda the
/// definition invokes.
pub const FUNCTION_SUBSTITUTIONS: [(&str, &str); 7] = [
    ("InitWorkflowFunctionArn", "init-workflow"),
    ("GenerateMetadataFunctionArn", "generate-metadata"),
    ("RequestReviewFunctionArn", "request-review"),
    ("IterationCheckFunctionArn", "iteration-check"),
    ("EscalateFunctionArn", "escalate"),
    ("FinalizeFunctionArn", "finalize"),
    ("PublishOutcomeFunctionArn", "publish-outcome"),
];

/// The local ARN the engine uses for a function (region `local`, account zero).
pub fn local_function_arn(function: &str) -> String {
    format!("arn:aws:lambda:local:000000000000:function:{function}")
}
