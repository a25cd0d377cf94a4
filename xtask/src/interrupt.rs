//! Ctrl-C and SIGTERM for the whole xtask run, installed once at start. Work
//! that cleans up after itself on an interrupt (a build container session)
//! declares it with [`handling`] and awaits [`interrupted`]; a signal that
//! arrives when nothing does exits at once with status 130, removing this
//! process's temporary files first. A second signal always exits at once.
//! (Installing handlers per session would leave them in place after it, and
//! every later Ctrl-C ignored.)

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

/// How many places are handling interrupts themselves right now.
static HANDLERS: AtomicUsize = AtomicUsize::new(0);
/// The signal received, once one is.
static RECEIVED: OnceLock<watch::Sender<Option<&'static str>>> = OnceLock::new();

fn received() -> &'static watch::Sender<Option<&'static str>> {
    RECEIVED.get_or_init(|| watch::Sender::new(None))
}

/// Takes over SIGINT and SIGTERM for the process (a thread waits for them).
pub fn install() {
    let started = std::thread::Builder::new()
        .name("signals".into())
        .spawn(|| {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(wait_for_signals());
        });
    if let Err(err) = started {
        eprintln!(
            "warning: cannot watch for Ctrl-C ({err}); an interrupt may leave temporary files"
        );
    }
}

async fn wait_for_signals() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    let name = tokio::select! {
        _ = interrupt.recv() => "Ctrl-C",
        _ = terminate.recv() => "SIGTERM",
    };
    received().send_replace(Some(name));
    if HANDLERS.load(Ordering::SeqCst) == 0 {
        exit_now(name);
    }
    let again = tokio::select! {
        _ = interrupt.recv() => "Ctrl-C",
        _ = terminate.recv() => "SIGTERM",
    };
    exit_now(again);
}

fn exit_now(signal: &str) -> ! {
    crate::atomic::remove_pending_files();
    eprintln!("error: interrupted ({signal})");
    std::process::exit(130);
}

/// While the returned guard lives, an interrupt is left to the caller (which
/// awaits [`interrupted`]) instead of ending the process at once.
pub fn handling() -> Handling {
    HANDLERS.fetch_add(1, Ordering::SeqCst);
    Handling(())
}

pub struct Handling(());

impl Drop for Handling {
    fn drop(&mut self) {
        HANDLERS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resolves when Ctrl-C or SIGTERM has arrived; names it.
pub async fn interrupted() -> &'static str {
    let mut changes = received().subscribe();
    loop {
        if let Some(signal) = *changes.borrow_and_update() {
            return signal;
        }
        if changes.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}
