//! Small English helpers for generated text: the indefinite article by sound, sentences that
//! start with a capital and end with a full stop, lists ("a, b and c"), and whole-word matching
//! of a phrase in a text.

/// Words that start with a vowel letter but a consonant sound ("a unique", "a one-off").
const CONSONANT_SOUND_PREFIXES: [&str; 10] = [
    "one", "once", "uni", "use", "usu", "uti", "uto", "eu", "ewe", "ufo",
];

/// Words that start with a consonant letter but a vowel sound ("an hour", "an honest").
const VOWEL_SOUND_PREFIXES: [&str; 5] = ["hour", "honest", "honor", "honour", "heir"];

/// `"a"` or `"an"` for the word that follows, by its sound: a vowel letter means a vowel sound
/// except for the common exceptions ("unique", "user", "one", "euro"), and a silent "h"
/// ("hour", "honest", "heir") means a vowel sound.
pub fn indefinite_article(next_word: &str) -> &'static str {
    let word = next_word
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    if VOWEL_SOUND_PREFIXES.iter().any(|p| word.starts_with(p)) {
        return "an";
    }
    if CONSONANT_SOUND_PREFIXES.iter().any(|p| word.starts_with(p)) {
        return "a";
    }
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// `phrase` preceded by its indefinite article: `"an outdoor"`, `"a unique"`.
pub fn with_article(phrase: &str) -> String {
    format!("{} {}", indefinite_article(phrase), phrase.trim())
}

/// White space collapsed to single spaces, trimmed.
pub fn tidy(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` tidied with its first letter in upper case.
pub fn capitalise_first(text: &str) -> String {
    let text = tidy(text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` as a sentence: tidied, capitalised, ending with a full stop (or the `!`/`?` it has).
pub fn sentence(text: &str) -> String {
    let mut text = capitalise_first(text);
    if !text.is_empty() && !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

/// `["a"]` → `a`, `["a", "b"]` → `a and b`, `["a", "b", "c"]` → `a, b and c`.
pub fn join_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '&'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn same_word(a: &str, b: &str) -> bool {
    a == b || a.strip_suffix('s') == Some(b) || b.strip_suffix('s') == Some(a)
}

/// Whether `text` contains `phrase` as whole words, ignoring case and a plural "s"
/// (`"Fresh beans daily"` mentions `"bean"`; `"beanstalk"` does not).
pub fn mentions(text: &str, phrase: &str) -> bool {
    let needle = words(phrase);
    if needle.is_empty() {
        return false;
    }
    let hay = words(text);
    hay.windows(needle.len())
        .any(|window| window.iter().zip(&needle).all(|(a, b)| same_word(a, b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles_follow_the_sound() {
        for (word, article) in [
            ("outdoor", "an"),
            ("food", "a"),
            ("hour", "an"),
            ("honest", "an"),
            ("unique", "a"),
            ("user-friendly", "a"),
            ("one-stop", "a"),
            ("umbrella", "an"),
            ("Eco", "an"),
            ("European", "a"),
            ("hotel", "a"),
        ] {
            assert_eq!(indefinite_article(word), article, "{word}");
        }
    }

    #[test]
    fn sentences_are_tidy() {
        assert_eq!(sentence("  it  is   new "), "It is new.");
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(
            join_list(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
        assert!(mentions("Fresh beans daily", "bean"));
        assert!(!mentions("A beanstalk", "bean"));
        assert!(mentions("The Morning Ritual, by Acme", "morning ritual"));
    }
}
