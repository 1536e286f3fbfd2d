//! Per-principal rate limiting of decision submissions: a token bucket per caller, so one
//! user (or one leaked token) cannot flood the store or another group's workflows. In
//! process memory: on Lambda each instance limits on its own (API Gateway's stage throttling
//! bounds the total); locally `hitl serve` is one process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Submissions a caller may make in a burst.
pub const DEFAULT_BURST: u32 = 20;
/// Submissions a caller may make per minute, sustained.
pub const DEFAULT_PER_MINUTE: u32 = 60;
/// Callers remembered at most (the oldest idle ones are forgotten first).
const MAX_CALLERS: usize = 10_000;

/// A token bucket per principal.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(DEFAULT_BURST, DEFAULT_PER_MINUTE)
    }
}

impl RateLimiter {
    /// `burst` submissions at once, refilled at `per_minute`.
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_minute.max(1)) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one submission from `principal`'s bucket: `Ok` when allowed, else the whole
    /// seconds until one is available (for `Retry-After`).
    pub fn check(&self, principal: &str) -> Result<(), u64> {
        self.check_at(principal, Instant::now())
    }

    fn check_at(&self, principal: &str, now: Instant) -> Result<(), u64> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_CALLERS && !buckets.contains_key(principal) {
            let burst = self.burst;
            let per_second = self.per_second;
            // Forget callers whose bucket is full again: they lose nothing.
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * per_second < burst
            });
        }
        let (tokens, at) = buckets
            .entry(principal.to_owned())
            .or_insert((self.burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.per_second)
            .min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = Duration::from_secs_f64((1.0 - *tokens) / self.per_second);
            Err(wait.as_secs().max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate_per_principal() {
        let limiter = RateLimiter::new(3, 60);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_at("rita", t0), Ok(()));
        }
        assert_eq!(limiter.check_at("rita", t0), Err(1));
        // Another principal is not affected.
        assert_eq!(limiter.check_at("omar", t0), Ok(()));
        // One token per second comes back.
        assert_eq!(
            limiter.check_at("rita", t0 + Duration::from_millis(1100)),
            Ok(())
        );
        assert_eq!(
            limiter.check_at("rita", t0 + Duration::from_millis(1200)),
            Err(1)
        );
    }
}
