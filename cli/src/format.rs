//! Small presentation helpers: aligned tables, durations, diffs.

use chrono::Duration;
use serde_json::Value;

/// Renders rows as an aligned table with a header and a rule.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| printable(cell)).collect())
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths.get(i).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    out.push('\n');
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.clone()));
    }
    out
}

/// Parses `90s`, `30m`, `72h`, `2d`, `1h30m` (a bare number means seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(Duration::seconds(seconds));
    }
    let mut total = Duration::zero();
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number
            .parse()
            .map_err(|_| format!("{text:?}: expected a number before {c:?}"))?;
        number.clear();
        total += match c {
            's' => Duration::seconds(n),
            'm' => Duration::minutes(n),
            'h' => Duration::hours(n),
            'd' => Duration::days(n),
            other => {
                return Err(format!(
                    "{text:?}: unknown unit {other:?}; use s, m, h or d"
                ))
            }
        };
    }
    if !number.is_empty() {
        return Err(format!(
            "{text:?}: a unit (s, m, h, d) must follow {number}"
        ));
    }
    Ok(total)
}

/// Human form of a duration: `3d 4h`, `12m`, `45s`.
pub fn human(duration: Duration) -> String {
    let secs = duration.num_seconds();
    let (sign, secs) = if secs < 0 { ("-", -secs) } else { ("", secs) };
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let text = match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    };
    format!("{sign}{text}")
}

/// Field-level differences between two drafts: `(path, before, after)`.
pub fn diff(before: &Value, after: &Value) -> Vec<(String, String, String)> {
    fn walk(prefix: &str, a: &Value, b: &Value, out: &mut Vec<(String, String, String)>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for key in keys {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(
                        &path,
                        x.get(key).unwrap_or(&Value::Null),
                        y.get(key).unwrap_or(&Value::Null),
                        out,
                    );
                }
            }
            _ if a != b => out.push((prefix.to_owned(), short(a), short(b))),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", before, after, &mut out);
    out
}

/// Compact one-line rendering of a JSON value.
pub fn short(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("72h").unwrap(), Duration::hours(72));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration("45").unwrap(), Duration::seconds(45));
        assert!(parse_duration("3x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("10").is_ok());
        assert!(parse_duration("h").is_err());
        assert_eq!(human(Duration::hours(73)), "3d 1h");
        assert_eq!(human(Duration::minutes(5)), "5m");
    }

    #[test]
    fn diff_lists_changed_paths() {
        let a = serde_json::json!({"tagline": "x", "colors": {"primary": "#000000"}, "k": [1]});
        let b = serde_json::json!({"tagline": "y", "colors": {"primary": "#000000"}, "k": [1, 2]});
        let d = diff(&a, &b);
        assert_eq!(d.len(), 2);
        assert_eq!(d[1], ("tagline".into(), "x".into(), "y".into()));
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&["a", "bb"], &[vec!["long".into(), "1".into()]]);
        assert_eq!(t, "a     bb\n----  --\nlong  1");
    }
}

/// Text safe to print on a terminal: control characters (C0 but tab, DEL, C1) and the
/// bidirectional overrides and isolates that can reorder what a reader sees are shown as
/// `\u{…}` escapes instead of being interpreted (a comment with ESC, NUL or RLO cannot move
/// the cursor, recolour or disguise the output).
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let dangerous = (c.is_control() && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if dangerous {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod printable_tests {
    use super::*;

    /// Issue 14: comments with ESC/NUL/RLO used to print raw in `hitl status`.
    #[test]
    fn control_and_bidi_characters_are_escaped_in_tables() {
        let hostile = "ok\u{1b}[2J\u{0}\u{202e}gnp.exe\tend";
        assert_eq!(
            printable(hostile),
            "ok\\u{001b}[2J\\u{0000}\\u{202e}gnp.exe\tend"
        );
        let t = table(&["C"], &[vec![hostile.to_owned()]]);
        assert!(!t.contains('\u{1b}') && !t.contains('\u{0}') && !t.contains('\u{202e}'));
        assert_eq!(printable("Café — ünïcode"), "Café — ünïcode");
    }
}
