//! Lambda entry point of `process-feedback`: its ports and its handler.

hitl_aws::lambda_main!(process_feedback::PORTS, process_feedback::handle);
