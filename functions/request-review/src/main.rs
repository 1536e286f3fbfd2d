//! Lambda entry point of `request-review`: its handler and the ports it uses.

hitl_aws::lambda_main!(request_review::handle, ports: [review_notifier, resumer, types]);
