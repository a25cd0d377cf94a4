//! `kube-apiserver`: the process entry point. Hands argv to the command.

use std::process::ExitCode;

fn main() -> ExitCode {
    kube_apiserver::app::execute(std::env::args_os())
}
