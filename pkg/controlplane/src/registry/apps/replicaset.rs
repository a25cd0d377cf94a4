//! The `replicaset` kind's strategy.
