//! What a request carries from the filters down into the registry
//! (upstream's `endpoints/request` context): the authenticated user. The
//! installer runs each request's handler inside [`with_user`]; a write made
//! by the server itself (bootstrap, controllers) has no request user.

use std::future::Future;
use std::sync::Arc;

use crate::authentication::UserInfo;

tokio::task_local! {
    static USER: Arc<UserInfo>;
}

/// Runs `work` as a request of `user`.
pub async fn with_user<F: Future>(user: Arc<UserInfo>, work: F) -> F::Output {
    USER.scope(user, work).await
}

/// The user of the request being served, `None` outside a request.
pub fn user() -> Option<Arc<UserInfo>> {
    USER.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_user_is_seen_inside_the_request_only() {
        assert!(user().is_none());
        let alice = Arc::new(UserInfo {
            name: "alice".into(),
            ..UserInfo::default()
        });
        let seen = with_user(alice, async { user().map(|u| u.name.clone()) }).await;
        assert_eq!(seen.as_deref(), Some("alice"));
        assert!(user().is_none());
    }
}
