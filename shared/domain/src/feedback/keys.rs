//! Idempotency key scoping: a client's key inside its submitter's scope.

use sha2::{Digest, Sha256};

use crate::model::Channel;

/// Separates the submitter's scope from the key the client chose (`~` is not allowed in
/// client keys, so the split is unambiguous).
pub(super) const SCOPE_SEPARATOR: char = '~';

/// The stored key of a submission: the client's key inside its submitter's scope (a hash of
/// channel and the reviewer's stable identity, see [`Reviewer::identity`]), so one principal's
/// key never replays or pre-empts another's, and one principal's keys stay one scope whatever
/// display name their credential carries today.
pub fn scoped_key(channel: Channel, reviewer_id: &str, key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(channel.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(reviewer_id.as_bytes());
    let scope = hex::encode(hasher.finalize());
    format!("{}{SCOPE_SEPARATOR}{key}", &scope[..16])
}

/// The scope prefix (with its separator) of a scoped key: what all keys of one submitter
/// share.
pub fn key_scope(scoped: &str) -> &str {
    scoped.find(SCOPE_SEPARATOR).map_or("", |i| &scoped[..=i])
}

/// The key the client chose, from a stored (scoped) key; an unscoped key (recorded before
/// keys were scoped) is returned as it is.
pub fn client_key(scoped: &str) -> &str {
    scoped
        .split_once(SCOPE_SEPARATOR)
        .map_or(scoped, |(_, key)| key)
}
