//! Lambda entry point of `init-workflow`: its ports and its handler.

hitl_aws::lambda_main!(init_workflow::PORTS, init_workflow::handle);
