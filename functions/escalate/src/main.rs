//! Lambda entry point of `escalate`: its ports and its handler.

hitl_aws::lambda_main!(escalate::PORTS, escalate::handle);
