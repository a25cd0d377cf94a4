//! The `deployment` kind's strategy.
