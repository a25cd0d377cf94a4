//! The kube-apiserver component, mirroring `cmd/kube-apiserver`: the command
//! (`app`) and its options (`app::options`). The generic machinery lives in
//! the `apiserver` crate.

pub mod app;
