//! Lambda entry point of `reconcile-deliveries`: its ports and its handler.

hitl_aws::lambda_main!(reconcile_deliveries::PORTS, reconcile_deliveries::handle);
