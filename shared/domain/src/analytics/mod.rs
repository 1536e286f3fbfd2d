//! Learning analytics over finished and running workflows: pure functions, no I/O.
//!
//! [`compute`] turns workflow records plus their feedback audit trail into a serialisable
//! [`Report`]; [`render_table`], [`render_json`] and [`render_html`] present it.
//!
//! # Which workflows a report counts
//!
//! * **Completed** means *approved, or escalated and finished with*: resolved, abandoned, or
//!   left unresolved past the escalation SLA (and escalations recorded without any escalation
//!   details, which predate resolutions). A terminal workflow is in the window when its
//!   `completed_at` (falling back to `updated_at` for records written without it) lies in
//!   `[since, until)`. Every completed-only figure (first-draft approval rate, iterations to
//!   approval, escalation rates, the weekly trend) uses these workflows and no others.
//! * **Awaiting resolution** means escalated and still waiting for a person's resolution
//!   (status `escalated`, not resolved, not marked unresolved; see [`awaits_resolution`]). Its
//!   outcome is not known yet, so it is in no completed-only figure: it is counted apart, like
//!   an in-progress workflow (when `created_at < until`, whatever `since` says).
//! * **Failed** workflows are windowed the same way but counted separately: they are in no
//!   rate's numerator or denominator (a failure says nothing about the reviewers or the agent).
//! * **In progress** means not terminal (`generating`, `awaiting_review`, `revising`). These are
//!   counted when `created_at < until`, whatever `since` says: a workflow open for longer than
//!   the window is exactly the one a reader wants to see.
//! * Smoke-test workflows (`smoke` set, decided by the synthetic reviewer) are left out unless
//!   [`ReportOptions::include_smoke`] is set; how many were left out is reported.
//! * The optional filters compare `config.reviewer_group`, `subject.category` and the artifact
//!   type's name (`config.artifact_type.name`) for equality.
//!
//! The workflows that pass these rules are the report's *scope*. Reviewer turnaround, the
//! most-corrected fields, the feedback themes and the problematic subjects draw on every
//! workflow in scope (completed, failed and in progress alike).
//!
//! # Percentiles
//!
//! Medians and p90s use the **nearest-rank** method: for `n` sorted values `x₁ ≤ … ≤ xₙ`, the
//! p-th percentile is `x_k` with `k = ⌈p·n/100⌉` (at least 1). The result is always one of the
//! observed values (no interpolation); the median of an even count is the lower middle value.
//! See [`nearest_rank`].
//!
//! # Rates
//!
//! A rate is `None` (JSON `null`) when its denominator is zero, never NaN.

#[cfg(any(test, feature = "test-support"))]
pub mod fixture;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::model::{
    Decision, EscalationReason, FeedbackEntry, FeedbackOutcome, Workflow, WorkflowStatus,
};

/// Default of [`ReportOptions::stale_rounds`].
pub const DEFAULT_STALE_ROUNDS: u32 = 3;
/// Default of [`ReportOptions::top_n`].
pub const DEFAULT_TOP_N: usize = 10;

/// Words dropped from comments before counting themes (after lowercasing and stripping
/// apostrophes). Deliberately small: negations and intensifiers such as `not`, `too`, `more`
/// carry meaning in review comments and are kept.
pub const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "do", "for",
    "from", "has", "have", "i", "if", "in", "is", "it", "its", "just", "me", "my", "of", "on",
    "or", "our", "please", "should", "so", "that", "the", "their", "them", "there", "these",
    "this", "those", "to", "us", "was", "we", "were", "will", "with", "would", "you", "your",
];

/// What to count and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportOptions {
    /// Inclusive lower bound (on `completed_at` for terminal workflows); `None` = unbounded.
    pub since: Option<DateTime<Utc>>,
    /// Exclusive upper bound (on `completed_at` for terminal workflows, `created_at` for open
    /// ones); `None` = unbounded.
    pub until: Option<DateTime<Utc>>,
    /// Only workflows whose `config.reviewer_group` equals this.
    pub reviewer_group: Option<String>,
    /// Only workflows whose `subject.category` equals this.
    pub category: Option<String>,
    /// Only workflows of this artifact type (its name; every version), issue 28.
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// A workflow that reached this many rounds (iterations) is listed as problematic.
    pub stale_rounds: u32,
    /// Length of the most-corrected-fields and feedback-theme lists.
    pub top_n: usize,
    /// Count smoke-test workflows too.
    pub include_smoke: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            since: None,
            until: None,
            reviewer_group: None,
            category: None,
            artifact_type: None,
            stale_rounds: DEFAULT_STALE_ROUNDS,
            top_n: DEFAULT_TOP_N,
            include_smoke: false,
        }
    }
}

/// The whole report; every figure is plain data, ready for any renderer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The options the report was computed with.
    pub options: ReportOptions,
    /// How many workflows fall in each bucket of the scope.
    pub counts: Counts,
    /// Approved at iteration 1 / completed.
    pub first_draft_approval: Ratio,
    /// How many iterations approved workflows needed.
    pub iterations_to_approval: IterationDistribution,
    /// Escalated / completed, overall and per reason.
    pub escalations: EscalationFigures,
    /// Fields reviewers corrected most often, most first.
    pub most_corrected_fields: Vec<FieldCount>,
    /// Words and two-word phrases that recur in change requests.
    pub feedback_themes: FeedbackThemes,
    /// Escalated workflows and workflows that reached `stale_rounds` rounds.
    pub problematic_subjects: Vec<ProblemSubject>,
    /// Time from review request to decision.
    pub reviewer_turnaround: Turnaround,
    /// The reviewers' inbox: claims, multi-reviewer approvals, edit-and-approve.
    #[serde(default)]
    pub inbox: InboxFigures,
    /// Per ISO week of completion, oldest first, contiguous from the first to the last week.
    pub weekly: Vec<WeekTrend>,
    /// Per generator (the one that drafted a workflow's first draft): how many human rounds
    /// its workflows needed and what its drafts cost. Empty for records older than issue 29.
    #[serde(default)]
    pub generators: Vec<GeneratorFigures>,
    /// Per artifact type (issue 28): how its workflows went. With the `artifact_type` option,
    /// every other figure (corrected paths included) is that type's alone.
    #[serde(default)]
    pub artifact_types: Vec<TypeFigures>,
}

/// How one artifact type's workflows went (every version of the type together).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TypeFigures {
    /// The type's name.
    pub artifact_type: String,
    /// Workflows in scope of this type.
    pub workflows: usize,
    /// Of those, completed (approved or escalated).
    pub completed: usize,
    /// Approved at iteration 1 / completed.
    pub first_draft_approval: Ratio,
    /// Escalated / completed.
    pub escalation_rate: Ratio,
    /// Mean iterations approved workflows needed (`None` without approvals).
    pub mean_iterations_to_approval: Option<f64>,
    /// Versions of the type its workflows were judged by, sorted.
    pub versions: Vec<String>,
}

/// The per-type figures over the workflows in scope with the bin each fell in.
fn type_figures(scope: &[(&Workflow, Bin)]) -> Vec<TypeFigures> {
    // (figures, first-draft approvals, escalated, iterations of approvals)
    let mut by: BTreeMap<&str, (TypeFigures, usize, usize, Vec<u32>)> = BTreeMap::new();
    for (workflow, bin) in scope {
        let reference = &workflow.config.artifact_type;
        let (figures, first_draft, escalated, iterations) =
            by.entry(reference.name.as_str()).or_insert_with(|| {
                (
                    TypeFigures {
                        artifact_type: reference.name.clone(),
                        ..TypeFigures::default()
                    },
                    0,
                    0,
                    Vec::new(),
                )
            });
        figures.workflows += 1;
        if !figures.versions.contains(&reference.version) {
            figures.versions.push(reference.version.clone());
        }
        match bin {
            Bin::Approved => {
                figures.completed += 1;
                let iteration = approval_iteration(workflow);
                iterations.push(iteration);
                if iteration == 1 {
                    *first_draft += 1;
                }
            }
            Bin::Escalated => {
                figures.completed += 1;
                *escalated += 1;
            }
            _ => {}
        }
    }
    by.into_values()
        .map(|(mut figures, first_draft, escalated, iterations)| {
            figures.first_draft_approval = Ratio::new(first_draft, figures.completed);
            figures.escalation_rate = Ratio::new(escalated, figures.completed);
            figures.mean_iterations_to_approval = (!iterations.is_empty()).then(|| {
                iterations.iter().map(|&i| f64::from(i)).sum::<f64>() / iterations.len() as f64
            });
            figures.versions.sort();
            figures
        })
        .collect()
}

/// What one generator's workflows needed and cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorFigures {
    /// `local-generator`, `openai:<model>`, `bedrock:<model>`, `bedrock-agent:…`.
    pub generator: String,
    /// Workflows in scope whose first draft it made.
    pub workflows: usize,
    /// Of those, completed (approved or escalated).
    pub completed: usize,
    /// Approved at iteration 1 / completed.
    pub first_draft_approval: Ratio,
    /// Mean iterations approved workflows needed (`None` without approvals).
    pub mean_iterations_to_approval: Option<f64>,
    /// Drafts it made (every iteration of its workflows).
    pub drafts: usize,
    /// Prompt tokens over those drafts (drafts whose generator reported usage).
    pub input_tokens: u64,
    /// Completion tokens over those drafts.
    pub output_tokens: u64,
    /// Tokens (in + out) of its approved workflows per approved workflow.
    pub tokens_per_approved: Option<f64>,
    /// What its drafts cost, at the prices the report was given (`None` without a price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// Cost of its approved workflows' drafts per approved workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_approved: Option<f64>,
    /// Approved workflows, and the prompt and completion tokens of their drafts: what
    /// [`Report::priced`] needs, kept so pricing does not read the workflows again.
    #[serde(skip)]
    approved: (usize, u64, u64),
}

/// A model's price, in currency units per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// Per million prompt tokens.
    pub input_per_million: f64,
    /// Per million completion tokens.
    pub output_per_million: f64,
}

impl Price {
    /// What `input` and `output` tokens cost.
    pub fn of(&self, input: u64, output: u64) -> f64 {
        (input as f64 * self.input_per_million + output as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

/// `GENERATOR=IN/OUT`: a generator's prices per million prompt and completion tokens
/// (`openai:gpt-4o-mini=0.15/0.60`; the name may hold `:` and `=`, the last `=` splits).
pub fn parse_price(text: &str) -> Result<(String, Price), String> {
    let (generator, prices) = text.rsplit_once('=').ok_or_else(|| {
        format!("{text:?}: expected GENERATOR=IN/OUT, e.g. openai:gpt-4o-mini=0.15/0.60")
    })?;
    let (input, output) = prices.split_once('/').ok_or_else(|| {
        format!("{prices:?}: expected IN/OUT prices per million tokens, e.g. 0.15/0.60")
    })?;
    let number = |what: &str, v: &str| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|p| p.is_finite() && *p >= 0.0)
            .ok_or_else(|| format!("{what} price {v:?} is not a non-negative number"))
    };
    if generator.trim().is_empty() {
        return Err(format!("{text:?}: the generator name is empty"));
    }
    Ok((
        generator.trim().to_owned(),
        Price {
            input_per_million: number("input", input)?,
            output_per_million: number("output", output)?,
        },
    ))
}

/// A comma-separated list of [`parse_price`] entries (the `HITL_PRICES` setting); blank is no
/// prices. Every bad entry is reported, by position.
pub fn parse_prices(list: &str) -> Result<BTreeMap<String, Price>, String> {
    let mut prices = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, entry) in list.split(',').map(str::trim).enumerate() {
        if entry.is_empty() {
            continue;
        }
        match parse_price(entry) {
            Ok((generator, price)) => {
                prices.insert(generator, price);
            }
            Err(why) => problems.push(format!("entry {}: {why}", i + 1)),
        }
    }
    if problems.is_empty() {
        Ok(prices)
    } else {
        Err(problems.join("; "))
    }
}

impl Report {
    /// Adds costs to the per-generator figures, at `prices` keyed by generator name.
    pub fn priced(mut self, prices: &BTreeMap<String, Price>) -> Self {
        for figures in &mut self.generators {
            let Some(price) = prices.get(&figures.generator) else {
                continue;
            };
            figures.cost = Some(price.of(figures.input_tokens, figures.output_tokens));
            let (approved, input, output) = figures.approved;
            figures.cost_per_approved =
                (approved > 0).then(|| price.of(input, output) / approved as f64);
        }
        self
    }
}

/// Who drafted the workflow's first draft.
pub fn first_generator(workflow: &Workflow) -> Option<&str> {
    workflow
        .drafts
        .iter()
        .min_by_key(|d| d.iteration)
        .map(|d| d.generator.as_str())
}

/// Prompt and completion tokens over the workflow's drafts.
fn tokens(workflow: &Workflow) -> (u64, u64) {
    workflow
        .drafts
        .iter()
        .filter_map(|d| d.usage.as_ref())
        .fold((0, 0), |(i, o), u| {
            (i + u.input_tokens, o + u.output_tokens)
        })
}

/// The per-generator figures over the workflows in scope with the bin each fell in.
fn generator_figures(scope: &[(&Workflow, Bin)]) -> Vec<GeneratorFigures> {
    let mut by: BTreeMap<&str, (GeneratorFigures, usize, Vec<u32>)> = BTreeMap::new();
    for (workflow, bin) in scope {
        let Some(generator) = first_generator(workflow) else {
            continue;
        };
        let entry = by.entry(generator).or_insert_with(|| {
            (
                GeneratorFigures {
                    generator: generator.to_owned(),
                    ..GeneratorFigures::default()
                },
                0,
                Vec::new(),
            )
        });
        let (figures, first_draft, iterations) = entry;
        figures.workflows += 1;
        figures.drafts += workflow.drafts.len();
        let (input, output) = tokens(workflow);
        figures.input_tokens += input;
        figures.output_tokens += output;
        if matches!(bin, Bin::Approved | Bin::Escalated) {
            figures.completed += 1;
        }
        if *bin == Bin::Approved {
            let iteration = approval_iteration(workflow);
            iterations.push(iteration);
            figures.approved.0 += 1;
            figures.approved.1 += input;
            figures.approved.2 += output;
            if iteration == 1 {
                *first_draft += 1;
            }
        }
    }
    by.into_values()
        .map(|(mut figures, first_draft, iterations)| {
            figures.first_draft_approval = Ratio::new(first_draft, figures.completed);
            let approved = iterations.len();
            figures.mean_iterations_to_approval = (approved > 0)
                .then(|| iterations.iter().map(|&i| f64::from(i)).sum::<f64>() / approved as f64);
            let (_, input, output) = figures.approved;
            figures.tokens_per_approved =
                (approved > 0).then(|| (input + output) as f64 / approved as f64);
            figures
        })
        .collect()
}

/// Workflow counts of the scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Approved + escalated (and finished with) in the window: the denominator of every rate.
    pub completed: usize,
    /// Approved in the window.
    pub approved: usize,
    /// Escalated and finished with (resolved, abandoned, left unresolved) in the window.
    pub escalated: usize,
    /// Failed in the window (in no rate).
    pub failed: usize,
    /// Not terminal, created before `until` (in no completed-only figure).
    pub in_progress: usize,
    /// Escalated and still waiting for a resolution, created before `until` (in no
    /// completed-only figure: the outcome is not known yet).
    #[serde(default)]
    pub awaiting_resolution: usize,
    /// Smoke-test workflows left out.
    pub smoke_excluded: usize,
}

/// A fraction whose rate is `None` when the denominator is zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// Numerator.
    pub count: usize,
    /// Denominator.
    pub of: usize,
    /// `count / of`, or `None` when `of == 0`.
    pub rate: Option<f64>,
}

impl Ratio {
    /// Builds the ratio; the rate is `None` for an empty denominator.
    pub fn new(count: usize, of: usize) -> Self {
        Self {
            count,
            of,
            rate: rate(count, of),
        }
    }
}

/// How reviewers worked the inbox.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InboxFigures {
    /// Review decisions on a claimed iteration, of all review decisions.
    pub claimed: Ratio,
    /// From the review request to the first claim, over claimed iterations.
    pub time_to_claim: Turnaround,
    /// Approved iterations and the distinct approvers they had, on average.
    pub approvals_per_approved_iteration: Option<f64>,
    /// Approved iterations that needed more than one approval.
    pub multi_approval: usize,
    /// Approvals with corrections (edit and approve), of all approvals.
    pub edit_and_approve: Ratio,
    /// Reminders sent before the review decisions in scope.
    pub reminders_sent: usize,
    /// Review decisions that came only after at least one reminder, of all review decisions.
    pub decided_after_reminder: Ratio,
}

/// One histogram bucket: how many approved workflows needed exactly `iterations` drafts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Iteration at which the draft was approved.
    pub iterations: u32,
    /// Approved workflows.
    pub count: usize,
}

/// Distribution of the iteration at which approved workflows were approved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IterationDistribution {
    /// Approved workflows counted.
    pub count: usize,
    /// One bucket per iteration count from 1 to `max`, empty buckets included.
    pub histogram: Vec<Bucket>,
    /// Nearest-rank median.
    pub median: Option<u32>,
    /// Nearest-rank 90th percentile.
    pub p90: Option<u32>,
    /// Largest.
    pub max: Option<u32>,
}

/// Escalations overall and per reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationFigures {
    /// Escalated / completed.
    pub overall: Ratio,
    /// One entry per reason (all three always present, in declaration order), each over
    /// completed workflows; a record without an escalation reason adds an `unknown` entry.
    pub by_reason: Vec<ReasonCount>,
    /// What people did with escalations (every workflow in scope).
    #[serde(default)]
    pub resolutions: ResolutionFigures,
}

/// Escalation resolutions: how escalations were resolved, how long they waited, and how many
/// iterations `extend` granted. Over every workflow in scope (an extended or reassigned
/// workflow may have gone on to be approved).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolutionFigures {
    /// Resolved with a person's final artifact.
    pub resolve: usize,
    /// Given more iterations.
    pub extend: usize,
    /// Handed to another reviewer group.
    pub reassign: usize,
    /// Abandoned.
    pub abandon: usize,
    /// Left past the escalation SLA.
    pub unresolved: usize,
    /// Iterations granted by `extend`, in total.
    pub iterations_granted: u64,
    /// Time from escalation to resolution: resolutions counted.
    pub time_to_resolve: Turnaround,
}

/// Escalations of one reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonCount {
    /// `iteration_limit`, `no_progress`, `review_timeout` or `unknown`.
    pub reason: String,
    /// Escalated for this reason / completed.
    pub ratio: Ratio,
}

/// How often one field was corrected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldCount {
    /// Dotted field path as the reviewer wrote it (trimmed).
    pub field: String,
    /// Corrections of this field.
    pub corrections: usize,
    /// Distinct workflows with at least one.
    pub workflows: usize,
}

/// A recurring word or phrase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermCount {
    /// The normalised word, or two words separated by one space.
    pub term: String,
    /// Feedback entries whose comments contain it (each entry counts once).
    pub entries: usize,
}

/// Themes of the change requests' comments; see [`normalise_comment`] for the rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackThemes {
    /// Applied `request_changes` entries with non-empty comments.
    pub comments_analysed: usize,
    /// Top words.
    pub words: Vec<TermCount>,
    /// Top two-word phrases.
    pub phrases: Vec<TermCount>,
}

/// A subject that needs a look.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemSubject {
    /// Workflow id.
    pub workflow_id: String,
    /// Subject id.
    pub subject_id: String,
    /// Subject name.
    pub subject_name: String,
    /// Subject category.
    pub category: Option<String>,
    /// Current status.
    pub status: WorkflowStatus,
    /// Rounds reached (see [`rounds`]).
    pub rounds: u32,
    /// Why it was escalated, if it was.
    pub escalation_reason: Option<EscalationReason>,
    /// Escalated and still waiting for a person's resolution (see [`awaits_resolution`]).
    #[serde(default)]
    pub awaiting_resolution: bool,
}

/// Reviewer turnaround: `decided_at − requested_at` of every applied decision in scope, on the
/// clock the decisions were recorded with (the virtual clock locally). Durations are whole
/// seconds, rounded down: a decision made within a second of the request counts as 0 and in
/// [`Turnaround::immediate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turnaround {
    /// Decisions counted.
    pub decisions: usize,
    /// Decisions made less than a second after the request: nobody waited (the smoke test's
    /// synthetic reviewer, a decision given at once). When it equals `decisions`, the figures
    /// are all 0 because nothing waited, not because a wait was measured as 0.
    #[serde(default)]
    pub immediate: usize,
    /// Nearest-rank median, whole seconds.
    pub median_seconds: Option<i64>,
    /// Nearest-rank 90th percentile, whole seconds.
    pub p90_seconds: Option<i64>,
    /// Longest, whole seconds.
    pub max_seconds: Option<i64>,
}

impl Turnaround {
    /// The figures of `sorted` (ascending, whole seconds).
    pub fn from_sorted(sorted: &[i64]) -> Self {
        Self {
            decisions: sorted.len(),
            immediate: sorted.iter().take_while(|&&s| s <= 0).count(),
            median_seconds: nearest_rank(sorted, 50),
            p90_seconds: nearest_rank(sorted, 90),
            max_seconds: sorted.last().copied(),
        }
    }

    /// Whether there were decisions and none of them waited a second or more.
    pub fn nothing_waited(&self) -> bool {
        self.decisions > 0 && self.immediate == self.decisions
    }
}

/// Completed workflows of one ISO week (Monday to Sunday, UTC) of `completed_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekTrend {
    /// ISO week label, e.g. `2026-W03`.
    pub week: String,
    /// The Monday the week starts on.
    pub week_start: NaiveDate,
    /// Approved + escalated.
    pub completed: usize,
    /// Approved.
    pub approved: usize,
    /// Escalated.
    pub escalated: usize,
    /// Approved / completed.
    pub approval_rate: Option<f64>,
    /// Escalated / completed.
    pub escalation_rate: Option<f64>,
    /// Approved at iteration 1 / completed.
    pub first_draft_approval_rate: Option<f64>,
    /// Nearest-rank median of the approval iteration of the week's approved workflows.
    pub median_iterations: Option<u32>,
}

/// `count / of`, or `None` when `of == 0`.
pub fn rate(count: usize, of: usize) -> Option<f64> {
    (of > 0).then(|| count as f64 / of as f64)
}

/// Nearest-rank percentile of ascending `sorted` values: `sorted[k − 1]` with
/// `k = max(1, ⌈p·n/100⌉)`; `None` for no values. `p` is clamped to 100.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: u32) -> Option<T> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let p = p.min(100) as usize;
    let rank = (p * n).div_ceil(100).clamp(1, n);
    sorted.get(rank - 1).copied()
}

/// Whether `workflow` is escalated and still waiting for a person's resolution: status
/// `escalated`, with its escalation details, not marked unresolved (the SLA has not passed).
/// Resolved and abandoned workflows have their own statuses; extended and reassigned ones are
/// open again. A record without escalation details predates resolutions and waits for nothing.
pub fn awaits_resolution(workflow: &Workflow) -> bool {
    workflow.status == WorkflowStatus::Escalated
        && workflow
            .escalation
            .as_ref()
            .is_some_and(|e| e.unresolved_at.is_none())
}

/// Rounds a workflow reached: the approving iteration for an approved workflow, the iteration
/// at escalation for an escalated one, the current iteration otherwise.
pub fn rounds(workflow: &Workflow) -> u32 {
    match workflow.status {
        WorkflowStatus::Approved => approval_iteration(workflow),
        WorkflowStatus::Escalated | WorkflowStatus::Resolved | WorkflowStatus::Abandoned => {
            workflow
                .escalation
                .as_ref()
                .map_or(workflow.iteration, |e| e.iteration)
        }
        _ => workflow.iteration,
    }
}

/// Iteration of the (last) approve decision, falling back to the current iteration.
fn approval_iteration(workflow: &Workflow) -> u32 {
    workflow
        .decisions
        .iter()
        .rev()
        .find(|d| d.decision == Decision::Approve)
        .map_or(workflow.iteration, |d| d.iteration)
}

/// Splits a comment into clauses of normalised words, stop words kept (so callers know which
/// words were adjacent). Rules, in order: lowercase; delete apostrophes (`'` and `’`, so
/// `don't` → `dont`); `.` `,` `;` `:` `!` `?` and line breaks end a clause; every other
/// character that is not alphanumeric separates words (`off-brand` → `off brand`).
fn clauses(comment: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut clause: Vec<String> = Vec::new();
    let mut word = String::new();
    for ch in comment.chars().flat_map(char::to_lowercase) {
        match ch {
            '\'' | '\u{2019}' => {}
            c if c.is_alphanumeric() => word.push(c),
            '.' | ',' | ';' | ':' | '!' | '?' | '\n' | '\r' => {
                if !word.is_empty() {
                    clause.push(std::mem::take(&mut word));
                }
                if !clause.is_empty() {
                    out.push(std::mem::take(&mut clause));
                }
            }
            _ => {
                if !word.is_empty() {
                    clause.push(std::mem::take(&mut word));
                }
            }
        }
    }
    if !word.is_empty() {
        clause.push(word);
    }
    if !clause.is_empty() {
        out.push(clause);
    }
    out
}

fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// The normalised words of a comment: lowercased, apostrophes deleted, split at every
/// non-alphanumeric character, [`STOP_WORDS`] dropped. Order kept, duplicates kept.
pub fn normalise_comment(comment: &str) -> Vec<String> {
    clauses(comment)
        .into_iter()
        .flatten()
        .filter(|w| !is_stop_word(w))
        .collect()
}

/// The two-word phrases of a comment: pairs of words that stand next to each other in the
/// same clause (no `.,;:!?` or line break between them) where neither is a stop word.
/// `"Tagline is too long"` gives only `too long`; `"too long; colors"` gives none across `;`.
pub fn comment_phrases(comment: &str) -> Vec<String> {
    let mut out = Vec::new();
    for clause in clauses(comment) {
        for pair in clause.windows(2) {
            if let [a, b] = pair {
                if !is_stop_word(a) && !is_stop_word(b) {
                    out.push(format!("{a} {b}"));
                }
            }
        }
    }
    out
}

/// Parses a look-back such as `30d`, `12h`, `2w`, `90m` or `45s` (a whole number and one
/// unit letter; surrounding spaces allowed).
pub fn parse_lookback(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let Some(unit) = text.chars().last() else {
        return Err("empty look-back; expected e.g. 30d, 12h or 2w".into());
    };
    let digits = &text[..text.len() - unit.len_utf8()];
    let amount: i64 = digits.parse().map_err(|_| {
        format!(
            "bad look-back {text:?}; expected a whole number and a unit (s, m, h, d, w), e.g. 30d"
        )
    })?;
    if amount < 0 {
        return Err(format!("look-back {text:?} must not be negative"));
    }
    let seconds_per_unit: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        other => {
            return Err(format!(
                "unknown unit {other:?} in look-back {text:?}; use s, m, h, d or w"
            ))
        }
    };
    amount
        .checked_mul(seconds_per_unit)
        .and_then(Duration::try_seconds)
        .ok_or_else(|| format!("look-back {text:?} is too long"))
}

/// Which part of the scope a workflow belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bin {
    Approved,
    Escalated,
    Failed,
    InProgress,
    AwaitingResolution,
}

fn in_window(at: DateTime<Utc>, options: &ReportOptions) -> bool {
    !matches!(options.since, Some(since) if at < since)
        && !matches!(options.until, Some(until) if at >= until)
}

fn bin(workflow: &Workflow, options: &ReportOptions) -> Option<Bin> {
    if let Some(group) = &options.reviewer_group {
        if &workflow.config.reviewer_group != group {
            return None;
        }
    }
    if let Some(category) = &options.category {
        if workflow.subject.category.as_ref() != Some(category) {
            return None;
        }
    }
    if let Some(artifact_type) = &options.artifact_type {
        if &workflow.config.artifact_type.name != artifact_type {
            return None;
        }
    }
    let open_by_until = !matches!(options.until, Some(until) if workflow.created_at >= until);
    if !workflow.status.is_terminal() {
        return open_by_until.then_some(Bin::InProgress);
    }
    if awaits_resolution(workflow) {
        return open_by_until.then_some(Bin::AwaitingResolution);
    }
    let completed_at = workflow.completed_at.unwrap_or(workflow.updated_at);
    if !in_window(completed_at, options) {
        return None;
    }
    Some(match workflow.status {
        WorkflowStatus::Approved => Bin::Approved,
        // A resolved, abandoned or unresolved workflow was escalated: it counts as an escalation.
        WorkflowStatus::Escalated | WorkflowStatus::Resolved | WorkflowStatus::Abandoned => {
            Bin::Escalated
        }
        _ => Bin::Failed,
    })
}

/// Sorts by count (descending), then term (ascending), and keeps `top_n`.
fn top_terms(counts: BTreeMap<String, usize>, top_n: usize) -> Vec<TermCount> {
    let mut terms: Vec<TermCount> = counts
        .into_iter()
        .map(|(term, entries)| TermCount { term, entries })
        .collect();
    // BTreeMap order is by term already; a stable sort by count keeps it within ties.
    terms.sort_by_key(|t| std::cmp::Reverse(t.entries));
    terms.truncate(top_n);
    terms
}

fn applied_change_requests(entries: &[FeedbackEntry]) -> impl Iterator<Item = &FeedbackEntry> {
    entries.iter().filter(|e| {
        e.decision == Decision::RequestChanges
            && matches!(e.outcome, FeedbackOutcome::Applied { .. })
    })
}

/// Computes the report. `feedback` maps a workflow id to its feedback audit trail (applied and
/// rejected entries; only applied `request_changes` entries are counted). Workflows absent
/// from the map simply have no feedback. Deterministic: the order of `workflows` does not
/// matter.
pub fn compute(
    workflows: &[Workflow],
    feedback: &HashMap<String, Vec<FeedbackEntry>>,
    options: &ReportOptions,
) -> Report {
    let mut counts = Counts::default();
    let mut scope: Vec<(&Workflow, Bin)> = Vec::new();
    for workflow in workflows {
        if workflow.smoke.is_some() && !options.include_smoke {
            counts.smoke_excluded += 1;
            continue;
        }
        if let Some(bin) = bin(workflow, options) {
            scope.push((workflow, bin));
        }
    }
    scope.sort_by(|a, b| a.0.id.cmp(&b.0.id));

    // Completed-only figures.
    let mut approval_iterations: Vec<u32> = Vec::new();
    let mut first_draft = 0usize;
    let mut reasons: BTreeMap<Option<EscalationReason>, usize> = BTreeMap::new();
    // (week start) -> (completed, approved, escalated, first-draft, approval iterations)
    let mut weeks: BTreeMap<NaiveDate, (usize, usize, usize, usize, Vec<u32>)> = BTreeMap::new();
    for (workflow, bin) in &scope {
        match bin {
            Bin::Failed => counts.failed += 1,
            Bin::InProgress => counts.in_progress += 1,
            Bin::AwaitingResolution => counts.awaiting_resolution += 1,
            Bin::Approved | Bin::Escalated => {
                counts.completed += 1;
                let completed_at = workflow.completed_at.unwrap_or(workflow.updated_at);
                let week = weeks.entry(week_start(completed_at)).or_default();
                week.0 += 1;
                if *bin == Bin::Approved {
                    counts.approved += 1;
                    let iteration = approval_iteration(workflow);
                    approval_iterations.push(iteration);
                    week.1 += 1;
                    week.4.push(iteration);
                    if iteration == 1 {
                        first_draft += 1;
                        week.3 += 1;
                    }
                } else {
                    counts.escalated += 1;
                    week.2 += 1;
                    *reasons
                        .entry(workflow.escalation.as_ref().map(|e| e.reason))
                        .or_default() += 1;
                }
            }
        }
    }

    approval_iterations.sort_unstable();
    let max = approval_iterations.last().copied();
    let histogram = (1..=max.unwrap_or(0))
        .map(|iterations| Bucket {
            iterations,
            count: approval_iterations
                .iter()
                .filter(|&&i| i == iterations)
                .count(),
        })
        .collect();
    let iterations_to_approval = IterationDistribution {
        count: approval_iterations.len(),
        histogram,
        median: nearest_rank(&approval_iterations, 50),
        p90: nearest_rank(&approval_iterations, 90),
        max,
    };

    let mut by_reason: Vec<ReasonCount> = [
        EscalationReason::IterationLimit,
        EscalationReason::NoProgress,
        EscalationReason::ReviewTimeout,
        EscalationReason::InvalidDraft,
        EscalationReason::RejectedByReviewer,
    ]
    .into_iter()
    .map(|reason| ReasonCount {
        reason: reason.as_str().to_owned(),
        ratio: Ratio::new(
            reasons.get(&Some(reason)).copied().unwrap_or(0),
            counts.completed,
        ),
    })
    .collect();
    if let Some(&unknown) = reasons.get(&None) {
        by_reason.push(ReasonCount {
            reason: "unknown".into(),
            ratio: Ratio::new(unknown, counts.completed),
        });
    }

    let weekly = weekly_trend(weeks);

    // Figures over the whole scope.
    let mut turnaround: Vec<i64> = Vec::new();
    let mut fields: BTreeMap<String, (usize, BTreeSet<&str>)> = BTreeMap::new();
    let mut words: BTreeMap<String, usize> = BTreeMap::new();
    let mut phrases: BTreeMap<String, usize> = BTreeMap::new();
    let mut comments_analysed = 0usize;
    let mut problematic: Vec<ProblemSubject> = Vec::new();
    let mut resolutions = ResolutionFigures::default();
    let mut waits: Vec<i64> = Vec::new();
    let mut to_claim: Vec<i64> = Vec::new();
    let (mut reviewed, mut claimed, mut approvals, mut approvers, mut multi, mut edited) =
        (0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    let (mut reminders_sent, mut after_reminder) = (0usize, 0usize);
    for (workflow, _) in &scope {
        for d in workflow
            .decisions
            .iter()
            .filter(|d| !d.decision.is_resolution())
        {
            reviewed += 1;
            reminders_sent += d.reminders_sent as usize;
            after_reminder += usize::from(d.reminders_sent > 0);
            if let Some(at) = d.claimed_at {
                claimed += 1;
                to_claim.push((at - d.requested_at).num_seconds().max(0));
            }
            if d.decision == Decision::Approve {
                approvals += 1;
                approvers += 1 + d.co_approvers.len();
                multi += usize::from(!d.co_approvers.is_empty());
                edited += usize::from(d.edited);
            }
        }
        turnaround.extend(
            workflow
                .decisions
                .iter()
                .filter(|d| !d.decision.is_resolution())
                .map(|d| (d.decided_at - d.requested_at).num_seconds().max(0)),
        );
        let entries = feedback.get(&workflow.id).map_or(&[][..], Vec::as_slice);
        for d in workflow
            .decisions
            .iter()
            .filter(|d| d.decision.is_resolution())
        {
            match d.decision {
                Decision::Resolve => resolutions.resolve += 1,
                Decision::Extend => resolutions.extend += 1,
                Decision::Reassign => resolutions.reassign += 1,
                _ => resolutions.abandon += 1,
            }
            waits.push((d.decided_at - d.requested_at).num_seconds().max(0));
        }
        resolutions.iterations_granted += entries
            .iter()
            .filter(|e| {
                e.decision == Decision::Extend
                    && matches!(e.outcome, FeedbackOutcome::Applied { .. })
            })
            .filter_map(|e| e.resolution.as_ref()?.extra_iterations)
            .map(u64::from)
            .sum::<u64>();
        if workflow
            .escalation
            .as_ref()
            .is_some_and(|e| e.unresolved_at.is_some())
        {
            resolutions.unresolved += 1;
        }
        for entry in applied_change_requests(entries) {
            for correction in &entry.corrections {
                let field = correction.field.trim();
                if field.is_empty() {
                    continue;
                }
                let slot = fields.entry(field.to_owned()).or_default();
                slot.0 += 1;
                slot.1.insert(workflow.id.as_str());
            }
            let entry_words: BTreeSet<String> =
                normalise_comment(&entry.comments).into_iter().collect();
            if entry_words.is_empty() {
                continue;
            }
            comments_analysed += 1;
            for word in entry_words {
                *words.entry(word).or_default() += 1;
            }
            let entry_phrases: BTreeSet<String> =
                comment_phrases(&entry.comments).into_iter().collect();
            for phrase in entry_phrases {
                *phrases.entry(phrase).or_default() += 1;
            }
        }
        let reached = rounds(workflow);
        if matches!(
            workflow.status,
            WorkflowStatus::Escalated | WorkflowStatus::Resolved | WorkflowStatus::Abandoned
        ) || reached >= options.stale_rounds
        {
            problematic.push(ProblemSubject {
                workflow_id: workflow.id.clone(),
                subject_id: workflow.subject.id.clone(),
                subject_name: workflow.subject.name.clone(),
                category: workflow.subject.category.clone(),
                status: workflow.status,
                rounds: reached,
                escalation_reason: workflow.escalation.as_ref().map(|e| e.reason),
                awaiting_resolution: awaits_resolution(workflow),
            });
        }
    }
    // Scope is sorted by id, so a stable sort by rounds keeps ids ascending within ties.
    problematic.sort_by_key(|p| std::cmp::Reverse(p.rounds));
    turnaround.sort_unstable();
    waits.sort_unstable();
    to_claim.sort_unstable();
    let inbox = InboxFigures {
        claimed: Ratio::new(claimed, reviewed),
        time_to_claim: Turnaround::from_sorted(&to_claim),
        approvals_per_approved_iteration: (approvals > 0)
            .then(|| approvers as f64 / approvals as f64),
        multi_approval: multi,
        edit_and_approve: Ratio::new(edited, approvals),
        reminders_sent,
        decided_after_reminder: Ratio::new(after_reminder, reviewed),
    };
    resolutions.time_to_resolve = Turnaround::from_sorted(&waits);

    let mut most_corrected_fields: Vec<FieldCount> = fields
        .into_iter()
        .map(|(field, (corrections, workflows))| FieldCount {
            field,
            corrections,
            workflows: workflows.len(),
        })
        .collect();
    most_corrected_fields.sort_by_key(|f| std::cmp::Reverse(f.corrections));
    most_corrected_fields.truncate(options.top_n);

    Report {
        options: options.clone(),
        first_draft_approval: Ratio::new(first_draft, counts.completed),
        escalations: EscalationFigures {
            overall: Ratio::new(counts.escalated, counts.completed),
            by_reason,
            resolutions,
        },
        counts,
        iterations_to_approval,
        most_corrected_fields,
        feedback_themes: FeedbackThemes {
            comments_analysed,
            words: top_terms(words, options.top_n),
            phrases: top_terms(phrases, options.top_n),
        },
        problematic_subjects: problematic,
        reviewer_turnaround: Turnaround::from_sorted(&turnaround),
        inbox,
        weekly,
        generators: generator_figures(&scope),
        artifact_types: type_figures(&scope),
    }
}

/// The Monday (UTC) of the ISO week containing `at`.
fn week_start(at: DateTime<Utc>) -> NaiveDate {
    let date = at.date_naive();
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

type WeekTally = (usize, usize, usize, usize, Vec<u32>);

fn weekly_trend(weeks: BTreeMap<NaiveDate, WeekTally>) -> Vec<WeekTrend> {
    let (Some(&first), Some(&last)) = (weeks.keys().next(), weeks.keys().next_back()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut monday = first;
    while monday <= last {
        let (completed, approved, escalated, first_draft, mut iterations) =
            weeks.get(&monday).cloned().unwrap_or_default();
        iterations.sort_unstable();
        let iso = monday.iso_week();
        debug_assert_eq!(monday.weekday(), Weekday::Mon);
        out.push(WeekTrend {
            week: format!("{}-W{:02}", iso.year(), iso.week()),
            week_start: monday,
            completed,
            approved,
            escalated,
            approval_rate: rate(approved, completed),
            escalation_rate: rate(escalated, completed),
            first_draft_approval_rate: rate(first_draft, completed),
            median_iterations: nearest_rank(&iterations, 50),
        });
        monday += Duration::days(7);
    }
    out
}
