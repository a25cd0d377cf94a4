//! Property-based fuzz targets for what the apiserver parses from clients:
//! label and field selectors, Go durations, quantities, JSON / merge /
//! strategic merge patches, the typed decode under `fieldValidation`, the
//! protobuf envelope, continue tokens and request paths. Each target runs
//! proptest-generated inputs (structured ones near the grammar, arbitrary
//! ones, and large ones) for a time budget and checks, per input: no panic,
//! an answer within [`PER_INPUT_LIMIT`], and an error of the class upstream
//! gives. A failing input is shrunk, and its seed is kept under
//! `test/fuzz/regressions/` so every later run replays it first.
//!
//! `cargo xtask test` runs every target briefly (`tests/quick.rs`);
//! `cargo xtask fuzz TARGET --time 10m` runs one for long.

pub mod strategies;
pub mod targets;

use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

/// The longest one input may take (a debug build on a busy machine; what
/// is linear in a few kilobytes takes microseconds).
pub const PER_INPUT_LIMIT: Duration = Duration::from_secs(2);

/// Cases per proptest run; runs repeat until the budget is spent.
const CASES_PER_ROUND: u32 = 128;

/// One fuzz target.
pub struct Target {
    pub name: &'static str,
    /// What it feeds and what it checks.
    pub about: &'static str,
    /// Runs the target for the budget; returns the inputs tried.
    pub run: fn(Duration) -> Result<u64, String>,
}

/// Every target, by name.
pub fn targets() -> &'static [Target] {
    targets::ALL
}

pub fn find(name: &str) -> Option<&'static Target> {
    targets().iter().find(|target| target.name == name)
}

/// Runs `check` on inputs from `strategy` until `budget` is spent, after
/// replaying the target's saved failing seeds. A failure is shrunk to a
/// minimal input and its seed saved under `regressions/<target>.txt`.
pub fn fuzz<S: Strategy>(
    target: &str,
    strategy: S,
    budget: Duration,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> Result<u64, String>
where
    S::Value: std::fmt::Debug,
{
    let seeds: &'static str = Box::leak(
        format!("{}/regressions/{target}.txt", env!("CARGO_MANIFEST_DIR")).into_boxed_str(),
    );
    let config = Config {
        cases: CASES_PER_ROUND,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(seeds))),
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let deadline = Instant::now() + budget;
    let tried = std::cell::Cell::new(0u64);
    loop {
        // A fresh runner (fresh seed) per round: a runner counts its
        // successes across runs and would stop generating.
        TestRunner::new(config.clone())
            .run(&strategy, |input| {
                tried.set(tried.get() + 1);
                let started = Instant::now();
                check(input)?;
                let took = started.elapsed();
                if took > PER_INPUT_LIMIT {
                    return Err(TestCaseError::fail(format!(
                        "one input took {took:?} (the limit is {PER_INPUT_LIMIT:?})"
                    )));
                }
                Ok(())
            })
            .map_err(|failure| format!("{target}: {failure}"))?;
        if Instant::now() >= deadline {
            return Ok(tried.get());
        }
    }
}

/// Fails the case unless `condition` holds.
pub fn require(condition: bool, what: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if condition {
        Ok(())
    } else {
        Err(TestCaseError::fail(what()))
    }
}
