//! The local generator: an offline, deterministic stand-in for a model that still listens.
//!
//! A draft is composed from the subject and from what reviewers said so far ([`Notes`]), never
//! from a random source or the clock, so the same request always gives the same draft. The
//! notes are built by replaying the workflow: each iteration's draft is recomposed (the
//! request's previous draft stands in for its own iteration), then the feedback on it is
//! heard. That is how a tagline of any earlier draft that got `request_changes` is known and
//! never offered again, although the request carries only the latest draft.
//!
//! What is heard, oldest first: every correction (applied last, so a reviewer's value always
//! stands), and the comments of `request_changes` and `reject` decisions and the guidance of an
//! `extend` resolution, read by [`super::listen::requests`].

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::apply_correction;
use super::grammar::{capitalise_first, join_list, mentions, sentence, tidy, with_article};
use super::listen::{requests, Request};
use crate::error::HandlerError;
use crate::model::{Correction, Decision, FeedbackEntry, FeedbackOutcome, Subject};
use crate::ports::{GeneratedDraft, GenerationRequest, MetadataAgent};

/// Deterministic stand-in for the Bedrock agent that listens to reviewers: corrections are
/// applied and kept, words a comment asks for appear, avoided words disappear, a tagline a
/// reviewer sent back is never offered again, and an escalation's guidance counts like a
/// comment. Same input, same output; every draft passes [`super::validate`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalGenerator;

/// The name drafts are stored under.
pub const GENERATOR_NAME: &str = "local-generator";

/// Fields a comment may point at ("in the tagline").
const FIELDS: [&str; 3] = ["tagline", "description", "keywords"];
/// Fields whose value in a draft that was sent back is never offered again.
const REJECTABLE: [&str; 1] = ["tagline"];
/// The field a `lead with` request shapes.
const HEADLINE: &str = "tagline";
/// Where requested words go when the comment names no field.
const DEFAULT_FIELD: &str = "description";
/// The most requested phrases a draft carries (the latest ones), so drafts stay in bounds.
const MAX_WISHES: usize = 8;
/// Fields a `shorter` request shortens when it names none.
const PROSE: [&str; 2] = ["tagline", "description"];

/// Tagline templates per tone: the first of `friendly` is the first draft's. `{name}` is the
/// brand's name; the second list needs no name (for when the name holds an avoided word).
const TAGLINES: [(&str, [&str; 4], &str); 5] = [
    (
        "friendly",
        [
            "{name}, made for every day",
            "Say hello to {name}",
            "{name}, for the little moments",
            "Good things come from {name}",
        ],
        "Made for every day",
    ),
    (
        "premium",
        [
            "{name}: crafted with care",
            "{name}, quietly exceptional",
            "The finer things, by {name}",
            "{name}, made without compromise",
        ],
        "Crafted with care",
    ),
    (
        "playful",
        [
            "{name}: serious fun, every day",
            "Go on, try {name}",
            "{name} makes every day brighter",
            "Life is better with {name}",
        ],
        "Serious fun, every day",
    ),
    (
        "professional",
        [
            "{name}: quality you can rely on",
            "Dependable quality from {name}",
            "{name}, built for the work",
            "Everyday excellence from {name}",
        ],
        "Built for the work",
    ),
    (
        "bold",
        [
            "{name}, simply better",
            "Nothing halfway: {name}",
            "Make it {name}",
            "{name}, and nothing less",
        ],
        "Nothing halfway",
    ),
];

/// Tagline templates that start with the words a reviewer asked to lead with (`{lead}`).
const LEAD_TAGLINES: [&str; 10] = [
    "{lead}, by {name}",
    "{lead}, made better by {name}",
    "{lead}, the {name} way",
    "{lead}, with {name}",
    "{lead}, brought to you by {name}",
    "{lead}, crafted by {name}",
    "{lead}, as {name} does it",
    "{lead}, courtesy of {name}",
    "{lead}, made for every day by {name}",
    "{lead}, from {name} with care",
];

/// [`LEAD_TAGLINES`] without the name: after them, or alone when the name holds an avoided
/// word.
const LEAD_TAGLINES_FREE: [&str; 6] = [
    "{lead}",
    "{lead}, made for every day",
    "{lead}, crafted with care",
    "{lead}, done right",
    "{lead}, and nothing less",
    "{lead}, simply better",
];

/// The sentence a requested tone adds to the description.
const TONE_SENTENCES: [(&str, &str); 5] = [
    ("friendly", "It is warm and easy to like"),
    ("premium", "Every detail is considered"),
    ("playful", "It never takes itself too seriously"),
    ("professional", "It is built to be dependable"),
    ("bold", "It does nothing by halves"),
];

/// Sentences that make a visible change after a comment nothing could be read from; chosen by
/// how many such comments there were, so the comment's own text is never copied.
const FRESH_SENTENCES: [&str; 5] = [
    "This version takes a fresh direction",
    "It keeps things simple and honest",
    "Every product is chosen with care",
    "It puts quality before everything else",
    "It is made to be used every day",
];

/// Filler keywords, used when avoided words leave fewer than three.
const FILLER_KEYWORDS: [&str; 6] = ["design", "value", "craft", "style", "care", "everyday"];

/// What reviewers asked for so far, in the order they asked.
#[derive(Debug, Clone, Default, PartialEq)]
struct Notes {
    /// Every correction, oldest first.
    corrections: Vec<Correction>,
    /// Words that must appear, with the field asked for (if any).
    wishes: Vec<(String, Option<String>)>,
    /// Words that must not appear in generated text.
    avoided: Vec<String>,
    /// What the headline must start with.
    lead: Option<String>,
    /// The tone asked for last.
    tone: Option<&'static str>,
    /// Longest allowed length per field, after `shorter` requests.
    max_chars: BTreeMap<String, usize>,
    /// Values (compared tidied and lower-cased) never to offer again, per field.
    rejected: BTreeMap<String, BTreeSet<String>>,
    /// Comments nothing could be read from.
    unheard: usize,
}

fn key(value: &str) -> String {
    tidy(value).to_lowercase()
}

fn field_text<'a>(draft: &'a Value, field: &str) -> Option<&'a str> {
    draft.get(field).and_then(Value::as_str)
}

impl Notes {
    fn corrected(&self, field: &str) -> Option<&str> {
        self.corrections
            .iter()
            .rev()
            .find(|c| c.field == field)
            .map(|c| c.value.as_str())
    }

    fn avoids(&self, text: &str) -> bool {
        self.avoided.iter().any(|a| mentions(text, a))
    }

    fn rejects(&self, field: &str, value: &str) -> bool {
        self.rejected
            .get(field)
            .is_some_and(|set| set.contains(&key(value)))
    }

    /// Takes in one applied feedback entry on `draft` (the draft it decided on).
    fn hear(&mut self, entry: &FeedbackEntry, draft: Option<&Value>) {
        if !matches!(entry.outcome, FeedbackOutcome::Applied { .. }) {
            return;
        }
        self.corrections.extend(entry.corrections.iter().cloned());
        let sent_back = matches!(
            entry.decision,
            Decision::RequestChanges | Decision::Reject | Decision::Extend
        );
        if !sent_back {
            return;
        }
        if let Some(draft) = draft {
            for field in REJECTABLE {
                if let Some(value) = field_text(draft, field) {
                    self.rejected
                        .entry(field.to_owned())
                        .or_default()
                        .insert(key(value));
                }
            }
        }
        let heard = requests(&entry.comments, &FIELDS);
        if heard.is_empty() && !super::is_blank(&entry.comments) {
            self.unheard += 1;
        }
        for request in heard {
            match request {
                Request::Include { phrase, field } => {
                    self.avoided.retain(|a| !mentions(&phrase, a));
                    if !self.wishes.iter().any(|(w, _)| key(w) == key(&phrase)) {
                        self.wishes.push((phrase, field));
                    }
                }
                Request::Lead(phrase) => {
                    self.avoided.retain(|a| !mentions(&phrase, a));
                    self.lead = Some(phrase);
                }
                Request::Avoid(phrase) => {
                    self.wishes.retain(|(w, _)| !mentions(w, &phrase));
                    if self.lead.as_deref().is_some_and(|l| mentions(l, &phrase)) {
                        self.lead = None;
                    }
                    if !self.avoided.iter().any(|a| key(a) == key(&phrase)) {
                        self.avoided.push(phrase);
                    }
                }
                Request::Tone(tone) => self.tone = Some(tone),
                Request::Shorter { field } => {
                    let fields: Vec<&str> = match &field {
                        Some(f) if PROSE.contains(&f.as_str()) => vec![f.as_str()],
                        _ => PROSE.to_vec(),
                    };
                    for f in fields {
                        let Some(text) = draft.and_then(|d| field_text(d, f)) else {
                            continue;
                        };
                        let limit = text.chars().count().saturating_sub(1);
                        let entry = self.max_chars.entry(f.to_owned()).or_insert(limit);
                        *entry = (*entry).min(limit);
                    }
                }
            }
        }
    }

    /// The wishes a draft honours: the most recent [`MAX_WISHES`].
    fn recent_wishes(&self) -> &[(String, Option<String>)] {
        &self.wishes[self.wishes.len().saturating_sub(MAX_WISHES)..]
    }

    /// Where a wish's words go: the field asked for, unless a correction holds it.
    fn wishes_for(&self, field: &str) -> Vec<String> {
        self.recent_wishes()
            .iter()
            .filter(|(_, asked)| {
                let mut target = asked.as_deref().unwrap_or(DEFAULT_FIELD);
                if target == HEADLINE && self.corrected(HEADLINE).is_some() {
                    target = DEFAULT_FIELD;
                }
                target == field
            })
            .map(|(w, _)| w.clone())
            .collect()
    }
}

/// The subject's facts, as corrected.
struct Facts {
    name: String,
    category: String,
    audience: String,
    tone: &'static str,
}

impl Facts {
    fn of(subject: &Subject, notes: &Notes) -> Self {
        let name = notes
            .corrected("name")
            .map(str::to_owned)
            .unwrap_or_else(|| subject.name.trim().to_owned());
        let category = notes
            .corrected("category")
            .map(str::to_owned)
            .or_else(|| subject.category.clone())
            .unwrap_or_else(|| "general".to_owned());
        let audience = notes
            .corrected("target_audience")
            .map(str::to_owned)
            .or_else(|| {
                subject
                    .attributes
                    .get("audience")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "general consumers".to_owned());
        // A corrected tone (checked against the schema at the door) wins over a requested one.
        let tone = notes
            .corrected("tone")
            .and_then(|t| {
                TAGLINES
                    .iter()
                    .map(|(known, ..)| *known)
                    .find(|known| *known == t)
            })
            .or(notes.tone)
            .unwrap_or("friendly");
        Self {
            name,
            category,
            audience,
            tone,
        }
    }
}

/// Tagline templates, the asked-for tone's first, then the others in schema order.
fn tagline_templates(tone: &str, with_name: bool) -> Vec<&'static str> {
    let mut ordered: Vec<&(&str, [&str; 4], &str)> =
        TAGLINES.iter().filter(|(t, ..)| *t == tone).collect();
    ordered.extend(TAGLINES.iter().filter(|(t, ..)| *t != tone));
    ordered
        .into_iter()
        .flat_map(|(_, named, free)| {
            if with_name {
                named.to_vec()
            } else {
                vec![*free]
            }
        })
        .collect()
}

fn tagline_candidates(facts: &Facts, notes: &Notes, wishes: &[String]) -> Vec<String> {
    let with_name = !notes.avoids(&facts.name);
    // Named templates first, then the ones without the name (shorter, and more of them).
    let templates = if with_name {
        tagline_templates(facts.tone, true)
    } else {
        Vec::new()
    };
    let mut candidates: Vec<String> = match &notes.lead {
        Some(lead) => {
            let lead = capitalise_first(lead);
            let named: &[&str] = if with_name { &LEAD_TAGLINES } else { &[] };
            named
                .iter()
                .chain(&LEAD_TAGLINES_FREE)
                .map(|t| t.replace("{lead}", &lead))
                .collect()
        }
        None => templates
            .iter()
            .chain(&tagline_templates(facts.tone, false))
            .map(|t| (*t).to_owned())
            .collect(),
    };
    for candidate in &mut candidates {
        *candidate = capitalise_first(&candidate.replace("{name}", &facts.name));
    }
    if !wishes.is_empty() {
        for candidate in &mut candidates {
            *candidate = format!("{candidate}, with {}", join_list(wishes));
        }
    }
    candidates
}

/// The tagline, and whether the words asked for in it fit (if not, the description takes them).
fn tagline(facts: &Facts, notes: &Notes) -> (String, bool) {
    let wishes = notes.wishes_for(HEADLINE);
    let max = notes.max_chars.get(HEADLINE).copied();
    let usable =
        |c: &&String| c.chars().count() <= 160 && !notes.avoids(c) && !notes.rejects(HEADLINE, c);
    let pick = |candidates: &[String]| {
        candidates
            .iter()
            .filter(usable)
            .find(|c| max.is_none_or(|m| c.chars().count() <= m))
            .or_else(|| {
                candidates
                    .iter()
                    .filter(usable)
                    .min_by_key(|c| c.chars().count())
            })
            .cloned()
    };
    if let Some(found) = pick(&tagline_candidates(facts, notes, &wishes)) {
        return (found, true);
    }
    let candidates = tagline_candidates(facts, notes, &[]);
    if let Some(found) = pick(&candidates) {
        return (found, wishes.is_empty());
    }
    // Every template was sent back: number the shortest one until it is new.
    let base: String = candidates
        .iter()
        .min_by_key(|c| c.chars().count())
        .cloned()
        .unwrap_or_else(|| facts.name.clone())
        .chars()
        .take(140)
        .collect();
    let numbered = (2..)
        .map(|n| format!("{base}, take {n}"))
        .find(|c| !notes.rejects(HEADLINE, c))
        .unwrap_or(base);
    (numbered, wishes.is_empty())
}

fn description(facts: &Facts, notes: &Notes, headline_wishes: bool) -> String {
    let subject = if notes.avoids(&facts.name) {
        "The company".to_owned()
    } else {
        facts.name.clone()
    };
    let kind = with_article(&format!("{} brand", facts.category));
    let openings = [
        format!(
            "{subject} is {kind} offering products for {}",
            facts.audience
        ),
        format!("{subject} is {kind} for {}", facts.audience),
        format!("{subject} is {kind}"),
        format!("{subject} is a brand for {}", facts.audience),
        format!("{subject} is a brand"),
        format!(
            "{subject} makes {} products for {}",
            facts.category, facts.audience
        ),
        format!("{subject} makes products for {}", facts.audience),
    ];
    let mut optional = Vec::new();
    if notes.corrected(HEADLINE).is_some() {
        if let Some(lead) = &notes.lead {
            optional.push(format!("It is all about {}", tidy(lead)));
        }
    }
    let mut wishes = notes.wishes_for("description");
    if headline_wishes {
        wishes.extend(notes.wishes_for(HEADLINE));
    }
    let required = (!wishes.is_empty()).then(|| format!("It is known for {}", join_list(&wishes)));
    if notes.tone.is_some() || notes.corrected("tone").is_some() {
        if let Some((_, line)) = TONE_SENTENCES.iter().find(|(t, _)| *t == facts.tone) {
            optional.push((*line).to_owned());
        }
    }
    if notes.unheard > 0 {
        let fresh = (0..FRESH_SENTENCES.len())
            .map(|i| FRESH_SENTENCES[(notes.unheard - 1 + i) % FRESH_SENTENCES.len()])
            .find(|s| !notes.avoids(s));
        optional.extend(fresh.map(str::to_owned));
    }
    let optional: Vec<String> = optional.into_iter().filter(|s| !notes.avoids(s)).collect();
    let mut arrangements = Vec::new();
    // Longest first: every opening with all optional sentences, then without them.
    for keep_optional in [true, false] {
        for opening in openings.iter().filter(|o| !notes.avoids(o)) {
            let mut parts = vec![opening.clone()];
            parts.extend(required.clone());
            if keep_optional {
                parts.extend(optional.iter().cloned());
            }
            let text = parts
                .iter()
                .map(|p| sentence(p))
                .collect::<Vec<_>>()
                .join(" ");
            if (20..=2000).contains(&text.chars().count()) {
                arrangements.push(text);
            }
        }
    }
    let max = notes.max_chars.get("description").copied();
    arrangements
        .iter()
        .find(|a| max.is_none_or(|m| a.chars().count() <= m))
        .or_else(|| arrangements.iter().min_by_key(|a| a.chars().count()))
        .cloned()
        .unwrap_or_else(|| sentence(&format!("{subject} has a story to tell")))
}

fn keywords(facts: &Facts, notes: &Notes) -> Vec<String> {
    let mut words: Vec<String> = facts
        .name
        .split_whitespace()
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() > 1)
        .collect();
    words.push(facts.category.to_lowercase());
    words.extend(
        notes
            .recent_wishes()
            .iter()
            .map(|(w, _)| tidy(w).to_lowercase()),
    );
    words.extend(["brand".to_owned(), "quality".to_owned()]);
    let mut out: Vec<String> = Vec::new();
    for word in words {
        if !word.trim().is_empty() && !notes.avoids(&word) && !out.contains(&word) {
            out.push(word);
        }
    }
    out.truncate(15);
    for filler in FILLER_KEYWORDS {
        if out.len() >= 3 {
            break;
        }
        if !notes.avoids(filler) && !out.iter().any(|w| w == filler) {
            out.push(filler.to_owned());
        }
    }
    out
}

/// One draft from the subject and the notes; corrections applied last.
fn compose(subject: &Subject, notes: &Notes) -> Value {
    let facts = Facts::of(subject, notes);
    let digest = Sha256::digest(subject.name.trim().as_bytes());
    let color = |offset: usize| {
        format!(
            "#{:02X}{:02X}{:02X}",
            digest[offset],
            digest[offset + 1],
            digest[offset + 2]
        )
    };
    let (tagline, placed) = tagline(&facts, notes);
    let mut content = json!({
        "name": facts.name,
        "tagline": tagline,
        "description": description(&facts, notes, !placed),
        "category": facts.category,
        "tone": facts.tone,
        "target_audience": facts.audience,
        "keywords": keywords(&facts, notes),
        "colors": {"primary": color(0), "secondary": color(3)},
    });
    for correction in &notes.corrections {
        apply_correction(&mut content, correction);
    }
    content
}

/// A draft for the notes that differs from `previous` (a regenerated draft identical to the
/// previous one would escalate as `no_progress`): when it would not, one more fresh sentence.
fn revise(subject: &Subject, notes: &Notes, previous: Option<&Value>) -> Value {
    let mut notes = notes.clone();
    let mut draft = compose(subject, &notes);
    for _ in 0..FRESH_SENTENCES.len() {
        if previous != Some(&draft) {
            break;
        }
        notes.unheard += 1;
        draft = compose(subject, &notes);
    }
    draft
}

/// Generic revisions of a type's lead text (see [`typed_draft`]), by round: `{name}` is the
/// subject's name, `{text}` the text before.
const REVISIONS: [&str; 5] = [
    "{text}",
    "A fresh look at {name}",
    "{name}, made for the way you work",
    "Meet {name}: simple, dependable, yours",
    "{name}, reimagined",
];

/// A draft of any type but brand metadata: filled from the type's schema and the subject
/// ([`crate::types::fill_draft`]), revised by what reviewers asked for, then every correction
/// so far applied in order, typed by the schema (a reviewer's value always stands).
///
/// Listening, for any type: the type's lead text field ([`ArtifactType::lead_text_field`])
/// starts with the words a comment asks it to lead with, carries the words a comment asks
/// for, loses words a comment rejects, and takes a new wording each time a draft is sent back
/// with comments it cannot act on and no correction — so a draft sent back never comes back
/// unchanged.
/// Deterministic.
fn typed_draft(request: &GenerationRequest) -> Value {
    let artifact_type = &request.artifact_type;
    let subject = serde_json::to_value(&request.subject).unwrap_or_default();
    let mut content = crate::types::fill_draft(artifact_type, &subject);
    let applied: Vec<&FeedbackEntry> = request
        .feedback
        .iter()
        .filter(|e| matches!(e.outcome, FeedbackOutcome::Applied { .. }))
        .collect();
    if let Some(lead) = artifact_type.lead_text_field() {
        revise_lead(
            artifact_type,
            &request.subject,
            &lead,
            &applied,
            &mut content,
        );
    }
    for entry in applied {
        for correction in &entry.corrections {
            artifact_type.apply_correction(&mut content, &correction.field, &correction.value);
        }
    }
    content
}

/// Rewrites the lead text field of `content` as the sent-back entries ask (see [`typed_draft`]).
fn revise_lead(
    artifact_type: &crate::types::ArtifactType,
    subject: &Subject,
    lead: &str,
    applied: &[&FeedbackEntry],
    content: &mut Value,
) {
    let Ok(segments) = crate::types::parse_path(lead) else {
        return;
    };
    let base = crate::types::lookup(content, lead)
        .and_then(Value::as_str)
        .unwrap_or(&subject.name)
        .to_owned();
    let (mut wishes, mut avoided, mut leading, mut unheard) = (
        Vec::<String>::new(),
        Vec::<String>::new(),
        None::<String>,
        0usize,
    );
    for entry in applied {
        let sent_back = matches!(
            entry.decision,
            Decision::RequestChanges | Decision::Reject | Decision::Extend
        );
        if !sent_back {
            continue;
        }
        let heard = requests(&entry.comments, &[lead]);
        // Corrections are the change a reviewer asked for; only a send-back without any is
        // answered with a new wording (what the reviewer did not criticise stays).
        let answer_unheard = entry.corrections.is_empty();
        if heard.is_empty() && !super::is_blank(&entry.comments) && answer_unheard {
            unheard += 1;
        }
        for request in heard {
            match request {
                Request::Include { phrase, .. } => {
                    avoided.retain(|a| !mentions(&phrase, a));
                    if !wishes.iter().any(|w| key(w) == key(&phrase)) {
                        wishes.push(phrase);
                    }
                }
                Request::Lead(phrase) => {
                    avoided.retain(|a| !mentions(&phrase, a));
                    leading = Some(phrase);
                }
                Request::Avoid(phrase) => {
                    wishes.retain(|w| !mentions(w, &phrase));
                    avoided.push(phrase);
                }
                Request::Tone(_) | Request::Shorter { .. } if answer_unheard => unheard += 1,
                Request::Tone(_) | Request::Shorter { .. } => {}
            }
        }
    }
    if wishes.is_empty() && avoided.is_empty() && leading.is_none() && unheard == 0 {
        return;
    }
    let max = crate::types::schema_at_pattern(&artifact_type.artifact_schema, lead)
        .ok()
        .and_then(|s| s.get("maxLength"))
        .and_then(Value::as_u64)
        .map_or(200, |m| m as usize);
    let candidates = (0..REVISIONS.len())
        .map(|i| REVISIONS[(unheard + i) % REVISIONS.len()])
        .map(|t| t.replace("{text}", &base).replace("{name}", &subject.name));
    let mut text = candidates
        .clone()
        .find(|c| !avoided.iter().any(|a| mentions(c, a)))
        .unwrap_or_else(|| subject.name.clone());
    if let Some(phrase) = &leading {
        text = format!("{}: {text}", capitalise_first(phrase));
    }
    if !wishes.is_empty() {
        text = format!("{text}, with {}", wishes.join(" and "));
    }
    let text: String = text.chars().take(max.max(1)).collect();
    crate::types::set_path(content, &segments, Value::String(text));
}

/// The draft for `request`: replays the workflow's iterations to rebuild the notes, then
/// composes the requested iteration.
fn draft(request: &GenerationRequest) -> Value {
    if request.artifact_type.name != crate::types::DEFAULT_TYPE {
        return typed_draft(request);
    }
    let mut notes = Notes::default();
    let mut current: Option<Value> = None;
    for iteration in 1..request.iteration.max(1) {
        let replayed = revise(&request.subject, &notes, current.as_ref());
        current = Some(match &request.previous {
            Some(previous) if previous.iteration == iteration => previous.content.clone(),
            _ => replayed,
        });
        for entry in request.feedback.iter().filter(|e| e.iteration == iteration) {
            notes.hear(entry, current.as_ref());
        }
    }
    let previous = request.previous.as_ref().map(|p| &p.content);
    revise(&request.subject, &notes, previous.or(current.as_ref()))
}

#[async_trait]
impl MetadataAgent for LocalGenerator {
    async fn generate(&self, request: &GenerationRequest) -> Result<GeneratedDraft, HandlerError> {
        Ok(GeneratedDraft {
            content: draft(request),
            generator: GENERATOR_NAME.into(),
        })
    }
}
