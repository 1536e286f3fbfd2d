//! Lambda entry point of `process-feedback`: its handler and the ports it uses.

hitl_aws::lambda_main!(process_feedback::handle, ports: [resumer, types]);
