//! The `endpoints` kind's strategy.
