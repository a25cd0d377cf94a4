//! The whole measurement `kube-loadgen` makes of one server binary on one
//! storage backend: start it (and a local etcd for `etcd`), then in order
//! pod creates, gets (closed loop, and open loop at a rate when asked),
//! updates, lists of every pod, watch fan-out, a restart with the pods in
//! place, and on etcd the raw etcd reference; memory along the way. Every
//! part is bounded by a count or a duration; the caller adds the global
//! timeout. The server and etcd stop when the run ends, also on an error.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::client::{DEFAULT_STREAMS_PER_CONNECTION, Protocol, check_loopback};
use crate::load::{Bound, closed_loop, open_loop};
use crate::report::Report;
use crate::scenarios::{Pods, Widgets, define_widgets, list, watch_fan_out};
use crate::server::{ADMIN_TOKEN, Server, ServerConfig, mib, peak_during};

/// Bounds on what one run may be asked for.
pub const MAX_PODS: usize = 1_000_000;
pub const MAX_CONCURRENCY: usize = 4_096;
pub const MAX_WATCHERS: usize = 20_000;
pub const MAX_WATCH_EVENTS: usize = 1_000;
pub const MAX_SECONDS: u64 = 3_600;
pub const MAX_LISTS: usize = 100;

/// The server's storage backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// Its own embedded store under `--data-dir`.
    Embedded,
    /// A local etcd member started for the run.
    Etcd,
}

impl FromStr for Storage {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Storage> {
        match text {
            "embedded" => Ok(Storage::Embedded),
            "etcd" => Ok(Storage::Etcd),
            _ => bail!("unknown storage {text:?}: use embedded or etcd"),
        }
    }
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Storage::Embedded => "embedded",
            Storage::Etcd => "etcd",
        })
    }
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct Options {
    pub server_binary: PathBuf,
    pub storage: Storage,
    pub pods: usize,
    pub concurrency: usize,
    pub protocol: Protocol,
    /// Requests or watches per HTTP/2 connection at most.
    pub streams_per_connection: usize,
    pub watchers: usize,
    pub watch_events: usize,
    pub get_seconds: u64,
    /// Pod updates; `None`: one per pod.
    pub updates: Option<usize>,
    pub lists: usize,
    /// Also gets in an open loop at this rate for `get_seconds`.
    pub open_loop_rate: Option<f64>,
    /// The server's `--bind-address` (loopback).
    pub bind: IpAddr,
}

impl Options {
    pub fn new(server_binary: impl Into<PathBuf>) -> Options {
        Options {
            server_binary: server_binary.into(),
            storage: Storage::Embedded,
            pods: 10_000,
            concurrency: 16,
            protocol: Protocol::Http1,
            streams_per_connection: DEFAULT_STREAMS_PER_CONNECTION,
            watchers: 1_000,
            watch_events: 50,
            get_seconds: 5,
            updates: None,
            lists: 5,
            open_loop_rate: None,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    /// Refuses what is out of bounds, saying which bound.
    pub fn validate(&self) -> Result<()> {
        check_loopback(SocketAddr::new(self.bind, 0))?;
        let within = |name: &str, value: usize, low: usize, high: usize| -> Result<()> {
            if !(low..=high).contains(&value) {
                bail!("--{name} {value} is out of bounds: give {low} to {high}");
            }
            Ok(())
        };
        within("pods", self.pods, 1, MAX_PODS)?;
        within("concurrency", self.concurrency, 1, MAX_CONCURRENCY)?;
        within("watchers", self.watchers, 0, MAX_WATCHERS)?;
        within("watch-events", self.watch_events, 1, MAX_WATCH_EVENTS)?;
        within("lists", self.lists, 1, MAX_LISTS)?;
        within(
            "streams-per-connection",
            self.streams_per_connection,
            1,
            1_000,
        )?;
        within(
            "get-seconds",
            self.get_seconds as usize,
            1,
            MAX_SECONDS as usize,
        )?;
        within("updates", self.updates(), 0, MAX_PODS)?;
        if self.concurrency > self.pods {
            bail!(
                "--concurrency {} is more than --pods {}: each worker updates pods of its own",
                self.concurrency,
                self.pods
            );
        }
        if let Some(rate) = self.open_loop_rate
            && !(rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0)
        {
            bail!("--open-loop-rate {rate} is out of bounds: give 0 < R ≤ 1000000 requests/s");
        }
        Ok(())
    }

    pub fn updates(&self) -> usize {
        self.updates.unwrap_or(self.pods)
    }

    /// The file descriptors the client needs at most.
    pub fn connections(&self) -> usize {
        let per = |users: usize| match self.protocol {
            Protocol::Http1 => users,
            Protocol::Http2 => users.div_ceil(self.streams_per_connection),
        };
        per(self.concurrency) + per(self.watchers) + 2
    }

    fn method(&self, cores: usize) -> String {
        let connections = match self.protocol {
            Protocol::Http1 => "keep-alive, one connection per worker and per watcher".to_owned(),
            Protocol::Http2 => format!(
                "up to {} streams per connection: {} workers on {} connection(s), {} watchers on {}",
                self.streams_per_connection,
                self.concurrency,
                self.concurrency.div_ceil(self.streams_per_connection),
                self.watchers,
                self.watchers.div_ceil(self.streams_per_connection)
            ),
        };
        format!(
            "kube-apiserver on loopback over TLS: {cores} cores, {}, storage {}, {} ({connections}), \
             concurrency {}, {} pods",
            self.server_binary.display(),
            match self.storage {
                Storage::Embedded => "embedded",
                Storage::Etcd => "etcd (one local member)",
            },
            self.protocol,
            self.concurrency,
            self.pods
        )
    }
}

/// Runs every measurement and returns the table.
pub async fn run(options: &Options) -> Result<Report> {
    options.validate()?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut report = Report::new(options.method(cores));
    let etcd = match options.storage {
        Storage::Etcd => Some(crate::etcd::start().await?),
        Storage::Embedded => None,
    };
    let dir = tempfile::Builder::new().prefix("kube-loadgen-").tempdir()?;
    let mut config = ServerConfig::new(&options.server_binary, dir.path());
    config.bind = options.bind;
    config.etcd_servers = etcd.as_ref().map(|etcd| etcd.url().to_owned());
    // Watches ride HTTP/2 streams: the server must allow as many per
    // connection as the client puts there. In-flight limits stay above the
    // client's concurrency, so a 429 means something.
    config.args = vec![
        format!(
            "--http2-max-streams-per-connection={}",
            options.streams_per_connection
        ),
        format!(
            "--max-requests-inflight={}",
            (2 * options.concurrency).max(400)
        ),
        format!(
            "--max-mutating-requests-inflight={}",
            (2 * options.concurrency).max(200)
        ),
    ];
    let (mut server, first_start) = Server::start(config).await?;
    report.value(
        "start → /readyz 200, empty store",
        format!("{:.0} ms", first_start.as_secs_f64() * 1000.0),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    report.value("RSS idle after start", mib(server.memory()?.rss_kib));

    let target = server
        .target(options.protocol, ADMIN_TOKEN)?
        .with_streams_per_connection(options.streams_per_connection);
    let pods = Pods::new(options.pods);
    let c = options.concurrency;

    let mut creates = closed_loop(
        target.connect_many(c).await?,
        pods.creates(),
        Bound::Requests(options.pods as u64),
    )
    .await?;
    creates.ensure_ok("pod creates")?;
    let create_rate = creates.rate();
    report.latency(
        format!("pod creates (POST), closed loop, {c} workers"),
        Some(create_rate),
        creates.summary(),
        format!("{} × 201", creates.with_status(201)),
    );
    report.value(
        format!("RSS after {} pods", options.pods),
        mib(server.memory()?.rss_kib),
    );

    // The same count of custom objects, against a definition with a schema.
    let served = define_widgets(&mut target.connect().await?, Duration::from_secs(30)).await?;
    report.value(
        "CustomResourceDefinition create → its objects served",
        format!("{:.1} ms", served.as_secs_f64() * 1000.0),
    );
    let widgets = Widgets::new(options.pods);
    let mut widget_creates = closed_loop(
        target.connect_many(c).await?,
        widgets.creates(),
        Bound::Requests(options.pods as u64),
    )
    .await?;
    widget_creates.ensure_ok("custom-object creates")?;
    report.latency(
        format!("custom-object creates (POST, schema and 3 CEL rules), closed loop, {c} workers"),
        Some(widget_creates.rate()),
        widget_creates.summary(),
        format!(
            "{} × 201; {:.2} of pod creates",
            widget_creates.with_status(201),
            widget_creates.rate() / create_rate
        ),
    );

    let get_time = Duration::from_secs(options.get_seconds);
    let mut gets = closed_loop(
        target.connect_many(c).await?,
        pods.gets(),
        Bound::For(get_time),
    )
    .await?;
    gets.ensure_ok("pod gets")?;
    let get_rate = gets.rate();
    report.latency(
        format!(
            "pod gets, random pods, closed loop, {c} workers, {} s",
            options.get_seconds
        ),
        Some(get_rate),
        gets.summary(),
        format!("{} × 200", gets.with_status(200)),
    );

    if let Some(rate) = options.open_loop_rate {
        let mut open =
            open_loop(target.connect_many(c).await?, pods.gets(), rate, get_time).await?;
        let mut value = format!("target {rate:.0}/s, {} × 200", open.with_status(200));
        if open.failures > 0 {
            value.push_str(&format!(", {} failed ({:?})", open.failures, open.statuses));
        }
        if open.not_sent > 0 {
            value.push_str(&format!(", {} not sent (server behind)", open.not_sent));
        }
        report.latency(
            format!(
                "pod gets, open loop at {rate:.0}/s, {c} workers, {} s (from scheduled send)",
                options.get_seconds
            ),
            Some(open.rate()),
            open.summary(),
            value,
        );
    }

    if options.updates() > 0 {
        let mut updates = closed_loop(
            target.connect_many(c).await?,
            pods.updates(),
            Bound::Requests(options.updates() as u64),
        )
        .await?;
        updates.ensure_ok("pod updates")?;
        report.latency(
            format!("pod updates (PUT, a label changed), closed loop, {c} workers"),
            Some(updates.rate()),
            updates.summary(),
            format!("{} × 200", updates.with_status(200)),
        );
    }

    let mut connection = target.connect().await?;
    let (lists, peak) = peak_during(
        server.pid()?,
        list(&mut connection, &Pods::collection(), options.lists),
    )
    .await;
    drop(connection);
    let mut lists = lists?;
    if lists.items != options.pods {
        bail!("the list held {} pods, not {}", lists.items, options.pods);
    }
    let size = format!("{:.1} MiB", lists.bytes as f64 / 1_048_576.0);
    report.latency(
        format!(
            "list of {} pods, {} runs: first byte",
            options.pods, options.lists
        ),
        None,
        crate::stats::Summary::of(&mut lists.first_byte),
        "",
    );
    report.latency(
        format!(
            "list of {} pods, {} runs: last byte",
            options.pods, options.lists
        ),
        None,
        crate::stats::Summary::of(&mut lists.complete),
        size,
    );
    report.value("RSS peak during the lists (VmHWM)", mib(peak));

    if options.watchers > 0 {
        let mut watch = watch_fan_out(&target, options.watchers, options.watch_events).await?;
        let mut value = format!(
            "{} of {} delivered, {} connection(s)",
            watch.delivered,
            watch.expected(),
            watch.connections
        );
        if watch.delivered < watch.expected() {
            value.push_str(" — events missing");
        }
        report.latency(
            format!(
                "watch delivery, {} watchers × {} events (from the create's send)",
                options.watchers, options.watch_events
            ),
            None,
            crate::stats::Summary::of(&mut watch.latencies),
            value,
        );
    }
    report.value("RSS after the watches", mib(server.memory()?.rss_kib));

    let restart = server.restart().await?;
    report.value(
        format!("restart → /readyz 200 with {} pods", options.pods),
        format!("{:.0} ms", restart.as_secs_f64() * 1000.0),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    report.value(
        format!("RSS idle after the restart ({} pods)", options.pods),
        mib(server.memory()?.rss_kib),
    );
    server.stop().await?;

    if let Some(etcd) = &etcd {
        let mut puts = crate::etcd::raw_puts(etcd, &pods, c).await?;
        report.latency(
            format!(
                "raw etcd puts (etcd-client), {c} at a time, {} pod bodies",
                options.pods
            ),
            Some(puts.rate()),
            puts.summary(),
            format!("pod creates / raw puts = {:.2}", create_rate / puts.rate()),
        );
        let mut raw_gets = crate::etcd::raw_gets(etcd, &pods, c, get_time).await?;
        report.latency(
            format!("raw etcd gets, {c} at a time, {} s", options.get_seconds),
            Some(raw_gets.rate()),
            raw_gets.summary(),
            format!("pod gets / raw gets = {:.2}", get_rate / raw_gets.rate()),
        );
    }
    Ok(report)
}
