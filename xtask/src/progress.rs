//! Progress reporting: indicatif bars when stderr is a terminal, plain log
//! lines (one per step) when it is not, e.g. in CI logs.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// A unit of long work.
pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    started: Instant,
    log_steps: bool,
}

impl Progress {
    /// Work of `len` steps: a bar on a terminal, a line per step otherwise.
    pub fn new(label: &str, len: u64) -> Progress {
        let bar = is_terminal().then(|| {
            let bar = ProgressBar::new(len);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>12.cyan.bold} [{bar:30}] {pos}/{len} {wide_msg}",
                )
                // A constant template: it parses, or no bar ever worked.
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
            log_steps: true,
        }
    }

    /// Work of unknown length whose steps someone else already logs when
    /// there is no terminal (cargo's `Compiling` lines): a counting spinner
    /// on a terminal, no step lines otherwise.
    pub fn spinner(label: &str) -> Progress {
        let bar = is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            // A constant template, as above.
            bar.set_style(
                ProgressStyle::with_template("{prefix:>12.cyan.bold} {spinner} {pos} {wide_msg}")
                    .expect("static template"),
            );
            bar.set_prefix(label.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            label: label.to_owned(),
            started: Instant::now(),
            log_steps: false,
        }
    }

    /// True when a bar is drawn (child processes should then stay quiet).
    pub fn is_drawn(&self) -> bool {
        self.bar.is_some()
    }

    /// Starts the next step, named `what`.
    pub fn step(&self, what: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(what.to_owned()),
            None if self.log_steps => eprintln!("{}: {what}", self.label),
            None => {}
        }
    }

    /// Marks a step done.
    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!(
            "{}: done in {:.1}s",
            self.label,
            self.started.elapsed().as_secs_f64()
        );
    }
}

pub fn is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A plain status line.
pub fn log(line: impl AsRef<str>) {
    eprintln!("{}", line.as_ref());
}
