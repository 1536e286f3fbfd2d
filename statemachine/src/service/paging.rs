//! `nextToken` for the list operations: an opaque token holding the offset of the next page
//! and the request it belongs to, so a token reused with another request is refused
//! (`InvalidToken`) rather than silently paging through something else.

use super::error::ApiError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The default and largest page, as the service documents for `maxResults`.
pub const MAX_RESULTS: usize = 1000;
/// The page size when `maxResults` is absent or 0.
pub const DEFAULT_RESULTS: usize = 100;

/// One page of `items` starting at the token's offset, and the token of the next page.
pub fn page<T: Clone>(
    items: &[T],
    scope: &str,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let size = match max_results {
        None | Some(0) => DEFAULT_RESULTS,
        Some(n) if (1..=MAX_RESULTS as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::validation(format!(
                "maxResults must be between 0 and {MAX_RESULTS}, got {n}"
            )))
        }
    };
    let start = match next_token {
        None => 0,
        Some(t) => decode(t, scope)?,
    };
    let end = start.saturating_add(size).min(items.len());
    let slice = items.get(start.min(items.len())..end).unwrap_or_default();
    let next = (end < items.len()).then(|| encode(end, scope));
    Ok((slice.to_vec(), next))
}

fn encode(offset: usize, scope: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{offset}|{scope}"))
}

fn decode(token: &str, scope: &str) -> Result<usize, ApiError> {
    let invalid = || ApiError::new("InvalidToken", format!("Invalid Token: '{token}'"));
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (offset, for_scope) = text.split_once('|').ok_or_else(invalid)?;
    if for_scope != scope {
        return Err(invalid());
    }
    offset.parse().map_err(|_| invalid())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other_and_the_last_has_no_token() {
        let items: Vec<u32> = (1..=5).collect();
        let (a, t) = page(&items, "s", Some(2), None).unwrap();
        assert_eq!(a, vec![1, 2]);
        let (b, t) = page(&items, "s", Some(2), t.as_deref()).unwrap();
        assert_eq!(b, vec![3, 4]);
        let (c, t) = page(&items, "s", Some(2), t.as_deref()).unwrap();
        assert_eq!((c, t), (vec![5], None));
    }

    #[test]
    fn a_token_of_another_request_or_a_bad_size_is_refused() {
        let items: Vec<u32> = (1..=5).collect();
        let (_, t) = page(&items, "s", Some(2), None).unwrap();
        let e = page(&items, "other", Some(2), t.as_deref()).unwrap_err();
        assert_eq!(e.kind, "InvalidToken");
        assert_eq!(
            page(&items, "s", None, Some("!!")).unwrap_err().kind,
            "InvalidToken"
        );
        let e = page(&items, "s", Some(1001), None).unwrap_err();
        assert_eq!(e.kind, "ValidationException");
        assert!(e.message.contains("maxResults"));
    }
}
