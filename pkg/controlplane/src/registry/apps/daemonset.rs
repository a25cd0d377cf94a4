//! The `daemonset` kind's strategy.
