//! The Docker engine connection: where it is (`DOCKER_HOST` or the default
//! socket), the async runtime the Engine API client needs, errors that say
//! what to do, and the small helpers every engine user shares (labels,
//! streaming files as request bodies, running a command in a container).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

/// The engine's address when `DOCKER_HOST` is not set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Label on every container and volume this project creates, valued with
/// the checkout key (see `checkout_key`), so `clean` finds exactly its own.
pub const CHECKOUT_LABEL: &str = "io.k8s-rs.build.checkout";
/// Label on the cross-build image: the digest of its definition.
pub const IMAGE_DEFINITION_LABEL: &str = "io.k8s-rs.kube-cross.definition";

/// A connected engine and the runtime its client runs on.
pub struct Engine {
    pub docker: Docker,
    /// Where it was found, for messages (`unix:///var/run/docker.sock`).
    pub host: String,
    runtime: tokio::runtime::Runtime,
}

/// Why no engine is available; says where we looked and what to do.
#[derive(Debug)]
pub struct NoEngine {
    pub host: String,
    pub from_env: bool,
    pub reason: String,
}

impl std::fmt::Display for NoEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let whence = if self.from_env {
            "DOCKER_HOST"
        } else {
            "the default socket; DOCKER_HOST is not set"
        };
        write!(
            f,
            "no Docker engine at {} ({whence}): {}. Start one, set DOCKER_HOST, or pass --local",
            self.host, self.reason
        )
    }
}

impl std::error::Error for NoEngine {}

impl Engine {
    /// Connects to `DOCKER_HOST` (unix://, tcp://, http://) or the default
    /// socket and checks that an engine answers.
    pub fn connect() -> std::result::Result<Engine, NoEngine> {
        let from_env = std::env::var("DOCKER_HOST").is_ok_and(|h| !h.is_empty());
        let host = if from_env {
            std::env::var("DOCKER_HOST").unwrap_or_default()
        } else {
            DEFAULT_HOST.to_owned()
        };
        let no_engine = |reason: String| NoEngine {
            host: host.clone(),
            from_env,
            reason,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| no_engine(format!("cannot start the async runtime: {e}")))?;
        let docker = runtime.block_on(async {
            let docker = Docker::connect_with_host(&host).map_err(|e| no_engine(e.to_string()))?;
            // Builds stream for many minutes: the client's 2-minute default
            // request timeout would cut them off.
            let docker = docker.with_timeout(Duration::from_secs(24 * 3600));
            match tokio::time::timeout(Duration::from_secs(10), docker.ping()).await {
                Err(_) => return Err(no_engine("it did not answer within 10 s".to_owned())),
                Ok(Err(e)) => return Err(no_engine(e.to_string())),
                Ok(Ok(_)) => {}
            }
            // Speak the engine's API version when it is older than the client's.
            docker
                .negotiate_version()
                .await
                .map_err(|e| no_engine(format!("API version negotiation failed: {e}")))
        })?;
        Ok(Engine {
            docker,
            host,
            runtime,
        })
    }

    /// Runs async engine work to completion on this engine's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// Names this checkout's containers and volumes, as upstream's
/// `KUBE_ROOT_HASH`: a digest of the host name and the checkout's path, so
/// two checkouts (or two machines sharing an engine) never share a cache.
pub fn checkout_key(root: &Path) -> String {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{}:{}", hostname.trim(), root.display()).as_bytes());
    format!("{digest:x}")[..10].to_owned()
}

/// Labels marking an object as this checkout's.
pub fn checkout_labels(key: &str) -> HashMap<String, String> {
    HashMap::from([(CHECKOUT_LABEL.to_owned(), key.to_owned())])
}

/// A file as a stream of chunks, for `bollard::body_try_stream` (image
/// archives are gigabytes: never in memory at once).
pub fn file_chunks(
    path: &Path,
) -> Result<impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(futures_util::stream::unfold(
        Some(file),
        |file| async move {
            let mut file = file?;
            let mut buf = vec![0u8; 1 << 20];
            match file.read(&mut buf) {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), Some(file)))
                }
                Err(e) => Some((Err(e), None)),
            }
        },
    ))
}

/// What a command run in a container printed, and how it ended.
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` in a running container; `on_line(is_stderr, line)` sees every
/// output line as it arrives. Output is also collected and returned.
pub async fn exec(
    docker: &Docker,
    container: &str,
    cmd: Vec<String>,
    env: Vec<String>,
    mut on_line: impl FnMut(bool, &str),
) -> Result<ExecOutput> {
    let shown = cmd.join(" ");
    let created = docker
        .create_exec(
            container,
            ExecConfig {
                cmd: Some(cmd),
                env: Some(env),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("creating `{shown}` in the build container"))?;
    let started = docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                ..Default::default()
            }),
        )
        .await
        .with_context(|| format!("starting `{shown}` in the build container"))?;
    let StartExecResults::Attached { mut output, .. } = started else {
        bail!("the engine detached `{shown}` instead of attaching to it");
    };
    let mut out = ExecOutput {
        exit_code: -1,
        stdout: String::new(),
        stderr: String::new(),
    };
    let mut partial = [String::new(), String::new()];
    while let Some(chunk) = output.next().await {
        let chunk = chunk.with_context(|| format!("reading the output of `{shown}`"))?;
        let (is_stderr, message) = match chunk {
            LogOutput::StdErr { message } => (true, message),
            LogOutput::StdOut { message } | LogOutput::Console { message } => (false, message),
            LogOutput::StdIn { .. } => continue,
        };
        let text = String::from_utf8_lossy(&message);
        let (buffer, all) = if is_stderr {
            (&mut partial[1], &mut out.stderr)
        } else {
            (&mut partial[0], &mut out.stdout)
        };
        all.push_str(&text);
        buffer.push_str(&text);
        while let Some(newline) = buffer.find('\n') {
            let line: String = buffer.drain(..=newline).collect();
            on_line(is_stderr, line.trim_end_matches(['\n', '\r']));
        }
    }
    for (index, rest) in partial.iter().enumerate() {
        if !rest.is_empty() {
            on_line(index == 1, rest);
        }
    }
    let inspected = docker
        .inspect_exec(&created.id)
        .await
        .with_context(|| format!("reading the exit code of `{shown}`"))?;
    out.exit_code = inspected.exit_code.unwrap_or(-1);
    Ok(out)
}

/// True when the engine says the object does not exist (HTTP 404).
pub fn is_not_found(error: &bollard::errors::Error) -> bool {
    matches!(
        error,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
