//! Services: strategy, cluster IP and node port allocation.

pub mod ipallocator;
pub mod portallocator;
