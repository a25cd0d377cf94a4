//! The `namespace` kind's strategy.
