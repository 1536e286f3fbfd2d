//! Lambda entry point of `generate-metadata`: its handler and the ports it uses.

hitl_aws::lambda_main!(generate_metadata::handle, ports: [agent, types]);
