//! Who a reviewer is. Approvals, claims and idempotency scopes are matched on a reviewer's
//! stable identity, never on the name shown: the issuer and subject of a verified OIDC token
//! (`oidc:<issuer>|<sub>`), or a name normalised so that look-alikes are one person
//! (`name:<folded>`: the local reviewers file's names and the names the CLI, SQS and Lambda
//! front doors declare). The two namespaces never meet: an OIDC subject `ann` is not the local
//! reviewer `ann`.
//!
//! A declared name is made canonical (Unicode NFKC, surrounding and repeated whitespace
//! removed) and its identity is its full case fold of that, normalised again (NFKC_Casefold,
//! so `Ann`, `ANN` and fullwidth `ａｎｎ` are `ann`). Names with invisible or control
//! characters, characters outside letters, digits and ` . - _ @ ' +`, or letters of more than
//! one script (Latin `a` beside Cyrillic `а`) are refused: they are how one person poses as
//! two (UTS #39's general security profile and mixed-script detection, from the
//! `unicode-security` crate).

use thiserror::Error;
use unicode_normalization::UnicodeNormalization;
use unicode_security::{GeneralSecurityProfile, MixedScript};

/// Longest reviewer name, in characters.
pub const MAX_NAME_CHARS: usize = 128;

/// Punctuation a name may hold besides letters and digits.
const NAME_PUNCTUATION: [char; 7] = [' ', '.', '-', '_', '@', '\'', '+'];

/// Prefix of identities that are a normalised declared name.
pub const NAME_NAMESPACE: &str = "name:";
/// Prefix of identities from a verified OIDC token.
pub const OIDC_NAMESPACE: &str = "oidc:";

/// Why a declared reviewer name is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    /// Nothing but whitespace.
    #[error("must not be empty")]
    Empty,
    /// Longer than [`MAX_NAME_CHARS`].
    #[error("must be at most {MAX_NAME_CHARS} characters")]
    TooLong,
    /// An invisible, formatting or control character (zero-width space, bidi marks, …).
    #[error("contains an invisible or control character (U+{0:04X}); type the name plainly")]
    Invisible(u32),
    /// A character a name may not hold.
    #[error(
        "contains {0:?} (U+{1:04X}); a name holds letters, digits, spaces and . - _ @ ' + only"
    )]
    Disallowed(char, u32),
    /// Letters of several scripts, e.g. Latin with Cyrillic look-alikes.
    #[error("mixes letters of different scripts (such as Latin and Cyrillic); write it in one")]
    MixedScript,
}

/// A declared name made canonical: NFKC, trimmed, inner whitespace runs as one space. This
/// is the label shown; [`name_key`] is the identity.
pub fn canonical_name(raw: &str) -> String {
    let nfkc: String = raw.nfkc().collect();
    nfkc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The identity key of a name: NFKC_Casefold of its canonical form, so names that differ
/// only in case, width or compatibility form are the same key.
pub fn name_key(raw: &str) -> String {
    let canonical = canonical_name(raw);
    let folded = caseless::default_case_fold_str(&canonical);
    folded.nfkc().collect()
}

/// Checks a declared name (see the module documentation); `Ok` with its canonical form.
pub fn check_name(raw: &str) -> Result<String, NameError> {
    let canonical = canonical_name(raw);
    if canonical.is_empty() {
        return Err(NameError::Empty);
    }
    if canonical.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    for c in raw.chars() {
        if is_invisible(c) {
            return Err(NameError::Invisible(u32::from(c)));
        }
    }
    for c in canonical.chars() {
        if !(c.identifier_allowed() || NAME_PUNCTUATION.contains(&c)) {
            return Err(NameError::Disallowed(c, u32::from(c)));
        }
    }
    let letters: String = canonical
        .chars()
        .filter(|c| !NAME_PUNCTUATION.contains(c))
        .collect();
    if !letters.as_str().is_single_script() {
        return Err(NameError::MixedScript);
    }
    Ok(canonical)
}

/// Control characters and the default-ignorable code points people use to make two strings
/// look alike (zero-width characters, joiners, bidi controls, the byte-order mark, variation
/// selectors, the soft hyphen, Hangul fillers, tags).
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(u32::from(c),
            0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
            | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF)
}

/// The identity of a declared name (`name:<key>`); the name is not checked here (see
/// [`check_name`]).
pub fn declared_id(name: &str) -> String {
    format!("{NAME_NAMESPACE}{}", name_key(name))
}

/// The identity of a verified OIDC token's subject: `oidc:<issuer>|<sub>` (a subject is
/// unique only within its issuer).
pub fn oidc_id(issuer: &str, subject: &str) -> String {
    format!("{OIDC_NAMESPACE}{issuer}|{subject}")
}

/// Whether two actors are the same reviewer: by identity when both have one; a record kept
/// before identities were recorded (empty id) is matched by its name.
pub fn same_reviewer(id_a: &str, name_a: &str, id_b: &str, name_b: &str) -> bool {
    if id_a.is_empty() || id_b.is_empty() {
        name_a == name_b
    } else {
        id_a == id_b
    }
}

/// Who acts on a review: the stable identity the rules match on and the name shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The stable identity (`name:<folded>`, `oidc:<issuer>|<sub>`).
    pub id: String,
    /// The label shown and recorded.
    pub name: String,
}

impl Actor {
    /// Whether a record of `(id, name)` names this actor (see [`same_reviewer`]).
    pub fn is(&self, id: &str, name: &str) -> bool {
        same_reviewer(&self.id, &self.name, id, name)
    }
}

/// A declared name as an actor (tests and trusted front doors; the name is not checked).
impl From<&str> for Actor {
    fn from(name: &str) -> Self {
        Self {
            id: declared_id(name),
            name: canonical_name(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_width_and_compatibility_forms_are_one_identity() {
        for look_alike in ["Ann", "ANN", "ａｎｎ", "  ann ", "aNn"] {
            assert_eq!(declared_id(look_alike), "name:ann", "{look_alike:?}");
            assert!(check_name(look_alike).is_ok(), "{look_alike:?}");
        }
        assert_eq!(name_key("Straße"), name_key("STRASSE"));
        assert_eq!(canonical_name("  Rita   Lee "), "Rita Lee");
    }

    #[test]
    fn invisible_and_control_characters_are_refused() {
        for (name, code) in [
            ("ann\u{200B}", 0x200B),
            ("\u{FEFF}ann", 0xFEFF),
            ("an\u{200D}n", 0x200D),
            ("ann\u{202E}", 0x202E),
            ("ann\u{7}", 0x7),
        ] {
            assert_eq!(
                check_name(name),
                Err(NameError::Invisible(code)),
                "{name:?}"
            );
        }
    }

    #[test]
    fn mixed_scripts_are_refused_and_single_scripts_kept() {
        // Cyrillic а (U+0430) beside Latin n.
        assert_eq!(check_name("\u{430}nn"), Err(NameError::MixedScript));
        assert_eq!(check_name("раypal"), Err(NameError::MixedScript));
        for fine in [
            "ann",
            "José Núñez",
            "Анна",
            "田中 太郎",
            "rita@example.com",
            "O'Brien",
        ] {
            assert!(check_name(fine).is_ok(), "{fine:?}: {:?}", check_name(fine));
        }
    }

    #[test]
    fn empty_long_and_odd_names_are_refused_with_the_reason() {
        assert_eq!(check_name("   "), Err(NameError::Empty));
        assert_eq!(check_name(&"a".repeat(129)), Err(NameError::TooLong));
        assert!(check_name(&"a".repeat(128)).is_ok());
        assert!(matches!(
            check_name("ann<script>"),
            Err(NameError::Disallowed('<', 0x3C))
        ));
    }

    #[test]
    fn identities_of_namespaces_never_meet() {
        assert_ne!(declared_id("ann"), oidc_id("https://issuer", "ann"));
        assert!(same_reviewer("name:ann", "ann", "name:ann", "Ann"));
        assert!(!same_reviewer("name:ann", "ann", "oidc:x|ann", "ann"));
        // Records kept before identities: matched by name.
        assert!(same_reviewer("", "ann", "name:ann", "ann"));
    }
}
