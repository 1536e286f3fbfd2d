//! Lambda entry point of `finalize`: its ports and its handler.

hitl_aws::lambda_main!(finalize::PORTS, finalize::handle);
