//! `kube-fuzz TARGET SECONDS`: runs one fuzz target for a while and prints
//! how many inputs it tried (what `cargo xtask fuzz` runs, in release mode);
//! `kube-fuzz --list` lists the targets.

use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let names = || {
        kube_fuzz::targets()
            .iter()
            .map(|t| format!("  {:<24}{}", t.name, t.about))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if args.first().map(String::as_str) == Some("--list") {
        println!(
            "fuzz targets (cargo xtask fuzz TARGET --time 10m):\n{}",
            names()
        );
        return ExitCode::SUCCESS;
    }
    let (Some(name), Some(seconds)) = (args.first(), args.get(1)) else {
        eprintln!("usage: kube-fuzz TARGET SECONDS\ntargets:\n{}", names());
        return ExitCode::from(2);
    };
    let Some(target) = kube_fuzz::find(name) else {
        eprintln!(
            "error: no fuzz target {name:?}; the targets are:\n{}",
            names()
        );
        return ExitCode::from(2);
    };
    let Ok(seconds) = seconds.parse::<u64>() else {
        eprintln!("error: {seconds:?} is not a number of seconds");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    match (target.run)(Duration::from_secs(seconds)) {
        Ok(tried) => {
            let took = started.elapsed().as_secs_f64();
            println!(
                "{name}: {tried} inputs in {took:.0} s ({:.0}/s), no failure",
                tried as f64 / took.max(0.001)
            );
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("error: {failure}");
            eprintln!(
                "the failing seed is saved under test/fuzz/regressions/{name}.txt: commit it with the fix"
            );
            ExitCode::FAILURE
        }
    }
}
