//! `cargo xtask`: the release orchestrator, Kubernetes' `build/release.sh` in
//! Rust. This file owns the command line and hands each subcommand to the
//! module that owns it; see ARCHITECTURE.md for the map.

mod archive;
mod atomic;
mod build;
mod checksums;
mod clean;
mod components;
mod licenses;
mod platform;
mod progress;
mod release;
mod test_suite;
mod version;
mod workspace;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::platform::Platform;

/// Build, test and package the workspace's components, reproducibly.
///
/// Components are the workspace packages whose Cargo.toml has a
/// `[package.metadata.release]` table; everything generated lands under
/// `_output/` (see README.md for the layout).
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile components into _output/local/bin/OS/ARCH (the `go build`
    /// route of the Kubernetes docs), stamped with the git version.
    Build(BuildArgs),
    /// Test, build and package a release into _output/release-tars
    /// (kubernetes.tar.gz, server and source tarballs, checksums).
    Release(ReleaseArgs),
    /// Run the whole test suite (what CI runs).
    Test(TestArgs),
    /// Remove everything this checkout generated (_output/).
    Clean,
}

#[derive(Debug, Args)]
struct PlatformArgs {
    /// Target platform(s) as OS/ARCH, repeatable or comma-separated
    /// [env: KUBE_BUILD_PLATFORMS, space-separated; KUBE_FASTBUILD=true
    /// means the host platform only].
    #[arg(long = "platform", value_name = "OS/ARCH", value_delimiter = ',')]
    platforms: Vec<String>,
    /// Build on this machine with its own toolchain (the only builder for
    /// now: the cross-build container comes next).
    #[arg(long)]
    local: bool,
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// Components to build (default: all). Names are the workspace packages
    /// that declare [package.metadata.release].
    #[arg(value_name = "COMPONENT")]
    components: Vec<String>,
    #[command(flatten)]
    platform: PlatformArgs,
}

#[derive(Debug, Args)]
struct ReleaseArgs {
    #[command(flatten)]
    platform: PlatformArgs,
    /// Do not run the workspace tests first [env: KUBE_RELEASE_RUN_TESTS=n].
    #[arg(long)]
    skip_tests: bool,
}

#[derive(Debug, Args)]
struct TestArgs {
    /// Extra arguments for `cargo test` (after `--`), e.g. a test name filter.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Build(args) => {
            let ws = workspace::Workspace::discover()?;
            let components = ws.select_components(&args.components)?;
            let platforms = Platform::requested(&args.platform.platforms)?;
            let stamp = version::Stamp::from_checkout(&ws)?;
            build::build(&ws, &stamp, &components, &platforms)?;
            Ok(())
        }
        Command::Release(args) => {
            let ws = workspace::Workspace::discover()?;
            let platforms = Platform::requested(&args.platform.platforms)?;
            let run_tests = !args.skip_tests && release::tests_requested_by_env();
            release::release(&ws, &platforms, run_tests)
        }
        Command::Test(args) => {
            let ws = workspace::Workspace::discover()?;
            test_suite::run(&ws, &args.cargo_args)
        }
        Command::Clean => {
            let ws = workspace::Workspace::discover()?;
            clean::clean(&ws)
        }
    }
}
