//! The `event` kind's strategy.
