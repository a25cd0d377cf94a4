//! The generic API server, mirroring `k8s.io/apiserver`: server options,
//! the filter chain, endpoints, storage and the registry machinery.
