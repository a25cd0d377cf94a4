//! `cargo xtask bench apiserver`: the API server under load on this machine.
//! Builds the server component and the load generator (`test/loadgen`, the
//! `kube-loadgen` binary) with the host toolchain in the release profile,
//! then runs the load generator once per storage backend asked for (the
//! embedded store, a local etcd member, or both), passing the flags
//! through; each run prints its markdown table. The load generator starts
//! and stops the server (and etcd) itself and gets SIGTERM if the xtask
//! dies first.

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::local_up::{main_binary, server_component};
use crate::progress::log;
use crate::workspace::Workspace;

/// The load generator's package and binary.
const LOADGEN: &str = "kube-loadgen";

/// The storage backends to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageChoice {
    Embedded,
    Etcd,
    Both,
}

impl StorageChoice {
    fn backends(self) -> &'static [&'static str] {
        match self {
            StorageChoice::Embedded => &["embedded"],
            StorageChoice::Etcd => &["etcd"],
            StorageChoice::Both => &["embedded", "etcd"],
        }
    }
}

/// What `cargo xtask bench apiserver` was asked for; `None` leaves the load
/// generator's default.
#[derive(Debug)]
pub struct Options {
    pub storage: StorageChoice,
    pub pods: Option<usize>,
    pub http: Option<String>,
    pub watchers: Option<usize>,
    pub concurrency: Option<usize>,
    /// The server component [default: the first server component].
    pub component: Option<String>,
    /// More flags for `kube-loadgen`, after `--`.
    pub loadgen_args: Vec<String>,
}

impl Options {
    /// The flags passed through to `kube-loadgen`.
    fn flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        let mut pass = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                flags.extend([format!("--{name}"), value]);
            }
        };
        pass("pods", self.pods.map(|n| n.to_string()));
        pass("http", self.http.clone());
        pass("watchers", self.watchers.map(|n| n.to_string()));
        pass("concurrency", self.concurrency.map(|n| n.to_string()));
        flags.extend(self.loadgen_args.iter().cloned());
        flags
    }
}

/// Runs `cargo xtask bench apiserver`.
pub fn run(ws: &Workspace, opts: &Options) -> Result<()> {
    let backends = opts.storage.backends();
    // Before a build of minutes, not after it.
    if backends.contains(&"etcd") {
        check_etcd()?;
    }
    let component = server_component(ws, opts.component.as_deref())?;
    let binary = main_binary(&component)?;
    let sh = Shell::new()?;
    sh.change_dir(&ws.root);
    let package = &component.name;
    log(format!(
        "building {package} and {LOADGEN} (release profile, host toolchain)"
    ));
    cmd!(
        sh,
        "cargo build --release --locked -p {package} -p {LOADGEN}"
    )
    .run()
    .with_context(|| format!("building {package} and {LOADGEN} failed (the output is above)"))?;
    let release = ws.target_dir.join("release");
    let (server, loadgen) = (release.join(&binary), release.join(LOADGEN));
    for path in [&server, &loadgen] {
        if !path.is_file() {
            bail!("the build left no {path}: is CARGO_BUILD_TARGET set? unset it and run again");
        }
    }
    let flags = opts.flags();
    for storage in backends {
        log(format!("measuring {binary} on {storage} storage"));
        let flags = &flags;
        let mut command: Command = cmd!(
            sh,
            "{loadgen} --server-binary {server} --storage {storage} {flags...}"
        )
        .into();
        // SAFETY: prctl(2) is async-signal-safe and changes only the child:
        // it gets SIGTERM (and stops its server) when this thread ends,
        // e.g. when the xtask exits on a signal.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let status = command
            .status()
            .with_context(|| format!("running {loadgen}"))?;
        if !status.success() {
            bail!("the load generator's {storage} run failed ({status}; its error is above)");
        }
    }
    Ok(())
}

/// An error saying what to install when there is no etcd (`ETCD_BIN`, else
/// `etcd` on the PATH, as the load generator looks for it).
fn check_etcd() -> Result<()> {
    let found = match std::env::var_os("ETCD_BIN") {
        Some(path) => std::path::Path::new(&path).is_file(),
        None => std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("etcd").is_file())),
    };
    if found {
        return Ok(());
    }
    bail!(
        "no etcd binary (ETCD_BIN, or etcd on the PATH): install etcd-server \
         (apt-get install etcd-server) or use --storage embedded"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_given_flags_pass_through() {
        let opts = Options {
            storage: StorageChoice::Both,
            pods: Some(2000),
            http: Some("2".to_owned()),
            watchers: None,
            concurrency: Some(8),
            component: None,
            loadgen_args: vec!["--get-seconds".to_owned(), "2".to_owned()],
        };
        assert_eq!(
            opts.flags(),
            [
                "--pods",
                "2000",
                "--http",
                "2",
                "--concurrency",
                "8",
                "--get-seconds",
                "2"
            ]
        );
        assert_eq!(StorageChoice::Both.backends(), ["embedded", "etcd"]);
    }
}
