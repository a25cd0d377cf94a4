//! The `replication_controller` kind's strategy.
