//! `cargo xtask ci`: the CI pipeline step. Runs, in order, `cargo fmt
//! --check`, clippy with `-D warnings`, the test suite, the release and its
//! reproducibility check (`release --verify`), stops at the first failure,
//! and ends with a table of what ran, how long it took and how it ended.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use xshell::{Shell, cmd};

use crate::platform::Platform;
use crate::progress::log;
use crate::workspace::Workspace;

/// The steps, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Step {
    Fmt,
    Clippy,
    Test,
    Release,
    Verify,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::Fmt,
        Step::Clippy,
        Step::Test,
        Step::Release,
        Step::Verify,
    ];

    fn describe(self) -> &'static str {
        match self {
            Step::Fmt => "cargo fmt --all --check",
            Step::Clippy => "cargo clippy --workspace --all-targets --locked -- -D warnings",
            Step::Test => "cargo xtask test",
            Step::Release => "cargo xtask release --skip-tests (the tests ran above)",
            Step::Verify => "cargo xtask release --verify",
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed(Duration),
    Failed(Duration, String),
    Skipped,
    NotRun,
}

/// Runs every step not in `skip` with `run_step`, stopping at the first
/// failure; returns each step's outcome.
pub fn run_steps(
    skip: &[Step],
    mut run_step: impl FnMut(Step) -> Result<()>,
) -> Vec<(Step, Outcome)> {
    let mut outcomes = Vec::new();
    let mut failed = false;
    for step in Step::ALL {
        let outcome = if skip.contains(&step) {
            Outcome::Skipped
        } else if failed {
            Outcome::NotRun
        } else {
            log(format!("ci: {}", step.describe()));
            let started = Instant::now();
            match run_step(step) {
                Ok(()) => Outcome::Passed(started.elapsed()),
                Err(e) => {
                    failed = true;
                    Outcome::Failed(started.elapsed(), format!("{e:#}"))
                }
            }
        };
        outcomes.push((step, outcome));
    }
    outcomes
}

/// The summary table.
pub fn table(outcomes: &[(Step, Outcome)]) -> String {
    let mut out = format!("{:<8}  {:>9}  {}\n", "step", "time", "result");
    for (step, outcome) in outcomes {
        let name = format!("{step:?}").to_lowercase();
        let (time, result) = match outcome {
            Outcome::Passed(d) => (format!("{:.1}s", d.as_secs_f64()), "passed".to_owned()),
            Outcome::Failed(d, why) => (
                format!("{:.1}s", d.as_secs_f64()),
                format!("FAILED: {}", why.lines().next().unwrap_or_default()),
            ),
            Outcome::Skipped => ("-".to_owned(), "skipped (--skip)".to_owned()),
            Outcome::NotRun => (
                "-".to_owned(),
                "not run (an earlier step failed)".to_owned(),
            ),
        };
        out.push_str(&format!("{name:<8}  {time:>9}  {result}\n"));
    }
    out
}

/// `cargo xtask ci`.
pub fn run(
    ws: &Workspace,
    skip: &[Step],
    platforms: &[Platform],
    route: &crate::build::Route,
) -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(&ws.root);
    let outcomes = run_steps(skip, |step| match step {
        Step::Fmt => cmd!(sh, "cargo fmt --all --check")
            .run()
            .context("cargo fmt --check found unformatted code: run cargo fmt"),
        Step::Clippy => cmd!(
            sh,
            "cargo clippy --workspace --all-targets --locked -- -D warnings"
        )
        .run()
        .context("clippy found warnings (listed above)"),
        Step::Test => crate::test_suite::run(ws, &[]),
        Step::Release | Step::Verify => {
            let _lock = ws.lock_output()?;
            crate::release::release(ws, platforms, false, route, step == Step::Verify)
        }
    });
    eprint!("{}", table(&outcomes));
    if let Some((step, Outcome::Failed(_, why))) = outcomes
        .iter()
        .find(|(_, o)| matches!(o, Outcome::Failed(..)))
    {
        bail!("ci: the {step:?} step failed: {why}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_first_failure_and_tabulates() {
        let mut ran = Vec::new();
        let outcomes = run_steps(&[Step::Clippy], |step| {
            ran.push(step);
            if step == Step::Test {
                bail!("2 tests failed\nmore detail")
            }
            Ok(())
        });
        assert_eq!(ran, [Step::Fmt, Step::Test]);
        assert!(matches!(outcomes[0].1, Outcome::Passed(_)));
        assert_eq!(outcomes[1].1, Outcome::Skipped);
        assert!(
            matches!(&outcomes[2].1, Outcome::Failed(_, why) if why.starts_with("2 tests failed"))
        );
        assert_eq!(outcomes[3].1, Outcome::NotRun);
        assert_eq!(outcomes[4].1, Outcome::NotRun);
        let table = table(&outcomes);
        assert!(
            table.contains("clippy") && table.contains("skipped (--skip)"),
            "{table}"
        );
        assert!(table.contains("FAILED: 2 tests failed\n"), "{table}");
        assert!(
            table.contains("not run (an earlier step failed)"),
            "{table}"
        );
    }
}
