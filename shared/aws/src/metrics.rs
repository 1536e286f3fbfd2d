//! The EMF adapter of the domain's [`MetricsSink`] port: each record becomes one JSON line on
//! stdout, where the Lambda log agent picks it up and CloudWatch Logs extracts the metric.

use std::io::Write;

use hitl_domain::ports::MetricsSink;
use serde_json::Value;

/// Writes each record as one line on the process's stdout (the Lambda functions' sink).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmfStdout;

impl MetricsSink for EmfStdout {
    fn record(&self, record: &Value) {
        write_line(&mut std::io::stdout().lock(), record);
    }
}

/// Writes `record` as a single line and flushes. Never panics: a failed write is ignored,
/// metrics must not fail a handler.
pub fn write_line(out: &mut impl Write, record: &Value) {
    let _ = writeln!(out, "{record}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hitl_domain::metrics;

    #[test]
    fn a_record_is_written_as_one_json_line() {
        let record = metrics::feedback_received("approve");
        let mut out = Vec::new();
        write_line(&mut out, &record);
        write_line(&mut out, &metrics::escalation("no_progress"));
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let back: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(back, record);
        assert_eq!(
            back["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            metrics::NAMESPACE
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_failed_write_is_ignored() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("closed"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Err(std::io::Error::other("closed"))
            }
        }
        write_line(&mut Broken, &metrics::smoke_test_result(true));
    }
}
