//! `kube-apiserver`: the process entry point. Hands argv to the command.

use std::process::ExitCode;

/// mimalloc instead of glibc malloc: under load glibc's arena locks and
/// free-list work took a sixth of the server's CPU (BENCHMARKS.md,
/// "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    kube_apiserver::app::execute(std::env::args_os())
}
