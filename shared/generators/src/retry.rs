//! The time rules every model adapter shares: one budget per draft, below the generate
//! function's Lambda timeout, and jittered exponential backoff between throttled calls.

use std::time::Duration;

use rand::Rng;

/// Default time budget of one draft: below the generate function's Lambda timeout (300 s),
/// so a throttled call ends as `AgentThrottled` (which the definition retries) rather than
/// as a Lambda timeout.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(240);

/// The longest budget honoured (a larger one, `Duration::MAX` included, means this).
pub const MAX_BUDGET: Duration = Duration::from_secs(24 * 60 * 60);

/// First backoff step; each retry doubles it, up to [`BACKOFF_CAP`].
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// The longest step.
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// The wait before retry `attempt` (0-based): half the exponential step plus a random part
/// of the other half, so callers throttled together do not come back together.
pub fn backoff(attempt: u32) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(BACKOFF_CAP);
    let half = step / 2;
    let jitter = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_jittered_within_its_step() {
        for attempt in 0..8 {
            let step = BACKOFF_BASE
                .saturating_mul(2u32.pow(attempt))
                .min(BACKOFF_CAP);
            let wait = backoff(attempt);
            assert!(
                wait >= step / 2 && wait <= step,
                "attempt {attempt}: {wait:?}"
            );
        }
        assert!(backoff(40) <= BACKOFF_CAP);
    }
}
