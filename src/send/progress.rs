//! Progress of a send: counters in, a progress bar with rate and time left on a terminal, or
//! timestamped log lines elsewhere (cron, CI), or nothing.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Counters;

#[derive(Clone)]
pub enum Progress {
    Bar(ProgressBar),
    /// A line every `every`, on stderr.
    Log {
        every: Duration,
        last: Arc<Mutex<Option<Instant>>>,
        total: Arc<Mutex<usize>>,
    },
    Quiet,
}

impl Progress {
    pub fn bar() -> Progress {
        let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress::Bar(pb)
    }

    pub fn log(every: Duration) -> Progress {
        Progress::Log {
            every,
            last: Arc::new(Mutex::new(None)),
            total: Arc::new(Mutex::new(0)),
        }
    }

    pub fn start(&self, total: usize) {
        match self {
            Progress::Bar(pb) => pb.set_length(total as u64),
            Progress::Log { total: t, last, .. } => {
                *t.lock().unwrap() = total;
                *last.lock().unwrap() = Some(Instant::now());
                eprintln!(
                    "{} sending {}",
                    crate::clock::utc().format("%Y-%m-%dT%H:%M:%SZ"),
                    crate::text::count(total, "message", "messages")
                );
            }
            Progress::Quiet => {}
        }
    }

    pub fn tick(&self, c: &Counters) {
        let done = c.sent.load(Ordering::Relaxed)
            + c.failed.load(Ordering::Relaxed)
            + c.deferred.load(Ordering::Relaxed)
            + c.unknown.load(Ordering::Relaxed);
        match self {
            Progress::Bar(pb) => {
                pb.set_position(done as u64);
                let bad = done - c.sent.load(Ordering::Relaxed);
                if bad > 0 {
                    pb.set_message(format!("({bad} not sent)"));
                }
            }
            Progress::Log { every, last, total } => {
                let mut last = last.lock().unwrap();
                if last.is_some_and(|l| l.elapsed() >= *every) {
                    *last = Some(Instant::now());
                    eprintln!(
                        "{} {done}/{} settled: {} sent, {} failed, {} deferred, {} unknown",
                        crate::clock::utc().format("%Y-%m-%dT%H:%M:%SZ"),
                        total.lock().unwrap(),
                        c.sent.load(Ordering::Relaxed),
                        c.failed.load(Ordering::Relaxed),
                        c.deferred.load(Ordering::Relaxed),
                        c.unknown.load(Ordering::Relaxed)
                    );
                }
            }
            Progress::Quiet => {}
        }
    }

    pub fn finish(&self) {
        if let Progress::Bar(pb) = self {
            pb.finish_and_clear();
        }
    }
}
