//! Lambda entry point of `feedback-queue`: its ports and its handler.

hitl_aws::lambda_main!(feedback_queue::PORTS, feedback_queue::handle_batch);
