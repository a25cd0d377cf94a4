//! `cargo xtask codegen --check` on this checkout, so that `cargo xtask test`
//! (every test of the workspace) fails when a generated file is stale, as
//! rust-analyzer's codegen tests do; the check itself is `src/codegen.rs`.

use std::path::Path;
use std::process::Command;

#[test]
fn generated_files_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds the xtask");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["codegen", "--check"])
        .current_dir(root)
        .output()
        .expect("run cargo xtask codegen --check");
    assert!(
        output.status.success(),
        "cargo xtask codegen --check failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
