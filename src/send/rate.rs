//! Rate limiting: the config's rates and the journal's recent hand-overs in, permission to hand
//! over the next message out (or the time a cap lifts). Pacing within the second is governor's
//! (GCRA with a burst); the caps per second, hour and day are sliding windows over every
//! hand-over, loaded from the journal, so they hold across runs and across campaigns.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::clock;
use crate::config::Rate;

const SECOND: i64 = 1_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

pub enum Permit {
    /// Hand the message over now; the time is recorded as its hand-over.
    Go(i64),
    /// A cap is full: nothing more may go before `until_ms`.
    Capped {
        cap: &'static str,
        limit: u32,
        until_ms: i64,
    },
}

pub struct Limiter {
    pacer: DefaultDirectRateLimiter,
    per_second: u32,
    per_hour: Option<u32>,
    per_day: Option<u32>,
    /// Hand-over times (ms) within the longest window a cap watches, oldest first.
    recent: Mutex<VecDeque<i64>>,
    /// That window: a day with a daily cap, an hour with an hourly one, else a second. A
    /// million hand-overs are not kept for a cap that does not exist.
    keep: i64,
}

impl Limiter {
    /// `history` is the hand-overs the journal holds for the last day.
    pub fn new(rate: &Rate, history: Vec<i64>) -> Limiter {
        let burst = NonZeroU32::new(rate.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs_f64(1.0 / rate.per_second);
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        let keep = if rate.per_day.is_some() {
            DAY
        } else if rate.per_hour.is_some() {
            HOUR
        } else {
            SECOND
        };
        Limiter {
            pacer: RateLimiter::direct(quota),
            per_second: rate.per_second.ceil().max(1.0) as u32,
            per_hour: rate.per_hour,
            per_day: rate.per_day,
            recent: Mutex::new(Self::settled(history, clock::now_ms(), keep)),
            keep,
        }
    }

    /// Hand-overs the journal dates after `now` (a run under a later `BULLETIN_NOW`, a clock
    /// set back) count as made now: they still fill the caps, but never make a run wait for
    /// a time that has not come.
    fn settled(history: Vec<i64>, now: i64, keep: i64) -> VecDeque<i64> {
        let mut v: Vec<i64> = history
            .into_iter()
            .map(|t| t.min(now))
            .filter(|t| *t > now - keep)
            .collect();
        v.sort_unstable();
        v.into()
    }

    /// Since when the journal's history matters.
    pub fn history_from(now_ms: i64) -> i64 {
        now_ms - DAY
    }

    /// Waits for the pace, then takes a slot in every window, or says which cap is full.
    pub async fn acquire(&self) -> Permit {
        loop {
            self.pacer.until_ready().await;
            let wait = {
                let now = clock::now_ms();
                let mut recent = self.recent.lock().unwrap();
                while recent.front().is_some_and(|t| *t <= now - self.keep) {
                    recent.pop_front();
                }
                for (cap, window, limit) in [
                    ("per_day", DAY, self.per_day),
                    ("per_hour", HOUR, self.per_hour),
                ] {
                    if let Some(limit) = limit {
                        if let Some(until) = full_until(&recent, now, window, limit) {
                            return Permit::Capped {
                                cap,
                                limit,
                                until_ms: until,
                            };
                        }
                    }
                }
                match full_until(&recent, now, SECOND, self.per_second) {
                    None => {
                        recent.push_back(now);
                        return Permit::Go(now);
                    }
                    Some(until) => until - now,
                }
            };
            tokio::time::sleep(Duration::from_millis(wait.max(1) as u64)).await;
        }
    }
}

/// When a window of `window` ms ending now holds `limit` hand-overs already, the time the
/// oldest of them leaves it.
fn full_until(recent: &VecDeque<i64>, now: i64, window: i64, limit: u32) -> Option<i64> {
    let start = now - window;
    let inside = recent.len() - recent.partition_point(|t| *t <= start);
    if inside < limit as usize {
        return None;
    }
    // The hand-over whose leaving makes room: the limit-th newest.
    let idx = recent.len() - limit as usize;
    Some(recent[idx] + window + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn handovers_dated_in_the_future_fill_caps_but_never_stall() {
        let now = clock::now_ms();
        let later = now + 3 * DAY;
        let rate = Rate {
            per_second: 10.0,
            burst: 10,
            per_hour: Some(4),
            per_day: None,
        };
        let l = Limiter::new(&rate, vec![now - 5_000, later, later + 1]);
        let newest = l.recent.lock().unwrap().back().copied().unwrap();
        assert!(newest >= now && newest < later, "{newest}");
        let started = std::time::Instant::now();
        assert!(matches!(l.acquire().await, Permit::Go(_)));
        assert!(started.elapsed() < Duration::from_secs(5));
        // Four in the hour now: the cap is full.
        assert!(matches!(l.acquire().await, Permit::Capped { .. }));
    }

    #[test]
    fn window_is_full_until_the_oldest_leaves() {
        let r: VecDeque<i64> = vec![100, 200, 300].into();
        assert_eq!(full_until(&r, 1_000, 1_000, 4), None);
        assert_eq!(full_until(&r, 1_000, 1_000, 3), Some(1_101));
        assert_eq!(
            full_until(&r, 1_150, 1_000, 3),
            None,
            "100 has left the window"
        );
        assert_eq!(full_until(&r, 1_000, 1_000, 2), Some(1_201));
    }

    #[tokio::test]
    async fn caps_come_from_history() {
        let now = clock::now_ms();
        let rate = Rate {
            per_second: 1000.0,
            burst: 1000,
            per_hour: Some(3),
            per_day: None,
        };
        let l = Limiter::new(&rate, vec![now - 10_000, now - 5_000]);
        assert!(matches!(l.acquire().await, Permit::Go(_)));
        match l.acquire().await {
            Permit::Capped { cap, until_ms, .. } => {
                assert_eq!(cap, "per_hour");
                assert_eq!(until_ms, now - 10_000 + HOUR + 1);
            }
            Permit::Go(_) => panic!("the hour holds 3 already"),
        }
    }
}
