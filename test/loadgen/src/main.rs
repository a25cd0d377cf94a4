//! The `kube-loadgen` binary: starts the server binary it is given (and a
//! local etcd for `--storage etcd`), measures it with the library's
//! scenarios and prints one markdown table. Bounded by its counts,
//! durations and `--timeout`; Ctrl-C, SIGTERM, an error or the timeout stop
//! the server and etcd before it exits.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use kube_loadgen::bench::{self, Options, Storage};
use kube_loadgen::client::{DEFAULT_STREAMS_PER_CONNECTION, Protocol};
use tokio::signal::unix::{SignalKind, signal};

/// Load a kube-apiserver binary on loopback and print one markdown table:
/// pod creates, gets, updates, lists, watch fan-out, startup and memory
/// (and on etcd, raw etcd as the reference).
#[derive(Debug, Parser)]
#[command(name = "kube-loadgen", version = None)]
struct Cli {
    /// The kube-apiserver binary to start and measure.
    #[arg(long, value_name = "PATH")]
    server_binary: PathBuf,
    /// The server's storage: its embedded store, or a local etcd member
    /// started for the run (also measured raw as the reference).
    #[arg(long, default_value = "embedded", value_parser = parse_storage)]
    storage: Storage,
    /// Pods created (then read, updated and listed).
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Workers of the closed loops (and of the open loop).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// HTTP version: 1.1 (a connection per worker and watcher) or 2
    /// (streams multiplexed on few connections).
    #[arg(long, default_value = "1.1", value_parser = parse_protocol)]
    http: Protocol,
    /// HTTP/2: requests or watches per connection at most.
    #[arg(long, default_value_t = DEFAULT_STREAMS_PER_CONNECTION)]
    streams_per_connection: usize,
    /// Watches open at once for the fan-out (0: skip it).
    #[arg(long, default_value_t = 1_000)]
    watchers: usize,
    /// Events created one at a time for the watchers.
    #[arg(long, default_value_t = 50)]
    watch_events: usize,
    /// How long the gets run (closed loop, and open loop if asked).
    #[arg(long, default_value_t = 5)]
    get_seconds: u64,
    /// Pod updates [default: one per pod].
    #[arg(long)]
    updates: Option<usize>,
    /// Lists of every pod.
    #[arg(long, default_value_t = 5)]
    lists: usize,
    /// Also run the gets as an open loop at this many requests per second.
    #[arg(long, value_name = "R")]
    open_loop_rate: Option<f64>,
    /// The server's --bind-address: a loopback address.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: IpAddr,
    /// Give up (stopping everything) after this many seconds.
    #[arg(long, default_value_t = 1_800)]
    timeout: u64,
}

fn parse_storage(text: &str) -> Result<Storage> {
    text.parse()
}

fn parse_protocol(text: &str) -> Result<Protocol> {
    text.parse()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // The run is polled on this (the main) thread, so the server it
    // spawns lives as long as the process (see `server`).
    match runtime.block_on(main_task(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn main_task(cli: Cli) -> Result<()> {
    let options = Options {
        storage: cli.storage,
        pods: cli.pods,
        concurrency: cli.concurrency,
        protocol: cli.http,
        streams_per_connection: cli.streams_per_connection,
        watchers: cli.watchers,
        watch_events: cli.watch_events,
        get_seconds: cli.get_seconds,
        updates: cli.updates,
        lists: cli.lists,
        open_loop_rate: cli.open_loop_rate,
        bind: cli.bind_address,
        ..Options::new(cli.server_binary)
    };
    options.validate()?;
    if !(1..=24 * 3600).contains(&cli.timeout) {
        bail!(
            "--timeout {} is out of bounds: give 1 to 86400 seconds",
            cli.timeout
        );
    }
    raise_open_files(options.connections() + 256)?;
    let mut interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let timeout = Duration::from_secs(cli.timeout);
    // Leaving this select drops the run: its server and etcd are killed.
    let report = tokio::select! {
        report = tokio::time::timeout(timeout, bench::run(&options)) => match report {
            Ok(report) => report?,
            Err(_) => bail!("the run took longer than --timeout {} s; the server was stopped", cli.timeout),
        },
        _ = interrupt.recv() => bail!("interrupted; the server was stopped"),
        _ = terminate.recv() => bail!("terminated; the server was stopped"),
    };
    print!("{report}");
    Ok(())
}

/// Raises the open-file limit to its hard limit and checks that `needed`
/// descriptors fit (HTTP/1.1 watchers each hold a connection).
fn raise_open_files(needed: usize) -> Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit of our own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("reading the open-file limit");
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(std::io::Error::last_os_error()).context("raising the open-file limit");
        }
    }
    if (limit.rlim_cur as usize) < needed {
        bail!(
            "the run needs about {needed} open files but the limit is {}: raise it (ulimit -n) \
             or use fewer --watchers, or --http 2 so watches share connections",
            limit.rlim_cur
        );
    }
    Ok(())
}
