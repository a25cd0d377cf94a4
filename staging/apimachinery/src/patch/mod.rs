//! Patches: JSON Patch, JSON merge patch and strategic merge patch (`k8s.io/apimachinery/pkg/util/strategicpatch`).
