//! The storage error type: one variant per outcome the HTTP layer maps to a
//! Kubernetes `Status` (see [`StorageError::code`] and
//! [`StorageError::reason`]).

use crate::Revision;

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    #[error("key {key:?} not found")]
    NotFound { key: String },

    #[error("key {key:?} already exists")]
    AlreadyExists { key: String },

    /// A compare-and-swap found another revision than the caller expected.
    #[error(
        "key {key:?} was modified: expected revision {expected}, found {current}; \
         reread and retry"
    )]
    Conflict {
        key: String,
        expected: Revision,
        current: Revision,
    },

    /// The requested revision is older than the retained history (compacted
    /// away, or from before a restart). The message is Kubernetes'.
    #[error("too old resource version: {requested} ({compacted})")]
    Expired {
        requested: Revision,
        /// The oldest revision still served: requests from it on work.
        compacted: Revision,
        current: Revision,
    },

    /// The requested revision is newer than the store's (Kubernetes answers
    /// 504 `Timeout` "Too large resource version").
    #[error("Too large resource version: {requested}, current: {current}")]
    TooLargeRevision {
        requested: Revision,
        current: Revision,
    },

    #[error("invalid continue token: {reason}")]
    InvalidContinue { reason: String },

    /// The backend failed (I/O, corruption, a lost connection).
    #[error("storage backend error: {context}: {source}")]
    Internal {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StorageError {
    /// Wraps a backend error with what the store was doing.
    pub fn internal(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StorageError::Internal {
            context: context.into(),
            source: source.into(),
        }
    }

    /// `key` does not exist.
    pub fn not_found(key: &str) -> Self {
        StorageError::NotFound {
            key: key.to_owned(),
        }
    }

    /// The HTTP status code of the Kubernetes `Status` for this error.
    pub fn code(&self) -> u16 {
        match self {
            StorageError::NotFound { .. } => 404,
            StorageError::AlreadyExists { .. } | StorageError::Conflict { .. } => 409,
            StorageError::Expired { .. } => 410,
            StorageError::InvalidContinue { .. } => 400,
            StorageError::TooLargeRevision { .. } => 504,
            StorageError::Internal { .. } => 500,
        }
    }

    /// The `reason` of the Kubernetes `Status` for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            StorageError::NotFound { .. } => "NotFound",
            StorageError::AlreadyExists { .. } => "AlreadyExists",
            StorageError::Conflict { .. } => "Conflict",
            StorageError::Expired { .. } => "Expired",
            StorageError::InvalidContinue { .. } => "BadRequest",
            StorageError::TooLargeRevision { .. } => "Timeout",
            StorageError::Internal { .. } => "InternalError",
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, StorageError::NotFound { .. })
    }

    pub fn is_expired(&self) -> bool {
        matches!(self, StorageError::Expired { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_reasons_follow_kubernetes() {
        let expired = StorageError::Expired {
            requested: Revision::new(3),
            compacted: Revision::new(10),
            current: Revision::new(12),
        };
        assert_eq!(expired.code(), 410);
        assert_eq!(expired.reason(), "Expired");
        assert_eq!(expired.to_string(), "too old resource version: 3 (10)");
        let conflict = StorageError::Conflict {
            key: "/registry/pods/default/x".into(),
            expected: Revision::new(1),
            current: Revision::new(2),
        };
        assert_eq!((conflict.code(), conflict.reason()), (409, "Conflict"));
        let missing = StorageError::NotFound { key: "k".into() };
        assert_eq!((missing.code(), missing.reason()), (404, "NotFound"));
        let bad = StorageError::InvalidContinue {
            reason: "not base64".into(),
        };
        assert_eq!((bad.code(), bad.reason()), (400, "BadRequest"));
    }
}
