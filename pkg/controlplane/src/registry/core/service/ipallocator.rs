//! Cluster IP allocation from `--service-cluster-ip-range`.
