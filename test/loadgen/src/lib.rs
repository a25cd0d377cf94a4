//! `kube-loadgen`: a load generator for the apiserver on this machine. It
//! speaks TLS (rustls with ring, trusting the server's own CA) over
//! HTTP/1.1 or HTTP/2 to loopback addresses only, runs closed loops (N
//! workers, bounded by a request count or a duration) and open loops (a
//! target rate for a duration, latency from each request's scheduled send
//! time), and summarises latencies as rate, p50, p99, p99.9 and max.
//!
//! The binary (`main.rs`) runs a real server process through [`bench`];
//! `cargo xtask bench apiserver` builds both in the release profile and runs
//! it. The apiserver's own benchmarks (`cmd/kube-apiserver/benches`) use
//! the client and server handling from here.

pub mod bench;
pub mod client;
pub mod etcd;
pub mod load;
pub mod report;
pub mod scenarios;
pub mod server;
pub mod stats;

pub use client::{Connection, Protocol, Reply, Target, check_loopback};
pub use load::{Bound, Run, Workload, closed_loop, open_loop};
pub use stats::Summary;
