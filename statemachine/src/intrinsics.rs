//! Parsing and evaluation of `States.*` intrinsic functions.
//!
//! Arguments may be string literals (`'...'` with `\'`, `\\`, `\{`, `\}` escapes), numbers,
//! `true`/`false`/`null`, paths (`$.x`, `$$.Execution.Id`) or nested intrinsic calls. Any
//! evaluation failure is a `States.IntrinsicFailure`.

use crate::errors::StateError;
use crate::path;
use base64::Engine as _;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

/// A parsed intrinsic argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A string literal; `raw` keeps escapes so `States.Format` can tell `\{` from `{`.
    Str {
        /// Literal text with escapes preserved.
        raw: String,
    },
    /// A JSON literal (number, boolean, null).
    Literal(Value),
    /// A path into the input or the context object.
    Path(String),
    /// A nested call.
    Call(Call),
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Function name, e.g. `States.Format`.
    pub name: String,
    /// Arguments.
    pub args: Vec<Arg>,
}

/// Every supported function name.
pub const FUNCTIONS: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.ArrayPartition",
    "States.ArrayContains",
    "States.ArrayRange",
    "States.ArrayGetItem",
    "States.ArrayLength",
    "States.ArrayUnique",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.JsonMerge",
    "States.MathRandom",
    "States.MathAdd",
    "States.StringSplit",
    "States.UUID",
];

/// Whether a string looks like an intrinsic call (starts with `States.` and a `(`).
pub fn looks_like_call(s: &str) -> bool {
    let t = s.trim_start();
    t.starts_with("States.") && t.contains('(')
}

/// Parses an intrinsic call expression.
pub fn parse(src: &str) -> Result<Call, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut p = Parser { chars, pos: 0 };
    p.ws();
    let call = p.call()?;
    p.ws();
    if p.pos != p.chars.len() {
        return Err(format!(
            "unexpected trailing characters at position {} in '{src}'",
            p.pos
        ));
    }
    Ok(call)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn call(&mut self) -> Result<Call, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if !FUNCTIONS.contains(&name.as_str()) {
            return Err(format!("unknown intrinsic function '{name}'"));
        }
        self.ws();
        if self.peek() != Some('(') {
            return Err(format!("expected '(' after {name}"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.ws();
        if self.peek() == Some(')') {
            self.pos += 1;
            return Ok(Call { name, args });
        }
        loop {
            self.ws();
            args.push(self.arg()?);
            self.ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok(Call { name, args });
                }
                Some(c) => return Err(format!("unexpected '{c}' in arguments of {name}")),
                None => return Err(format!("unterminated argument list of {name}")),
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, String> {
        match self.peek() {
            Some('\'') => {
                self.pos += 1;
                let mut raw = String::new();
                loop {
                    match self.peek() {
                        None => return Err("unterminated string literal".into()),
                        Some('\\') => {
                            let next = self
                                .chars
                                .get(self.pos + 1)
                                .copied()
                                .ok_or("unterminated escape in string literal")?;
                            if next == '"' {
                                // The service refuses the definition (recorded against AWS).
                                return Err(
                                    "\\\" is not a valid escape in an intrinsic function's string literal (write \" as is)"
                                        .into(),
                                );
                            }
                            raw.push('\\');
                            raw.push(next);
                            self.pos += 2;
                        }
                        Some('\'') => {
                            self.pos += 1;
                            return Ok(Arg::Str { raw });
                        }
                        Some(c) => {
                            raw.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
            Some('$') => {
                let start = self.pos;
                let mut depth = 0i32;
                let mut quote: Option<char> = None;
                while let Some(c) = self.peek() {
                    if let Some(q) = quote {
                        if c == q {
                            quote = None;
                        }
                    } else {
                        match c {
                            '\'' | '"' => quote = Some(c),
                            '[' | '(' => depth += 1,
                            ']' => depth -= 1,
                            ')' if depth == 0 => break,
                            ')' => depth -= 1,
                            ',' if depth == 0 => break,
                            c if c.is_whitespace() && depth == 0 => break,
                            _ => {}
                        }
                    }
                    self.pos += 1;
                }
                let p: String = self.chars[start..self.pos].iter().collect();
                path::check_syntax(&p).map_err(|e| e.to_string())?;
                Ok(Arg::Path(p))
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
                {
                    self.pos += 1;
                }
                let s: String = self.chars[start..self.pos].iter().collect();
                let v: Value = serde_json::from_str(&s)
                    .map_err(|_| format!("invalid number literal '{s}'"))?;
                Ok(Arg::Literal(v))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
                {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "true" => Ok(Arg::Literal(Value::Bool(true))),
                    "false" => Ok(Arg::Literal(Value::Bool(false))),
                    "null" => Ok(Arg::Literal(Value::Null)),
                    _ => {
                        self.pos = start;
                        Ok(Arg::Call(self.call()?))
                    }
                }
            }
            Some(c) => Err(format!("unexpected '{c}' at position {}", self.pos)),
            None => Err("missing argument".into()),
        }
    }
}

/// Removes string-literal escapes (`\'`, `\\`, `\{`, `\}`, ...).
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut it = raw.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            if let Some(n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn fail(msg: impl Into<String>) -> StateError {
    StateError::intrinsic(msg)
}

/// Evaluates a call against the effective input, with `context` building the `$$` object.
pub fn evaluate(
    call: &Call,
    input: &Value,
    context: &dyn Fn(&str) -> Value,
) -> Result<Value, StateError> {
    let mut vals = Vec::with_capacity(call.args.len());
    for a in &call.args {
        vals.push(match a {
            Arg::Str { raw } => Value::String(unescape(raw)),
            Arg::Literal(v) => v.clone(),
            Arg::Path(p) => path::select(input, p, context)
                .map_err(|e| fail(format!("{}: argument path failed: {e}", call.name)))?,
            Arg::Call(c) => evaluate(c, input, context)?,
        });
    }
    apply(call, &vals)
}

fn arity(call: &Call, vals: &[Value], min: usize, max: usize) -> Result<(), StateError> {
    if vals.len() < min || vals.len() > max {
        let expected = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(fail(format!(
            "{} expects {expected} argument(s), got {}",
            call.name,
            vals.len()
        )));
    }
    Ok(())
}

fn as_str<'a>(call: &Call, v: &'a Value, what: &str) -> Result<&'a str, StateError> {
    v.as_str().ok_or_else(|| {
        fail(format!(
            "{}: {what} must be a string, got {}",
            call.name,
            path::type_name(v)
        ))
    })
}

fn as_array<'a>(call: &Call, v: &'a Value, what: &str) -> Result<&'a Vec<Value>, StateError> {
    v.as_array().ok_or_else(|| {
        fail(format!(
            "{}: {what} must be an array, got {}",
            call.name,
            path::type_name(v)
        ))
    })
}

fn as_int(call: &Call, v: &Value, what: &str) -> Result<i64, StateError> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    if let Some(f) = v.as_f64() {
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            return Ok(f as i64);
        }
    }
    Err(fail(format!(
        "{}: {what} must be an integer, got {v}",
        call.name
    )))
}

/// A `States.Format` argument as the service writes it: strings as they are, objects and
/// arrays in Java's `toString` style (`{Arg1=1, Arg2=[]}`, `[1, b]`), recorded against AWS.
fn format_arg(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(format_arg).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(members) => format!(
            "{{{}}}",
            members
                .iter()
                .map(|(k, v)| format!("{k}={}", format_arg(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// `States.MathAdd`'s operands: the service accepts any number and rounds it half up
/// (1.49 → 1, 1.5 → 2, −0.5 → 0), recorded against AWS.
fn rounded_int(call: &Call, v: &Value, what: &str) -> Result<i64, StateError> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    match v.as_f64() {
        Some(f) if f.is_finite() && f.abs() < 9.0e15 => Ok((f + 0.5).floor() as i64),
        _ => Err(fail(format!(
            "{}: {what} must be a number, got {v}",
            call.name
        ))),
    }
}

fn apply(call: &Call, vals: &[Value]) -> Result<Value, StateError> {
    match call.name.as_str() {
        "States.Format" => {
            if vals.is_empty() {
                return Err(fail("States.Format expects a template argument"));
            }
            // Literal templates keep their escapes so `\{` stays a literal brace.
            let template = match call.args.first() {
                Some(Arg::Str { raw }) => raw.clone(),
                _ => as_str(call, &vals[0], "the template")?
                    .replace('\\', "\\\\")
                    .replace('{', "\\{")
                    .replace('}', "\\}")
                    .replace("\\{\\}", "{}"),
            };
            let mut out = String::new();
            let mut args = vals[1..].iter();
            let chars: Vec<char> = template.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                match chars[i] {
                    '\\' if i + 1 < chars.len() => {
                        out.push(chars[i + 1]);
                        i += 2;
                    }
                    '{' if chars.get(i + 1) == Some(&'}') => {
                        let a = args.next().ok_or_else(|| {
                            fail("States.Format: more placeholders than arguments")
                        })?;
                        out.push_str(&format_arg(a));
                        i += 2;
                    }
                    '{' | '}' => {
                        return Err(fail(
                            "States.Format: unescaped '{' or '}' in template (use \\{ or \\})",
                        ))
                    }
                    c => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            if args.next().is_some() {
                return Err(fail("States.Format: more arguments than placeholders"));
            }
            Ok(Value::String(out))
        }
        "States.StringToJson" => {
            arity(call, vals, 1, 1)?;
            let s = as_str(call, &vals[0], "the argument")?;
            // The service answers null for an empty or blank string (recorded against AWS).
            if s.trim().is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_str(s)
                .map_err(|e| fail(format!("States.StringToJson: invalid JSON: {e}")))
        }
        "States.JsonToString" => {
            arity(call, vals, 1, 1)?;
            Ok(Value::String(vals[0].to_string()))
        }
        "States.Array" => Ok(Value::Array(vals.to_vec())),
        "States.ArrayPartition" => {
            arity(call, vals, 2, 2)?;
            let arr = as_array(call, &vals[0], "the first argument")?;
            let size = as_int(call, &vals[1], "the chunk size")?;
            if size <= 0 {
                return Err(fail("States.ArrayPartition: chunk size must be positive"));
            }
            let size = usize::try_from(size).map_err(|_| fail("chunk size too large"))?;
            Ok(Value::Array(
                arr.chunks(size).map(|c| Value::Array(c.to_vec())).collect(),
            ))
        }
        "States.ArrayContains" => {
            arity(call, vals, 2, 2)?;
            let arr = as_array(call, &vals[0], "the first argument")?;
            Ok(Value::Bool(arr.contains(&vals[1])))
        }
        "States.ArrayRange" => {
            arity(call, vals, 3, 3)?;
            let start = as_int(call, &vals[0], "the start")?;
            let end = as_int(call, &vals[1], "the end")?;
            let step = as_int(call, &vals[2], "the step")?;
            if step == 0 {
                return Err(fail("States.ArrayRange: step must not be 0"));
            }
            let mut out = Vec::new();
            let mut cur = start;
            while (step > 0 && cur <= end) || (step < 0 && cur >= end) {
                if out.len() >= 1000 {
                    return Err(fail("States.ArrayRange: result exceeds 1000 items"));
                }
                out.push(Value::from(cur));
                cur += step;
            }
            Ok(Value::Array(out))
        }
        "States.ArrayGetItem" => {
            arity(call, vals, 2, 2)?;
            let arr = as_array(call, &vals[0], "the first argument")?;
            let idx = as_int(call, &vals[1], "the index")?;
            usize::try_from(idx)
                .ok()
                .and_then(|i| arr.get(i))
                .cloned()
                .ok_or_else(|| {
                    fail(format!(
                        "States.ArrayGetItem: index {idx} out of bounds (length {})",
                        arr.len()
                    ))
                })
        }
        "States.ArrayLength" => {
            arity(call, vals, 1, 1)?;
            Ok(Value::from(as_array(call, &vals[0], "the argument")?.len()))
        }
        "States.ArrayUnique" => {
            arity(call, vals, 1, 1)?;
            let arr = as_array(call, &vals[0], "the argument")?;
            let mut out: Vec<Value> = Vec::new();
            for v in arr {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Ok(Value::Array(out))
        }
        "States.Base64Encode" => {
            arity(call, vals, 1, 1)?;
            let s = as_str(call, &vals[0], "the argument")?;
            if s.chars().count() > 10_000 {
                return Err(fail("States.Base64Encode: input exceeds 10000 characters"));
            }
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
            ))
        }
        "States.Base64Decode" => {
            arity(call, vals, 1, 1)?;
            let s = as_str(call, &vals[0], "the argument")?;
            if s.chars().count() > 10_000 {
                return Err(fail("States.Base64Decode: input exceeds 10000 characters"));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map_err(|e| fail(format!("States.Base64Decode: invalid base64: {e}")))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| fail("States.Base64Decode: decoded data is not UTF-8"))
        }
        "States.Hash" => {
            arity(call, vals, 2, 2)?;
            let data = match &vals[0] {
                Value::String(s) => s.clone(),
                Value::Null => return Err(fail("States.Hash: data must not be null")),
                other => other.to_string(),
            };
            let alg = as_str(call, &vals[1], "the algorithm")?;
            let bytes = data.as_bytes();
            let hex = match alg {
                "MD5" => {
                    use md5::Digest;
                    hex::encode(md5::Md5::digest(bytes))
                }
                "SHA-1" => {
                    use sha1::Digest;
                    hex::encode(sha1::Sha1::digest(bytes))
                }
                "SHA-256" => {
                    use sha2::Digest;
                    hex::encode(sha2::Sha256::digest(bytes))
                }
                "SHA-384" => {
                    use sha2::Digest;
                    hex::encode(sha2::Sha384::digest(bytes))
                }
                "SHA-512" => {
                    use sha2::Digest;
                    hex::encode(sha2::Sha512::digest(bytes))
                }
                other => {
                    return Err(fail(format!(
                        "States.Hash: unsupported algorithm '{other}' (MD5, SHA-1, SHA-256, SHA-384, SHA-512)"
                    )))
                }
            };
            Ok(Value::String(hex))
        }
        "States.JsonMerge" => {
            arity(call, vals, 3, 3)?;
            let deep = vals[2]
                .as_bool()
                .ok_or_else(|| fail("States.JsonMerge: the third argument must be a boolean"))?;
            if deep {
                return Err(fail(
                    "States.JsonMerge: deep merging is not supported; the third argument must be false",
                ));
            }
            let (Value::Object(a), Value::Object(b)) = (&vals[0], &vals[1]) else {
                return Err(fail("States.JsonMerge: both arguments must be objects"));
            };
            let mut out: Map<String, Value> = a.clone();
            for (k, v) in b {
                out.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(out))
        }
        "States.MathRandom" => {
            arity(call, vals, 2, 3)?;
            let start = as_int(call, &vals[0], "the start")?;
            let end = as_int(call, &vals[1], "the end")?;
            if end <= start {
                return Err(fail("States.MathRandom: end must be greater than start"));
            }
            let n = match vals.get(2) {
                Some(seed) => {
                    let seed = as_int(call, seed, "the seed")?;
                    rand::rngs::StdRng::seed_from_u64(seed as u64).gen_range(start..end)
                }
                None => rand::thread_rng().gen_range(start..end),
            };
            Ok(Value::from(n))
        }
        "States.MathAdd" => {
            arity(call, vals, 2, 2)?;
            let a = rounded_int(call, &vals[0], "the first argument")?;
            let b = rounded_int(call, &vals[1], "the step")?;
            a.checked_add(b)
                .map(Value::from)
                .ok_or_else(|| fail("States.MathAdd: integer overflow"))
        }
        "States.StringSplit" => {
            arity(call, vals, 2, 2)?;
            let s = as_str(call, &vals[0], "the string")?;
            let delims = as_str(call, &vals[1], "the delimiter")?;
            let parts = s
                .split(|c: char| delims.contains(c))
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_string()))
                .collect();
            Ok(Value::Array(parts))
        }
        "States.UUID" => {
            arity(call, vals, 0, 0)?;
            Ok(Value::String(uuid::Uuid::new_v4().to_string()))
        }
        other => Err(fail(format!("unknown intrinsic function '{other}'"))),
    }
}

/// Convenience: parse and evaluate in one go.
pub fn eval_str(
    src: &str,
    input: &Value,
    context: &dyn Fn(&str) -> Value,
) -> Result<Value, StateError> {
    let call = parse(src).map_err(fail)?;
    evaluate(&call, input, context)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(_: &str) -> Value {
        json!({"Execution": {"Name": "exec-1"}})
    }

    fn ev(src: &str, input: Value) -> Result<Value, StateError> {
        eval_str(src, &input, &ctx)
    }

    #[test]
    fn format_from_docs() {
        assert_eq!(
            ev(
                "States.Format('Hello, my name is {}.', $.name)",
                json!({"name": "Arnav"})
            )
            .unwrap(),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            ev("States.Format('{} {} {}', 1, true, null)", json!({})).unwrap(),
            json!("1 true null")
        );
        assert_eq!(
            ev("States.Format('a \\{b\\} {}', 'c')", json!({})).unwrap(),
            json!("a {b} c")
        );
        assert_eq!(
            ev("States.Format('it\\'s {}', $$.Execution.Name)", json!({})).unwrap(),
            json!("it's exec-1")
        );
        assert!(ev("States.Format('{}')", json!({})).is_err());
        assert!(ev("States.Format('x', 1)", json!({})).is_err());
        // Objects are written Java-style, as the service does (recorded against AWS).
        assert_eq!(
            ev("States.Format('{}', $.o)", json!({"o": {}})).unwrap(),
            json!("{}")
        );
    }

    #[test]
    fn json_conversions() {
        assert_eq!(
            ev(
                "States.StringToJson($.escapedJsonString)",
                json!({"escapedJsonString": "{\"foo\": \"bar\"}"})
            )
            .unwrap(),
            json!({"foo": "bar"})
        );
        assert_eq!(
            ev(
                "States.JsonToString($.unescapedJson)",
                json!({"unescapedJson": {"foo": "bar"}})
            )
            .unwrap(),
            json!("{\"foo\":\"bar\"}")
        );
        assert!(ev("States.StringToJson('{')", json!({})).is_err());
    }

    #[test]
    fn arrays_from_docs() {
        assert_eq!(
            ev("States.Array('Foo', 2020, $.a, null)", json!({"a": [1]})).unwrap(),
            json!(["Foo", 2020, [1], null])
        );
        assert_eq!(
            ev(
                "States.ArrayPartition($.inputArray,4)",
                json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]})
            )
            .unwrap(),
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        );
        assert_eq!(
            ev(
                "States.ArrayContains($.inputArray, $.lookingFor)",
                json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5})
            )
            .unwrap(),
            json!(true)
        );
        assert_eq!(
            ev("States.ArrayRange(1, 9, 2)", json!({})).unwrap(),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            ev("States.ArrayRange(5, 1, -2)", json!({})).unwrap(),
            json!([5, 3, 1])
        );
        assert!(ev("States.ArrayRange(1, 2000, 1)", json!({})).is_err());
        assert!(ev("States.ArrayRange(1, 2, 0)", json!({})).is_err());
        assert_eq!(
            ev(
                "States.ArrayGetItem($.inputArray, $.index)",
                json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "index": 5})
            )
            .unwrap(),
            json!(6)
        );
        assert!(ev("States.ArrayGetItem($.a, 3)", json!({"a": [1]})).is_err());
        assert_eq!(
            ev("States.ArrayLength($.a)", json!({"a": [1, 2, 3]})).unwrap(),
            json!(3)
        );
        assert_eq!(
            ev(
                "States.ArrayUnique($.inputArray)",
                json!({"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]})
            )
            .unwrap(),
            json!([1, 2, 3, 4])
        );
    }

    #[test]
    fn encoding_and_hash() {
        assert_eq!(
            ev(
                "States.Base64Encode($.input)",
                json!({"input": "Data to encode"})
            )
            .unwrap(),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(
            ev("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})).unwrap(),
            json!("Data to encode")
        );
        assert!(ev("States.Base64Decode('!!')", json!({})).is_err());
        assert_eq!(
            ev(
                "States.Hash($.Data, $.Algorithm)",
                json!({"Data": "input data", "Algorithm": "SHA-1"})
            )
            .unwrap(),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(
            ev("States.Hash('abc', 'MD5')", json!({})).unwrap(),
            json!("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(
            ev("States.Hash('abc', 'SHA-256')", json!({})).unwrap(),
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        for alg in ["SHA-384", "SHA-512"] {
            let v = ev(&format!("States.Hash('abc', '{alg}')"), json!({})).unwrap();
            assert_eq!(
                v.as_str().unwrap().len(),
                if alg == "SHA-384" { 96 } else { 128 }
            );
        }
        assert!(ev("States.Hash('abc', 'CRC32')", json!({})).is_err());
    }

    #[test]
    fn json_merge_from_docs() {
        let input = json!({
            "json1": { "a": {"a1": 1, "a2": 2}, "b": 2 },
            "json2": { "a": {"a3": 1, "a4": 2}, "c": 3 }
        });
        assert_eq!(
            ev("States.JsonMerge($.json1, $.json2, false)", input.clone()).unwrap(),
            json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3})
        );
        let err = ev("States.JsonMerge($.json1, $.json2, true)", input).unwrap_err();
        assert_eq!(err.error, "States.IntrinsicFailure");
    }

    #[test]
    fn math() {
        assert_eq!(
            ev(
                "States.MathAdd($.value1, $.step)",
                json!({"value1": 111, "step": -1})
            )
            .unwrap(),
            json!(110)
        );
        for _ in 0..50 {
            let n = ev("States.MathRandom(1, 10)", json!({})).unwrap();
            let n = n.as_i64().unwrap();
            assert!((1..10).contains(&n));
        }
        let a = ev("States.MathRandom(1, 1000, 7)", json!({})).unwrap();
        let b = ev("States.MathRandom(1, 1000, 7)", json!({})).unwrap();
        assert_eq!(a, b);
        // Non-integers are rounded half up, as the service does (recorded against AWS).
        assert_eq!(ev("States.MathAdd(1.5, 1)", json!({})).unwrap(), json!(3));
        assert!(ev("States.MathAdd('a', 1)", json!({})).is_err());
    }

    #[test]
    fn split_and_uuid() {
        assert_eq!(
            ev(
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "1,2,3,4,5", "splitter": ","})
            )
            .unwrap(),
            json!(["1", "2", "3", "4", "5"])
        );
        assert_eq!(
            ev(
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "This.is+a,test=string", "splitter": ".+,="})
            )
            .unwrap(),
            json!(["This", "is", "a", "test", "string"])
        );
        let u = ev("States.UUID()", json!({})).unwrap();
        assert_eq!(u.as_str().unwrap().len(), 36);
    }

    #[test]
    fn nesting_and_parse_errors() {
        assert_eq!(
            ev(
                "States.ArrayLength(States.StringSplit(States.Format('{}-{}', 'a', 'b'), '-'))",
                json!({})
            )
            .unwrap(),
            json!(2)
        );
        assert!(parse("States.Nope(1)").is_err());
        assert!(parse("States.Format('x'").is_err());
        assert!(parse("States.Format('x') extra").is_err());
        assert!(parse("States.Array(1,").is_err());
        assert!(ev("States.ArrayLength($.missing)", json!({})).is_err());
        assert_eq!(
            ev("States.Array($.a['b,c'])", json!({"a": {"b,c": 1}})).unwrap(),
            json!([1])
        );
    }
}
