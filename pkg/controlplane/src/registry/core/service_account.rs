//! The `service_account` kind's strategy.
