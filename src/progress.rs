//! Progress on stderr (indicatif), shown only when the binary decides so (stderr is a TTY, no `-q`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress indicator; hidden ones cost one branch per update.
#[derive(Clone, Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// Shows nothing.
    pub fn hidden() -> Self {
        Progress(None)
    }

    /// A spinner on stderr counting files, with `what` as its message.
    pub fn spinner(what: &str) -> Self {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg}: {human_pos} files ({per_sec}, {elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message(what.to_string());
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress(Some(pb))
    }

    /// One more file done.
    pub fn inc(&self) {
        if let Some(pb) = &self.0 {
            pb.inc(1);
        }
    }

    /// Removes the indicator from the terminal.
    pub fn finish(&self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}
