//! The greeting controller: kube-runtime's `Controller` over greetings and
//! the ConfigMaps they own, a reconciler behind a finalizer, status
//! patches and events; run only while this candidate leads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio::sync::watch;

use crate::greeting::{Greeting, config_map_name};
use crate::leader::LeaseLock;

/// The finalizer the controller puts on every greeting.
pub const FINALIZER: &str = "greetings.example.com/config-map";

/// The field manager of the controller's writes.
const MANAGER: &str = "greeting-controller";

/// What the reconciler shares, with what the tests observe.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    /// Reconciles done (each greeting's apply or cleanup).
    pub reconciles: AtomicUsize,
    /// Told after each reconcile.
    pub reconciled: watch::Sender<usize>,
}

impl Context {
    pub fn new(client: Client, identity: &str) -> Arc<Context> {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: MANAGER.into(),
                instance: Some(identity.into()),
            },
        );
        Arc::new(Context {
            client,
            recorder,
            reconciles: AtomicUsize::new(0),
            reconciled: watch::channel(0).0,
        })
    }
}

#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn error(err: impl std::fmt::Display) -> Error {
    Error(err.to_string())
}

/// Waits for the lease, then reconciles greetings in every namespace until
/// the lease is lost (then returns).
pub async fn run(lock: LeaseLock, context: Arc<Context>) -> kube::Result<()> {
    lock.acquire().await?;
    let client = context.client.clone();
    let greetings = Api::<Greeting>::all(client.clone());
    let config_maps = Api::<ConfigMap>::all(client);
    let controller = Controller::new(greetings, watcher::Config::default())
        .owns(config_maps, watcher::Config::default())
        .run(reconcile, error_policy, context)
        .for_each(|_| async {});
    tokio::select! {
        () = controller => {}
        () = lock.keep() => {}
    }
    Ok(())
}

async fn reconcile(greeting: Arc<Greeting>, context: Arc<Context>) -> Result<Action, Error> {
    let namespace = greeting.namespace().unwrap_or_default();
    let greetings = Api::<Greeting>::namespaced(context.client.clone(), &namespace);
    let result = finalizer(&greetings, FINALIZER, greeting, |event| async {
        match event {
            Finalizer::Apply(greeting) => apply(&greeting, &context).await,
            Finalizer::Cleanup(greeting) => cleanup(&greeting, &context).await,
        }
    })
    .await
    .map_err(error);
    let done = context.reconciles.fetch_add(1, Ordering::SeqCst) + 1;
    context.reconciled.send_replace(done);
    result
}

/// The ConfigMap applied, an event, the status patched.
async fn apply(greeting: &Greeting, context: &Context) -> Result<Action, Error> {
    let name = greeting.name_any();
    let namespace = greeting.namespace().unwrap_or_default();
    let config_maps = Api::<ConfigMap>::namespaced(context.client.clone(), &namespace);
    let owner = greeting
        .controller_owner_ref(&())
        .ok_or_else(|| error("the greeting has no uid"))?;
    let config_map = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": config_map_name(&name), "ownerReferences": [owner]},
        "data": {"message": greeting.spec.message},
    });
    config_maps
        .patch(
            &config_map_name(&name),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&config_map),
        )
        .await
        .map_err(error)?;
    context
        .recorder
        .publish(
            &Event {
                type_: EventType::Normal,
                reason: "Reconciled".into(),
                note: Some(format!(
                    "ConfigMap {} holds the message",
                    config_map_name(&name)
                )),
                action: "Apply".into(),
                secondary: None,
            },
            &greeting.object_ref(&()),
        )
        .await
        .map_err(error)?;
    let greetings = Api::<Greeting>::namespaced(context.client.clone(), &namespace);
    let status = json!({"status": {
        "observedGeneration": greeting.meta().generation,
        "ready": true,
        "configMap": config_map_name(&name),
    }});
    greetings
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .map_err(error)?;
    Ok(Action::requeue(Duration::from_secs(300)))
}

/// The ConfigMap deleted before the finalizer goes.
async fn cleanup(greeting: &Greeting, context: &Context) -> Result<Action, Error> {
    let namespace = greeting.namespace().unwrap_or_default();
    let config_maps = Api::<ConfigMap>::namespaced(context.client.clone(), &namespace);
    match config_maps
        .delete(
            &config_map_name(&greeting.name_any()),
            &DeleteParams::default(),
        )
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(err) => return Err(error(err)),
    }
    Ok(Action::await_change())
}

fn error_policy(_greeting: Arc<Greeting>, _error: &Error, _context: Arc<Context>) -> Action {
    Action::requeue(Duration::from_millis(500))
}
