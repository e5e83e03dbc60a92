//! The relays of a run: their settings and caps in, the relay each new connection goes to out.
//! Connections are shared by weight; a relay that refuses connections or times out is set
//! aside for a while and its share goes to the others, and comes back when it answers again.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::client::{SettingError, Settings};
use super::rate::Limiter;
use crate::config::{Rate, Smtp};

/// The first pause of a relay set aside, doubled at each failure in a row up to [`MAX_ASIDE`].
const FIRST_ASIDE: Duration = Duration::from_secs(2);
const MAX_ASIDE: Duration = Duration::from_secs(60);

pub struct Relay {
    /// `host:port`, as the journal records it.
    pub name: Arc<str>,
    pub settings: Arc<Settings>,
    pub weight: u32,
    /// The relay's own caps, when it has any, within the run's.
    caps: Option<Rate>,
    pub limiter: Option<Limiter>,
    open: AtomicUsize,
    aside: Mutex<Option<Aside>>,
}

#[derive(Clone, Copy)]
struct Aside {
    until: Instant,
    /// The pause the next failure in a row gets.
    next: Duration,
    /// Set aside for its own cap, not for failing.
    capped: bool,
}

pub struct Relays {
    pub list: Vec<Relay>,
}

impl Relays {
    /// The relays of `[smtp]`; `Err` names every one that cannot work (its place: 0 is
    /// `[smtp]` itself, n the n-th `[[smtp.relays]]`) and why, so that `check` lists them all.
    pub fn new(
        smtp: &Smtp,
        root: &Path,
        rate: &Rate,
    ) -> Result<Relays, Vec<(usize, SettingError)>> {
        let mut list = Vec::new();
        let mut refused = Vec::new();
        for (i, r) in smtp.each_relay().into_iter().enumerate() {
            let settings = match Settings::from_config(&r, root) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    refused.push((i, e));
                    continue;
                }
            };
            let name: Arc<str> = format!("{}:{}", settings.host, settings.port).into();
            let own = r.per_second.is_some() || r.per_hour.is_some() || r.per_day.is_some();
            let caps = own.then(|| Rate {
                per_second: r.per_second.unwrap_or(rate.per_second),
                burst: rate.burst,
                per_hour: r.per_hour,
                per_day: r.per_day,
            });
            list.push(Relay {
                name,
                settings,
                weight: r.weight.max(1),
                caps,
                limiter: None,
                open: AtomicUsize::new(0),
                aside: Mutex::new(None),
            });
        }
        if !refused.is_empty() {
            return Err(refused);
        }
        Ok(Relays { list })
    }

    /// Starts each relay's own caps from its hand-overs of the last day, by name.
    pub fn with_history(mut self, history: &HashMap<String, Vec<i64>>) -> Relays {
        for r in &mut self.list {
            r.limiter = r
                .caps
                .as_ref()
                .map(|c| Limiter::new(c, history.get(&*r.name).cloned().unwrap_or_default()));
        }
        self
    }

    /// The relays as the send confirmation shows them.
    pub fn describe(&self) -> String {
        if self.list.len() == 1 {
            return self.list[0].settings.describe();
        }
        self.list
            .iter()
            .map(|r| format!("{} (weight {})", r.settings.describe(), r.weight))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn live(&self, i: usize, now: Instant) -> bool {
        self.list[i]
            .aside
            .lock()
            .unwrap()
            .is_none_or(|a| a.until <= now)
    }

    /// The relay a new connection goes to: the live one furthest below its share of the
    /// connections. `Err` holds when the first relay set aside comes back.
    pub fn pick(&self) -> Result<usize, Instant> {
        let now = Instant::now();
        let mut best: Option<(usize, usize)> = None;
        for (i, r) in self.list.iter().enumerate() {
            if !self.live(i, now) {
                continue;
            }
            let open = r.open.load(Ordering::SeqCst);
            // (open + 1) / weight, compared without division.
            let better = best.is_none_or(|(b, b_open)| {
                ((open + 1) as u64) * u64::from(self.list[b].weight)
                    < ((b_open + 1) as u64) * u64::from(r.weight)
            });
            if better {
                best = Some((i, open));
            }
        }
        match best {
            Some((i, _)) => {
                self.list[i].open.fetch_add(1, Ordering::SeqCst);
                Ok(i)
            }
            None => Err(self
                .list
                .iter()
                .filter_map(|r| r.aside.lock().unwrap().map(|a| a.until))
                .min()
                .unwrap_or(now)),
        }
    }

    /// A connection to relay `i` has closed.
    pub fn release(&self, i: usize) {
        let _ = self.list[i]
            .open
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// Whether another relay may take over: one of several relays; with only one, its
    /// failures are the run's, and retried as they always were.
    pub fn several(&self) -> bool {
        self.list.len() > 1
    }

    /// The relays set aside now for refusing connections or timing out, by name.
    pub fn aside_names(&self) -> Vec<String> {
        let now = Instant::now();
        self.list
            .iter()
            .filter(|r| {
                r.aside
                    .lock()
                    .unwrap()
                    .is_some_and(|a| a.until > now && !a.capped)
            })
            .map(|r| r.name.to_string())
            .collect()
    }

    /// Whether some relay can take a connection now.
    pub fn any_live(&self) -> bool {
        let now = Instant::now();
        (0..self.list.len()).any(|i| self.live(i, now))
    }

    /// Sets relay `i` aside after it refused a connection or timed out: for a pause that
    /// doubles with each failure in a row. Returns the pause.
    pub fn set_aside(&self, i: usize) -> Duration {
        let mut a = self.list[i].aside.lock().unwrap();
        let now = Instant::now();
        // Its other connections failing with it are the same failure, not more of them.
        if let Some(x) = a.filter(|x| x.until > now) {
            return x.until - now;
        }
        let pause = a.map_or(FIRST_ASIDE, |a| a.next);
        *a = Some(Aside {
            until: now + pause,
            next: (pause * 2).min(MAX_ASIDE),
            capped: false,
        });
        pause
    }

    /// Sets relay `i` aside until its own cap lifts.
    pub fn capped_until(&self, i: usize, until: Instant) {
        let mut a = self.list[i].aside.lock().unwrap();
        let next = a.map_or(FIRST_ASIDE, |a| a.next);
        *a = Some(Aside {
            until,
            next,
            capped: true,
        });
    }

    /// Relay `i` took a message: it is well again.
    pub fn worked(&self, i: usize) {
        *self.list[i].aside.lock().unwrap() = None;
    }

    /// Whether a connection to relay `i` should move: another live relay is further below its
    /// share than `i` would be with one connection fewer (after a relay comes back, say).
    pub fn over_share(&self, i: usize) -> bool {
        let now = Instant::now();
        let mine = &self.list[i];
        let open_i = mine.open.load(Ordering::SeqCst) as u64;
        self.list.iter().enumerate().any(|(j, r)| {
            j != i && self.live(j, now) && {
                let open_j = r.open.load(Ordering::SeqCst) as u64;
                // (open_j + 1) / w_j < open_i / w_i: moving one connection evens the shares.
                (open_j + 1) * u64::from(mine.weight) < open_i * u64::from(r.weight)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relays(weights: &[u32]) -> Relays {
        let smtp: Smtp = toml::from_str(&format!(
            "host = \"127.0.0.1\"\nport = 2500\nsecurity = \"plain\"\nweight = {}\n{}",
            weights[0],
            weights[1..]
                .iter()
                .enumerate()
                .map(|(i, w)| format!(
                    "[[relays]]\nhost = \"127.0.0.{}\"\nport = 2500\nweight = {w}\n",
                    i + 2
                ))
                .collect::<String>()
        ))
        .unwrap();
        Relays::new(&smtp, Path::new("."), &Rate::default()).unwrap()
    }

    fn shares(r: &Relays) -> Vec<usize> {
        r.list
            .iter()
            .map(|x| x.open.load(Ordering::SeqCst))
            .collect()
    }

    #[test]
    fn connections_spread_by_weight_and_move_when_a_relay_is_set_aside_and_back() {
        let r = relays(&[2, 1]);
        for _ in 0..6 {
            r.pick().unwrap();
        }
        assert_eq!(shares(&r), vec![4, 2]);
        assert!(!r.over_share(0) && !r.over_share(1));
        // The second relay fails: its connections close, and new ones go to the first.
        assert_eq!(r.set_aside(1), FIRST_ASIDE);
        assert!(
            r.set_aside(1) <= FIRST_ASIDE,
            "its other connections add no pause"
        );
        r.release(1);
        r.release(1);
        assert_eq!(r.pick(), Ok(0));
        assert_eq!(r.pick(), Ok(0));
        assert_eq!(shares(&r), vec![6, 0]);
        assert!(!r.over_share(0), "nowhere to go while the other is aside");
        // It comes back: the first is over its share until two connections have moved.
        r.capped_until(1, Instant::now());
        assert!(r.over_share(0));
        r.release(0);
        assert_eq!(r.pick(), Ok(1));
        r.release(0);
        assert_eq!(r.pick(), Ok(1));
        assert_eq!(shares(&r), vec![4, 2]);
        assert!(!r.over_share(0) && !r.over_share(1));
    }

    #[test]
    fn every_relay_aside_says_when_the_first_comes_back() {
        let r = relays(&[1, 1]);
        let a = r.set_aside(0);
        r.set_aside(1);
        let back = r.pick().unwrap_err();
        assert!(back <= Instant::now() + a);
        // A second failure in a row doubles the pause.
        r.capped_until(0, Instant::now());
        assert_eq!(r.set_aside(0), FIRST_ASIDE * 2);
        r.worked(0);
        r.worked(1);
        assert!(r.pick().is_ok());
    }
}
