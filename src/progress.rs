//! Progress on stderr (indicatif), shown only when the binary decides so (stderr is a TTY, no `-q`),
//! and only once the work has lasted [`SHOW_AFTER`]: a line that flashes for a few milliseconds
//! (`tree` on a small root) says nothing and leaves escape codes in terminal logs.
//!
//! Without the `cli` feature (a library build without indicatif) the same API draws nothing: the
//! stages still take a [`Progress`] and count on it, at the cost of nothing.

#[cfg(feature = "cli")]
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[cfg(feature = "cli")]
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How long the work runs before the indicator appears.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A progress indicator; hidden ones cost one branch per update.
#[derive(Clone, Debug)]
pub struct Progress(#[cfg(feature = "cli")] Option<Arc<Shown>>);

#[cfg(feature = "cli")]
#[derive(Debug)]
struct Shown {
    pb: ProgressBar,
    /// Set by `finish`; the thread waiting to show the indicator gives up when it is.
    finished: Mutex<bool>,
    wake: Condvar,
}

#[cfg(not(feature = "cli"))]
impl Progress {
    /// Shows nothing.
    pub fn hidden() -> Self {
        Progress()
    }

    /// Shows nothing either: this build has no indicator (the `cli` feature is off).
    pub fn spinner(_what: &str) -> Self {
        Progress()
    }

    /// One more file done.
    pub fn inc(&self) {}

    /// Shows nothing either (no `cli` feature).
    pub fn bytes(_what: &str, _total: u64, _show: bool) -> Self {
        Progress()
    }

    /// More bytes done.
    pub fn inc_by(&self, _n: u64) {}

    /// Nothing to remove.
    pub fn finish(&self) {}
}

#[cfg(feature = "cli")]
impl Progress {
    /// Shows nothing.
    pub fn hidden() -> Self {
        Progress(None)
    }

    /// A spinner on stderr counting files, with `what` as its message, drawn from
    /// [`SHOW_AFTER`] on.
    pub fn spinner(what: &str) -> Self {
        Self::spinner_on(what, ProgressDrawTarget::stderr(), SHOW_AFTER)
    }

    /// A spinner drawn to `target` once `delay` has passed without [`Progress::finish`].
    pub fn spinner_on(what: &str, target: ProgressDrawTarget, delay: Duration) -> Self {
        // Hidden until the delay is over: counting goes on, drawing does not.
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg}: {human_pos} files ({rate}, {elapsed})")
                .map(|s| {
                    s.with_key("rate", |st: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&rate(st.per_sec()));
                    })
                })
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message(what.to_string());
        let shown = Arc::new(Shown {
            pb,
            finished: Mutex::new(false),
            wake: Condvar::new(),
        });
        let waiter = Arc::clone(&shown);
        let spawned = std::thread::Builder::new()
            .name("elfdeps-progress".into())
            .spawn(move || {
                let guard = waiter.finished.lock().unwrap_or_else(|p| p.into_inner());
                let (done, _) = waiter
                    .wake
                    .wait_timeout_while(guard, delay, |finished| !*finished)
                    .unwrap_or_else(|p| p.into_inner());
                // Still holding the lock: `finish` cannot run between this check and the first
                // draw, so a finished indicator is never drawn again.
                if !*done {
                    waiter.pb.set_draw_target(target);
                    waiter.pb.enable_steady_tick(Duration::from_millis(120));
                }
            });
        // No thread, no indicator: progress is never worth failing for.
        match spawned {
            Ok(_) => Progress(Some(shown)),
            Err(_) => Progress(None),
        }
    }

    /// One more file done.
    pub fn inc(&self) {
        if let Some(s) = &self.0 {
            s.pb.inc(1);
        }
    }

    /// A download bar on stderr of `total` bytes, drawn at once when `show` (the caller decides:
    /// a terminal, no `-q`), else hidden.
    pub fn bytes(what: &str, total: u64, show: bool) -> Self {
        if !show {
            return Progress(None);
        }
        let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "{msg} {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.set_message(what.to_string());
        pb.enable_steady_tick(Duration::from_millis(200));
        Progress(Some(Arc::new(Shown {
            pb,
            finished: Mutex::new(false),
            wake: Condvar::new(),
        })))
    }

    /// More bytes done.
    pub fn inc_by(&self, n: u64) {
        if let Some(s) = &self.0 {
            s.pb.inc(n);
        }
    }

    /// Removes the indicator from the terminal (or keeps it from ever appearing).
    pub fn finish(&self) {
        if let Some(s) = &self.0 {
            let mut finished = s.finished.lock().unwrap_or_else(|p| p.into_inner());
            *finished = true;
            s.wake.notify_all();
            s.pb.finish_and_clear();
        }
    }
}

/// Files per second as a whole number with thousands separators (`96,744/s`); a rate has no
/// meaningful fraction, and before the first file it is `0/s`.
pub fn rate(per_sec: f64) -> String {
    let n = if per_sec.is_finite() && per_sec > 0.0 {
        per_sec.round() as u64
    } else {
        0
    };
    format!("{}/s", crate::name::thousands(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_whole_numbers() {
        assert_eq!(rate(96_743.717_8), "96,744/s");
        assert_eq!(rate(0.4), "0/s");
        assert_eq!(rate(f64::NAN), "0/s");
        assert_eq!(rate(f64::INFINITY), "0/s");
        assert_eq!(rate(1234.5), "1,235/s");
    }
}

#[cfg(all(test, feature = "cli"))]
mod indicator_tests {
    use super::*;
    use indicatif::TermLike;
    use std::io;

    /// A terminal that keeps what is written to it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl Screen {
        fn text(&self) -> String {
            self.0.lock().unwrap().clone()
        }
        fn put(&self, s: &str) -> io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.put(s)?;
            self.put("\n")
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.put(s)
        }
        fn clear_line(&self) -> io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn short_work_draws_nothing() {
        let screen = Screen::default();
        let p = Progress::spinner_on(
            "scanning",
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
            Duration::from_millis(400),
        );
        for _ in 0..13 {
            p.inc();
        }
        p.finish();
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(screen.text(), "", "finished before the delay: never drawn");
    }

    #[test]
    fn lasting_work_shows_a_whole_number_rate() {
        let screen = Screen::default();
        let p = Progress::spinner_on(
            "scanning",
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
            Duration::from_millis(20),
        );
        for _ in 0..5 {
            for _ in 0..1000 {
                p.inc();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let text = screen.text();
        p.finish();
        assert!(text.contains("scanning: "), "{text:?}");
        let rates: Vec<&str> = text
            .split(" files (")
            .skip(1)
            .filter_map(|r| r.split("/s").next())
            .collect();
        assert!(!rates.is_empty(), "{text:?}");
        for r in rates {
            assert!(
                !r.is_empty() && r.chars().all(|c| c.is_ascii_digit() || c == ','),
                "rate {r:?} in {text:?}"
            );
        }
    }
}
