//! The result table: absolute numbers, the baseline, their ratio and PASS/FAIL per target.

use serde::Serialize;

/// What a row must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "limit", rename_all = "snake_case")]
pub enum Target {
    /// value / baseline ≤ limit.
    RatioAtMost(f64),
    /// value ≤ limit (absolute, in the row's unit).
    AtMost(f64),
    /// Reported only.
    Info,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Section (1..6) and short name.
    pub section: String,
    /// What was measured.
    pub metric: String,
    /// Our value (median).
    pub value: f64,
    /// Unit of `value` and `baseline`.
    pub unit: String,
    /// Name of the baseline, if any.
    pub baseline_name: String,
    /// Baseline value (median), if any.
    pub baseline: Option<f64>,
    /// The target.
    pub target: Target,
    /// Free-form note (samples, caveats).
    pub note: String,
}

impl Row {
    /// A row without baseline.
    pub fn info(section: &str, metric: &str, value: f64, unit: &str, note: &str) -> Self {
        Self {
            section: section.to_owned(),
            metric: metric.to_owned(),
            value,
            unit: unit.to_owned(),
            baseline_name: String::new(),
            baseline: None,
            target: Target::Info,
            note: note.to_owned(),
        }
    }

    /// value / baseline.
    pub fn ratio(&self) -> Option<f64> {
        self.baseline
            .filter(|b| *b != 0.0 && !b.is_nan())
            .map(|b| self.value / b)
    }

    /// PASS/FAIL, or `None` for information rows.
    pub fn verdict(&self) -> Option<bool> {
        if self.value.is_nan() {
            return match self.target {
                Target::Info => None,
                _ => Some(false),
            };
        }
        match self.target {
            Target::RatioAtMost(limit) => Some(self.ratio().is_some_and(|r| r <= limit)),
            Target::AtMost(limit) => Some(self.value <= limit),
            Target::Info => None,
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::RatioAtMost(limit) => format!("≤ {}×", fmt_num(limit)),
            Target::AtMost(limit) => format!("≤ {} {}", fmt_num(limit), self.unit),
            Target::Info => "—".into(),
        }
    }
}

/// Compact number formatting: 3 significant digits, no exponent for ordinary magnitudes.
pub fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        return "n/a".into();
    }
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 10.0 {
        format!("{x:.2}")
    } else if a >= 0.001 {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_owned()
    } else {
        format!("{x:.2e}")
    }
}

/// The table as GitHub markdown.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| # | metric | hitl (median) | baseline | baseline (median) | ratio | target | result |\n|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let value = format!("{} {}", fmt_num(row.value), row.unit);
        let baseline = row
            .baseline
            .map(|b| format!("{} {}", fmt_num(b), row.unit))
            .unwrap_or_else(|| "—".into());
        let ratio = row
            .ratio()
            .map(|r| format!("{}×", fmt_num(r)))
            .unwrap_or_else(|| "—".into());
        let verdict = match row.verdict() {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "info",
        };
        let metric = if row.note.is_empty() {
            row.metric.clone()
        } else {
            format!("{} ({})", row.metric, row.note)
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.section,
            metric.replace('|', "/"),
            value,
            if row.baseline_name.is_empty() {
                "—"
            } else {
                &row.baseline_name
            },
            baseline,
            ratio,
            row.target_text(),
            verdict
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(value: f64, baseline: Option<f64>, target: Target) -> Row {
        Row {
            section: "1".into(),
            metric: "m".into(),
            value,
            unit: "ms".into(),
            baseline_name: "python".into(),
            baseline,
            target,
            note: String::new(),
        }
    }

    #[test]
    fn verdicts_follow_targets() {
        assert_eq!(
            row(5.0, Some(100.0), Target::RatioAtMost(0.1)).verdict(),
            Some(true)
        );
        assert_eq!(
            row(50.0, Some(100.0), Target::RatioAtMost(0.1)).verdict(),
            Some(false)
        );
        assert_eq!(
            row(5.0, None, Target::RatioAtMost(0.1)).verdict(),
            Some(false)
        );
        assert_eq!(row(2.0, None, Target::AtMost(2.0)).verdict(), Some(true));
        assert_eq!(
            row(f64::NAN, None, Target::AtMost(2.0)).verdict(),
            Some(false)
        );
        assert_eq!(row(2.0, None, Target::Info).verdict(), None);
    }

    #[test]
    fn markdown_has_one_line_per_row() {
        let table = markdown(&[row(5.0, Some(100.0), Target::RatioAtMost(0.1))]);
        assert_eq!(table.lines().count(), 3);
        assert!(table.contains("0.05×") && table.contains("PASS"));
        assert_eq!(fmt_num(1234.4), "1234");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(f64::NAN), "n/a");
    }
}
