//! Lambda entry point of `request-review`: its ports and its handler.

hitl_aws::lambda_main!(request_review::PORTS, request_review::handle);
