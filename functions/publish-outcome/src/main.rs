//! Lambda entry point of `publish-outcome`: its handler and the ports it uses.

hitl_aws::lambda_main!(publish_outcome::handle, ports: [publisher]);
