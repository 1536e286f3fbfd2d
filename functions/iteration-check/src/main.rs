//! Lambda entry point of `iteration-check`: its handler and the ports it uses.

hitl_aws::lambda_main!(iteration_check::handle, ports: []);
