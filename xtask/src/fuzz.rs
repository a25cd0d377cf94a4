//! `cargo xtask fuzz TARGET --time 10m`: one of the apiserver's fuzz
//! targets (`test/fuzz`) for a long run, optimised. A failing input is
//! shrunk and its seed saved under `test/fuzz/regressions/`, which every
//! later run (the quick one in `cargo xtask test` included) replays first.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::workspace::Workspace;

/// `30s`, `10m`, `2h` (or plain seconds).
pub fn parse_time(text: &str) -> Result<Duration> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |at| text.split_at(at));
    let count: u64 = number.parse().with_context(|| {
        format!("--time {text:?}: write a number of seconds, minutes or hours, e.g. 90s, 10m, 2h")
    })?;
    let seconds = match unit {
        "" | "s" => count,
        "m" => count * 60,
        "h" => count * 3600,
        _ => bail!("--time {text:?}: the unit must be s, m or h (e.g. 10m)"),
    };
    if seconds == 0 {
        bail!("--time {text:?}: give the target some time, e.g. 10m");
    }
    Ok(Duration::from_secs(seconds))
}

/// Runs `target` (every target's name is listed when it is missing or
/// unknown) for `time`.
pub fn run(ws: &Workspace, target: Option<&str>, time: Duration) -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(&ws.root);
    let args = match target {
        Some(target) => vec![target.to_owned(), time.as_secs().to_string()],
        None => vec!["--list".to_owned()],
    };
    cmd!(
        sh,
        "cargo run --release --locked --quiet -p kube-fuzz -- {args...}"
    )
    .run()
    .context("the fuzz run failed (its output is above)")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_take_a_unit() {
        assert_eq!(parse_time("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_time("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_time("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_time("10x").is_err());
        assert!(parse_time("m").is_err());
        assert!(parse_time("0s").is_err());
    }
}
