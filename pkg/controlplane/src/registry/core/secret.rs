//! The `secret` kind's strategy.
