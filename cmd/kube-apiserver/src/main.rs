//! `kube-apiserver`: the process entry point. Hands argv to the command.

use std::process::ExitCode;

/// mimalloc instead of glibc malloc: under load glibc's arena locks and
/// free-list work took a sixth of the server's CPU (BENCHMARKS.md,
/// "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    disable_transparent_huge_pages();
    kube_apiserver::app::execute(std::env::args_os())
}

/// No transparent huge pages for this process: mimalloc asks for them on
/// its arenas, and 2 MiB pages took the idle RSS from 37 to 58 MiB and made
/// the first large list several times slower (zeroing huge pages), for no
/// throughput gain (BENCHMARKS.md, "Transparent huge pages").
fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes integers and touches no memory of
    // this process; a kernel without it answers EINVAL and nothing changes,
    // which is why the result is not checked.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
