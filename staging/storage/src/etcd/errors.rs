//! etcd's errors as [`StorageError`]s: compaction and future-revision
//! refusals are recognised by etcd's own messages (its gRPC status code,
//! OutOfRange, is shared by both); everything else (an unreachable cluster,
//! a lost leader, a timeout) is an internal error naming what was being
//! done, which the apiserver answers with a 5xx `Status`.

use crate::StorageError;

/// etcd's message for a read or watch at a compacted revision.
const COMPACTED: &str = "required revision has been compacted";
/// etcd's message for a read at a revision it has not reached.
const FUTURE_REVISION: &str = "required revision is a future revision";

/// An etcd client error with what the store was doing.
#[derive(Debug)]
pub(crate) struct EtcdError {
    context: &'static str,
    source: etcd_client::Error,
}

impl EtcdError {
    pub(crate) fn new(context: &'static str, source: etcd_client::Error) -> Self {
        EtcdError { context, source }
    }

    fn message(&self) -> String {
        match &self.source {
            etcd_client::Error::GRpcStatus(status) => status.message().to_owned(),
            other => other.to_string(),
        }
    }

    pub(crate) fn is_compacted(&self) -> bool {
        self.message().contains(COMPACTED)
    }

    pub(crate) fn is_future_revision(&self) -> bool {
        self.message().contains(FUTURE_REVISION)
    }

    pub(crate) fn into_storage(self) -> StorageError {
        StorageError::internal(self.context, self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: tonic::Code, message: &str) -> EtcdError {
        EtcdError::new(
            "listing from etcd",
            etcd_client::Error::GRpcStatus(tonic::Status::new(code, message)),
        )
    }

    #[test]
    fn compaction_and_future_revisions_are_told_apart() {
        let compacted = status(
            tonic::Code::OutOfRange,
            "etcdserver: mvcc: required revision has been compacted",
        );
        assert!(compacted.is_compacted() && !compacted.is_future_revision());
        let future = status(
            tonic::Code::OutOfRange,
            "etcdserver: mvcc: required revision is a future revision",
        );
        assert!(future.is_future_revision() && !future.is_compacted());
    }

    #[test]
    fn other_failures_are_internal_with_their_context() {
        let err = status(tonic::Code::Unavailable, "etcdserver: no leader").into_storage();
        assert_eq!(err.code(), 500);
        assert_eq!(
            err.to_string(),
            "storage backend error: listing from etcd: etcdserver: no leader"
        );
    }
}
