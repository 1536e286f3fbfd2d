//! Lambda entry point of `init-workflow`: its handler and the ports it uses.

hitl_aws::lambda_main!(init_workflow::handle, ports: [agent_readiness, types]);
