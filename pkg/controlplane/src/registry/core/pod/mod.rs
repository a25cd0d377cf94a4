//! Pods: strategy, defaults and validation (shared with the pod templates of workloads).
