//! What a filter holds for a request, held until its response body is sent:
//! a streamed list answers before its later pages are read, so an
//! in-flight slot released when the handler returns, or a timeout that
//! stops at the handler, would let a slow reader hold lists open outside
//! both limits. The timeout filter marks a streamed response with its
//! deadline and makes its body fail once the deadline has passed (which
//! aborts the response, as upstream's timeout filter does once headers are
//! written); the max-in-flight filter keeps its slot until the body is sent
//! or, for a marked response, until the deadline, whichever comes first, as
//! upstream's slot ends when its timeout filter gives up on the handler.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::response::Response;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The deadline of a streamed response (a response extension).
#[derive(Debug, Clone, Copy)]
pub struct StreamDeadline(pub Instant);

/// `response` whose body keeps `guard` until it is sent (or the client
/// goes), and no longer than the response's [`StreamDeadline`].
pub fn hold_until_sent<G: Send + 'static>(response: Response, guard: G) -> Response {
    let held = Arc::new(Mutex::new(Some(guard)));
    if let Some(StreamDeadline(deadline)) = response.extensions().get::<StreamDeadline>().copied() {
        let at_deadline = held.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            release(&at_deadline);
        });
    }
    response.map(|body| {
        Body::new(Wrapped {
            body,
            held: Some(Box::new(Held(held))),
            deadline: None,
        })
    })
}

/// `response` that, when streamed, is marked with `deadline` and fails at
/// it. A body of known length is complete already and is left alone.
pub fn abort_stream_at(mut response: Response, deadline: Instant) -> Response {
    if http_body::Body::size_hint(response.body())
        .exact()
        .is_some()
    {
        return response;
    }
    response.extensions_mut().insert(StreamDeadline(deadline));
    response.map(|body| {
        Body::new(Wrapped {
            body,
            held: None,
            deadline: Some(Box::pin(tokio::time::sleep_until(deadline))),
        })
    })
}

fn release<G>(held: &Mutex<Option<G>>) {
    let taken = held.lock().map(|mut guard| guard.take());
    drop(taken);
}

/// A guard shared with its deadline task; dropped by whichever ends first.
struct Held<G>(Arc<Mutex<Option<G>>>);

impl<G> Drop for Held<G> {
    fn drop(&mut self) {
        release(&self.0);
    }
}

struct Wrapped {
    body: Body,
    /// Dropped with the body.
    #[expect(dead_code, reason = "held for its Drop")]
    held: Option<Box<dyn Send>>,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl http_body::Body for Wrapped {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Some(Err(axum::Error::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request timeout passed while the response was streamed",
            )))));
        }
        Pin::new(&mut this.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
