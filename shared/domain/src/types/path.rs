//! Paths as users type them: dotted keys with array indices (`specs[2].value`), and hint
//! patterns where `[]` stands for any index (`specs[].value`).

use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key.
    Key(String),
    /// An array index; `None` in a pattern (`[]`, any index).
    Index(Option<usize>),
}

/// A path that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a path like `name`, `colors.primary` or `specs[2].value`")]
pub struct PathError(pub String);

/// Parses `a.b[2].c` (and the pattern form `a.b[].c`).
pub fn parse_path(path: &str) -> Result<Vec<Segment>, PathError> {
    let bad = || PathError(path.to_owned());
    if path.is_empty() || path.len() > 256 {
        return Err(bad());
    }
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        if key.is_empty() && (segments.is_empty() || rest.is_empty()) {
            return Err(bad());
        }
        if !key.is_empty() {
            if key.contains(']') {
                return Err(bad());
            }
            segments.push(Segment::Key(key.to_owned()));
        }
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(bad)?;
            let inside = &rest[1..close];
            let index = if inside.is_empty() || inside == "*" {
                None
            } else {
                Some(inside.parse::<usize>().map_err(|_| bad())?)
            };
            segments.push(Segment::Index(index));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(bad());
            }
        }
    }
    Ok(segments)
}

/// Writes segments back as a path (`specs[2].value`).
pub fn display(segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(Some(i)) => out.push_str(&format!("[{i}]")),
            Segment::Index(None) => out.push_str("[]"),
        }
    }
    out
}

/// Whether `pattern` (with `[]` for any index) matches the concrete `segments`.
pub fn matches(pattern: &str, segments: &[Segment]) -> bool {
    let Ok(pattern) = parse_path(pattern) else {
        return false;
    };
    pattern.len() == segments.len()
        && pattern.iter().zip(segments).all(|(p, s)| match (p, s) {
            (Segment::Key(a), Segment::Key(b)) => a == b,
            (Segment::Index(None), Segment::Index(_)) => true,
            (Segment::Index(Some(a)), Segment::Index(Some(b))) => a == b,
            _ => false,
        })
}

/// The value at a dotted path (with indices) inside `value`.
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let segments = parse_path(path).ok()?;
    let mut at = value;
    for segment in &segments {
        at = match segment {
            Segment::Key(k) => at.get(k)?,
            Segment::Index(Some(i)) => at.get(*i)?,
            Segment::Index(None) => return None,
        };
    }
    Some(at)
}

/// The sub-schema a path leads to: `properties` for keys, `items` for indices (no `$ref`).
pub fn schema_at<'a>(schema: &'a Value, segments: &[Segment]) -> Result<&'a Value, String> {
    let mut at = schema;
    for (n, segment) in segments.iter().enumerate() {
        let next = match segment {
            Segment::Key(k) => at.get("properties").and_then(|p| p.get(k)),
            Segment::Index(_) => at.get("items").filter(|i| i.is_object()),
        };
        at = next.ok_or_else(|| {
            format!(
                "the schema has no {:?} here",
                display(&segments[..=n]).trim_start_matches('.')
            )
        })?;
    }
    Ok(at)
}

/// [`schema_at`] for a pattern text.
pub fn schema_at_pattern<'a>(schema: &'a Value, pattern: &str) -> Result<&'a Value, String> {
    let segments = parse_path(pattern).map_err(|e| e.to_string())?;
    schema_at(schema, &segments)
}

/// Sets `value` at `segments` inside `content`, creating objects on the way; an index one
/// past the end appends, a farther one changes nothing.
pub fn set(content: &mut Value, segments: &[Segment], value: Value) {
    let Some((last, parents)) = segments.split_last() else {
        *content = value;
        return;
    };
    let mut target = content;
    for (n, segment) in parents.iter().enumerate() {
        let next_is_index = matches!(segments.get(n + 1), Some(Segment::Index(_)));
        let fresh = || {
            if next_is_index {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            }
        };
        target = match segment {
            Segment::Key(k) => {
                if !target.is_object() {
                    *target = Value::Object(Map::new());
                }
                let Some(object) = target.as_object_mut() else {
                    return;
                };
                object.entry(k.clone()).or_insert_with(fresh)
            }
            Segment::Index(Some(i)) => {
                let Some(list) = target.as_array_mut() else {
                    return;
                };
                if *i == list.len() {
                    list.push(fresh());
                }
                match list.get_mut(*i) {
                    Some(item) => item,
                    None => return,
                }
            }
            Segment::Index(None) => return,
        };
    }
    match last {
        Segment::Key(k) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Some(object) = target.as_object_mut() {
                object.insert(k.clone(), value);
            }
        }
        Segment::Index(Some(i)) => {
            if let Some(list) = target.as_array_mut() {
                if *i < list.len() {
                    list[*i] = value;
                } else if *i == list.len() {
                    list.push(value);
                }
            }
        }
        Segment::Index(None) => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_parse_with_indices_and_round_trip() {
        for path in [
            "name",
            "colors.primary",
            "specs[2].value",
            "bullets[0]",
            "a[1][2].b",
        ] {
            assert_eq!(display(&parse_path(path).unwrap()), path);
        }
        for bad in ["", ".a", "a..b", "a[x]", "a[1", "a]b", "[0]"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn patterns_match_any_index() {
        let path = parse_path("specs[3].value").unwrap();
        assert!(matches("specs[].value", &path));
        assert!(!matches("specs[].name", &path));
        assert!(!matches("specs", &path));
    }

    #[test]
    fn set_replaces_items_appends_one_past_the_end_and_ignores_farther() {
        let mut doc = json!({"bullets": ["a", "b"], "specs": [{"name": "x", "value": "1"}]});
        set(&mut doc, &parse_path("bullets[1]").unwrap(), json!("B"));
        set(&mut doc, &parse_path("bullets[2]").unwrap(), json!("c"));
        set(&mut doc, &parse_path("bullets[9]").unwrap(), json!("z"));
        set(&mut doc, &parse_path("specs[0].value").unwrap(), json!("2"));
        assert_eq!(
            doc,
            json!({"bullets": ["a", "B", "c"], "specs": [{"name": "x", "value": "2"}]})
        );
    }
}
