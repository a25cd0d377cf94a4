//! Node port allocation from `--service-node-port-range`.
