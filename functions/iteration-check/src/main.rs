//! Lambda entry point of `iteration-check`: its ports and its handler.

hitl_aws::lambda_main!(iteration_check::PORTS, iteration_check::handle);
