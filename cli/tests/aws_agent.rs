//! `hitl aws deploy-agent` and the agent-alias check against the Bedrock Agents client with
//! `aws-smithy-mocks` (moto does not implement bedrock-agent): the calls made, in order, for a
//! new agent and for an existing one, waiting for PREPARED, and failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aws_sdk_bedrockagent::operation::create_agent::CreateAgentOutput;
use aws_sdk_bedrockagent::operation::create_agent_alias::CreateAgentAliasOutput;
use aws_sdk_bedrockagent::operation::get_agent::GetAgentOutput;
use aws_sdk_bedrockagent::operation::get_agent_alias::GetAgentAliasOutput;
use aws_sdk_bedrockagent::operation::list_agent_aliases::ListAgentAliasesOutput;
use aws_sdk_bedrockagent::operation::list_agents::ListAgentsOutput;
use aws_sdk_bedrockagent::operation::prepare_agent::PrepareAgentOutput;
use aws_sdk_bedrockagent::operation::update_agent::UpdateAgentOutput;
use aws_sdk_bedrockagent::operation::update_agent_alias::UpdateAgentAliasOutput;
use aws_sdk_bedrockagent::types::{
    Agent, AgentAlias, AgentAliasStatus, AgentAliasSummary, AgentStatus, AgentSummary,
};
use aws_sdk_bedrockagent::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use hitl_cli::aws::{check_agent_alias, deploy_agent, AgentSpec, Polling, Verdict};

fn now() -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(1_700_000_000)
}

fn agent(status: AgentStatus) -> Agent {
    Agent::builder()
        .agent_id("AGENT1")
        .agent_name("hitl-brand-metadata")
        .agent_arn("arn:aws:bedrock:eu-west-1:1:agent/AGENT1")
        .agent_version("DRAFT")
        .agent_status(status)
        .idle_session_ttl_in_seconds(600)
        .agent_resource_role_arn("arn:aws:iam::1:role/agent")
        .created_at(now())
        .updated_at(now())
        .build()
        .unwrap()
}

fn alias(status: AgentAliasStatus) -> AgentAlias {
    AgentAlias::builder()
        .agent_id("AGENT1")
        .agent_alias_id("ALIAS1")
        .agent_alias_name("live")
        .agent_alias_arn("arn:aws:bedrock:eu-west-1:1:agent-alias/AGENT1/ALIAS1")
        .created_at(now())
        .updated_at(now())
        .agent_alias_status(status)
        .set_routing_configuration(Some(vec![]))
        .build()
        .unwrap()
}

fn spec() -> AgentSpec {
    AgentSpec {
        name: "hitl-brand-metadata".into(),
        role_arn: "arn:aws:iam::1:role/agent".into(),
        model: "anthropic.claude-3-5-haiku-20241022-v1:0".into(),
        instruction: hitl_cli::aws::DEFAULT_INSTRUCTION.into(),
        alias: "live".into(),
    }
}

fn fast() -> Polling {
    Polling {
        interval: Duration::from_millis(1),
        timeout: Duration::from_secs(5),
    }
}

fn prepared_output() -> PrepareAgentOutput {
    PrepareAgentOutput::builder()
        .agent_id("AGENT1")
        .agent_status(AgentStatus::Preparing)
        .agent_version("DRAFT")
        .prepared_at(now())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_new_agent_is_created_prepared_and_given_an_alias() {
    let list = mock!(Client::list_agents).then_output(|| {
        ListAgentsOutput::builder()
            .set_agent_summaries(Some(vec![]))
            .build()
            .unwrap()
    });
    let create = mock!(Client::create_agent)
        .match_requests(|r| {
            r.agent_name() == Some("hitl-brand-metadata")
                && r.foundation_model() == Some("anthropic.claude-3-5-haiku-20241022-v1:0")
                && r.instruction().is_some_and(|i| i.contains("JSON object"))
        })
        .then_output(|| {
            CreateAgentOutput::builder()
                .agent(agent(AgentStatus::Creating))
                .build()
        });
    // CREATING → NOT_PREPARED, then PREPARING → PREPARED after PrepareAgent.
    let get = mock!(Client::get_agent)
        .sequence()
        .output(|| {
            GetAgentOutput::builder()
                .agent(agent(AgentStatus::Creating))
                .build()
        })
        .output(|| {
            GetAgentOutput::builder()
                .agent(agent(AgentStatus::NotPrepared))
                .build()
        })
        .output(|| {
            GetAgentOutput::builder()
                .agent(agent(AgentStatus::Preparing))
                .build()
        })
        .output(|| {
            GetAgentOutput::builder()
                .agent(agent(AgentStatus::Prepared))
                .build()
        })
        .build();
    let prepare = mock!(Client::prepare_agent)
        .match_requests(|r| r.agent_id() == Some("AGENT1"))
        .then_output(prepared_output);
    let aliases = mock!(Client::list_agent_aliases).then_output(|| {
        ListAgentAliasesOutput::builder()
            .set_agent_alias_summaries(Some(vec![]))
            .build()
            .unwrap()
    });
    let create_alias = mock!(Client::create_agent_alias)
        .match_requests(|r| r.agent_alias_name() == Some("live"))
        .then_output(|| {
            CreateAgentAliasOutput::builder()
                .agent_alias(alias(AgentAliasStatus::Creating))
                .build()
        });
    let get_alias = mock!(Client::get_agent_alias)
        .sequence()
        .output(|| {
            GetAgentAliasOutput::builder()
                .agent_alias(alias(AgentAliasStatus::Creating))
                .build()
        })
        .output(|| {
            GetAgentAliasOutput::builder()
                .agent_alias(alias(AgentAliasStatus::Prepared))
                .build()
        })
        .build();
    let client = mock_client!(
        aws_sdk_bedrockagent,
        RuleMode::MatchAny,
        [
            &list,
            &create,
            &get,
            &prepare,
            &aliases,
            &create_alias,
            &get_alias
        ]
    );
    let deployed = deploy_agent(&client, &spec(), fast()).await.unwrap();
    assert_eq!(
        (deployed.agent_id.as_str(), deployed.alias_id.as_str()),
        ("AGENT1", "ALIAS1")
    );
    assert!(deployed.created_agent && deployed.created_alias);
    assert_eq!(
        (
            create.num_calls(),
            prepare.num_calls(),
            create_alias.num_calls()
        ),
        (1, 1, 1)
    );
    assert_eq!(get.num_calls(), 4);
    assert_eq!(get_alias.num_calls(), 2);
}

#[tokio::test]
async fn an_existing_agent_and_alias_are_updated() {
    let list = mock!(Client::list_agents).then_output(|| {
        ListAgentsOutput::builder()
            .agent_summaries(
                AgentSummary::builder()
                    .agent_id("OTHER")
                    .agent_name("someone-else")
                    .agent_status(AgentStatus::Prepared)
                    .updated_at(now())
                    .build()
                    .unwrap(),
            )
            .agent_summaries(
                AgentSummary::builder()
                    .agent_id("AGENT1")
                    .agent_name("hitl-brand-metadata")
                    .agent_status(AgentStatus::Prepared)
                    .updated_at(now())
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    });
    let update = mock!(Client::update_agent)
        .match_requests(|r| r.agent_id() == Some("AGENT1"))
        .then_output(|| {
            UpdateAgentOutput::builder()
                .agent(agent(AgentStatus::Updating))
                .build()
        });
    let get = mock!(Client::get_agent)
        .sequence()
        .output(|| {
            GetAgentOutput::builder()
                .agent(agent(AgentStatus::NotPrepared))
                .build()
        })
        .output(|| {
            GetAgentOutput::builder()
                .agent(agent(AgentStatus::Prepared))
                .build()
        })
        .build();
    let prepare = mock!(Client::prepare_agent).then_output(prepared_output);
    let aliases = mock!(Client::list_agent_aliases).then_output(|| {
        ListAgentAliasesOutput::builder()
            .agent_alias_summaries(
                AgentAliasSummary::builder()
                    .agent_alias_id("ALIAS1")
                    .agent_alias_name("live")
                    .agent_alias_status(AgentAliasStatus::Prepared)
                    .created_at(now())
                    .updated_at(now())
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    });
    let update_alias = mock!(Client::update_agent_alias)
        .match_requests(|r| r.agent_alias_id() == Some("ALIAS1"))
        .then_output(|| {
            UpdateAgentAliasOutput::builder()
                .agent_alias(alias(AgentAliasStatus::Updating))
                .build()
        });
    let create = mock!(Client::create_agent).then_output(|| CreateAgentOutput::builder().build());
    let get_alias = mock!(Client::get_agent_alias).then_output(|| {
        GetAgentAliasOutput::builder()
            .agent_alias(alias(AgentAliasStatus::Prepared))
            .build()
    });
    let client = mock_client!(
        aws_sdk_bedrockagent,
        RuleMode::MatchAny,
        [
            &list,
            &update,
            &get,
            &prepare,
            &aliases,
            &update_alias,
            &create,
            &get_alias
        ]
    );
    let deployed = deploy_agent(&client, &spec(), fast()).await.unwrap();
    assert!(!deployed.created_agent && !deployed.created_alias);
    assert_eq!((update.num_calls(), update_alias.num_calls()), (1, 1));
    assert_eq!(
        create.num_calls(),
        0,
        "an existing agent is never duplicated"
    );
}

#[tokio::test]
async fn a_failed_agent_stops_the_deployment_with_its_reasons() {
    let list = mock!(Client::list_agents).then_output(|| {
        ListAgentsOutput::builder()
            .set_agent_summaries(Some(vec![]))
            .build()
            .unwrap()
    });
    let create = mock!(Client::create_agent).then_output(|| {
        CreateAgentOutput::builder()
            .agent(agent(AgentStatus::Creating))
            .build()
    });
    let get = mock!(Client::get_agent).then_output(|| {
        let mut failed = agent(AgentStatus::Failed);
        failed.failure_reasons = Some(vec!["model access not granted".into()]);
        GetAgentOutput::builder().agent(failed).build()
    });
    let prepare = mock!(Client::prepare_agent).then_output(prepared_output);
    let client = mock_client!(
        aws_sdk_bedrockagent,
        RuleMode::MatchAny,
        [&list, &create, &get, &prepare]
    );
    let err = deploy_agent(&client, &spec(), fast()).await.unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("FAILED") && message.contains("model access not granted"),
        "{message}"
    );
    assert_eq!(prepare.num_calls(), 0);
}

#[tokio::test]
async fn the_alias_check_passes_only_when_prepared() {
    for (status, verdict) in [
        (AgentAliasStatus::Prepared, Verdict::Pass),
        (AgentAliasStatus::Updating, Verdict::Fail),
        (AgentAliasStatus::Failed, Verdict::Fail),
    ] {
        let s = status.clone();
        let rule = mock!(Client::get_agent_alias)
            .match_requests(|r| {
                r.agent_id() == Some("AGENT1") && r.agent_alias_id() == Some("ALIAS1")
            })
            .then_output(move || {
                GetAgentAliasOutput::builder()
                    .agent_alias(alias(s.clone()))
                    .build()
            });
        let client = mock_client!(aws_sdk_bedrockagent, [&rule]);
        let check = check_agent_alias(&client, "AGENT1", "ALIAS1").await;
        assert_eq!(check.verdict, verdict, "{status:?}: {}", check.detail);
    }
}
