//! `kube-apiserver`: the process entry point. The command, its options and the
//! server lifecycle live in the library crates; this only hands them argv.

use std::process::ExitCode;

fn main() -> ExitCode {
    let info = component_base::version::get();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["--version"] | ["--version=true"] => {
            println!("{}", info.short());
            ExitCode::SUCCESS
        }
        ["--version=raw"] => {
            println!("{}", info.raw());
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("kube-apiserver: the server is not implemented yet; try --version");
            ExitCode::FAILURE
        }
    }
}
