//! Lambda entry point of `escalate`: its handler and the ports it uses.

hitl_aws::lambda_main!(escalate::handle, ports: [escalation_notifier, resumer, types]);
