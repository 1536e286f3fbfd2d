//! Lambda entry point of `reconcile-deliveries`: its handler and the ports it uses.

hitl_aws::lambda_main!(reconcile_deliveries::handle, ports: [resumer, review_notifier, escalation_notifier]);
