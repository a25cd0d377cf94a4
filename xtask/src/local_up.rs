//! `cargo xtask local-up` (Kubernetes' `hack/local-up-cluster.sh`): builds
//! the API server component for this machine with the local build route,
//! gives it its state under `_output/local/` (a data dir that survives
//! restarts, a cert dir where the server writes its self-signed serving
//! certificate, a fresh bearer token and a kubeconfig for it), runs it on
//! loopback with its log in `_output/local/<binary>.log`, waits for
//! `/readyz`, tells the user how to reach it, and on Ctrl-C or SIGTERM stops
//! it with SIGTERM and exits 0.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cargo_metadata::camino::{Utf8Path, Utf8PathBuf};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::build::{self, Route};
use crate::components::{Component, ComponentKind};
use crate::platform::Platform;
use crate::progress::log;
use crate::version::Stamp;
use crate::workspace::Workspace;

/// The port of upstream's local cluster (`API_SECURE_PORT`).
pub const DEFAULT_PORT: u16 = 6443;

/// How long the server may take to answer `/readyz` before local-up gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the server gets to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the server process is checked on.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The server log lines shown when it fails.
const LOG_TAIL_LINES: usize = 20;

/// What `cargo xtask local-up` was asked for.
#[derive(Debug)]
pub struct Options {
    /// The server's `--secure-port`.
    pub port: u16,
    /// The server's `--data-dir` (default `_output/local/data`).
    pub data_dir: Option<Utf8PathBuf>,
    /// The component to run (default: the first server component).
    pub component: Option<String>,
    /// Run the binary already in `_output/local/bin/OS/ARCH`.
    pub skip_build: bool,
    /// Run this binary instead (one built some other way).
    pub binary: Option<Utf8PathBuf>,
    /// More flags for the server, after `--`.
    pub server_args: Vec<String>,
}

/// The files of a local server under `_output/local/`.
struct LocalState {
    dir: Utf8PathBuf,
    data_dir: Utf8PathBuf,
    cert_dir: Utf8PathBuf,
    token_file: Utf8PathBuf,
    kubeconfig: Utf8PathBuf,
    log: Utf8PathBuf,
}

impl LocalState {
    fn new(ws: &Workspace, data_dir: Option<Utf8PathBuf>, binary: &str) -> Result<LocalState> {
        let dir = ws.output().join("local");
        let data_dir = match data_dir {
            Some(path) if path.is_absolute() => path,
            Some(path) => current_dir()?.join(path),
            None => dir.join("data"),
        };
        Ok(LocalState {
            data_dir,
            cert_dir: dir.join("certs"),
            token_file: dir.join("tokens.csv"),
            kubeconfig: dir.join("kubeconfig"),
            log: dir.join(format!("{binary}.log")),
            dir,
        })
    }

    /// The CA a client trusts: the server's self-signed certificate, which
    /// it writes into its cert dir on first start.
    fn ca(&self) -> Utf8PathBuf {
        self.cert_dir.join("apiserver.crt")
    }

    /// Creates the directories and writes a fresh token and the
    /// kubeconfig that uses it; returns the token.
    fn prepare(&self, port: u16) -> Result<String> {
        for dir in [&self.dir, &self.data_dir, &self.cert_dir] {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
        }
        let token = random_token()?;
        write_private(
            &self.token_file,
            format!("{token},admin,admin,system:masters\n").as_bytes(),
        )?;
        write_private(
            &self.kubeconfig,
            kubeconfig(port, &self.ca(), &token).as_bytes(),
        )?;
        Ok(token)
    }
}

/// Runs `cargo xtask local-up`.
pub fn run(ws: &Workspace, opts: Options) -> Result<()> {
    let component = server_component(ws, opts.component.as_deref())?;
    let binary_name = main_binary(&component)?;
    let state = LocalState::new(ws, opts.data_dir.clone(), &binary_name)?;
    std::fs::create_dir_all(&state.dir).with_context(|| format!("creating {}", state.dir))?;
    let _instance = lock_instance(&state)?;
    check_port_free(opts.port)?;
    let binary = match &opts.binary {
        Some(path) if path.is_file() => path.clone(),
        Some(path) => {
            bail!("--binary {path}: no such file; build the component first or drop --binary")
        }
        None => binary_path(ws, &component, &binary_name, opts.skip_build)?,
    };
    let token = state.prepare(opts.port)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(ws, &state, &binary, &token, &opts))
}

/// The component named by `--component`, or the first server component.
pub(crate) fn server_component(ws: &Workspace, name: Option<&str>) -> Result<Component> {
    match name {
        Some(name) => ws
            .select_components(&[name.to_owned()])?
            .into_iter()
            .next()
            .context("no component selected"),
        None => ws
            .components
            .iter()
            .find(|c| c.kind == ComponentKind::Server)
            .cloned()
            .context(
                "no server component in the workspace: declare one with \
                 [package.metadata.release] component = \"server\", or pass --component",
            ),
    }
}

/// The binary of a component that local-up runs: the one named like the
/// component, or its only one.
pub(crate) fn main_binary(component: &Component) -> Result<String> {
    if component.binaries.contains(&component.name) {
        return Ok(component.name.clone());
    }
    match component.binaries.as_slice() {
        [only] => Ok(only.clone()),
        [] => bail!("component {} has no binary to run", component.name),
        many => bail!(
            "component {} has several binaries ({}) and none is named like it: \
             local-up does not know which one to run",
            component.name,
            many.join(", ")
        ),
    }
}

/// Refuses a second local-up in the same checkout: both would rewrite the
/// token and kubeconfig the first one's users rely on.
fn lock_instance(state: &LocalState) -> Result<File> {
    let path = state.dir.join("local-up.lock");
    let file = File::create(&path).with_context(|| format!("creating {path}"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another cargo xtask local-up runs in this checkout (it holds {path}): \
             stop it with Ctrl-C first"
        ),
        Err(std::fs::TryLockError::Error(err)) => {
            Err(err).with_context(|| format!("locking {path}"))
        }
    }
}

fn check_port_free(port: u16) -> Result<()> {
    TcpListener::bind(("127.0.0.1", port))
        .map(drop)
        .with_context(|| {
            format!(
                "port {port} on 127.0.0.1 is taken (another API server?): \
             stop what listens there or pass --port <free port>"
            )
        })
}

/// Builds the component for this machine (the `--local` route) and
/// returns its binary, or with `--skip-build` the one built before.
fn binary_path(
    ws: &Workspace,
    component: &Component,
    binary: &str,
    skip_build: bool,
) -> Result<Utf8PathBuf> {
    let host = Platform::host()?;
    if skip_build {
        let path = ws.local_bin_dir(&host).join(binary);
        if !path.is_file() {
            bail!(
                "{} does not exist: build it with `cargo xtask build {} --local`, \
                 or drop --skip-build",
                ws.relative(&path),
                component.name
            );
        }
        return Ok(path);
    }
    let stamp = Stamp::from_checkout(ws)?;
    let _lock = ws.lock_output()?;
    let built = build::build(
        ws,
        &stamp,
        std::slice::from_ref(component),
        &[host],
        &Route::Local,
    )?;
    let built = built
        .built
        .first()
        .with_context(|| format!("the build of {} produced nothing", component.name))?;
    Ok(built.path(binary))
}

/// Starts the server, waits for it, and keeps it running until a signal
/// (then stops it and returns `Ok`) or until it exits on its own (an error
/// with its last log lines).
async fn serve(
    ws: &Workspace,
    state: &LocalState,
    binary: &Utf8Path,
    token: &str,
    opts: &Options,
) -> Result<()> {
    // Ctrl-C and SIGTERM stop the server cleanly here (a second one still
    // ends the xtask at once).
    let _handling = crate::interrupt::handling();
    let mut interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut server = start_server(ws, state, binary, opts)?;
    let ready = wait_ready(
        &mut server,
        state,
        opts.port,
        token,
        &mut interrupt,
        &mut terminate,
    )
    .await;
    match ready {
        Ok(true) => {}
        Ok(false) => return server.stop(),
        Err(err) => {
            let _ = server.stop();
            return Err(err);
        }
    }
    let kubeconfig = state.kubeconfig.as_str();
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{} is ready at https://127.0.0.1:{} (log: {}, data: {}).\n\
         To use it:\n\n  export KUBECONFIG={kubeconfig}\n  kubectl get namespaces\n\n\
         Press Ctrl-C to stop it.",
        server.name,
        opts.port,
        ws.relative(&state.log),
        state.data_dir,
    )?;
    stdout.flush()?;
    drop(stdout);
    loop {
        tokio::select! {
            _ = interrupt.recv() => return server.stop(),
            _ = terminate.recv() => return server.stop(),
            _ = tokio::time::sleep(POLL_INTERVAL) => {
                if let Some(status) = server.exited()? {
                    return Err(server.failure(&format!("exited with {status}")));
                }
            }
        }
    }
}

/// The running server process.
struct Server {
    name: String,
    child: Child,
    log: Utf8PathBuf,
}

fn start_server(
    ws: &Workspace,
    state: &LocalState,
    binary: &Utf8Path,
    opts: &Options,
) -> Result<Server> {
    let log_file = File::create(&state.log).with_context(|| format!("creating {}", state.log))?;
    let mut command = Command::new(binary);
    command
        .arg(format!("--cert-dir={}", state.cert_dir))
        .arg(format!("--data-dir={}", state.data_dir))
        .arg(format!("--token-auth-file={}", state.token_file))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--secure-port={}", opts.port))
        .args(&opts.server_args)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().context("sharing the log file")?)
        .stderr(log_file)
        // Its own process group: a terminal's Ctrl-C reaches only us, and
        // we stop the server in order.
        .process_group(0);
    log(format!(
        "$ {} > {}",
        shown_command(&command),
        ws.relative(&state.log)
    ));
    let child = command
        .spawn()
        .with_context(|| format!("starting {binary}"))?;
    let name = binary.file_name().unwrap_or(binary.as_str()).to_owned();
    log(format!("started {name}, pid {}", child.id()));
    Ok(Server {
        name,
        child,
        log: state.log.clone(),
    })
}

impl Server {
    fn exited(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("checking on {}", self.name))
    }

    /// The error of a server that failed, with its last log lines.
    fn failure(&self, what: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "{} {what}; the last lines of {}:\n{}",
            self.name,
            self.log,
            log_tail(&self.log, LOG_TAIL_LINES)
        )
    }

    /// SIGTERM, then waits for the process to end (SIGKILL after
    /// [`STOP_TIMEOUT`]).
    fn stop(mut self) -> Result<()> {
        if self.exited()?.is_some() {
            return Ok(());
        }
        let pid = self.child.id().to_string();
        log(format!(
            "stopping {} (pid {pid}): $ kill -TERM {pid}",
            self.name
        ));
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .context("running kill")?;
        if !sent.success() {
            log(format!("kill -TERM {pid} failed ({sent}); killing it"));
            self.child.kill().ok();
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.exited()? {
                log(format!("{} stopped ({status})", self.name));
                return Ok(());
            }
            if Instant::now() > deadline {
                log(format!(
                    "{} did not stop within {}s of SIGTERM: killing it",
                    self.name,
                    STOP_TIMEOUT.as_secs()
                ));
                self.child.kill().ok();
                self.child.wait().context("waiting for the killed server")?;
                return Ok(());
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

/// Polls `/readyz` until it answers ok: `Ok(true)` when ready, `Ok(false)`
/// when a signal asked to stop first, an error when the server exits or
/// takes too long.
async fn wait_ready(
    server: &mut Server,
    state: &LocalState,
    port: u16,
    token: &str,
    interrupt: &mut Signal,
    terminate: &mut Signal,
) -> Result<bool> {
    let url = format!("https://127.0.0.1:{port}/readyz");
    log(format!(
        "waiting for {url}: $ curl --silent --fail --cacert {} --header @- {url}",
        state.ca()
    ));
    let started = Instant::now();
    loop {
        if let Some(status) = server.exited()? {
            return Err(server.failure(&format!("exited with {status} before it was ready")));
        }
        if state.ca().exists() && readyz_ok(&url, &state.ca(), token)? {
            return Ok(true);
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(server.failure(&format!(
                "did not answer {url} within {}s",
                READY_TIMEOUT.as_secs()
            )));
        }
        tokio::select! {
            _ = interrupt.recv() => return Ok(false),
            _ = terminate.recv() => return Ok(false),
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

/// One `/readyz` probe with curl (the token goes in on stdin, not on the
/// command line other users can read).
fn readyz_ok(url: &str, ca: &Utf8Path, token: &str) -> Result<bool> {
    let spawned = Command::new("curl")
        .args([
            "--silent",
            "--fail",
            "--max-time",
            "2",
            "--output",
            "/dev/null",
        ])
        .arg("--cacert")
        .arg(ca)
        .args(["--header", "@-", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut curl = match spawned {
        Ok(curl) => curl,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            bail!("curl is not installed: local-up needs it to check {url}; install curl")
        }
        Err(err) => return Err(err).context("running curl"),
    };
    if let Some(mut stdin) = curl.stdin.take() {
        // A probe whose stdin closed early fails below and is retried.
        let _ = writeln!(stdin, "Authorization: Bearer {token}");
    }
    Ok(curl.wait().context("waiting for curl")?.success())
}

/// The last `lines` lines of a log file (or why they can't be shown).
fn log_tail(path: &Utf8Path, lines: usize) -> String {
    let mut text = String::new();
    match File::open(path).and_then(|mut f| f.read_to_string(&mut text)) {
        Ok(_) => {
            let all: Vec<&str> = text.lines().collect();
            let tail = &all[all.len().saturating_sub(lines)..];
            if tail.is_empty() {
                "(the log is empty)".to_owned()
            } else {
                tail.join("\n")
            }
        }
        Err(err) => format!("(cannot read it: {err})"),
    }
}

/// A command as a shell would show it.
fn shown_command(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// 32 hex characters from the kernel's random source.
fn random_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for the bearer token")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes a file only its owner can read, atomically.
fn write_private(path: &Utf8Path, contents: &[u8]) -> Result<()> {
    let mut file = crate::atomic::AtomicFile::create(path)?;
    file.set_mode(0o600)?;
    file.write_all(contents)
        .with_context(|| format!("writing {path}"))?;
    file.commit()
}

/// A kubeconfig for the local server: its CA and the bearer token.
fn kubeconfig(port: u16, ca: &Utf8Path, token: &str) -> String {
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: local\n  \
           cluster:\n    \
             server: https://127.0.0.1:{port}\n    \
             certificate-authority: {ca}\n\
         users:\n\
         - name: local-admin\n  \
           user:\n    \
             token: {token}\n\
         contexts:\n\
         - name: local\n  \
           context:\n    \
             cluster: local\n    \
             user: local-admin\n    \
             namespace: default\n\
         current-context: local\n"
    )
}

fn current_dir() -> Result<Utf8PathBuf> {
    let dir = std::env::current_dir().context("reading the current directory")?;
    Utf8PathBuf::from_path_buf(dir)
        .map_err(|dir| anyhow::anyhow!("the current directory {} is not UTF-8", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_names_server_ca_and_token() {
        let text = kubeconfig(
            7443,
            Utf8Path::new("/w/_output/local/certs/apiserver.crt"),
            "t0k",
        );
        assert!(
            text.contains("\n    server: https://127.0.0.1:7443\n"),
            "{text}"
        );
        assert!(
            text.contains("\n    certificate-authority: /w/_output/local/certs/apiserver.crt\n"),
            "{text}"
        );
        assert!(text.contains("\n    token: t0k\n"), "{text}");
        assert!(text.ends_with("current-context: local\n"), "{text}");
    }

    #[test]
    fn tokens_are_random_hex() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn main_binary_is_the_one_named_like_the_component() {
        let mut component = Component {
            name: "kube-apiserver".into(),
            kind: ComponentKind::Server,
            image: true,
            binaries: vec!["helper".into(), "kube-apiserver".into()],
        };
        assert_eq!(main_binary(&component).unwrap(), "kube-apiserver");
        component.binaries = vec!["only".into()];
        assert_eq!(main_binary(&component).unwrap(), "only");
        component.binaries = vec!["a".into(), "b".into()];
        assert!(main_binary(&component).is_err());
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().join("x.log")).unwrap();
        std::fs::write(&path, "1\n2\n3\n").unwrap();
        assert_eq!(log_tail(&path, 2), "2\n3");
        assert!(log_tail(&path.with_file_name("missing"), 2).starts_with("(cannot read it"));
    }
}
