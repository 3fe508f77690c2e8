//! The webhook delivery worker: claims due deliveries from the outbox with a lease, posts each
//! event signed the Standard Webhooks way, and records the attempt. New events wake it at once;
//! otherwise it sleeps until the next retry falls due (and looks again every second, for work
//! another process queued).

use crate::api::resources::{Event, EventDocument};
use engine::webhooks::{sign, AttemptOutcome, ClaimedDelivery, RetrySchedule};
use engine::Engine;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// A delivery succeeds with a 2xx within this time.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claim keeps other workers off a delivery: the timeout and time to record it.
const LEASE: Duration = Duration::from_secs(20);
/// Deliveries in flight at once.
const CONCURRENCY: usize = 128;
/// The longest sleep between looks at the outbox.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The body of a delivery: the event resource with its object as the API shows it.
pub fn delivery_body(event: &engine::records::EventRecord) -> Vec<u8> {
    serde_json::to_vec(&EventDocument {
        data: Event::new(event),
    })
    .unwrap_or_default()
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Verity-Webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("the webhook HTTP client builds")
}

/// Runs until the task is aborted.
pub async fn run(engine: Engine, schedule: RetrySchedule) {
    let client = http_client();
    let queued = engine.deliveries_queued();
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    loop {
        // Claim only what can start now, so every lease is spent sending, not waiting.
        let first = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let free = u32::try_from(slots.available_permits() + 1).unwrap_or(u32::MAX);
        let claimed = match engine.claim_deliveries(free, LEASE).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(error = ?error, "claiming webhook deliveries failed");
                drop(first);
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
        };
        if claimed.is_empty() {
            drop(first);
            let wait = match engine.next_delivery_due().await {
                Ok(Some(due)) => {
                    let until = due - engine.now();
                    Duration::try_from(until)
                        .unwrap_or(Duration::ZERO)
                        .min(IDLE_POLL)
                }
                Ok(None) => IDLE_POLL,
                Err(error) => {
                    tracing::error!(error = ?error, "reading the webhook outbox failed");
                    IDLE_POLL
                }
            };
            if !wait.is_zero() {
                tokio::select! {
                    () = queued.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
            continue;
        }
        let mut permits = vec![first];
        for delivery in claimed {
            let permit = match permits.pop() {
                Some(permit) => permit,
                None => slots
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed"),
            };
            let (engine, client, schedule) = (engine.clone(), client.clone(), schedule.clone());
            tokio::spawn(async move {
                deliver(&engine, &client, &schedule, delivery).await;
                drop(permit);
            });
        }
    }
}

/// Sends one delivery and records what happened.
async fn deliver(
    engine: &Engine,
    client: &reqwest::Client,
    schedule: &RetrySchedule,
    delivery: ClaimedDelivery,
) {
    let due = &delivery.due;
    let body = delivery_body(&due.event);
    let attempted_at = engine.now();
    let timestamp = attempted_at.unix_timestamp();
    let message_id = due.event.id.to_string();
    let signature = sign(&delivery.secrets, &message_id, timestamp, &body);
    let attempt = due.attempts + 1;
    let started = Instant::now();
    let sent = client
        .post(&due.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("webhook-attempt", attempt.to_string())
        .body(body)
        .send()
        .await;
    let (status_code, error) = match sent {
        Ok(response) => {
            let status = response.status();
            // Read (and drop) the answer so the connection can be reused.
            let read = response.bytes().await;
            let error = if !status.is_success() {
                Some(format!("the endpoint answered HTTP {}", status.as_u16()))
            } else if read.is_err() {
                Some("the endpoint's answer did not arrive in time".to_owned())
            } else {
                None
            };
            (Some(status.as_u16()), error)
        }
        Err(error) => (None, Some(describe(&error))),
    };
    let outcome = AttemptOutcome {
        attempted_at,
        status_code,
        latency: started.elapsed(),
        error,
    };
    match engine
        .record_delivery_attempt(due, &outcome, schedule)
        .await
    {
        Ok(next) => tracing::debug!(
            webhook.id = %due.webhook_id,
            event.id = %due.event.id,
            attempt,
            status_code = ?outcome.status_code,
            next = ?next,
            "webhook delivery attempted"
        ),
        // The lease runs out and the delivery is sent again: at least once, never zero times.
        Err(error) => {
            tracing::error!(webhook.id = %due.webhook_id, error = ?error, "recording a webhook attempt failed")
        }
    }
}

/// Why a request failed, in words that carry no personal data.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("no answer within {} seconds", DELIVERY_TIMEOUT.as_secs())
    } else if error.is_connect() {
        "could not connect to the endpoint".to_owned()
    } else if error.is_redirect() {
        "the endpoint redirected (redirects are not followed)".to_owned()
    } else {
        "the request failed".to_owned()
    }
}
