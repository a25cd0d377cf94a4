//! Progress reporting: indicatif bars when stderr is a terminal, plain log
//! lines (one per step) when it is not, e.g. in CI logs.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// A unit of long work with `len` steps.
pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    started: Instant,
}

impl Progress {
    pub fn new(label: &str, len: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(len);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>12.cyan.bold} [{bar:30}] {pos}/{len} {wide_msg}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar.set_prefix(label.to_owned());
            bar
        });
        if bar.is_none() {
            eprintln!("{label}: {len} step(s)");
        }
        Progress {
            bar,
            label: label.to_owned(),
            started: Instant::now(),
        }
    }

    /// Starts the next step, named `what`.
    pub fn step(&self, what: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(what.to_owned()),
            None => eprintln!("{}: {what}", self.label),
        }
    }

    /// Marks a step done.
    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    pub fn finish(self) {
        let elapsed = self.started.elapsed();
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => {}
        }
        eprintln!("{}: done in {:.1}s", self.label, elapsed.as_secs_f64());
    }
}

/// A plain status line that does not fight with bars.
pub fn log(line: impl AsRef<str>) {
    eprintln!("{}", line.as_ref());
}
