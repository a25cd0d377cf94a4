//! `cargo xtask`: the release orchestrator, Kubernetes' `build/release.sh` in
//! Rust. This file owns the command line and hands each subcommand to the
//! module that owns it; see ARCHITECTURE.md for the map.

mod apiserver_bench;
mod archive;
mod atomic;
mod bench;
mod build;
mod checksums;
mod ci;
mod clean;
mod codegen;
mod components;
mod container_bench;
mod docker;
mod fuzz;
mod image;
mod interrupt;
mod licenses;
mod local_up;
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
    /// Compile components, stamped with the git version: in the cross-build
    /// container into _output/dockerized/bin/OS/ARCH, or with --local into
    /// _output/local/bin/OS/ARCH (the `go build` route of the Kubernetes docs).
    Build(BuildArgs),
    /// Test, build and package a release into _output/release-tars
    /// (kubernetes.tar.gz, server and source tarballs, checksums).
    Release(ReleaseArgs),
    /// Run the whole test suite (what CI runs).
    Test(TestArgs),
    /// The CI pipeline step: cargo fmt --check, clippy -D warnings, the
    /// tests, the release and release --verify; a summary table at the end.
    Ci(CiArgs),
    /// Remove everything this checkout generated: its build containers and
    /// cache volumes, and _output/.
    Clean(CleanArgs),
    /// The cross-build image (kube-cross): build, update, save and load it.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Measure the release machinery against its peers and print a table.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run one of the apiserver's fuzz targets (test/fuzz) for a long time,
    /// optimised; without a target, list them. A failing input's seed is
    /// saved under test/fuzz/regressions/ and replayed by every later run.
    Fuzz(FuzzArgs),
    /// Check the repository's generated files against what they are
    /// generated from; fail naming each stale file and the command that
    /// regenerates it. protobuf/mapping.rs needs Go checkouts that are not
    /// here: its header and k8s-pb side are checked (the version Cargo.lock
    /// locks), and the run prints the full regeneration command.
    Codegen(CodegenArgs),
    /// Run the API server on this machine to try it (hack/local-up-cluster.sh):
    /// build it with the host toolchain, keep its state in _output/local/
    /// (data, certificates, token, kubeconfig, log), serve on 127.0.0.1 until
    /// Ctrl-C.
    LocalUp(LocalUpArgs),
}

#[derive(Debug, Args)]
struct LocalUpArgs {
    /// The server's secure port on 127.0.0.1.
    #[arg(long, default_value_t = local_up::DEFAULT_PORT)]
    port: u16,
    /// The server's data directory; kept across restarts
    /// [default: _output/local/data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<cargo_metadata::camino::Utf8PathBuf>,
    /// The component to run [default: the first server component].
    #[arg(long)]
    component: Option<String>,
    /// Run the binary already in _output/local/bin/OS/ARCH instead of
    /// building it first.
    #[arg(long, short = 'O', conflicts_with = "binary")]
    skip_build: bool,
    /// Run this server binary instead of building one (e.g. a debug build
    /// from `cargo build -p kube-apiserver`).
    #[arg(long, value_name = "PATH")]
    binary: Option<cargo_metadata::camino::Utf8PathBuf>,
    /// More flags for the server (after `--`), e.g. `-- -v=4`.
    #[arg(last = true, value_name = "SERVER_FLAGS")]
    server_args: Vec<String>,
}

#[derive(Debug, Args)]
struct PlatformArgs {
    /// Target platform(s) as OS/ARCH, repeatable or comma-separated
    /// [env: KUBE_BUILD_PLATFORMS, space-separated; KUBE_FASTBUILD=true
    /// means the host platform only].
    #[arg(long = "platform", value_name = "OS/ARCH", value_delimiter = ',')]
    platforms: Vec<String>,
    /// Build on this machine with its own toolchain instead of the
    /// cross-build container (the default whenever a Docker engine answers).
    #[arg(long)]
    local: bool,
    /// Show the compiler's full output live (otherwise a progress bar on a
    /// terminal, and the full log only on failure).
    #[arg(long, short)]
    verbose: bool,
    /// Refuse a build image other than the pinned one whose ID
    /// images/kube-cross/IMAGE_ID records, instead of warning (for release
    /// managers).
    #[arg(long, env = image::STRICT_ENV, value_parser = clap::builder::FalseyValueParser::new())]
    strict_image: bool,
}

impl PlatformArgs {
    fn route(&self) -> anyhow::Result<build::Route> {
        build::Route::choose(
            self.local,
            self.verbose,
            image::ImagePolicy::new(self.strict_image)?,
        )
    }
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// Components to build (default: all). Names are the workspace packages
    /// that declare [package.metadata.release].
    #[arg(value_name = "COMPONENT")]
    components: Vec<String>,
    /// Also write the server images of components with `image = true` to
    /// _output/release-images/ARCH/ (upstream's quick-release-images).
    #[arg(long)]
    image: bool,
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
    /// Then build the release again from its own source tarball, offline, at
    /// another path (other umask, time zone, container and target volume),
    /// compare every artifact and fail on any difference, naming it.
    #[arg(long)]
    verify: bool,
}

#[derive(Debug, Args)]
struct CiArgs {
    /// Steps to leave out, repeatable or comma-separated.
    #[arg(long, value_enum, value_delimiter = ',')]
    skip: Vec<ci::Step>,
    #[command(flatten)]
    platform: PlatformArgs,
}

#[derive(Debug, Args)]
struct CleanArgs {
    /// Also remove the cross-build image (kube-cross) from the engine.
    #[arg(long)]
    images: bool,
}

#[derive(Debug, Subcommand)]
enum ImageCommand {
    /// Build the cross-build image named by images/kube-cross/VERSION and load
    /// it into the engine (DOCKER_HOST), replacing any image under that tag.
    /// Default: offline, with mmdebstrap, from the first archive that serves
    /// the pinned packages: the snapshot archive (KUBE_CROSS_SNAPSHOT), else
    /// Debian's archive from this machine's apt sources (KUBE_CROSS_ARCHIVE
    /// overrides it), else its current versions with a warning.
    Build {
        /// Build from images/kube-cross/Dockerfile instead (`docker build`
        /// through the API; the engine must be able to pull debian:trixie-slim).
        #[arg(long, conflicts_with = "if_missing")]
        dockerfile: bool,
        /// Only make sure the engine has the image (built from this
        /// definition), from the first source that works: the image archive
        /// in KUBE_CROSS_IMAGE_ARCHIVE, else the packages as above.
        #[arg(long)]
        if_missing: bool,
        /// Refuse anything but the pinned versions and the recorded image ID.
        #[arg(long, env = image::STRICT_ENV, value_parser = clap::builder::FalseyValueParser::new())]
        strict: bool,
    },
    /// Resolve the image's packages against Debian's archive as it is today:
    /// rewrite images/kube-cross/packages.txt (versions, snapshot time), bump
    /// VERSION, build the image and record its ID in IMAGE_ID. `cargo update`
    /// for the build image.
    Update,
    /// Write the engine's cross-build image as a docker-loadable archive, to
    /// carry the toolchain to machines that cannot rebuild it.
    Save {
        /// The archive [default: _output/images/kube-cross-VERSION.tar];
        /// gzip-compressed when it ends in .gz.
        file: Option<std::path::PathBuf>,
    },
    /// Load an image archive written by `image save`, after checking that it
    /// was built from this checkout's definition (and has the ID it records).
    Load {
        /// The archive (plain or gzip-compressed tar).
        file: std::path::PathBuf,
        /// Refuse an archive whose image ID is not the recorded one.
        #[arg(long, env = image::STRICT_ENV, value_parser = clap::builder::FalseyValueParser::new())]
        strict: bool,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// The container route's cost, in a temporary clone: cold and warm
    /// container builds of a component for linux/amd64 vs plain cargo in the
    /// same image, the `release` re-run when nothing changed, and optionally
    /// the image bootstrap.
    Container {
        /// The component [default: the first server component].
        component: Option<String>,
        /// Also time the image bootstrap (rebuilds the image).
        #[arg(long)]
        image: bool,
        /// Warm builds of each kind (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// The API server under load on this machine: builds the server and
    /// the load generator (test/loadgen) in the release profile, runs it once
    /// per storage backend; each run prints a table (pod creates, gets,
    /// updates, lists, watch fan-out, startup, memory; on etcd, raw etcd as
    /// the reference).
    Apiserver {
        /// The storage backends to measure (etcd: a local member; needs the
        /// etcd binary, Debian's etcd-server).
        #[arg(long, value_enum, default_value = "embedded")]
        storage: apiserver_bench::StorageChoice,
        /// Pods created, read, updated and listed [default: 10000].
        #[arg(long)]
        pods: Option<usize>,
        /// HTTP version of the load: 1.1 or 2 [default: 1.1].
        #[arg(long, value_parser = ["1.1", "2"])]
        http: Option<String>,
        /// Watches open at once for the fan-out [default: 1000].
        #[arg(long)]
        watchers: Option<usize>,
        /// Workers of the request loops [default: 16].
        #[arg(long)]
        concurrency: Option<usize>,
        /// The server component [default: the first server component].
        #[arg(long)]
        component: Option<String>,
        /// More flags for kube-loadgen (after `--`), e.g. `-- --open-loop-rate 2000`.
        #[arg(last = true, value_name = "LOADGEN_FLAGS")]
        loadgen_args: Vec<String>,
    },
    /// Packaging + hashing of a staged release vs GNU tar | gzip -n -6,
    /// sha256sum and sha512sum on the same tree (run `release` first).
    Packaging {
        /// The release stage to package [default: _output/release-stage].
        #[arg(long, value_name = "DIR")]
        stage: Option<cargo_metadata::camino::Utf8PathBuf>,
        /// Timed runs of each pipeline.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

#[derive(Debug, Args)]
struct FuzzArgs {
    /// The target (e.g. strategic-merge-patch); omit it to list them.
    target: Option<String>,
    /// How long to run: seconds, or with a unit (90s, 10m, 2h).
    #[arg(long, default_value = "10m", value_parser = fuzz::parse_time)]
    time: std::time::Duration,
}

#[derive(Debug, Args)]
struct CodegenArgs {
    /// Only check: write nothing (what `cargo xtask test` runs).
    #[arg(long)]
    check: bool,
}

#[derive(Debug, Args)]
struct TestArgs {
    /// Extra arguments for `cargo test` (after `--`), e.g. a test name filter.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    interrupt::install();
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
            let route = args.platform.route()?;
            let platforms =
                Platform::requested(&args.platform.platforms, route.default_platforms()?)?;
            let stamp = version::Stamp::from_checkout(&ws)?;
            let _lock = ws.lock_output()?;
            let build = build::build(&ws, &stamp, &components, &platforms, &route)?;
            if args.image {
                let images = release::server_image::write_release_images(
                    &ws,
                    &stamp,
                    &build.built,
                    &components,
                )?;
                if images.is_empty() {
                    anyhow::bail!(
                        "--image: none of {} declares `image = true` in [package.metadata.release]",
                        components
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            Ok(())
        }
        Command::Release(args) => {
            let ws = workspace::Workspace::discover()?;
            let route = args.platform.route()?;
            let platforms =
                Platform::requested(&args.platform.platforms, route.default_platforms()?)?;
            let run_tests = !args.skip_tests && release::tests_requested_by_env();
            let _lock = ws.lock_output()?;
            release::release(&ws, &platforms, run_tests, &route, args.verify)
        }
        Command::Ci(args) => {
            let ws = workspace::Workspace::discover()?;
            let route = args.platform.route()?;
            let platforms =
                Platform::requested(&args.platform.platforms, route.default_platforms()?)?;
            ci::run(&ws, &args.skip, &platforms, &route)
        }
        Command::Test(args) => {
            let ws = workspace::Workspace::discover()?;
            test_suite::run(&ws, &args.cargo_args)
        }
        Command::Image(command) => {
            let ws = workspace::Workspace::discover()?;
            let engine = docker::Engine::connect()?;
            match command {
                ImageCommand::Build {
                    dockerfile,
                    if_missing,
                    strict,
                } => {
                    let route = if dockerfile {
                        image::Route::Dockerfile
                    } else {
                        image::Route::Bootstrap
                    };
                    let policy = image::ImagePolicy::new(strict)?;
                    image::build_command(&engine, &ws, route, if_missing, &policy)
                }
                ImageCommand::Update => image::update::update(&engine, &ws),
                ImageCommand::Save { file } => {
                    image::save_command(&engine, &ws, file.as_deref()).map(|_| ())
                }
                ImageCommand::Load { file, strict } => {
                    image::load_command(&engine, &ws, &file, &image::ImagePolicy::new(strict)?)
                }
            }
        }
        Command::Bench(BenchCommand::Container {
            component,
            image,
            runs,
        }) => {
            let ws = workspace::Workspace::discover()?;
            container_bench::run(&ws, component.as_deref(), image, runs)
        }
        Command::Bench(BenchCommand::Apiserver {
            storage,
            pods,
            http,
            watchers,
            concurrency,
            component,
            loadgen_args,
        }) => {
            let ws = workspace::Workspace::discover()?;
            apiserver_bench::run(
                &ws,
                &apiserver_bench::Options {
                    storage,
                    pods,
                    http,
                    watchers,
                    concurrency,
                    component,
                    loadgen_args,
                },
            )
        }
        Command::Bench(BenchCommand::Packaging { stage, runs }) => {
            let ws = workspace::Workspace::discover()?;
            bench::packaging(&ws, stage.as_deref(), runs)
        }
        Command::Fuzz(args) => {
            let ws = workspace::Workspace::discover()?;
            fuzz::run(&ws, args.target.as_deref(), args.time)
        }
        Command::Codegen(args) => {
            let ws = workspace::Workspace::discover()?;
            codegen::run(ws.root.as_std_path(), args.check)
        }
        Command::Clean(args) => {
            let ws = workspace::Workspace::discover()?;
            clean::clean(&ws, args.images)
        }
        Command::LocalUp(args) => {
            let ws = workspace::Workspace::discover()?;
            local_up::run(
                &ws,
                local_up::Options {
                    port: args.port,
                    data_dir: args.data_dir,
                    component: args.component,
                    skip_build: args.skip_build,
                    binary: args.binary,
                    server_args: args.server_args,
                },
            )
        }
    }
}
