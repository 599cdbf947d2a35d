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

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a reader waits for other files to release budget before giving up on its file.
pub const MAX_WAIT: Duration = Duration::from_secs(2);

/// A byte budget shared by the workers of one scan.
///
/// Every file reserves and releases, so the common case (room left) is one atomic operation each
/// way: a mutex and a condition variable per file made a futex system call per file, as many as
/// the opens themselves. Only a reader that must wait takes the lock, and a release wakes anyone
/// only when someone waits.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: AtomicU64,
    /// Readers waiting for a release (changed under `lock`).
    waiters: AtomicUsize,
    lock: Mutex<()>,
    released: Condvar,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        MemoryBudget {
            limit,
            used: AtomicU64::new(0),
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(()),
            released: Condvar::new(),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes currently reserved by all files.
    pub fn in_use(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// Takes `n` bytes if they are free.
    fn try_take(&self, n: u64) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(n).filter(|&u| u <= self.limit)
            })
            .is_ok()
    }

    /// Reserves `n` more bytes for a file that already holds `held`. Waits (at most [`MAX_WAIT`],
    /// and never past `deadline`) while other files hold the rest; `false` when it cannot.
    pub fn reserve(&self, n: u64, held: u64, deadline: Option<Instant>) -> bool {
        if held.saturating_add(n) > self.limit {
            // No amount of waiting helps: this file alone needs more than everything.
            return false;
        }
        if self.try_take(n) {
            return true;
        }
        let give_up = {
            let wait = Instant::now() + MAX_WAIT;
            deadline.map_or(wait, |d| d.min(wait))
        };
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // Counted before the next look at `used`, under the lock a releaser takes to notify: a
        // release after that look finds the waiter and wakes it once it waits. (SeqCst
        // throughout: each side writes one variable and then reads the other.)
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let taken = loop {
            if self.try_take(n) {
                break true;
            }
            let now = Instant::now();
            if now >= give_up {
                break false;
            }
            guard = match self.released.wait_timeout(guard, give_up - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        };
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
        taken
    }

    /// Gives back `n` bytes.
    pub fn release(&self, n: u64) {
        if n == 0 {
            return;
        }
        // Saturating: never below zero, whatever a caller gives back.
        let _ = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                Some(used.saturating_sub(n))
            });
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            self.released.notify_all();
        }
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
