//! Lambda entry point of `publish-outcome`: its ports and its handler.

hitl_aws::lambda_main!(publish_outcome::PORTS, publish_outcome::handle);
