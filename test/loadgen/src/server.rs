//! The server under test as a child process: its own directory (the
//! certificate it generates, its data, a token file, its log), a free
//! loopback port, the wait for `/readyz` 200 (how long it took is the
//! startup time), stop (SIGTERM, then SIGKILL) and restart on the same data,
//! its memory from `/proc` (VmRSS, and the peak VmHWM after resetting it).
//! The process is killed when its [`Server`] is dropped, and dies with the
//! thread that started it (`PR_SET_PDEATHSIG`), so no run leaves one behind.

use std::fs::File;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hyper::Method;

use crate::client::{Connection, Protocol, Target, check_loopback, tls_config};

/// The token of the user every run acts as (in `system:masters`).
pub const ADMIN_TOKEN: &str = "loadgen-admin-token";

/// How long a server may take to answer `/readyz` 200.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a server gets to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How often `/readyz` is asked while the server starts (on one keep-alive
/// connection once it accepts one, so the polls cost it no handshakes).
const READY_POLL: Duration = Duration::from_millis(1);

/// The log lines shown when the server fails.
const LOG_TAIL_LINES: usize = 20;

/// A line of the server's `--token-auth-file`.
#[derive(Clone, Debug)]
pub struct User {
    pub token: String,
    pub name: String,
    pub uid: String,
    /// Comma-separated.
    pub groups: String,
}

/// How to run the server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub binary: PathBuf,
    /// `--cert-dir`, with `data/` (`--data-dir`), `tokens.csv` and the log.
    pub dir: PathBuf,
    /// `--bind-address`: loopback only.
    pub bind: IpAddr,
    /// The token file's users: by default the admin ([`ADMIN_TOKEN`]).
    pub users: Vec<User>,
    /// `--etcd-servers` instead of the embedded store.
    pub etcd_servers: Option<String>,
    /// More flags.
    pub args: Vec<String>,
    pub ready_timeout: Duration,
}

impl ServerConfig {
    pub fn new(binary: impl Into<PathBuf>, dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            binary: binary.into(),
            dir: dir.into(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            users: vec![User {
                token: ADMIN_TOKEN.to_owned(),
                name: "loadgen".to_owned(),
                uid: "loadgen".to_owned(),
                groups: "system:masters".to_owned(),
            }],
            etcd_servers: None,
            args: Vec::new(),
            ready_timeout: DEFAULT_READY_TIMEOUT,
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.join("kube-apiserver.log")
    }
}

/// A running server; killed when dropped.
pub struct Server {
    config: ServerConfig,
    port: u16,
    child: Option<Child>,
    /// The TLS configuration once the server wrote its certificate.
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// A free TCP port on `ip`.
pub fn free_port(ip: IpAddr) -> Result<u16> {
    let listener = TcpListener::bind((ip, 0)).with_context(|| format!("binding a port on {ip}"))?;
    Ok(listener.local_addr().context("the bound port")?.port())
}

impl Server {
    /// Starts the server and waits until `/readyz` answers 200; the time
    /// that took from the spawn.
    pub async fn start(config: ServerConfig) -> Result<(Server, Duration)> {
        check_loopback(SocketAddr::new(config.bind, 0))?;
        if !config.binary.is_file() {
            bail!(
                "the server binary {} does not exist: build it (cargo build --release -p kube-apiserver) \
                 or name another with --server-binary",
                config.binary.display()
            );
        }
        std::fs::create_dir_all(config.dir.join("data"))
            .with_context(|| format!("creating {}", config.dir.display()))?;
        let tokens: String = config
            .users
            .iter()
            .map(|u| format!("{},{},{},\"{}\"\n", u.token, u.name, u.uid, u.groups))
            .collect();
        std::fs::write(config.dir.join("tokens.csv"), tokens).context("writing the token file")?;
        let port = free_port(config.bind)?;
        let mut server = Server {
            config,
            port,
            child: None,
            tls: None,
        };
        let ready = server.spawn_and_wait().await?;
        Ok((server, ready))
    }

    /// The server's CA: the self-signed certificate it generates.
    pub fn ca(&self) -> PathBuf {
        self.config.dir.join("apiserver.crt")
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.config.bind, self.port)
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// A client target for this server as the user of `token`.
    pub fn target(&self, protocol: Protocol, token: &str) -> Result<Target> {
        match &self.tls {
            Some(tls) => Target::with_tls(self.addr(), tls.clone(), token, protocol),
            None => Target::new(self.addr(), &self.ca(), token, protocol),
        }
    }

    /// The process ID while it runs.
    pub fn pid(&self) -> Result<u32> {
        self.child
            .as_ref()
            .map(Child::id)
            .context("the server is not running")
    }

    /// Its memory now.
    pub fn memory(&self) -> Result<Memory> {
        Memory::of(self.pid()?)
    }

    /// Stops it: SIGTERM, and SIGKILL if it has not exited within 30 s.
    pub async fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = libc::pid_t::try_from(child.id()).context("a process ID")?;
        // SAFETY: kill(2) with the ID of our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if child
                .try_wait()
                .context("waiting for the server")?
                .is_some()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.kill().ok();
        child.wait().context("waiting for the killed server")?;
        Ok(())
    }

    /// Stops it and starts it again on the same port, data and certificate;
    /// the time from the spawn to `/readyz` 200.
    pub async fn restart(&mut self) -> Result<Duration> {
        self.stop().await?;
        self.spawn_and_wait().await
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.config.log()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    fn spawn(&self) -> Result<Child> {
        let config = &self.config;
        let log = File::options()
            .create(true)
            .append(true)
            .open(config.log())
            .with_context(|| format!("opening {}", config.log().display()))?;
        let mut command = Command::new(&config.binary);
        command
            .arg(format!("--cert-dir={}", config.dir.display()))
            .arg(format!("--data-dir={}", config.dir.join("data").display()))
            .arg(format!(
                "--token-auth-file={}",
                config.dir.join("tokens.csv").display()
            ))
            .arg(format!("--bind-address={}", config.bind))
            .arg(format!("--secure-port={}", self.port))
            .args(
                config
                    .etcd_servers
                    .iter()
                    .map(|servers| format!("--etcd-servers={servers}")),
            )
            .args(&config.args)
            // The default service range (10.0.0.0/24) must match the family
            // of the address served.
            .args(
                (config.bind.is_ipv6()
                    && !config
                        .args
                        .iter()
                        .any(|arg| arg.starts_with("--service-cluster-ip-range")))
                .then_some("--service-cluster-ip-range=fd00:10:96::/112"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // SAFETY: prctl(2) is async-signal-safe and touches only the child.
        // The server gets SIGKILL when the thread that spawned it ends (the
        // process's main thread for the binary; a test's thread), so a
        // killed load generator does not leave it running.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command
            .spawn()
            .with_context(|| format!("starting {}", config.binary.display()))
    }

    async fn spawn_and_wait(&mut self) -> Result<Duration> {
        let started = Instant::now();
        self.child = Some(self.spawn()?);
        let deadline = started + self.config.ready_timeout;
        let mut probe = None;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().context("checking on the server")?
            {
                self.child = None;
                bail!(
                    "{} exited with {status} before it was ready; the end of its log ({}):\n{}",
                    self.config.binary.display(),
                    self.config.log().display(),
                    self.log_tail()
                );
            }
            if self.ready(&mut probe).await {
                return Ok(started.elapsed());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not answer /readyz 200 within {:?}; the end of its log ({}):\n{}",
                    self.config.binary.display(),
                    self.config.ready_timeout,
                    self.config.log().display(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// Whether `/readyz` answers 200 now, asked on `probe` (connected
    /// first when there is none; dropped when it fails).
    async fn ready(&mut self, probe: &mut Option<Connection>) -> bool {
        if probe.is_none() {
            if self.tls.is_none() {
                // The certificate appears once the server generated it.
                match tls_config(&self.ca(), Protocol::Http1) {
                    Ok(tls) => self.tls = Some(tls),
                    Err(_) => return false,
                }
            }
            let Some(admin) = self.config.users.first().map(|user| user.token.clone()) else {
                return false;
            };
            let Ok(target) = self.target(Protocol::Http1, &admin) else {
                return false;
            };
            *probe = target.connect().await.ok();
        }
        let Some(connection) = probe.as_mut() else {
            return false;
        };
        match connection.call(Method::GET, "/readyz", None).await {
            Ok(reply) => reply.status == 200,
            Err(_) => {
                *probe = None;
                false
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// A process's memory, from `/proc/PID/status`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_kib: u64,
    /// VmHWM: the peak resident since the start or the last reset.
    pub hwm_kib: u64,
}

impl Memory {
    pub fn of(pid: u32) -> Result<Memory> {
        let path = format!("/proc/{pid}/status");
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .with_context(|| format!("{path} has no {name}"))
        };
        Ok(Memory {
            rss_kib: field("VmRSS:")?,
            hwm_kib: field("VmHWM:")?,
        })
    }
}

/// MiB of `kib` KiB, one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Runs `work` and measures the peak resident memory of `pid` meanwhile:
/// VmHWM after resetting it (`/proc/PID/clear_refs`, "5") and VmRSS polled
/// every 2 ms, the larger of the two (the poll alone when the reset is not
/// allowed).
pub async fn peak_during<F: Future>(pid: u32, work: F) -> (F::Output, u64) {
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(memory) = Memory::of(pid) {
                    peak.fetch_max(memory.rss_kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let output = work.await;
    sampler.abort();
    let mut kib = peak.load(Ordering::Relaxed);
    if let Ok(memory) = Memory::of(pid) {
        kib = kib.max(memory.rss_kib);
        if reset {
            kib = kib.max(memory.hwm_kib);
        }
    }
    (output, kib)
}
