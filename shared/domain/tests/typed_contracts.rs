//! Issue 27: closed sets as types. A channel and an outcome status are enums now; what they
//! hash and serialize to must stay byte for byte what the strings were, or stored idempotency
//! keys would stop replaying and the state machine would read other outputs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hitl_domain::contracts::WorkflowOutcome;
use hitl_domain::feedback::scoped_key;
use hitl_domain::model::{Channel, WorkflowStatus};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The scope as it was computed from the channel's string before the enum.
fn string_scoped_key(channel: &str, reviewer_id: &str, key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(channel.as_bytes());
    hasher.update([0]);
    hasher.update(reviewer_id.as_bytes());
    format!("{}~{key}", &hex::encode(hasher.finalize())[..16])
}

#[test]
fn every_channel_scopes_a_key_exactly_as_its_old_string_did() {
    let old = [
        ("api", Channel::Api),
        ("sqs", Channel::Sqs),
        ("cli", Channel::Cli),
        ("lambda", Channel::Lambda),
        ("synthetic", Channel::Synthetic),
        ("test", Channel::Test),
    ];
    assert_eq!(old.len(), Channel::ALL.len());
    for (name, channel) in old {
        assert_eq!(channel.as_str(), name);
        assert_eq!(channel.to_string(), name);
        assert_eq!(serde_json::to_value(channel).unwrap(), json!(name));
        assert_eq!(
            serde_json::from_value::<Channel>(json!(name)).unwrap(),
            channel
        );
        assert_eq!(
            scoped_key(channel, "name:rita", "k-1"),
            string_scoped_key(name, "name:rita", "k-1"),
            "{name}"
        );
    }
}

#[test]
fn scoped_keys_match_values_computed_before_the_enum() {
    // sha256("<channel>\0name:rita")[..16], computed independently of this crate.
    let golden = [
        (Channel::Api, "41f883862537ec73"),
        (Channel::Sqs, "beb80da9c638d936"),
        (Channel::Cli, "1a76001fa258c08b"),
        (Channel::Lambda, "438155de34d65f15"),
        (Channel::Synthetic, "3cfa706a32af7644"),
        (Channel::Test, "703f0fee78914e28"),
    ];
    for (channel, scope) in golden {
        assert_eq!(
            scoped_key(channel, "name:rita", "my-key"),
            format!("{scope}~my-key")
        );
    }
}

#[test]
fn an_unknown_channel_is_refused() {
    assert!(serde_json::from_value::<Channel>(json!("email")).is_err());
    assert!(serde_json::from_value::<Channel>(json!("API")).is_err());
}

#[test]
fn an_outcome_serializes_its_status_by_the_old_names() {
    for status in WorkflowStatus::ALL {
        let outcome = WorkflowOutcome {
            workflow_id: "wf-1".into(),
            status,
            iteration: 2,
        };
        let value = serde_json::to_value(&outcome).unwrap();
        assert_eq!(
            value,
            json!({"workflow_id": "wf-1", "status": status.as_str(), "iteration": 2})
        );
        assert_eq!(
            serde_json::from_value::<WorkflowOutcome>(value).unwrap(),
            outcome
        );
    }
    let failed: WorkflowOutcome =
        serde_json::from_value(json!({"workflow_id": "", "status": "failed", "iteration": 0}))
            .unwrap();
    assert_eq!(failed.status, WorkflowStatus::Failed);
    assert!(serde_json::from_value::<WorkflowOutcome>(
        json!({"workflow_id": "", "status": "done", "iteration": 0})
    )
    .is_err());
}
