//! `kube-test-operator`: a small controller written with kube-rs, the way an
//! operator author writes one, so the apiserver's tests can run a real
//! controller against it. It owns the `Greeting` custom resource
//! ([`greeting`]): each greeting gets a ConfigMap with its message, a
//! `Reconciled` event and a status with the generation it saw; a finalizer
//! deletes the ConfigMap before the greeting goes. Only the holder of a
//! Lease reconciles ([`leader`]).

pub mod greeting;
pub mod leader;
pub mod reconciler;
