//! Lambda entry point of `feedback-queue`: its handler and the ports it uses.

hitl_aws::lambda_main!(feedback_queue::handle_batch, ports: [resumer, types]);
