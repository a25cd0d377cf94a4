//! The `configmap` kind's strategy.
