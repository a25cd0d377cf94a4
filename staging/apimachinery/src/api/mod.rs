//! Validation of object metadata (`k8s.io/apimachinery/pkg/api/validation`).
