//! Arguments shared by the local commands and their `hitl aws` twins, and the start request
//! they describe.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use hitl_domain::feedback::{FeedbackRequest, ResolutionRequest};
use hitl_domain::model::{Correction, Subject};
use serde_json::{json, Value};

use hitl_cli::format::parse_duration;

/// `hitl start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// A JSON file with one subject object or an array of subjects.
    #[arg(long, conflicts_with = "subject")]
    pub subjects_file: Option<PathBuf>,
    /// One subject as inline JSON: '{"id":"brand-1","name":"Acme"}'.
    #[arg(long)]
    pub subject: Option<String>,
    /// The artifact type to review (`hitl types list`); subjects are checked against its
    /// subject schema and the workflow is judged by its current version to the end.
    #[arg(long = "type", value_name = "NAME", default_value = hitl_domain::types::DEFAULT_TYPE)]
    pub artifact_type: String,
    /// Iteration limit (1..=50).
    #[arg(long, default_value_t = 10)]
    pub max_iterations: i64,
    /// Most subjects this request may start (1..=100).
    #[arg(long, default_value_t = 10)]
    pub batch_size: i64,
    /// Review SLA per iteration (e.g. 72h).
    #[arg(long, default_value = "72h")]
    pub review_timeout: String,
    /// Reviewer group allowed to decide.
    #[arg(long, default_value = "reviewers")]
    pub reviewer_group: String,
    /// Group that resolves escalations (`admin` always may).
    #[arg(long, default_value = "escalations")]
    pub escalation_group: String,
    /// Escalation SLA (e.g. 7d); unresolved after it, the workflow ends escalated.
    #[arg(long, default_value = "7d")]
    pub escalation_timeout: String,
    /// Distinct reviewers who must approve an iteration (1..=5).
    #[arg(long, default_value_t = 1)]
    pub required_approvals: i64,
    /// How long a reviewer's claim lasts unless renewed (e.g. 30m; 1m..=1d).
    #[arg(long, default_value = "30m")]
    pub claim_ttl: String,
    /// Reminders before the review deadline, comma-separated (e.g. 24h,1h; `none` for none);
    /// default 24h,1h (those shorter than the review SLA).
    #[arg(long, value_name = "OFFSETS")]
    pub reminders: Option<String>,
    /// Request id (idempotency: the same id and subject start one workflow).
    #[arg(long)]
    pub request_id: Option<String>,
    /// Print only the started workflow ids, one a line, for scripts:
    /// `wf=$(hitl start --quiet --subject …)`.
    #[arg(long, short)]
    pub quiet: bool,
}

impl StartArgs {
    /// `--quiet` and `--json` are two different outputs: refuse both before anything starts.
    pub fn check_output(&self, as_json: bool) -> Result<()> {
        if self.quiet && as_json {
            bail!(
                "--quiet prints only the workflow ids and --json a JSON document: give one of them"
            );
        }
        Ok(())
    }
}

/// `hitl list` / `hitl aws list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this status (generating, awaiting_review, revising, approved, escalated, failed,
    /// resolved, abandoned).
    #[arg(long)]
    pub status: Option<String>,
    /// At most this many per status.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// `hitl export` / `hitl aws export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Workflow id.
    pub workflow_id: String,
    /// Write it to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `hitl claim` / `hitl release`.
#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// Workflow id.
    pub workflow_id: String,
    /// The reviewer (locally `local-reviewer` when not given; required by `hitl aws claim` and
    /// `hitl aws release`).
    #[arg(long)]
    pub reviewer: Option<String>,
    /// The iteration the reviewer is looking at (default: the current one).
    #[arg(long)]
    pub iteration: Option<u32>,
    /// Act as an admin (release someone else's claim).
    #[arg(long)]
    pub admin: bool,
}

/// `hitl feedback`.
#[derive(Debug, Args)]
pub struct FeedbackArgs {
    /// Workflow id.
    pub workflow_id: String,
    /// Approve the current draft.
    #[arg(long, conflicts_with_all = ["request_changes", "reject"])]
    pub approve: bool,
    /// Request changes, with comments.
    #[arg(long, value_name = "COMMENTS", conflicts_with = "reject")]
    pub request_changes: Option<String>,
    /// Stop the loop outright, with the reason: the workflow escalates
    /// (`rejected_by_reviewer`) to its escalation group.
    #[arg(long, value_name = "REASON")]
    pub reject: Option<String>,
    /// Reviewer name recorded in the audit trail (locally `local-reviewer` when not given;
    /// required by `hitl aws feedback`, where it lands in the production audit trail).
    #[arg(long)]
    pub reviewer: Option<String>,
    /// A comment with an approval (`--request-changes` and `--reject` carry theirs as their
    /// value).
    #[arg(long, value_name = "TEXT", requires = "approve")]
    pub comments: Option<String>,
    /// Field correction, `field=value` (repeatable), e.g. --correction tagline="Fresh daily".
    /// With --request-changes the agent applies it; with --approve it is an edit-and-approve:
    /// the draft with the corrections is the final version, without another agent round.
    #[arg(long = "correction", value_name = "FIELD=VALUE")]
    pub corrections: Vec<String>,
    /// Iteration decided (defaults to the workflow's current iteration).
    #[arg(long)]
    pub iteration: Option<i64>,
    /// Idempotency key: give the key a previous attempt printed to retry it (applied once);
    /// by default every submission gets a fresh random key, printed with the answer.
    #[arg(long)]
    pub key: Option<String>,
}

impl FeedbackArgs {
    /// The decision `--approve` / `--request-changes` name.
    pub fn decision(&self) -> Result<&'static str> {
        match (self.approve, &self.request_changes, &self.reject) {
            (true, _, _) => Ok("approve"),
            (false, Some(_), _) => Ok("request_changes"),
            (false, None, Some(_)) => Ok("reject"),
            (false, None, None) => {
                bail!("give --approve, --request-changes \"<comments>\" or --reject \"<reason>\"")
            }
        }
    }

    /// The request for `iteration` and its idempotency key: `--key`, or a fresh random one
    /// (a predictable key would let someone else's submission collide with it).
    pub fn request(&self, iteration: i64) -> Result<(FeedbackRequest, String)> {
        let decision = self.decision()?;
        let request = FeedbackRequest {
            iteration: Some(iteration),
            decision: Some(decision.to_owned()),
            comments: self
                .request_changes
                .clone()
                .or_else(|| self.reject.clone())
                .or_else(|| self.comments.clone()),
            corrections: parse_corrections(&self.corrections)?,
        };
        let key = self
            .key
            .clone()
            .unwrap_or_else(|| format!("cli-{}", uuid::Uuid::new_v4().simple()));
        Ok((request, key))
    }

    /// The reviewer of a local decision.
    pub fn local_reviewer(&self) -> String {
        self.reviewer
            .clone()
            .unwrap_or_else(|| "local-reviewer".to_owned())
    }
}

/// `hitl resolve`: one resolution of an escalated workflow.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["final_artifact", "corrections", "extend", "reassign", "abandon"])))]
pub struct ResolveArgs {
    /// Workflow id.
    pub workflow_id: String,
    /// Resolve with this final artifact (inline JSON or @file.json).
    #[arg(long = "final", value_name = "JSON|@FILE", conflicts_with_all = ["corrections", "extend", "reassign", "abandon"])]
    pub final_artifact: Option<String>,
    /// Resolve with the newest draft corrected: `field=value` (repeatable).
    #[arg(long = "correction", value_name = "FIELD=VALUE", conflicts_with_all = ["extend", "reassign", "abandon"])]
    pub corrections: Vec<String>,
    /// Grant N more iterations; the same execution regenerates.
    #[arg(long, value_name = "N", conflicts_with_all = ["reassign", "abandon"])]
    pub extend: Option<i64>,
    /// Guidance for the agent's next draft (with --extend).
    #[arg(long, requires = "extend")]
    pub guidance: Option<String>,
    /// Hand the current draft to this reviewer group.
    #[arg(long, value_name = "GROUP", conflicts_with = "abandon")]
    pub reassign: Option<String>,
    /// New review SLA for the reassigned draft (e.g. 24h; with --reassign).
    #[arg(long, requires = "reassign")]
    pub review_timeout: Option<String>,
    /// Stop the workflow for good (give --reason).
    #[arg(long, requires = "reason")]
    pub abandon: bool,
    /// Why (required with --abandon; optional when resolving).
    #[arg(long)]
    pub reason: Option<String>,
    /// Who resolves, recorded in the audit trail (locally `local-operator` when not given;
    /// required by `hitl aws resolve`).
    #[arg(long, value_name = "NAME", value_parser = resolver_name)]
    pub by: Option<String>,
    /// Idempotency key (as for `hitl feedback`).
    #[arg(long)]
    pub key: Option<String>,
}

impl ResolveArgs {
    /// The request for the escalated `iteration`, and its idempotency key.
    pub fn request(&self, iteration: i64) -> Result<(ResolutionRequest, String)> {
        let mut request = ResolutionRequest {
            iteration: Some(iteration),
            reason: self.reason.clone(),
            ..ResolutionRequest::default()
        };
        if let Some(text) = &self.final_artifact {
            request.action = Some("resolve".into());
            request.final_artifact = Some(read_input(text).context("--final")?);
        } else if !self.corrections.is_empty() {
            request.action = Some("resolve".into());
            request.corrections = parse_corrections(&self.corrections)?;
        } else if let Some(n) = self.extend {
            request.action = Some("extend".into());
            request.iterations = Some(n);
            request.guidance = self.guidance.clone();
        } else if let Some(group) = &self.reassign {
            request.action = Some("reassign".into());
            request.reviewer_group = Some(group.clone());
            if let Some(t) = &self.review_timeout {
                let t = parse_duration(t).map_err(|e| anyhow!("--review-timeout: {e}"))?;
                request.review_timeout_seconds = Some(t.num_seconds());
            }
        } else if self.abandon {
            request.action = Some("abandon".into());
        } else {
            bail!("give one of --final, --correction, --extend, --reassign or --abandon");
        }
        let key = self
            .key
            .clone()
            .unwrap_or_else(|| format!("cli-{}", uuid::Uuid::new_v4().simple()));
        Ok((request, key))
    }

    /// The action's name, for messages.
    pub fn action(&self) -> &'static str {
        if self.final_artifact.is_some() || !self.corrections.is_empty() {
            "resolve"
        } else if self.extend.is_some() {
            "extend"
        } else if self.reassign.is_some() {
            "reassign"
        } else {
            "abandon"
        }
    }
}

/// `--by NAME`: the name recorded with the resolution, checked before anything is sent, so an
/// empty `--by "$USER"` (USER unset) is refused naming the flag the user typed.
fn resolver_name(name: &str) -> std::result::Result<String, String> {
    if name.trim().is_empty() {
        return Err("the name recorded with the resolution is empty; give 1..=128 characters (is $USER set?)".to_owned());
    }
    if name.len() > 128 {
        return Err(format!(
            "the name recorded with the resolution must be 1..=128 characters, got {}",
            name.len()
        ));
    }
    Ok(name.to_owned())
}

/// Reads a file the user named; a relative path that is not there says which directory it was
/// looked up in (the examples in README.md are relative to the repository root).
pub fn read_file(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => {
            format!("reading {} (relative to {})", path.display(), cwd.display())
        }
        _ => format!("reading {}", path.display()),
    })
}

pub fn read_input(text: &str) -> Result<Value> {
    let raw = match text.strip_prefix('@') {
        Some(path) => read_file(std::path::Path::new(path))?,
        None => text.to_owned(),
    };
    serde_json::from_str(&raw).context("input is not valid JSON")
}

/// The start request `args` describe (the state machine's input) and its subjects.
/// `smoke` asks for a smoke batch; subjects are then optional (synthetic ones are used).
pub fn start_input(
    args: &StartArgs,
    request_id: &str,
    smoke: bool,
    types: &hitl_domain::types::TypeRegistry,
) -> Result<(Value, Vec<Subject>)> {
    let artifact_type = types
        .current(&args.artifact_type)
        .map_err(|e| anyhow!("--type: {e}"))?;
    let subjects: Vec<Subject> = match (&args.subjects_file, &args.subject) {
        (Some(path), _) => {
            let value = read_input(&format!("@{}", path.display()))?;
            match value {
                Value::Array(_) => serde_json::from_value(value),
                other => serde_json::from_value(other).map(|s| vec![s]),
            }
            .context("subjects must be objects with id, name and optional category/attributes")?
        }
        (None, Some(inline)) => vec![serde_json::from_value(read_input(inline)?)
            .context("--subject must be an object with id and name")?],
        (None, None) if smoke => vec![],
        (None, None) => bail!("give --subject '<json>' or --subjects-file <file>"),
    };
    let timeout = parse_duration(&args.review_timeout).map_err(|e| anyhow!(e))?;
    let escalation_timeout = parse_duration(&args.escalation_timeout)
        .map_err(|e| anyhow!("--escalation-timeout: {e}"))?;
    let claim_ttl = parse_duration(&args.claim_ttl).map_err(|e| anyhow!("--claim-ttl: {e}"))?;
    let reminders: Option<Vec<i64>> = match args.reminders.as_deref().map(str::trim) {
        None => None,
        Some("none" | "") => Some(Vec::new()),
        Some(list) => Some(
            list.split(',')
                .map(|o| {
                    parse_duration(o.trim())
                        .map(|d| d.num_seconds())
                        .map_err(|e| anyhow!("--reminders: {e}"))
                })
                .collect::<Result<_>>()?,
        ),
    };
    let mut input = json!({
        "action": "start_workflow",
        "request_id": request_id,
        "config": {
            "max_iterations": args.max_iterations,
            "batch_size": args.batch_size,
            "review_timeout_seconds": timeout.num_seconds(),
            "reviewer_group": args.reviewer_group,
            "escalation_group": args.escalation_group,
            "escalation_timeout_seconds": escalation_timeout.num_seconds(),
            "required_approvals": args.required_approvals,
            "claim_ttl_seconds": claim_ttl.num_seconds(),
            "artifact_type": artifact_type.reference(),
        },
    });
    if let Some(reminders) = reminders {
        input["config"]["reminders"] = json!(reminders);
    }
    if smoke {
        input["smoke"] = json!(true);
    }
    if !subjects.is_empty() {
        input["subjects"] = json!(subjects);
    }
    Ok((input, subjects))
}

/// The start request's fields and the flags that set them, so a refusal names what the user
/// typed (`--batch-size`, not `config.batch_size`).
const START_FLAGS: [(&str, &str); 11] = [
    ("config.artifact_type", "--type"),
    ("config.max_iterations", "--max-iterations"),
    ("config.batch_size", "--batch-size"),
    ("config.review_timeout_seconds", "--review-timeout"),
    ("config.reviewer_group", "--reviewer-group"),
    ("config.escalation_group", "--escalation-group"),
    ("config.escalation_timeout_seconds", "--escalation-timeout"),
    ("config.required_approvals", "--required-approvals"),
    ("config.claim_ttl_seconds", "--claim-ttl"),
    ("config.reminders", "--reminders"),
    ("request_id", "--request-id"),
];

/// Checks a start request with the PlanBatch task's own rules before anything starts; a
/// refusal lists every bad field under the flag that set it.
pub fn check_start(
    input: &Value,
    request_id: &str,
    types: &hitl_domain::types::TypeRegistry,
) -> Result<hitl_domain::contracts::PlanOutput> {
    match hitl_domain::contracts::plan_batch_in(types, input, request_id) {
        Ok(plan) => Ok(plan),
        Err(hitl_domain::HandlerError::InvalidInput(errors)) => {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| {
                    let mut text = format!("{}: {}", e.field, e.message);
                    for (field, flag) in START_FLAGS {
                        text = text.replace(field, flag);
                    }
                    text
                })
                .collect();
            bail!(
                "start request refused, nothing started: {}",
                lines.join("; ")
            )
        }
        Err(other) => bail!("start request refused, nothing started: {other}"),
    }
}

/// A feedback or resolution refusal that names the `--correction` the user typed instead of
/// the request's `corrections[i]` (`--correction colors.primary: must be #RRGGBB`).
pub fn name_corrections(err: anyhow::Error, typed: &[Correction]) -> anyhow::Error {
    let Some(hitl_domain::feedback::FeedbackError::Invalid(errors)) =
        err.downcast_ref::<hitl_domain::feedback::FeedbackError>()
    else {
        return err;
    };
    let lines: Vec<String> = errors
        .iter()
        .map(|e| {
            let field = e
                .field
                .strip_prefix("corrections[")
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(i, part)| {
                    let c = typed.get(i.parse::<usize>().ok()?)?;
                    Some(match part {
                        ".field" => format!("--correction {}=…: field {:?}", c.field, c.field),
                        _ => format!("--correction {}", c.field),
                    })
                })
                .unwrap_or_else(|| match e.field.as_str() {
                    "corrections" => "--correction".to_owned(),
                    other => other.to_owned(),
                });
            format!("{field}: {}", e.message)
        })
        .collect();
    anyhow!("invalid feedback: {}", lines.join("; "))
}

fn parse_corrections(raw: &[String]) -> Result<Vec<Correction>> {
    raw.iter()
        .map(|c| {
            let (field, value) = c
                .split_once('=')
                .ok_or_else(|| anyhow!("--correction {c:?}: expected field=value"))?;
            Ok(Correction {
                field: field.trim().to_owned(),
                value: value.to_owned(),
            })
        })
        .collect()
}

/// Who drafts the artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Generator {
    /// The offline, deterministic generator (no model, no network).
    Local,
    /// An OpenAI-compatible chat-completions endpoint (`--base-url`, `--model`).
    Openai,
}

/// The drafting agent the flags name; `--generator openai` needs `--base-url` and `--model`.
pub fn generator(
    kind: Generator,
    base_url: &Option<String>,
    model: &Option<String>,
    api_key_env: &Option<String>,
) -> anyhow::Result<std::sync::Arc<dyn hitl_domain::ports::MetadataAgent>> {
    Ok(match kind {
        Generator::Local => std::sync::Arc::new(hitl_domain::metadata::LocalGenerator),
        Generator::Openai => {
            let (Some(base_url), Some(model)) = (base_url, model) else {
                anyhow::bail!(
                    "--generator openai needs --base-url (e.g. http://127.0.0.1:11434/v1) and --model (e.g. llama3.1)"
                );
            };
            std::sync::Arc::new(hitl_generators::OpenAiCompatible::from_settings(
                base_url,
                model,
                api_key_env.as_deref(),
            )?)
        }
    })
}
