//! The prompt that carries the review loop: a pure function from a [`GenerationRequest`] to
//! chat messages. The system message holds the type's instructions and its JSON Schema; the
//! user message holds the subject, the previous draft, every earlier iteration's comments and
//! corrections (by iteration, oldest first) and the latest escalation guidance.

use std::fmt::Write as _;

use hitl_domain::model::{Decision, FeedbackEntry, FeedbackOutcome};
use hitl_domain::ports::GenerationRequest;
use hitl_domain::FieldError;
use serde::{Deserialize, Serialize};

use crate::structured;

/// Who speaks in a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions and schema.
    System,
    /// The task: subject, previous draft, feedback.
    User,
    /// The model's own earlier answer (kept for the repair round).
    Assistant,
}

/// One chat message, in the chat-completions wire shape (`{"role": …, "content": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    fn new(role: Role, content: String) -> Self {
        Self { role, content }
    }
}

/// The system message: the workflow's type's instructions over its subject, the loop's rules,
/// then the type's JSON Schema (as structured-output servers get it).
pub fn system_message(request: &GenerationRequest) -> ChatMessage {
    ChatMessage::new(
        Role::System,
        format!(
            "{}\n\nJSON Schema of the answer:\n{}",
            structured::instructions(&request.artifact_type, &request.subject),
            pretty(&structured::structured_schema(&request.artifact_type))
        ),
    )
}

/// The messages asking for `request`'s draft: [`system_message`] and one user message.
pub fn messages(request: &GenerationRequest) -> Vec<ChatMessage> {
    vec![
        system_message(request),
        ChatMessage::new(Role::User, task(request)),
    ]
}

/// What the type is called in prose: its schema's `title`, else its name (`brand metadata`).
fn type_title(request: &GenerationRequest) -> String {
    request.artifact_type.artifact_schema["title"]
        .as_str()
        .map(str::to_lowercase)
        .unwrap_or_else(|| request.artifact_type.name.replace('-', " "))
}

/// The user message asking to fix an answer that was not valid JSON or broke the schema.
pub fn repair_message(errors: &[FieldError]) -> ChatMessage {
    let mut text = String::from(
        "Your answer is not a valid draft. Fix these problems and answer again with the complete \
         JSON object only:\n",
    );
    for error in errors {
        let _ = writeln!(text, "- {}: {}", error.field, error.message);
    }
    ChatMessage::new(Role::User, text)
}

fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn applied(entry: &FeedbackEntry) -> bool {
    matches!(entry.outcome, FeedbackOutcome::Applied { .. })
}

/// The guidance given with the latest `extend` resolution, when it said anything.
pub fn latest_guidance(feedback: &[FeedbackEntry]) -> Option<&str> {
    feedback
        .iter()
        .rev()
        .filter(|entry| applied(entry) && entry.decision == Decision::Extend)
        .map(|entry| entry.comments.trim())
        .find(|guidance| !guidance.is_empty())
}

fn task(request: &GenerationRequest) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Write iteration {} of the {} for this subject:\n{}",
        request.iteration,
        type_title(request),
        pretty(&request.subject)
    );
    match &request.previous {
        Some(previous) => {
            let _ = writeln!(
                text,
                "\nPrevious draft (iteration {}):\n{}",
                previous.iteration,
                pretty(&previous.content)
            );
        }
        None => text.push_str("\nThis is the first draft: there is no previous draft yet.\n"),
    }
    let reviews: Vec<&FeedbackEntry> = request
        .feedback
        .iter()
        .filter(|entry| applied(entry) && entry.decision != Decision::Extend)
        .collect();
    if !reviews.is_empty() {
        text.push_str("\nReviewers' feedback on earlier iterations, oldest first:\n");
        for entry in reviews {
            // Who reviewed is not the model's business: reviewer identities stay here.
            let _ = writeln!(
                text,
                "\nIteration {} ({}):",
                entry.iteration,
                entry.decision.as_str()
            );
            let comments = entry.comments.trim();
            if !comments.is_empty() {
                let _ = writeln!(text, "Comments: {comments}");
            }
            if !entry.corrections.is_empty() {
                text.push_str("Corrections (use these values exactly):\n");
                for correction in &entry.corrections {
                    let _ = writeln!(
                        text,
                        "- {} = {}",
                        correction.field,
                        serde_json::Value::String(correction.value.clone())
                    );
                }
            }
        }
    }
    if let Some(guidance) = latest_guidance(&request.feedback) {
        let _ = writeln!(
            text,
            "\nEscalation guidance (from the person who granted more iterations; it outranks \
             earlier comments):\n{guidance}"
        );
    }
    text.push_str("\nAnswer with the JSON object only.");
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{TimeZone, Utc};
    use hitl_domain::model::{Artifact, Correction, Subject, WorkflowStatus};
    use serde_json::{json, Map};

    fn entry(
        iteration: u32,
        decision: Decision,
        comments: &str,
        corrections: &[(&str, &str)],
    ) -> FeedbackEntry {
        FeedbackEntry {
            workflow_id: "wf-1".into(),
            idempotency_key: format!("key-{iteration}-{}", decision.as_str()),
            request_fingerprint: "fp".into(),
            iteration,
            decision,
            reviewer: "alice".into(),
            comments: comments.into(),
            corrections: corrections
                .iter()
                .map(|(field, value)| Correction {
                    field: (*field).into(),
                    value: (*value).into(),
                })
                .collect(),
            resolution: None,
            channel: "cli".into(),
            received_at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
            outcome: FeedbackOutcome::Applied {
                status: WorkflowStatus::Revising,
            },
        }
    }

    fn subject() -> Subject {
        let mut attributes = Map::new();
        attributes.insert("audience".into(), json!("early risers"));
        Subject {
            id: "cedar".into(),
            name: "Cedar Candles".into(),
            category: Some("home".into()),
            attributes,
        }
    }

    fn draft(iteration: u32, tagline: &str) -> Artifact {
        Artifact {
            iteration,
            content: json!({"name": "Cedar Candles", "tagline": tagline}),
            hash: "h".into(),
            generator: "test".into(),
            created_at: Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap(),
            usage: None,
        }
    }

    /// Iteration 3 after: iteration 1 reviewed (comments + a correction), iteration 2
    /// reviewed (comments + two corrections), then an escalation extended with guidance.
    pub(crate) fn third_iteration() -> GenerationRequest {
        GenerationRequest {
            workflow_id: "wf-1".into(),
            subject: subject(),
            iteration: 3,
            previous: Some(draft(2, "Discover Cedar Candles")),
            feedback: vec![
                entry(
                    1,
                    Decision::RequestChanges,
                    "Too generic; mention soy wax.",
                    &[("tone", "premium")],
                ),
                entry(
                    2,
                    Decision::RequestChanges,
                    "Never say \"Discover\" again.",
                    &[
                        ("category", "home fragrance"),
                        ("colors.primary", "#8B4513"),
                    ],
                ),
                entry(2, Decision::Extend, "Lead with the morning ritual", &[]),
            ],
            artifact_type: Default::default(),
        }
    }

    fn user_text(request: &GenerationRequest) -> String {
        let messages = messages(request);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1].role, Role::User);
        messages[1].content.clone()
    }

    #[test]
    fn the_system_message_carries_the_instructions_and_the_schema() {
        let request = third_iteration();
        let system = &messages(&request)[0];
        assert_eq!(system.role, Role::System);
        assert!(system.content.contains(structured::LOOP_RULES));
        // the type's instructions, over this subject
        assert!(
            system
                .content
                .contains("Write brand metadata for Cedar Candles"),
            "{}",
            system.content
        );
        let schema =
            serde_json::to_string_pretty(&structured::structured_schema(&request.artifact_type))
                .unwrap();
        assert!(system.content.ends_with(&schema));
    }

    #[test]
    fn another_type_gets_its_own_instructions_schema_and_task() {
        // GIVEN a product-description workflow
        let mut request = third_iteration();
        request.artifact_type = hitl_domain::types::builtin("product-description").unwrap();
        let all = messages(&request);
        // THEN nothing of brand metadata is asked for
        assert!(all[0]
            .content
            .contains("Write the product description of Cedar Candles"));
        assert!(all[0].content.contains("\"bullets\""), "{}", all[0].content);
        assert!(!all[0].content.contains("tagline"));
        assert!(
            all[1]
                .content
                .starts_with("Write iteration 3 of the product description for this subject"),
            "{}",
            all[1].content
        );
    }

    #[test]
    fn the_next_prompt_carries_the_last_iterations_comments_and_corrections() {
        // GIVEN iteration 2 was reviewed with comments and two corrections
        let text = user_text(&third_iteration());
        // THEN iteration 3's prompt states them, under iteration 2
        let at = text.find("Iteration 2 (request_changes):").unwrap();
        let section = &text[at..];
        assert!(section.contains("Comments: Never say \"Discover\" again."));
        assert!(section.contains("- category = \"home fragrance\""));
        assert!(section.contains("- colors.primary = \"#8B4513\""));
    }

    #[test]
    fn the_next_prompt_keeps_every_earlier_iterations_feedback_oldest_first() {
        let text = user_text(&third_iteration());
        let first = text.find("Iteration 1 (request_changes):").unwrap();
        let second = text.find("Iteration 2 (request_changes):").unwrap();
        assert!(first < second);
        assert!(text[first..second].contains("Comments: Too generic; mention soy wax."));
        assert!(text[first..second].contains("- tone = \"premium\""));
    }

    #[test]
    fn the_next_prompt_carries_the_escalation_guidance() {
        let text = user_text(&third_iteration());
        assert!(text.contains("Escalation guidance"));
        assert!(text.contains("Lead with the morning ritual"));
        // the guidance is not mistaken for a reviewer's comment
        assert!(!text.contains("(extend by"));
    }

    #[test]
    fn only_the_latest_guidance_is_given() {
        let mut request = third_iteration();
        request
            .feedback
            .push(entry(3, Decision::Extend, "Mention gift sets", &[]));
        let text = user_text(&request);
        assert!(text.contains("Mention gift sets"));
        assert!(!text.contains("Lead with the morning ritual"));
    }

    #[test]
    fn the_prompt_carries_the_subject_and_the_previous_draft() {
        let text = user_text(&third_iteration());
        assert!(text.contains("Write iteration 3"));
        assert!(text.contains("\"early risers\""));
        // reviewer identities do not leave for the model's server
        assert!(!text.contains("alice"));
        assert!(text.contains("Previous draft (iteration 2):"));
        assert!(text.contains("\"tagline\": \"Discover Cedar Candles\""));
    }

    #[test]
    fn rejected_submissions_are_not_feedback() {
        let mut request = third_iteration();
        let mut refused = entry(2, Decision::RequestChanges, "IGNORED COMMENT", &[]);
        refused.outcome = FeedbackOutcome::Rejected {
            reason: "stale_iteration".into(),
            message: "stale".into(),
        };
        request.feedback.push(refused);
        assert!(!user_text(&request).contains("IGNORED COMMENT"));
    }

    #[test]
    fn a_first_draft_says_so_and_has_no_feedback_section() {
        let request = GenerationRequest {
            workflow_id: "wf-1".into(),
            subject: subject(),
            iteration: 1,
            previous: None,
            feedback: vec![],
            artifact_type: Default::default(),
        };
        let text = user_text(&request);
        assert!(text.contains("This is the first draft"));
        assert!(!text.contains("Reviewers' feedback"));
        assert!(!text.contains("Escalation guidance"));
    }

    #[test]
    fn the_repair_message_lists_every_error() {
        let message = repair_message(&[
            FieldError::new("tone", "\"grumpy\" is not one of friendly"),
            FieldError::new("keywords", "must have 3..=15 entries, got 1"),
        ]);
        assert_eq!(message.role, Role::User);
        assert!(message
            .content
            .contains("- tone: \"grumpy\" is not one of friendly"));
        assert!(message
            .content
            .contains("- keywords: must have 3..=15 entries, got 1"));
    }

    #[test]
    fn the_example_in_the_docs_is_what_the_builder_writes() {
        // docs/GENERATORS.md shows third_iteration's user message verbatim
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/GENERATORS.md");
        let docs = std::fs::read_to_string(path).unwrap();
        let text = user_text(&third_iteration());
        assert!(
            docs.contains(&format!("```\n{text}\n```")),
            "docs/GENERATORS.md's example differs from:\n{text}"
        );
        assert!(docs.contains(structured::LOOP_RULES));
    }

    /// Prints the prompt of `third_iteration` (run with `--nocapture`); docs/GENERATORS.md
    /// shows its output.
    #[test]
    fn print_an_example_prompt() {
        for message in messages(&third_iteration()) {
            println!("--- {:?}\n{}", message.role, message.content);
        }
    }
}
