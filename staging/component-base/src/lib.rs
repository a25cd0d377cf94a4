//! Pieces every control-plane component shares, mirroring
//! `k8s.io/component-base`. For now: the build's version information.

pub mod version;
