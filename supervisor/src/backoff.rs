//! Respawn back-off for crash loops. A worker that dies within [`EARLY_DEATH`] of being
//! forked counts as an early death. The first one is respawned at once (an operator's
//! SIGKILL or a one-off crash should cost nothing); from the second consecutive one on,
//! the wait before the next spawn doubles, up to [`MAX_DELAY`]. A worker that lives past
//! `EARLY_DEATH` resets the count.

use std::time::{Duration, Instant};

pub const EARLY_DEATH: Duration = Duration::from_secs(1);
const FIRST_DELAY: Duration = Duration::from_millis(100);
pub const MAX_DELAY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct Backoff {
    crashes: u32,
    not_before: Option<Instant>,
}

impl Backoff {
    /// Records a worker death; returns the delay now imposed, if any.
    pub fn record_death(&mut self, lived: Duration, now: Instant) -> Option<Duration> {
        if lived >= EARLY_DEATH {
            self.crashes = 0;
            self.not_before = None;
            return None;
        }
        self.crashes = self.crashes.saturating_add(1);
        if self.crashes == 1 {
            return None;
        }
        let delay = FIRST_DELAY
            .saturating_mul(1 << (self.crashes - 2).min(16))
            .min(MAX_DELAY);
        self.not_before = Some(now + delay);
        Some(delay)
    }

    /// When the next spawn may happen, if it must wait.
    pub fn wait_until(&self, now: Instant) -> Option<Instant> {
        self.not_before.filter(|t| *t > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_resets() {
        let now = Instant::now();
        let mut b = Backoff::default();
        let quick = Duration::from_millis(10);
        assert_eq!(
            b.record_death(quick, now),
            None,
            "the first early death is free"
        );
        let delays: Vec<_> = (0..10)
            .map(|_| b.record_death(quick, now).unwrap())
            .collect();
        assert_eq!(delays[0], Duration::from_millis(100));
        assert_eq!(delays[1], Duration::from_millis(200));
        assert_eq!(delays[9], MAX_DELAY);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        assert!(b.wait_until(now).is_some());
        assert_eq!(b.record_death(EARLY_DEATH, now), None);
        assert_eq!(b.wait_until(now), None);
        assert_eq!(b.record_death(quick, now), None);
        assert_eq!(b.record_death(quick, now), Some(Duration::from_millis(100)));
    }
}
