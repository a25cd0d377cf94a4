//! The `policy/v1` group's kinds.

pub mod pod_disruption_budget;
