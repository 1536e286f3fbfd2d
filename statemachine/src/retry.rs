//! Retry policy: which retrier applies to an error and how long to wait before the next attempt.

use crate::definition::{Catcher, Jitter, Retrier};
use crate::errors;
use rand::Rng;

/// The outcome of consulting the `Retry` list for an error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetryDecision {
    /// Retry after this many milliseconds, charging retrier `index`.
    Retry {
        /// Retrier index.
        index: usize,
        /// Delay in milliseconds.
        delay_ms: u64,
    },
    /// No retrier matched, or the first matching one is exhausted.
    GiveUp,
}

/// Delay (seconds, before jitter) for retry number `attempt` (0-based):
/// `IntervalSeconds * BackoffRate^attempt`, capped at `MaxDelaySeconds`.
pub fn base_delay_seconds(r: &Retrier, attempt: u32) -> f64 {
    let exp = i32::try_from(attempt).unwrap_or(i32::MAX);
    let mut d = r.interval_seconds as f64 * r.backoff_rate.powi(exp);
    if !d.is_finite() {
        d = f64::MAX;
    }
    if let Some(max) = r.max_delay_seconds {
        d = d.min(max as f64);
    }
    d
}

/// Delay in milliseconds including jitter (`FULL`: uniform in `[0, delay]`).
pub fn delay_ms<R: Rng>(r: &Retrier, attempt: u32, rng: &mut R) -> u64 {
    let base = base_delay_seconds(r, attempt);
    let secs = match r.jitter {
        Jitter::None => base,
        Jitter::Full => rng.gen_range(0.0..=base.max(0.0)),
    };
    // Cap at roughly a year so the conversion is well-defined.
    (secs.min(3.2e7) * 1000.0).round() as u64
}

/// Decides whether to retry `error`, given how many times each retrier has already fired.
pub fn decide<R: Rng>(
    retriers: &[Retrier],
    attempts: &[u32],
    error: &str,
    rng: &mut R,
) -> RetryDecision {
    for (index, r) in retriers.iter().enumerate() {
        if errors::list_matches(&r.error_equals, error) {
            let used = attempts.get(index).copied().unwrap_or(0);
            if u64::from(used) < r.max_attempts {
                return RetryDecision::Retry {
                    index,
                    delay_ms: delay_ms(r, used, rng),
                };
            }
            return RetryDecision::GiveUp;
        }
    }
    RetryDecision::GiveUp
}

/// The first catcher matching `error`.
pub fn find_catcher<'a>(catchers: &'a [Catcher], error: &str) -> Option<&'a Catcher> {
    catchers
        .iter()
        .find(|c| errors::list_matches(&c.error_equals, error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn retrier(interval: u64, max: u64, rate: f64, cap: Option<u64>, jitter: Jitter) -> Retrier {
        Retrier {
            error_equals: vec!["E".into()],
            interval_seconds: interval,
            max_attempts: max,
            backoff_rate: rate,
            max_delay_seconds: cap,
            jitter,
        }
    }

    #[test]
    fn exponential_backoff() {
        let r = retrier(3, 5, 2.0, None, Jitter::None);
        let delays: Vec<f64> = (0..4).map(|a| base_delay_seconds(&r, a)).collect();
        assert_eq!(delays, vec![3.0, 6.0, 12.0, 24.0]);
    }

    #[test]
    fn max_delay_caps() {
        let r = retrier(1, 10, 2.0, Some(20), Jitter::None);
        assert_eq!(base_delay_seconds(&r, 4), 16.0);
        assert_eq!(base_delay_seconds(&r, 5), 20.0);
        assert_eq!(base_delay_seconds(&r, 9), 20.0);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(delay_ms(&r, 9, &mut rng), 20_000);
    }

    #[test]
    fn full_jitter_bounds() {
        let r = retrier(2, 10, 2.0, Some(60), Jitter::Full);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut distinct = std::collections::BTreeSet::new();
        for attempt in 0..8u32 {
            let cap = (base_delay_seconds(&r, attempt) * 1000.0) as u64;
            for _ in 0..200 {
                let d = delay_ms(&r, attempt, &mut rng);
                assert!(d <= cap, "attempt {attempt}: {d} > {cap}");
                distinct.insert(d);
            }
        }
        assert!(distinct.len() > 100, "jitter should spread delays");
    }

    #[test]
    fn decisions() {
        let rs = vec![
            retrier(1, 2, 2.0, None, Jitter::None),
            Retrier {
                error_equals: vec!["States.ALL".into()],
                ..retrier(1, 0, 2.0, None, Jitter::None)
            },
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(
            decide(&rs, &[0, 0], "E", &mut rng),
            RetryDecision::Retry {
                index: 0,
                delay_ms: 1000
            }
        );
        assert_eq!(
            decide(&rs, &[1, 0], "E", &mut rng),
            RetryDecision::Retry {
                index: 0,
                delay_ms: 2000
            }
        );
        // First matching retrier exhausted: give up even though a later one matches.
        assert_eq!(decide(&rs, &[2, 0], "E", &mut rng), RetryDecision::GiveUp);
        // MaxAttempts 0 never retries.
        assert_eq!(
            decide(&rs, &[0, 0], "Other", &mut rng),
            RetryDecision::GiveUp
        );
        assert_eq!(
            decide(&rs, &[0, 0], "States.Runtime", &mut rng),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn catcher_order() {
        let cs = vec![
            Catcher {
                error_equals: vec!["States.Timeout".into()],
                next: "T".into(),
                result_path: Default::default(),
                assign: None,
                output: None,
            },
            Catcher {
                error_equals: vec!["States.ALL".into()],
                next: "A".into(),
                result_path: Default::default(),
                assign: None,
                output: None,
            },
        ];
        assert_eq!(
            find_catcher(&cs, "States.Timeout").map(|c| c.next.as_str()),
            Some("T")
        );
        assert_eq!(
            find_catcher(&cs, "Boom").map(|c| c.next.as_str()),
            Some("A")
        );
        assert!(find_catcher(&cs, "States.Runtime").is_none());
    }
}
