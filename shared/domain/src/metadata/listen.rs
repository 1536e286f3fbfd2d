//! Reading a reviewer's comment (or an escalation's guidance) as requests the local generator
//! can act on, deterministically and without a model: `mention X`, `include "X"`,
//! `use the word X`, `lead with X`, `more premium` (a tone), `shorter`/`too long`,
//! `don't say X`/`avoid X`/`no X`. A phrase is taken only when it is short plain text
//! (letters, digits, spaces, `-`, `'`, `&`), so nothing a reviewer typed can put markup or
//! control characters into a draft. The field names it recognises ("in the tagline") come from
//! the caller, so the same reading serves any artifact type.

/// The longest phrase taken from a comment, in characters.
pub const MAX_PHRASE_CHARS: usize = 60;
/// The most words in a phrase taken from a comment.
pub const MAX_PHRASE_WORDS: usize = 6;

/// One thing a comment asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The words must appear (in `field` when the comment names one).
    Include {
        /// The words, as the reviewer wrote them.
        phrase: String,
        /// The field the comment names, if any.
        field: Option<String>,
    },
    /// The headline (the tagline for brand metadata) must start with these words.
    Lead(String),
    /// The words must disappear and never be used again.
    Avoid(String),
    /// One of the schema's tones.
    Tone(&'static str),
    /// Shorter text (in `field` when the comment names one, else the generated prose).
    Shorter {
        /// The field the comment names, if any.
        field: Option<String>,
    },
}

/// Tones and the words that ask for them.
const TONE_WORDS: [(&str, &[&str]); 5] = [
    (
        "premium",
        &[
            "premium",
            "luxurious",
            "luxury",
            "upscale",
            "elegant",
            "refined",
            "classy",
            "sophisticated",
        ],
    ),
    (
        "playful",
        &[
            "playful",
            "fun",
            "funny",
            "whimsical",
            "cheeky",
            "lighthearted",
        ],
    ),
    (
        "professional",
        &[
            "professional",
            "formal",
            "serious",
            "corporate",
            "businesslike",
        ],
    ),
    (
        "bold",
        &[
            "bold",
            "bolder",
            "daring",
            "punchy",
            "punchier",
            "confident",
        ],
    ),
    (
        "friendly",
        &[
            "friendly",
            "friendlier",
            "warm",
            "warmer",
            "approachable",
            "casual",
        ],
    ),
];

const AVOID: [&[&str]; 20] = [
    &["don't", "say"],
    &["dont", "say"],
    &["do", "not", "say"],
    &["don't", "use"],
    &["dont", "use"],
    &["do", "not", "use"],
    &["don't", "mention"],
    &["dont", "mention"],
    &["do", "not", "mention"],
    &["never", "say"],
    &["never", "use"],
    &["never", "mention"],
    &["stop", "saying"],
    &["no", "more"],
    &["avoid"],
    &["drop"],
    &["remove"],
    &["without"],
    &["no"],
    &["not"],
];

const LEAD: [&[&str]; 5] = [
    &["lead", "with"],
    &["start", "with"],
    &["open", "with"],
    &["begin", "with"],
    &["lead", "on"],
];

const INCLUDE: [&[&str]; 14] = [
    &["use", "the", "words"],
    &["use", "the", "word"],
    &["use", "the", "phrase"],
    &["talk", "about"],
    &["call", "out"],
    &["mention"],
    &["include"],
    &["add"],
    &["use"],
    &["say"],
    &["feature"],
    &["highlight"],
    &["emphasise"],
    &["emphasize"],
];

const SHORTER: [&str; 6] = ["shorter", "shorten", "concise", "wordy", "trim", "briefer"];

/// Words that may open a clause before the request itself ("please mention X").
const FILLERS: [&str; 12] = [
    "please", "and", "but", "also", "then", "just", "maybe", "could", "can", "you", "try", "to",
];

/// Words at the end of a phrase that are not part of it ("mention X please").
const TRAILERS: [&str; 6] = ["please", "instead", "too", "again", "somewhere", "also"];

/// Starting words of a request, where a clause joined by "and"/"but" is split.
const STARTERS: [&str; 17] = [
    "lead", "start", "open", "begin", "mention", "include", "add", "use", "say", "avoid", "don't",
    "dont", "do", "drop", "remove", "never", "make",
];

/// Every request a comment makes, in the order written. An empty list means nothing in it was
/// recognised. `fields` are the artifact's field names a comment may point at.
pub fn requests(comment: &str, fields: &[&str]) -> Vec<Request> {
    clauses(comment)
        .iter()
        .filter_map(|clause| request(clause, fields))
        .collect()
}

/// Splits at sentence punctuation and commas outside double quotes, then before an
/// "and"/"but" that starts a new request ("mention X and avoid Y").
fn clauses(comment: &str) -> Vec<Vec<String>> {
    let comment = comment.replace(['\u{2019}', '\u{2018}'], "'");
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in comment.chars() {
        match c {
            '"' | '\u{201c}' | '\u{201d}' => {
                quoted = !quoted;
                current.push('"');
            }
            '.' | ';' | '!' | '?' | ',' | '\n' | ':' if !quoted => {
                pieces.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
    }
    pieces.push(current);
    let mut out = Vec::new();
    for piece in pieces {
        let mut clause: Vec<String> = Vec::new();
        let words: Vec<&str> = piece.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            let joins = matches!(word.to_lowercase().as_str(), "and" | "but" | "then");
            let next_starts = words
                .get(i + 1)
                .is_some_and(|n| STARTERS.contains(&n.to_lowercase().as_str()));
            if joins && next_starts && !clause.is_empty() {
                out.push(std::mem::take(&mut clause));
                continue;
            }
            clause.push((*word).to_owned());
        }
        if !clause.is_empty() {
            out.push(clause);
        }
    }
    out
}

fn lower(words: &[String]) -> Vec<String> {
    words.iter().map(|w| w.to_lowercase()).collect()
}

/// Length of the longest pattern `words` starts with.
fn starts_with_any(words: &[String], patterns: &[&[&str]]) -> Option<usize> {
    patterns
        .iter()
        .find(|p| p.len() < words.len() && p.iter().zip(words).all(|(a, b)| a == b))
        .map(|p| p.len())
}

fn request(clause: &[String], fields: &[&str]) -> Option<Request> {
    let all = lower(clause);
    let skip = all
        .iter()
        .take_while(|w| FILLERS.contains(&w.as_str()))
        .count();
    let (clause, words) = (&clause[skip..], &all[skip..]);
    let field = fields
        .iter()
        .find(|f| words.iter().any(|w| w.trim_matches('"') == **f))
        .map(|f| (*f).to_owned());
    if let Some(n) = starts_with_any(words, &AVOID) {
        return phrase(&clause[n..], fields, true).map(Request::Avoid);
    }
    if let Some(n) = starts_with_any(words, &LEAD) {
        return phrase(&clause[n..], fields, false).map(Request::Lead);
    }
    if let Some(n) = starts_with_any(words, &INCLUDE) {
        return phrase(&clause[n..], fields, false)
            .map(|phrase| Request::Include { phrase, field });
    }
    let too_long = words.windows(2).any(|w| w[0] == "too" && w[1] == "long");
    if too_long || words.iter().any(|w| SHORTER.contains(&w.as_str())) {
        return Some(Request::Shorter { field });
    }
    if words
        .iter()
        .any(|w| matches!(w.as_str(), "less" | "not" | "too" | "no"))
    {
        return None;
    }
    TONE_WORDS
        .iter()
        .find(|(_, synonyms)| words.iter().any(|w| synonyms.contains(&w.as_str())))
        .map(|(tone, _)| Request::Tone(tone))
}

/// The phrase a request names: the quoted text when there is one, else the words left after
/// dropping "the word(s)", a trailing "please" and a field reference ("in the tagline"); for
/// an avoided phrase also a leading article. `None` unless it is short plain text.
fn phrase(words: &[String], fields: &[&str], drop_article: bool) -> Option<String> {
    let text = words.join(" ");
    let candidate = match (text.find('"'), text.rfind('"')) {
        (Some(open), Some(close)) if close > open => text[open + 1..close].to_owned(),
        _ => {
            let mut kept: Vec<&String> = words.iter().collect();
            while let Some(last) = kept.last() {
                let last = last.to_lowercase();
                if TRAILERS.contains(&last.as_str()) {
                    kept.pop();
                } else {
                    break;
                }
            }
            // "... in the tagline", "... to the description"
            if kept.len() >= 3 {
                let tail: Vec<String> = kept[kept.len() - 3..]
                    .iter()
                    .map(|w| w.to_lowercase())
                    .collect();
                if ["in", "to", "into", "for"].contains(&tail[0].as_str())
                    && tail[1] == "the"
                    && fields.contains(&tail[2].as_str())
                {
                    kept.truncate(kept.len() - 3);
                }
            }
            if drop_article
                && kept.len() > 1
                && ["the", "a", "an", "any"].contains(&kept[0].to_lowercase().as_str())
            {
                kept.remove(0);
            }
            kept.iter()
                .map(|w| w.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    let candidate = candidate.trim().to_owned();
    let plain = candidate
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '\'' | '&'));
    let fits = (1..=MAX_PHRASE_CHARS).contains(&candidate.chars().count())
        && candidate.split_whitespace().count() <= MAX_PHRASE_WORDS;
    (plain && fits && candidate.chars().any(char::is_alphanumeric)).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: [&str; 3] = ["tagline", "description", "keywords"];

    fn read(comment: &str) -> Vec<Request> {
        requests(comment, &FIELDS)
    }

    #[test]
    fn recognises_each_kind_of_request() {
        assert_eq!(
            read("Lead with the morning ritual, not the beans"),
            vec![
                Request::Lead("the morning ritual".into()),
                Request::Avoid("beans".into())
            ]
        );
        assert_eq!(
            read("Please mention fair trade in the tagline"),
            vec![Request::Include {
                phrase: "fair trade".into(),
                field: Some("tagline".into())
            }]
        );
        assert_eq!(
            read("include \"Roasted in small batches\" and avoid cheap"),
            vec![
                Request::Include {
                    phrase: "Roasted in small batches".into(),
                    field: None
                },
                Request::Avoid("cheap".into())
            ]
        );
        assert_eq!(
            read("Use the word sustainable"),
            vec![Request::Include {
                phrase: "sustainable".into(),
                field: None
            }]
        );
        assert_eq!(read("More premium please"), vec![Request::Tone("premium")]);
        assert_eq!(
            read("Warmer tagline please"),
            vec![Request::Tone("friendly")]
        );
        assert_eq!(read("More formal"), vec![Request::Tone("professional")]);
        assert_eq!(read("Bolder"), vec![Request::Tone("bold")]);
        assert_eq!(
            read("The description is too long"),
            vec![Request::Shorter {
                field: Some("description".into())
            }]
        );
        assert_eq!(
            read("Don't say cheap"),
            vec![Request::Avoid("cheap".into())]
        );
    }

    #[test]
    fn ignores_what_it_cannot_read_safely() {
        assert!(read("Tagline too generic").is_empty());
        assert!(read("still not on brand").is_empty());
        assert!(read("mention <script>alert(1)</script>").is_empty());
        assert!(read("mention a b c d e f g h").is_empty());
        assert!(read("less playful").is_empty());
    }
}
