/*!
The memory budget shared by every worker of a scan (`--max-memory`).

Each file's reader keeps what it read in a per-file arena (see [`super::reader`]), capped by
`--max-read`. With N workers, N hostile files can hold N × `--max-read` at once; this budget bounds the
sum. A reader reserves bytes here before it reads them and gives them back when the file is done.

When the budget is exhausted by *other* files, the reader waits (they finish and release), but only
for a bounded time: two files that each hold half the budget and want more would otherwise wait for
each other forever. A file that alone needs more than the whole budget fails at once. Either way the
outcome is a per-file `limit-exceeded` error naming `--max-memory`, never a crash.
*/

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a reader waits for other files to release budget before giving up on its file.
pub const MAX_WAIT: Duration = Duration::from_secs(2);

/// A byte budget shared by the workers of one scan.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: Mutex<u64>,
    released: Condvar,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        MemoryBudget {
            limit,
            used: Mutex::new(0),
            released: Condvar::new(),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes currently reserved by all files.
    pub fn in_use(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves `n` more bytes for a file that already holds `held`. Waits (at most [`MAX_WAIT`],
    /// and never past `deadline`) while other files hold the rest; `false` when it cannot.
    pub fn reserve(&self, n: u64, held: u64, deadline: Option<Instant>) -> bool {
        if held.saturating_add(n) > self.limit {
            // No amount of waiting helps: this file alone needs more than everything.
            return false;
        }
        let give_up = {
            let wait = Instant::now() + MAX_WAIT;
            deadline.map_or(wait, |d| d.min(wait))
        };
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if used.saturating_add(n) <= self.limit {
                *used += n;
                return true;
            }
            let now = Instant::now();
            if now >= give_up {
                return false;
            }
            used = match self.released.wait_timeout(used, give_up - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Gives back `n` bytes.
    pub fn release(&self, n: u64) {
        if n == 0 {
            return;
        }
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(n);
        drop(used);
        self.released.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn alone_over_the_limit_fails_at_once() {
        let b = MemoryBudget::new(100);
        let t = Instant::now();
        assert!(!b.reserve(101, 0, None));
        assert!(!b.reserve(60, 50, None));
        assert!(t.elapsed() < Duration::from_millis(100));
        assert!(b.reserve(100, 0, None));
        assert_eq!(b.in_use(), 100);
    }

    #[test]
    fn waits_for_a_release_then_succeeds() {
        let b = Arc::new(MemoryBudget::new(100));
        assert!(b.reserve(80, 0, None));
        let b2 = b.clone();
        let h = std::thread::spawn(move || b2.reserve(50, 0, None));
        std::thread::sleep(Duration::from_millis(50));
        b.release(80);
        assert!(
            h.join().unwrap(),
            "the waiting reservation got the released bytes"
        );
        assert_eq!(b.in_use(), 50);
    }

    #[test]
    fn a_deadlock_ends_in_failure_not_a_hang() {
        let b = MemoryBudget::new(100);
        assert!(b.reserve(60, 0, None), "another file holds 60");
        assert!(b.reserve(30, 0, None), "this file holds 30");
        let t = Instant::now();
        // ... and wants 30 more, which only the other file could free.
        assert!(!b.reserve(30, 30, Some(Instant::now() + Duration::from_millis(100))));
        assert!(t.elapsed() < MAX_WAIT);
    }
}
