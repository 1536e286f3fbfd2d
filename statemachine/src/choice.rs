//! Choice rules: parsing of comparison operators and boolean combinators, and evaluation.

use crate::errors::{self, StateError};
use crate::path;
use chrono::{DateTime, FixedOffset};
use serde_json::Value;
use std::cmp::Ordering;

/// A top-level Choice rule with its `Next` target.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRule {
    /// The condition.
    pub condition: Condition,
    /// Target state (required on top-level rules).
    pub next: Option<String>,
    /// Variables the rule sets when it matches.
    pub assign: Option<crate::assign::Assign>,
    /// JSONata `Output` of the state when this rule matches.
    pub output: Option<crate::jsonata::JsonataValue>,
}

/// A boolean condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// All must hold.
    And(Vec<Condition>),
    /// Any must hold.
    Or(Vec<Condition>),
    /// Negation.
    Not(Box<Condition>),
    /// A JSONata `Condition` (JSONata Choice states; evaluated by the step, not here).
    Jsonata(crate::jsonata::JsonataValue),
    /// A comparison of `variable` with an operand.
    Compare {
        /// Path of the value under test.
        variable: String,
        /// The operator.
        op: Operator,
        /// Literal or path operand.
        operand: Operand,
    },
}

/// The operand of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A literal value.
    Value(Value),
    /// A path (the `...Path` operator forms).
    Path(String),
}

/// Relation used by ordered comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rel {
    /// `Equals`
    Eq,
    /// `LessThan`
    Lt,
    /// `GreaterThan`
    Gt,
    /// `LessThanEquals`
    Le,
    /// `GreaterThanEquals`
    Ge,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `String*`
    String(Rel),
    /// `Numeric*`
    Numeric(Rel),
    /// `Timestamp*`
    Timestamp(Rel),
    /// `BooleanEquals`
    Boolean,
    /// `StringMatches`
    StringMatches,
    /// `IsNull`
    IsNull,
    /// `IsPresent`
    IsPresent,
    /// `IsNumeric`
    IsNumeric,
    /// `IsString`
    IsString,
    /// `IsBoolean`
    IsBoolean,
    /// `IsTimestamp`
    IsTimestamp,
}

fn parse_rel(s: &str) -> Option<Rel> {
    Some(match s {
        "Equals" => Rel::Eq,
        "LessThan" => Rel::Lt,
        "GreaterThan" => Rel::Gt,
        "LessThanEquals" => Rel::Le,
        "GreaterThanEquals" => Rel::Ge,
        _ => return None,
    })
}

/// Parses an operator name; returns the operator and whether it is a `...Path` form.
pub fn parse_operator(name: &str) -> Option<(Operator, bool)> {
    let simple = match name {
        "StringMatches" => Some(Operator::StringMatches),
        "IsNull" => Some(Operator::IsNull),
        "IsPresent" => Some(Operator::IsPresent),
        "IsNumeric" => Some(Operator::IsNumeric),
        "IsString" => Some(Operator::IsString),
        "IsBoolean" => Some(Operator::IsBoolean),
        "IsTimestamp" => Some(Operator::IsTimestamp),
        _ => None,
    };
    if let Some(op) = simple {
        return Some((op, false));
    }
    let (base, is_path) = match name.strip_suffix("Path") {
        Some(b) => (b, true),
        None => (name, false),
    };
    let op = if let Some(r) = base.strip_prefix("String") {
        Operator::String(parse_rel(r)?)
    } else if let Some(r) = base.strip_prefix("Numeric") {
        Operator::Numeric(parse_rel(r)?)
    } else if let Some(r) = base.strip_prefix("Timestamp") {
        Operator::Timestamp(parse_rel(r)?)
    } else if base == "BooleanEquals" {
        Operator::Boolean
    } else {
        return None;
    };
    Some((op, is_path))
}

/// Parses a rule object. `top` rules may (must) carry `Next`; nested ones must not.
/// A top-level rule of a JSONPath Choice state, which may carry `Assign` (parsed by the
/// caller, which knows the state): the rule without it.
pub fn parse_rule_with_assign(v: &Value) -> Result<ChoiceRule, String> {
    match v {
        Value::Object(m) if m.contains_key("Assign") => {
            let mut rest = m.clone();
            rest.remove("Assign");
            parse_rule(&Value::Object(rest), true)
        }
        other => parse_rule(other, true),
    }
}

/// Parses one JSONPath choice rule (`top`: a rule of `Choices`, which needs `Next`).
pub fn parse_rule(v: &Value, top: bool) -> Result<ChoiceRule, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| "a choice rule must be an object".to_string())?;
    let next = match obj.get("Next") {
        None => None,
        Some(Value::String(s)) if top => Some(s.clone()),
        Some(Value::String(_)) => return Err("nested choice rules must not have \"Next\"".into()),
        Some(_) => return Err("\"Next\" must be a string".into()),
    };
    let mut cond: Option<Condition> = None;
    let mut variable: Option<String> = None;
    let mut op: Option<(Operator, bool, &Value)> = None;
    for (k, val) in obj {
        match k.as_str() {
            "Next" | "Comment" => {}
            "Variable" => {
                variable = Some(
                    val.as_str()
                        .ok_or_else(|| "\"Variable\" must be a string".to_string())?
                        .to_string(),
                )
            }
            "And" | "Or" => {
                let arr = val
                    .as_array()
                    .ok_or_else(|| format!("\"{k}\" must be a non-empty array"))?;
                if arr.is_empty() {
                    return Err(format!("\"{k}\" must be a non-empty array"));
                }
                let subs = arr
                    .iter()
                    .map(|s| parse_rule(s, false).map(|r| r.condition))
                    .collect::<Result<Vec<_>, _>>()?;
                if cond.is_some() || op.is_some() {
                    return Err("a choice rule must have exactly one operator".into());
                }
                cond = Some(if k == "And" {
                    Condition::And(subs)
                } else {
                    Condition::Or(subs)
                });
            }
            "Not" => {
                if cond.is_some() || op.is_some() {
                    return Err("a choice rule must have exactly one operator".into());
                }
                cond = Some(Condition::Not(Box::new(parse_rule(val, false)?.condition)));
            }
            other => {
                let (o, is_path) = parse_operator(other)
                    .ok_or_else(|| format!("unknown field \"{other}\" in choice rule"))?;
                if cond.is_some() || op.is_some() {
                    return Err("a choice rule must have exactly one operator".into());
                }
                op = Some((o, is_path, val));
            }
        }
    }
    let condition = match (cond, op) {
        (Some(c), None) => {
            if variable.is_some() {
                return Err("\"Variable\" is not allowed with And/Or/Not".into());
            }
            c
        }
        (None, Some((o, is_path, val))) => {
            let variable =
                variable.ok_or_else(|| "a comparison requires \"Variable\"".to_string())?;
            let operand = if is_path {
                Operand::Path(
                    val.as_str()
                        .ok_or_else(|| "a ...Path operand must be a string path".to_string())?
                        .to_string(),
                )
            } else {
                check_literal(o, val)?;
                Operand::Value(val.clone())
            };
            Condition::Compare {
                variable,
                op: o,
                operand,
            }
        }
        _ => return Err("a choice rule must have exactly one operator".into()),
    };
    Ok(ChoiceRule {
        condition,
        next,
        assign: None,
        output: None,
    })
}

fn check_literal(op: Operator, v: &Value) -> Result<(), String> {
    let ok = match op {
        Operator::String(_) | Operator::StringMatches => v.is_string(),
        Operator::Numeric(_) => v.is_number(),
        Operator::Timestamp(_) => v.as_str().is_some_and(|s| parse_ts(s).is_some()),
        Operator::Boolean
        | Operator::IsNull
        | Operator::IsPresent
        | Operator::IsNumeric
        | Operator::IsString
        | Operator::IsBoolean
        | Operator::IsTimestamp => v.is_boolean(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("invalid operand {v} for {op:?}"))
    }
}

/// Every path referenced by a condition (for validation).
pub fn paths(c: &Condition, out: &mut Vec<String>) {
    match c {
        Condition::And(v) | Condition::Or(v) => v.iter().for_each(|c| paths(c, out)),
        Condition::Not(c) => paths(c, out),
        Condition::Jsonata(_) => {}
        Condition::Compare {
            variable, operand, ..
        } => {
            out.push(variable.clone());
            if let Operand::Path(p) = operand {
                out.push(p.clone());
            }
        }
    }
}

fn parse_ts(s: &str) -> Option<DateTime<FixedOffset>> {
    if !s.contains('T') {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok()
}

fn cmp_numbers(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn rel_holds(rel: Rel, ord: Ordering) -> bool {
    match rel {
        Rel::Eq => ord == Ordering::Equal,
        Rel::Lt => ord == Ordering::Less,
        Rel::Gt => ord == Ordering::Greater,
        Rel::Le => ord != Ordering::Greater,
        Rel::Ge => ord != Ordering::Less,
    }
}

/// `StringMatches` with `*` wildcards; `\*` and `\\` are literal.
pub fn string_matches(s: &str, pattern: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Star,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some(n) => toks.push(Tok::Ch(n)),
                None => toks.push(Tok::Ch('\\')),
            },
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Ch(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // Iterative glob matching with backtracking to the last star.
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match toks.get(pi) {
            Some(Tok::Ch(c)) if *c == s[si] => {
                si += 1;
                pi += 1;
            }
            Some(Tok::Star) => {
                star = Some((pi, si));
                pi += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    toks[pi..].iter().all(|t| *t == Tok::Star)
}

/// Evaluates a condition against the effective input.
pub fn evaluate(
    c: &Condition,
    input: &Value,
    ctx: &dyn Fn(&str) -> Value,
) -> Result<bool, StateError> {
    match c {
        Condition::And(v) => {
            for c in v {
                if !evaluate(c, input, ctx)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Condition::Or(v) => {
            for c in v {
                if evaluate(c, input, ctx)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Condition::Not(c) => Ok(!evaluate(c, input, ctx)?),
        Condition::Jsonata(_) => Err(StateError::runtime(
            "a JSONata Condition cannot be evaluated in a JSONPath state",
        )),
        Condition::Compare {
            variable,
            op,
            operand,
        } => {
            if *op == Operator::IsPresent {
                let present = if let Some(rest) = variable.strip_prefix("$$") {
                    path::exists(&ctx(variable), &format!("${rest}"))
                } else {
                    path::exists(input, variable)
                };
                return Ok(Some(present) == operand_bool(operand));
            }
            let value = path::select(input, variable, ctx).map_err(|e| {
                StateError::runtime(format!(
                    "Invalid path '{variable}': the choice state's condition path references an invalid value ({e})"
                ))
            })?;
            let rhs = match operand {
                Operand::Value(v) => v.clone(),
                Operand::Path(p) => path::select(input, p, ctx).map_err(|e| {
                    StateError::runtime(format!("Invalid path '{p}' in choice rule: {e}"))
                })?,
            };
            Ok(compare(*op, &value, &rhs))
        }
    }
}

fn operand_bool(o: &Operand) -> Option<bool> {
    match o {
        Operand::Value(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

fn compare(op: Operator, v: &Value, rhs: &Value) -> bool {
    let want = rhs.as_bool();
    match op {
        Operator::String(rel) => match (v.as_str(), rhs.as_str()) {
            (Some(a), Some(b)) => rel_holds(rel, a.cmp(b)),
            _ => false,
        },
        Operator::Numeric(rel) => {
            v.is_number()
                && rhs.is_number()
                && cmp_numbers(v, rhs).is_some_and(|o| rel_holds(rel, o))
        }
        Operator::Timestamp(rel) => {
            match (
                v.as_str().and_then(parse_ts),
                rhs.as_str().and_then(parse_ts),
            ) {
                (Some(a), Some(b)) => rel_holds(rel, a.cmp(&b)),
                _ => false,
            }
        }
        Operator::Boolean => match (v.as_bool(), want) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        Operator::StringMatches => match (v.as_str(), rhs.as_str()) {
            (Some(a), Some(p)) => string_matches(a, p),
            _ => false,
        },
        Operator::IsNull => Some(v.is_null()) == want,
        Operator::IsNumeric => Some(v.is_number()) == want,
        Operator::IsString => Some(v.is_string()) == want,
        Operator::IsBoolean => Some(v.is_boolean()) == want,
        Operator::IsTimestamp => Some(v.as_str().and_then(parse_ts).is_some()) == want,
        Operator::IsPresent => true,
    }
}

/// Picks the `Next` of the first matching rule, else `default`, else `States.NoChoiceMatched`.
pub fn choose<'a>(
    rules: &'a [ChoiceRule],
    default: Option<&'a str>,
    input: &Value,
    ctx: &dyn Fn(&str) -> Value,
) -> Result<&'a str, StateError> {
    choose_rule(rules, default, input, ctx).map(|(next, _)| next)
}

/// Like [`choose`], also returning the rule that matched (None when `Default` was taken).
pub fn choose_rule<'a>(
    rules: &'a [ChoiceRule],
    default: Option<&'a str>,
    input: &Value,
    ctx: &dyn Fn(&str) -> Value,
) -> Result<(&'a str, Option<&'a ChoiceRule>), StateError> {
    for r in rules {
        if evaluate(&r.condition, input, ctx)? {
            if let Some(n) = &r.next {
                return Ok((n, Some(r)));
            }
        }
    }
    no_match(default).map(|d| (d, None))
}

/// `default`, or `States.NoChoiceMatched`.
pub fn no_match(default: Option<&str>) -> Result<&str, StateError> {
    default.ok_or_else(|| {
        StateError::new(
            errors::NO_CHOICE_MATCHED,
            "No Choice rule matched and there was no Default",
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(_: &str) -> Value {
        json!({})
    }

    fn holds(rule: Value, input: Value) -> bool {
        let r = parse_rule(&rule, false).unwrap();
        evaluate(&r.condition, &input, &ctx).unwrap()
    }

    #[test]
    fn string_ops() {
        let i = json!({"s": "b", "o": "c"});
        assert!(holds(
            json!({"Variable": "$.s", "StringEquals": "b"}),
            i.clone()
        ));
        assert!(!holds(
            json!({"Variable": "$.s", "StringEquals": "c"}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.s", "StringLessThan": "c"}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.s", "StringGreaterThan": "a"}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.s", "StringLessThanEquals": "b"}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.s", "StringGreaterThanEquals": "b"}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.s", "StringLessThanPath": "$.o"}),
            i.clone()
        ));
        assert!(!holds(
            json!({"Variable": "$.s", "StringEqualsPath": "$.o"}),
            i.clone()
        ));
        assert!(!holds(
            json!({"Variable": "$.n", "StringEquals": "1"}),
            json!({"n": 1})
        ));
    }

    #[test]
    fn numeric_ops() {
        let i = json!({"n": 5, "f": 5.0, "m": 7});
        assert!(holds(
            json!({"Variable": "$.n", "NumericEquals": 5}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.f", "NumericEquals": 5}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.n", "NumericLessThan": 5.5}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.n", "NumericGreaterThan": 4}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.n", "NumericLessThanEquals": 5}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.n", "NumericGreaterThanEquals": 5}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.n", "NumericLessThanPath": "$.m"}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.m", "NumericGreaterThanEqualsPath": "$.n"}),
            i.clone()
        ));
        assert!(!holds(
            json!({"Variable": "$.s", "NumericEquals": 5}),
            json!({"s": "5"})
        ));
    }

    #[test]
    fn timestamp_ops() {
        let i = json!({"t": "2016-03-14T01:59:00Z", "u": "2016-03-14T02:00:00+00:00"});
        assert!(holds(
            json!({"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00Z"}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.t", "TimestampLessThan": "2016-03-14T02:00:00Z"}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.t", "TimestampGreaterThan": "2016-03-14T01:00:00Z"}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.t", "TimestampLessThanEquals": "2016-03-14T01:59:00Z"}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2016-03-14T01:59:00Z"}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.t", "TimestampLessThanPath": "$.u"}),
            i.clone()
        ));
        assert!(!holds(
            json!({"Variable": "$.x", "TimestampEquals": "2016-03-14T01:59:00Z"}),
            json!({"x": "nope"})
        ));
        assert!(parse_rule(
            &json!({"Variable": "$.t", "TimestampEquals": "yesterday"}),
            false
        )
        .is_err());
    }

    #[test]
    fn boolean_and_type_ops() {
        let i = json!({"b": true, "c": false, "n": null, "s": "x", "num": 1, "ts": "2020-01-01T00:00:00Z"});
        assert!(holds(
            json!({"Variable": "$.b", "BooleanEquals": true}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.c", "BooleanEqualsPath": "$.c"}),
            i.clone()
        ));
        assert!(!holds(
            json!({"Variable": "$.b", "BooleanEqualsPath": "$.c"}),
            i.clone()
        ));
        assert!(holds(json!({"Variable": "$.n", "IsNull": true}), i.clone()));
        assert!(holds(
            json!({"Variable": "$.s", "IsNull": false}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.s", "IsPresent": true}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.zz", "IsPresent": false}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.num", "IsNumeric": true}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.s", "IsString": true}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.c", "IsBoolean": true}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.ts", "IsTimestamp": true}),
            i.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.s", "IsTimestamp": false}),
            i.clone()
        ));
    }

    #[test]
    fn matches_wildcards() {
        assert!(string_matches("log-2024.txt", "log-*.txt"));
        assert!(string_matches("abc", "*"));
        assert!(string_matches("", "*"));
        assert!(string_matches("a*b", "a\\*b"));
        assert!(!string_matches("axb", "a\\*b"));
        assert!(string_matches("aXbYc", "a*b*c"));
        assert!(!string_matches("abcd", "a*c"));
        assert!(string_matches("a\\b", "a\\\\b"));
        assert!(holds(
            json!({"Variable": "$.f", "StringMatches": "*.log"}),
            json!({"f": "x.log"})
        ));
    }

    #[test]
    fn combinators_and_choose() {
        let i = json!({"a": 1, "b": "x"});
        assert!(holds(
            json!({"And": [{"Variable": "$.a", "NumericEquals": 1}, {"Not": {"Variable": "$.b", "StringEquals": "y"}}]}),
            i.clone()
        ));
        assert!(holds(
            json!({"Or": [{"Variable": "$.a", "NumericEquals": 2}, {"Variable": "$.b", "StringEquals": "x"}]}),
            i.clone()
        ));
        let rules = vec![parse_rule(
            &json!({"Variable": "$.a", "NumericEquals": 2, "Next": "Two"}),
            true,
        )
        .unwrap()];
        assert_eq!(choose(&rules, Some("D"), &i, &ctx).unwrap(), "D");
        let e = choose(&rules, None, &i, &ctx).unwrap_err();
        assert_eq!(e.error, "States.NoChoiceMatched");
        // Missing variable: a runtime error, as in AWS.
        let rules = vec![parse_rule(
            &json!({"Variable": "$.zz", "NumericEquals": 2, "Next": "Two"}),
            true,
        )
        .unwrap()];
        assert_eq!(
            choose(&rules, Some("D"), &i, &ctx).unwrap_err().error,
            "States.Runtime"
        );
    }

    #[test]
    fn parse_errors() {
        assert!(parse_rule(&json!({"Variable": "$.a", "Bogus": 1}), false).is_err());
        assert!(parse_rule(&json!({"Variable": "$.a", "NumericEquals": "x"}), false).is_err());
        assert!(parse_rule(
            &json!({"Variable": "$.a", "NumericEquals": 1, "StringEquals": "x"}),
            false
        )
        .is_err());
        assert!(parse_rule(&json!({"And": []}), false).is_err());
        assert!(parse_rule(&json!({"NumericEquals": 1}), false).is_err());
        assert!(parse_rule(
            &json!({"Variable": "$.a", "IsNull": true, "Next": "X"}),
            false
        )
        .is_err());
    }
}
