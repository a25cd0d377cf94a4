//! `cargo xtask local-up` end to end, in this checkout: the built xtask
//! starts the server on a free port with a temporary data dir, prints the
//! `export KUBECONFIG=...` line, the real kubectl lists namespaces through
//! that kubeconfig, and SIGINT stops it with exit 0 and no server process
//! left. The server is the workspace's debug build (`--binary`): the local
//! release build route is covered by the release tests, and a cold release
//! build here would double their cost.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Start-up of a debug server (its build happens before the clock starts).
const READY_WITHIN: Duration = Duration::from_secs(5 * 60);

/// Builds the server in the test's own target dir (debug, usually already
/// built by `cargo test --workspace`) and returns its path.
fn debug_server() -> PathBuf {
    let target = Path::new(env!("CARGO_BIN_EXE_xtask"))
        .parent()
        .and_then(Path::parent)
        .expect("the xtask binary sits in <target>/debug")
        .to_path_buf();
    let status = Command::new(env!("CARGO"))
        .current_dir(repo_root())
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--locked", "-p", "kube-apiserver"])
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build -p kube-apiserver failed");
    target.join("debug").join("kube-apiserver")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .to_path_buf()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn send_signal(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid}");
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// A process is gone once /proc no longer lists it (it is reaped by the
/// xtask, its parent).
fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The line `started <binary>, pid N` of the xtask's log.
fn server_pid(stderr_line: &str) -> Option<u32> {
    let rest = stderr_line.strip_prefix("started ")?;
    rest.split_once(", pid ")?.1.trim().parse().ok()
}

#[test]
fn local_up_serves_kubectl_and_stops_on_sigint() {
    let temp = tempfile::tempdir().expect("temp dir");
    let server_binary = debug_server();
    let port = free_port();
    let mut xtask = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(repo_root())
        .args(["local-up", "--port", &port.to_string(), "--data-dir"])
        .arg(temp.path().join("data"))
        .arg("--binary")
        .arg(&server_binary)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the xtask");

    // Both streams are read on threads; stdout lines and the server pid go
    // to the test, stderr is kept for failure messages.
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = xtask.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let (pid_tx, pids) = mpsc::channel::<u32>();
    let mut stderr = xtask.stderr.take().expect("stderr");
    let stderr_text = std::thread::spawn(move || {
        let mut text = String::new();
        let mut buffer = [0u8; 4096];
        let mut line = String::new();
        while let Ok(n) = stderr.read(&mut buffer) {
            if n == 0 {
                break;
            }
            let chunk = String::from_utf8_lossy(&buffer[..n]);
            text.push_str(&chunk);
            for c in chunk.chars() {
                if c == '\n' {
                    if let Some(pid) = server_pid(&line) {
                        let _ = pid_tx.send(pid);
                    }
                    line.clear();
                } else {
                    line.push(c);
                }
            }
        }
        text
    });

    let deadline = Instant::now() + READY_WITHIN;
    let kubeconfig: PathBuf = loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(wait) {
            Ok(line) => {
                if let Some(path) = line.trim().strip_prefix("export KUBECONFIG=") {
                    break PathBuf::from(path);
                }
            }
            Err(_) => {
                let _ = xtask.kill();
                let status = xtask.wait().ok();
                let log = stderr_text.join().unwrap_or_default();
                panic!("no `export KUBECONFIG=` line (xtask: {status:?}):\n{log}");
            }
        }
    };
    assert!(kubeconfig.is_absolute(), "{}", kubeconfig.display());
    assert!(kubeconfig.ends_with("_output/local/kubeconfig"));
    let server = pids
        .recv_timeout(Duration::from_secs(5))
        .expect("the xtask names the server's pid");
    assert!(process_exists(server));

    let kubectl = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--cache-dir")
        .arg(temp.path().join("kube-cache"))
        .args(["get", "namespaces"])
        .env("HOME", temp.path())
        .output()
        .expect("run kubectl");
    let listed = String::from_utf8_lossy(&kubectl.stdout).into_owned();
    let kubectl_ok = kubectl.status.success() && listed.contains("default");

    send_signal("-INT", xtask.id());
    let status = wait_with_timeout(&mut xtask, Duration::from_secs(60));
    if status.is_none() {
        let _ = xtask.kill();
        send_signal("-KILL", server);
    }
    let log = stderr_text.join().unwrap_or_default();
    assert!(
        kubectl_ok,
        "kubectl get namespaces: {}\n{listed}\nxtask:\n{log}",
        String::from_utf8_lossy(&kubectl.stderr)
    );
    let status = status.unwrap_or_else(|| panic!("local-up did not stop on SIGINT:\n{log}"));
    assert!(status.success(), "local-up exited with {status}:\n{log}");
    assert!(
        !process_exists(server),
        "the server (pid {server}) outlived local-up:\n{log}"
    );
}
