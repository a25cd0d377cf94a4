//! The `node` kind's strategy.
