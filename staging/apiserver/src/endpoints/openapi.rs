//! OpenAPI v3: the index and one document per group-version.
