//! Lambda entry point of `finalize`: its handler and the ports it uses.

hitl_aws::lambda_main!(finalize::handle, ports: []);
