//! Issue 29, item 3: the local generator stays offline and deterministic but listens. One test
//! per kind of feedback: corrections, requested words, `lead with`, tone, `shorter`, avoided
//! words, an escalation's guidance, a tagline sent back, a comment it cannot read; plus grammar,
//! determinism and the smoke run's synthetic reviewers. Feedback goes through the real
//! `feedback::validate`/`validate_resolution`, so the entries are the ones the store records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use serde_json::{json, Map, Value};

use hitl_domain::feedback::{self, FeedbackRequest, ResolutionRequest, Reviewer, ValidFeedback};
use hitl_domain::metadata::{self, grammar, LocalGenerator};
use hitl_domain::model::{
    Artifact, Channel, Correction, FeedbackEntry, FeedbackOutcome, SmokeScenario, Subject,
    WorkflowStatus,
};
use hitl_domain::ports::{GenerationRequest, MetadataAgent};

fn subject(name: &str, category: &str) -> Subject {
    Subject {
        id: "brand-1".into(),
        name: name.into(),
        category: Some(category.into()),
        attributes: Map::new(),
    }
}

fn reviewer() -> Reviewer {
    Reviewer::declared("rita", None, Channel::Test)
}

/// The audit entry the processor records for an applied submission.
fn entry(valid: ValidFeedback) -> FeedbackEntry {
    let s = valid.submission;
    FeedbackEntry {
        workflow_id: valid.workflow_id,
        idempotency_key: format!("k-{}-{}", s.iteration, s.decision.as_str()),
        request_fingerprint: valid.fingerprint,
        iteration: s.iteration,
        decision: s.decision,
        reviewer: "rita".into(),
        comments: s.comments,
        corrections: s.corrections,
        resolution: s.resolution,
        channel: "test".into(),
        received_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        outcome: FeedbackOutcome::Applied {
            status: WorkflowStatus::Revising,
        },
    }
}

/// A workflow's generation loop: every draft so far and the recorded feedback.
struct Session {
    subject: Subject,
    drafts: Vec<Value>,
    feedback: Vec<FeedbackEntry>,
}

impl Session {
    async fn start(subject: Subject) -> Self {
        let mut session = Self {
            subject,
            drafts: Vec::new(),
            feedback: Vec::new(),
        };
        session.generate().await;
        session
    }

    fn iteration(&self) -> u32 {
        u32::try_from(self.drafts.len()).unwrap()
    }

    fn draft(&self) -> &Value {
        self.drafts.last().unwrap()
    }

    fn text(&self, field: &str) -> String {
        self.draft()[field].as_str().unwrap().to_owned()
    }

    fn request(&self) -> GenerationRequest {
        let iteration = self.iteration() + 1;
        GenerationRequest {
            workflow_id: "wf-1".into(),
            subject: self.subject.clone(),
            iteration,
            previous: self.drafts.last().map(|content| Artifact {
                iteration: iteration - 1,
                hash: metadata::content_hash(content),
                content: content.clone(),
                generator: "local-generator".into(),
                created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
                usage: None,
            }),
            feedback: self.feedback.clone(),
            artifact_type: Default::default(),
        }
    }

    async fn generate(&mut self) -> &Value {
        let draft = LocalGenerator.generate(&self.request()).await.unwrap();
        assert_eq!(draft.generator, "local-generator");
        let problems = metadata::validate(&draft.content);
        assert!(problems.is_empty(), "{problems:?} in {}", draft.content);
        if let Some(previous) = self.drafts.last() {
            assert_ne!(
                previous, &draft.content,
                "a regenerated draft must differ (no_progress)"
            );
        }
        self.drafts.push(draft.content);
        self.draft()
    }

    /// A reviewer's request_changes on the current draft, then the next draft.
    async fn request_changes(&mut self, comments: &str, corrections: &[(&str, &str)]) -> &Value {
        let request = FeedbackRequest {
            iteration: Some(i64::from(self.iteration())),
            decision: Some("request_changes".into()),
            comments: Some(comments.into()),
            corrections: corrections
                .iter()
                .map(|(field, value)| Correction {
                    field: (*field).into(),
                    value: (*value).into(),
                })
                .collect(),
        };
        let valid = feedback::validate("wf-1", &request, "k", &reviewer()).unwrap();
        self.feedback.push(entry(valid));
        self.generate().await
    }

    /// An escalation resolved with `extend` and `guidance`, then the next draft.
    async fn extend(&mut self, guidance: &str) -> &Value {
        let request = ResolutionRequest {
            iteration: Some(i64::from(self.iteration())),
            action: Some("extend".into()),
            iterations: Some(2),
            guidance: Some(guidance.into()),
            ..ResolutionRequest::default()
        };
        let valid = feedback::validate_resolution("wf-1", &request, "k", &reviewer()).unwrap();
        self.feedback.push(entry(valid));
        self.generate().await
    }
}

fn all_text(draft: &Value) -> String {
    let mut text = String::new();
    for field in ["name", "tagline", "description", "target_audience"] {
        text.push_str(draft[field].as_str().unwrap_or_default());
        text.push(' ');
    }
    for keyword in draft["keywords"].as_array().unwrap() {
        text.push_str(keyword.as_str().unwrap());
        text.push(' ');
    }
    text
}

#[tokio::test]
async fn corrections_are_applied_kept_and_a_corrected_name_is_used_in_the_text() {
    let mut s = Session::start(subject("Acme Coffee", "food")).await;
    s.request_changes(
        "Use our real name",
        &[("name", "Acme Roasters"), ("colors.primary", "#123456")],
    )
    .await;
    s.request_changes(
        "Still not right",
        &[("tagline", "Roasted for early risers")],
    )
    .await;
    s.request_changes("More playful", &[]).await;
    s.request_changes("Try again", &[]).await;
    let draft = s.draft();
    assert_eq!(draft["name"], "Acme Roasters");
    assert_eq!(draft["colors"]["primary"], "#123456");
    assert_eq!(draft["tagline"], "Roasted for early risers");
    assert_eq!(draft["tone"], "playful");
    let description = s.text("description");
    assert!(
        description.starts_with("Acme Roasters is a food brand"),
        "{description}"
    );
    assert!(!all_text(draft).contains("Acme Coffee"), "{draft}");
}

#[tokio::test]
async fn words_a_comment_asks_for_appear() {
    let mut s = Session::start(subject("Acme Coffee", "food")).await;
    s.request_changes("Please mention fair trade", &[]).await;
    assert!(
        s.text("description").contains("fair trade"),
        "{}",
        s.draft()
    );
    s.request_changes("include \"small-batch roasting\" in the tagline", &[])
        .await;
    assert!(
        s.text("tagline").contains("small-batch roasting"),
        "{}",
        s.draft()
    );
    s.request_changes("Use the word sustainable", &[]).await;
    let text = all_text(s.draft());
    for phrase in ["fair trade", "small-batch roasting", "sustainable"] {
        assert!(text.contains(phrase), "{phrase} missing from {}", s.draft());
    }
    let keywords = s.draft()["keywords"].to_string();
    assert!(keywords.contains("\"fair trade\""), "{keywords}");
}

#[tokio::test]
async fn lead_with_starts_the_tagline_with_those_words() {
    let mut s = Session::start(subject("Acme Coffee", "food")).await;
    s.request_changes("Lead with the morning ritual", &[]).await;
    let tagline = s.text("tagline");
    assert!(tagline.starts_with("The morning ritual"), "{tagline}");
    // Still so in the next round, with a new tagline.
    s.request_changes("Not quite", &[]).await;
    let next = s.text("tagline");
    assert!(next.starts_with("The morning ritual"), "{next}");
    assert_ne!(next, tagline);
}

#[tokio::test]
async fn a_requested_tone_sets_the_tone_and_shows_in_the_text() {
    let mut s = Session::start(subject("Acme Coffee", "food")).await;
    let before = s.draft().clone();
    s.request_changes("More premium please", &[]).await;
    assert_eq!(s.draft()["tone"], "premium");
    assert_ne!(s.draft()["description"], before["description"]);
    let tagline = s.text("tagline");
    assert!(
        [
            "crafted with care",
            "quietly exceptional",
            "finer things",
            "without compromise"
        ]
        .iter()
        .any(|w| tagline.contains(w)),
        "{tagline}"
    );
}

#[tokio::test]
async fn too_long_makes_the_tagline_and_the_description_shorter() {
    let mut s = Session::start(subject("Acme Coffee", "food")).await;
    s.request_changes("Mention fair trade. Be more bold", &[])
        .await;
    let (tagline, description) = (s.text("tagline"), s.text("description"));
    s.request_changes("Too long", &[]).await;
    assert!(
        s.text("tagline").chars().count() < tagline.chars().count(),
        "{} vs {tagline}",
        s.text("tagline")
    );
    assert!(
        s.text("description").chars().count() < description.chars().count(),
        "{} vs {description}",
        s.text("description")
    );
    // What was asked for before stays.
    assert!(
        s.text("description").contains("fair trade"),
        "{}",
        s.draft()
    );
}

#[tokio::test]
async fn an_avoided_word_disappears_and_never_comes_back() {
    let mut s = Session::start(subject("Acme Coffee", "food")).await;
    assert!(all_text(s.draft()).contains("every day"));
    s.request_changes("Don't say every day, and no brand", &[])
        .await;
    for round in 0..6 {
        let text = all_text(s.draft());
        assert!(
            !grammar::mentions(&text, "every day"),
            "round {round}: {text}"
        );
        assert!(!grammar::mentions(&text, "brand"), "round {round}: {text}");
        s.request_changes("Try another direction", &[]).await;
    }
}

#[tokio::test]
async fn extend_guidance_is_applied_like_a_comment() {
    let mut s = Session::start(subject("Cedar Candles", "home")).await;
    s.request_changes("Not there yet", &[]).await;
    s.extend("Lead with the morning ritual").await;
    let tagline = s.text("tagline");
    assert!(tagline.starts_with("The morning ritual"), "{tagline}");
    assert_ne!(tagline, "Discover Cedar Candles");
}

#[tokio::test]
async fn a_tagline_sent_back_is_never_offered_again() {
    let mut s = Session::start(subject("Acme Coffee", "food")).await;
    let comments = [
        "Still not right",
        "More bold",
        "Hmm",
        "More friendly",
        "No",
        "Another one",
        "More premium",
        "Try again",
        "Nope",
        "More playful",
        "Again",
        "More professional",
    ];
    for comment in comments {
        s.request_changes(comment, &[]).await;
    }
    let taglines: Vec<String> = s
        .drafts
        .iter()
        .map(|d| d["tagline"].as_str().unwrap().to_lowercase())
        .collect();
    for (i, tagline) in taglines.iter().enumerate() {
        assert!(
            !taglines[..i].contains(tagline),
            "iteration {} repeats {tagline:?}: {taglines:?}",
            i + 1
        );
    }
}

#[tokio::test]
async fn a_comment_it_cannot_read_still_changes_the_draft_without_quoting_it() {
    let mut s = Session::start(subject("Acme Coffee", "food")).await;
    // The tagline is held by a correction, so only the generator's own text can change.
    s.request_changes(
        "Fix the tagline",
        &[("tagline", "Roasted for early risers")],
    )
    .await;
    let before = s.draft().clone();
    s.request_changes("Hmm <b>weird</b> vibe, {{template}}", &[])
        .await;
    let after = s.draft().clone();
    assert_ne!(after["description"], before["description"]);
    let text = all_text(&after);
    for fragment in ["<b>", "weird", "vibe", "{{", "template"] {
        assert!(!text.contains(fragment), "{fragment} quoted in {after}");
    }
}

fn assert_grammatical(draft: &Value) {
    for field in ["tagline", "description"] {
        let text = draft[field].as_str().unwrap();
        assert!(!text.contains("  "), "double space in {field}: {text:?}");
        assert_eq!(text.trim(), text, "{field}: {text:?}");
        assert!(
            text.chars().next().unwrap().is_uppercase(),
            "{field}: {text:?}"
        );
    }
    let description = draft["description"].as_str().unwrap();
    assert!(description.ends_with('.'), "{description:?}");
    for sentence in description.split(". ") {
        assert!(
            sentence.chars().next().unwrap().is_uppercase(),
            "{sentence:?} in {description:?}"
        );
    }
    let words: Vec<&str> = description.split_whitespace().collect();
    for pair in words.windows(2) {
        if matches!(pair[0].to_lowercase().as_str(), "a" | "an") {
            assert_eq!(
                pair[0].to_lowercase(),
                grammar::indefinite_article(pair[1]),
                "{description:?}"
            );
        }
    }
}

#[tokio::test]
async fn drafts_are_grammatical() {
    for (name, category) in [
        ("Gale Gear", "outdoor"),
        ("Tick Tock", "hourly watch"),
        ("Gift Box", "unique gifts"),
        ("Acme Coffee", "food"),
        ("Oak", "eco"),
    ] {
        let mut s = Session::start(subject(name, category)).await;
        s.request_changes("mention honest pricing. More professional", &[])
            .await;
        s.request_changes("Lead with an honest hour", &[]).await;
        s.request_changes("Too long", &[]).await;
        for draft in &s.drafts {
            assert_grammatical(draft);
        }
    }
    let s = Session::start(subject("Gale Gear", "outdoor")).await;
    assert!(
        s.text("description")
            .starts_with("Gale Gear is an outdoor brand"),
        "{}",
        s.text("description")
    );
}

async fn scripted_session() -> Vec<Value> {
    let mut s = Session::start(subject("Acme Coffee", "food")).await;
    s.request_changes("Mention fair trade", &[("colors.secondary", "#ABCDEF")])
        .await;
    s.request_changes("Lead with the morning ritual, not the beans", &[])
        .await;
    s.request_changes("Too long. More bold", &[]).await;
    s.extend("Use the word sunrise").await;
    s.request_changes("Something else entirely", &[]).await;
    s.drafts
}

#[tokio::test]
async fn same_input_same_output_and_every_draft_is_valid() {
    let first = scripted_session().await;
    let second = scripted_session().await;
    assert_eq!(first, second);
    for draft in &first {
        assert!(metadata::validate(draft).is_empty(), "{draft}");
    }
    // The replay: asking again for any iteration gives the draft stored for it.
    let mut s = Session::start(subject("Acme Coffee", "food")).await;
    s.request_changes("Mention fair trade", &[]).await;
    let again = LocalGenerator.generate(&s.request()).await.unwrap();
    let again2 = LocalGenerator.generate(&s.request()).await.unwrap();
    assert_eq!(again.content, again2.content);
}

/// The smoke run's synthetic reviewers get a valid draft that differs from the last one every
/// round, and the reviewer's tagline correction is the next tagline.
#[tokio::test]
async fn smoke_scenarios_get_valid_new_drafts() {
    use hitl_domain::smoke;
    for scenario in [
        SmokeScenario::ApproveAfterRevisions,
        SmokeScenario::EscalateAtLimit,
    ] {
        let mut workflow = hitl_domain::testing::awaiting_review(
            "wf-1",
            "t",
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        );
        workflow.config.max_iterations = 6;
        let mut s = Session::start(workflow.subject.clone()).await;
        for iteration in 1..workflow.config.max_iterations {
            let request = smoke::decide(scenario, &workflow, iteration);
            assert_eq!(request.decision.as_deref(), Some("request_changes"));
            let valid = feedback::validate("wf-1", &request, "k", &smoke::reviewer()).unwrap();
            s.feedback.push(entry(valid));
            s.generate().await;
            if let Some(correction) = request.corrections.first() {
                assert_eq!(s.draft()["tagline"], json!(correction.value));
            }
        }
    }
}

/// Forty rounds of requests on a 120-character name still give drafts inside the schema (the
/// harness validates every draft) and honour the latest request.
#[tokio::test]
async fn long_sessions_stay_within_the_schema() {
    let name = format!("Acme {}", "Very Long Name ".repeat(8))
        .trim()
        .chars()
        .take(120)
        .collect::<String>();
    let mut s = Session::start(subject(&name, "food")).await;
    s.request_changes(
        &format!("Lead with {}", "the quiet early morning ritual"),
        &[],
    )
    .await;
    for round in 0..40 {
        let comment = format!("Mention flavour{round} in the tagline. Add aroma{round}");
        s.request_changes(&comment, &[]).await;
        let text = all_text(s.draft());
        for word in [format!("flavour{round}"), format!("aroma{round}")] {
            assert!(text.contains(&word), "{word} missing from {}", s.draft());
        }
    }
}

/// Issue 29 item 3 for any type (here the built-in product description): the lead text field
/// (`headline`) carries requested words, starts with what a comment asks it to lead with, gets
/// a new wording for a send-back it cannot read, and stays put when the reviewer corrected
/// something else. Every draft passes the type.
#[tokio::test]
async fn any_type_listens_through_its_lead_text_field() {
    let product = hitl_domain::types::builtin("product-description").unwrap();
    assert_eq!(product.lead_text_field().as_deref(), Some("headline"));
    let subject = subject("Trail Kettle", "outdoor");
    let mut feedback: Vec<FeedbackEntry> = Vec::new();
    let draft = |feedback: &[FeedbackEntry], iteration: u32| {
        let request = GenerationRequest {
            workflow_id: "wf-p".into(),
            subject: subject.clone(),
            iteration,
            previous: None,
            feedback: feedback.to_vec(),
            artifact_type: product.clone(),
        };
        async move {
            let content = LocalGenerator.generate(&request).await.unwrap().content;
            let problems = request.artifact_type.validate_artifact(&content);
            assert!(problems.is_empty(), "{problems:?} in {content}");
            content
        }
    };
    let send_back = |iteration: u32, comments: &str| {
        let request = FeedbackRequest {
            iteration: Some(i64::from(iteration)),
            decision: Some("request_changes".into()),
            comments: Some(comments.into()),
            corrections: vec![],
        };
        entry(feedback::validate("wf-p", &request, "k", &reviewer()).unwrap())
    };
    let first = draft(&feedback, 1).await;

    // A comment it cannot act on, no correction: a new wording, never the same draft.
    feedback.push(send_back(1, "Still not quite right, try again."));
    let second = draft(&feedback, 2).await;
    assert_ne!(second["headline"], first["headline"], "{second}");

    // Words asked for appear; a lead is put first.
    feedback.push(send_back(2, "Please mention \"dual-wall steel\""));
    let third = draft(&feedback, 3).await;
    let headline = third["headline"].as_str().unwrap();
    assert!(headline.contains("dual-wall steel"), "{third}");
    feedback.push(send_back(3, "Lead with the campfire morning"));
    let fourth = draft(&feedback, 4).await;
    let headline = fourth["headline"].as_str().unwrap();
    assert!(
        headline.to_lowercase().starts_with("the campfire morning"),
        "{fourth}"
    );
    assert!(headline.contains("dual-wall steel"), "{fourth}");

    // A word a comment rejects goes, and the wish that asked for it with it.
    feedback.push(send_back(4, "Never say \"dual-wall steel\""));
    let avoided = draft(&feedback, 5).await;
    let headline = avoided["headline"].as_str().unwrap();
    assert!(!headline.contains("dual-wall steel"), "{avoided}");
    assert!(
        headline.to_lowercase().starts_with("the campfire morning"),
        "{avoided}"
    );

    // A send-back that corrects another field: that correction is the change; the headline
    // stays as it was.
    let mut corrected = send_back(5, "Fix the summary");
    corrected.corrections = vec![Correction {
        field: "summary".into(),
        value: "A kettle that boils fast over any flame and packs flat.".into(),
    }];
    feedback.push(corrected);
    let fifth = draft(&feedback, 6).await;
    assert_eq!(fifth["headline"], avoided["headline"], "{fifth}");
    assert_eq!(
        fifth["summary"],
        "A kettle that boils fast over any flame and packs flat."
    );
}
