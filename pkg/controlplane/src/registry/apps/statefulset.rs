//! The `statefulset` kind's strategy.
