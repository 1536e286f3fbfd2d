//! Lambda entry point of `generate-metadata`: its ports and its handler.

hitl_aws::lambda_main!(generate_metadata::PORTS, generate_metadata::handle);
