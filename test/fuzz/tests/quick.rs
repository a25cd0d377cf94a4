//! The quick run in `cargo xtask test`: every fuzz target for a few seconds
//! (its saved failing seeds first), the number of inputs printed.

use std::time::Duration;

/// Per target; `cargo xtask fuzz TARGET --time 10m` runs one for long.
const QUICK: Duration = Duration::from_secs(3);

fn quick(name: &str) {
    let target = kube_fuzz::find(name).expect("a known target");
    match (target.run)(QUICK) {
        Ok(tried) => eprintln!("{name}: {tried} inputs"),
        Err(failure) => panic!("{failure}"),
    }
}

#[test]
fn every_target_is_run_here() {
    let names: Vec<&str> = kube_fuzz::targets().iter().map(|t| t.name).collect();
    assert_eq!(
        names.len(),
        11,
        "{names:?}: add a quick test for a new target"
    );
}

#[test]
fn label_selectors() {
    quick("label-selectors");
}

#[test]
fn field_selectors() {
    quick("field-selectors");
}

#[test]
fn durations() {
    quick("durations");
}

#[test]
fn quantities() {
    quick("quantities");
}

#[test]
fn json_patch() {
    quick("json-patch");
}

#[test]
fn merge_patch() {
    quick("merge-patch");
}

#[test]
fn strategic_merge_patch() {
    quick("strategic-merge-patch");
}

#[test]
fn typed_decode() {
    quick("typed-decode");
}

#[test]
fn protobuf_envelope() {
    quick("protobuf-envelope");
}

#[test]
fn continue_tokens() {
    quick("continue-tokens");
}

#[test]
fn request_info() {
    quick("request-info");
}
