//! JSONPath with Step Functions semantics.
//!
//! Reference paths (`$.a.b`, `$['a'][0]`) select exactly one node and are evaluated directly;
//! anything else (wildcards, filters, slices, recursive descent) is delegated to
//! `serde_json_path` and yields an array of every match. A reference path that matches nothing
//! is an error. Paths starting with `$$` address the context object.

use serde_json::{Map, Value};

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object member.
    Field(String),
    /// An array element.
    Index(usize),
}

/// Why a path could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is not valid JSONPath.
    #[error("invalid JSONPath '{path}': {message}")]
    Syntax {
        /// The offending path.
        path: String,
        /// Parser message.
        message: String,
    },
    /// The path matched nothing.
    #[error("the JSONPath '{path}' could not be found in the input")]
    NoMatch {
        /// The offending path.
        path: String,
    },
    /// ResultPath could not be applied.
    #[error("unable to apply ResultPath '{path}': {message}")]
    ResultPath {
        /// The offending path.
        path: String,
        /// Why.
        message: String,
    },
}

/// Parses a reference path (`$`, `$.a`, `$['a b']`, `$.a[0]`), or `None` if the path uses
/// wildcards, filters, slices or recursive descent (or is not a path at all).
pub fn parse_reference(path: &str) -> Option<Vec<Segment>> {
    // Byte-wise: every delimiter is ASCII, so slicing at them keeps UTF-8 names intact.
    let rest = path.strip_prefix('$')?;
    let bytes = rest.as_bytes();
    let mut segs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                i += 1;
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b'.' | b'[') {
                    if matches!(
                        bytes[i],
                        b'*' | b'?' | b'@' | b'(' | b')' | b']' | b'\'' | b'"'
                    ) || bytes[i].is_ascii_whitespace()
                    {
                        return None;
                    }
                    i += 1;
                }
                if i == start {
                    return None;
                }
                let name = rest.get(start..i)?;
                if name.chars().any(char::is_whitespace) {
                    return None;
                }
                segs.push(Segment::Field(name.to_string()));
            }
            b'[' => {
                i += 1;
                let quote = *bytes.get(i)?;
                if quote == b'\'' || quote == b'"' {
                    i += 1;
                    let mut name = String::new();
                    let mut run = i;
                    loop {
                        let c = *bytes.get(i)?;
                        if c == b'\\' {
                            name.push_str(rest.get(run..i)?);
                            let escaped = rest.get(i + 1..)?.chars().next()?;
                            name.push(escaped);
                            i += 1 + escaped.len_utf8();
                            run = i;
                        } else if c == quote {
                            name.push_str(rest.get(run..i)?);
                            i += 1;
                            break;
                        } else {
                            i += 1;
                        }
                    }
                    if bytes.get(i) != Some(&b']') {
                        return None;
                    }
                    i += 1;
                    segs.push(Segment::Field(name));
                } else {
                    let start = i;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                    if i == start || bytes.get(i) != Some(&b']') {
                        return None;
                    }
                    let idx: usize = rest.get(start..i)?.parse().ok()?;
                    i += 1;
                    segs.push(Segment::Index(idx));
                }
            }
            _ => return None,
        }
    }
    Some(segs)
}

/// Whether `path` is a syntactically valid path (reference path, JSONPath query, or a `$$`
/// context path).
pub fn is_valid(path: &str) -> bool {
    check_syntax(path).is_ok()
}

/// The variable a path starts with (`$name`, `$name.field`, `$name[0]`), if it references a
/// workflow variable rather than the input (`$`, `$.x`) or the context object (`$$`).
pub fn variable_name(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('$')?;
    let first = rest.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '_') {
        return None;
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The path relative to the variable's value: `$name.a[0]` → `$.a[0]`, `$name` → `$`.
fn variable_rest(path: &str, name: &str) -> String {
    format!("${}", &path[1 + name.len()..])
}

/// Checks a path's syntax, returning the parser's message on failure.
pub fn check_syntax(path: &str) -> Result<(), PathError> {
    if let Some(name) = variable_name(path) {
        return check_syntax(&variable_rest(path, name)).map_err(|e| match e {
            PathError::Syntax { message, .. } => PathError::Syntax {
                path: path.to_string(),
                message,
            },
            other => other,
        });
    }
    let p = path
        .strip_prefix('$')
        .map_or(path, |rest| if rest.starts_with('$') { rest } else { path });
    if !p.starts_with('$') {
        return Err(PathError::Syntax {
            path: path.to_string(),
            message: "a path must start with '$'".into(),
        });
    }
    if parse_reference(p).is_some() {
        return Ok(());
    }
    serde_json_path::JsonPath::parse(p)
        .map(|_| ())
        .map_err(|e| PathError::Syntax {
            path: path.to_string(),
            message: e.to_string(),
        })
}

/// Whether `path` is a valid reference path (required for `ResultPath`).
pub fn is_reference(path: &str) -> bool {
    parse_reference(path).is_some()
}

/// The node a parsed reference path selects, if any.
pub fn walk<'v>(mut v: &'v Value, segs: &[Segment]) -> Option<&'v Value> {
    for s in segs {
        v = match (s, v) {
            (Segment::Field(f), Value::Object(m)) => m.get(f)?,
            (Segment::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Evaluates `path` against `input`; `$$` paths are evaluated against the value produced by
/// `context` (built only when needed).
pub fn select(
    input: &Value,
    path: &str,
    context: &dyn Fn(&str) -> Value,
) -> Result<Value, PathError> {
    if let Some(name) = variable_name(path) {
        // The context answers `$name` with `[value]`, or `[]` when the variable is unassigned.
        let holder = context(&format!("${name}"));
        let value =
            holder
                .as_array()
                .and_then(|a| a.first())
                .ok_or_else(|| PathError::NoMatch {
                    path: path.to_string(),
                })?;
        return select_in(value, &variable_rest(path, name)).map_err(|e| match e {
            PathError::NoMatch { .. } => PathError::NoMatch {
                path: path.to_string(),
            },
            other => other,
        });
    }
    if let Some(rest) = path.strip_prefix("$$") {
        let ctx = context(path);
        let p = format!("${rest}");
        return select_in(&ctx, &p).map_err(|e| match e {
            PathError::NoMatch { .. } => PathError::NoMatch {
                path: path.to_string(),
            },
            other => other,
        });
    }
    select_in(input, path)
}

/// Evaluates a plain (`$`-rooted) path against `input`.
pub fn select_in(input: &Value, path: &str) -> Result<Value, PathError> {
    if let Some(segs) = parse_reference(path) {
        return walk(input, &segs)
            .cloned()
            .ok_or_else(|| PathError::NoMatch {
                path: path.to_string(),
            });
    }
    let compiled = serde_json_path::JsonPath::parse(path).map_err(|e| PathError::Syntax {
        path: path.to_string(),
        message: e.to_string(),
    })?;
    let nodes = compiled.query(input).all();
    Ok(Value::Array(nodes.into_iter().cloned().collect()))
}

/// Whether a reference path resolves to a node (used by `IsPresent`).
pub fn exists(input: &Value, path: &str) -> bool {
    match parse_reference(path) {
        Some(segs) => walk(input, &segs).is_some(),
        None => serde_json_path::JsonPath::parse(path)
            .map(|p| !p.query(input).is_empty())
            .unwrap_or(false),
    }
}

/// Writes `result` into `input` at reference path `path`, creating intermediate objects.
pub fn set(input: Value, path: &str, result: Value) -> Result<Value, PathError> {
    let segs = parse_reference(path).ok_or_else(|| PathError::ResultPath {
        path: path.to_string(),
        message: "ResultPath must be a reference path".into(),
    })?;
    if segs.is_empty() {
        return Ok(result);
    }
    let mut root = input;
    {
        let mut cur = &mut root;
        let last = segs.len() - 1;
        for (i, seg) in segs.iter().enumerate() {
            let is_last = i == last;
            cur = match (seg, cur) {
                (Segment::Field(f), Value::Object(m)) => {
                    if is_last {
                        m.insert(f.clone(), result);
                        break;
                    }
                    let entry = m
                        .entry(f.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !entry.is_object() && !entry.is_array() {
                        return Err(PathError::ResultPath {
                            path: path.to_string(),
                            message: format!("field '{f}' is not an object"),
                        });
                    }
                    entry
                }
                (Segment::Index(idx), Value::Array(a)) => {
                    let len = a.len();
                    let slot = a.get_mut(*idx).ok_or_else(|| PathError::ResultPath {
                        path: path.to_string(),
                        message: format!("index {idx} is out of bounds (length {len})"),
                    })?;
                    if is_last {
                        *slot = result;
                        break;
                    }
                    slot
                }
                (seg, other) => {
                    return Err(PathError::ResultPath {
                        path: path.to_string(),
                        message: format!(
                            "cannot address {} in a value of type {}",
                            match seg {
                                Segment::Field(f) => format!("field '{f}'"),
                                Segment::Index(i) => format!("index {i}"),
                            },
                            type_name(other)
                        ),
                    })
                }
            };
        }
    }
    Ok(root)
}

/// JSON type name for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_ctx(_: &str) -> Value {
        json!({"Execution": {"Id": "arn:x"}})
    }

    #[test]
    fn reference_paths() {
        assert_eq!(parse_reference("$"), Some(vec![]));
        assert_eq!(
            parse_reference("$.a.b[2]['c d']"),
            Some(vec![
                Segment::Field("a".into()),
                Segment::Field("b".into()),
                Segment::Index(2),
                Segment::Field("c d".into())
            ])
        );
        assert_eq!(parse_reference("$.a[*]"), None);
        assert_eq!(parse_reference("$..a"), None);
        assert_eq!(parse_reference("a.b"), None);
        assert_eq!(parse_reference("$.a[?(@.x)]"), None);
    }

    #[test]
    fn reference_paths_with_unicode_escapes_and_whitespace() {
        assert_eq!(
            parse_reference("$.größe['naïve \\'q\\'']"),
            Some(vec![
                Segment::Field("größe".into()),
                Segment::Field("naïve 'q'".into())
            ])
        );
        assert_eq!(
            parse_reference("$['a\\\\b']"),
            Some(vec![Segment::Field("a\\b".into())])
        );
        assert_eq!(parse_reference("$.a b"), None);
        assert_eq!(
            parse_reference("$.a\u{2003}b"),
            None,
            "Unicode whitespace is not a name"
        );
        assert_eq!(parse_reference("$."), None);
        assert_eq!(parse_reference("$['unterminated"), None);
        assert_eq!(parse_reference("$[12"), None);
        assert_eq!(parse_reference("$[]"), None);
    }

    #[test]
    fn select_single_and_multi() {
        let v = json!({"a": {"b": [1, 2, 3]}, "items": [{"x": 1}, {"x": 5}]});
        assert_eq!(select(&v, "$.a.b[1]", &no_ctx).unwrap(), json!(2));
        assert_eq!(select(&v, "$", &no_ctx).unwrap(), v);
        assert_eq!(select(&v, "$.items[*].x", &no_ctx).unwrap(), json!([1, 5]));
        assert_eq!(
            select(&v, "$.items[?(@.x > 2)]", &no_ctx).unwrap(),
            json!([{"x": 5}])
        );
        assert!(matches!(
            select(&v, "$.missing", &no_ctx),
            Err(PathError::NoMatch { .. })
        ));
        assert!(matches!(
            select(&v, "$.a.b.c", &no_ctx),
            Err(PathError::NoMatch { .. })
        ));
    }

    #[test]
    fn context_paths() {
        let v = json!({});
        assert_eq!(
            select(&v, "$$.Execution.Id", &no_ctx).unwrap(),
            json!("arn:x")
        );
        assert!(select(&v, "$$.Nope", &no_ctx).is_err());
    }

    #[test]
    fn syntax() {
        assert!(is_valid("$.a.b"));
        assert!(is_valid("$$.Execution.Id"));
        assert!(is_valid("$.a[*].b"));
        assert!(!is_valid("a.b"));
        assert!(!is_valid("$.a[?("));
        assert!(is_reference("$.a['b']"));
        assert!(!is_reference("$.a[*]"));
    }

    #[test]
    fn set_creates_intermediates() {
        let out = set(json!({"a": 1}), "$.b.c", json!(2)).unwrap();
        assert_eq!(out, json!({"a": 1, "b": {"c": 2}}));
        let out = set(json!({"a": [1, 2]}), "$.a[1]", json!("x")).unwrap();
        assert_eq!(out, json!({"a": [1, "x"]}));
        assert_eq!(set(json!(1), "$", json!(2)).unwrap(), json!(2));
        assert!(set(json!("str"), "$.a", json!(1)).is_err());
        assert!(set(json!({"a": "s"}), "$.a.b", json!(1)).is_err());
        assert!(set(json!({"a": [1]}), "$.a[3]", json!(1)).is_err());
    }

    #[test]
    fn exists_checks() {
        let v = json!({"a": null, "b": [1]});
        assert!(exists(&v, "$.a"));
        assert!(!exists(&v, "$.c"));
        assert!(exists(&v, "$.b[*]"));
    }
}
