//! Webhook subscriptions and the engine's side of delivering them: signing secrets (sealed at
//! rest), the outbox the lifecycle service fills, leased claims, attempt records, the retry
//! schedule, and disabling an endpoint that failed for the whole window.

use crate::error::EngineError;
use crate::flow::Engine;
use crate::lifecycle;
use crate::records::{DueDelivery, WebhookAttemptRecord, WebhookRecord, WebhookStatus};
use crate::store::{DeliveryNext, Page, PageRequest, ReplayFrom, Write};
use base64::Engine as _;
use domain::ids::{EventId, WebhookAttemptId, WebhookId};
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Every event name a webhook can subscribe to.
pub const EVENT_NAMES: &[&str] = &[
    "inquiry.created",
    "inquiry.started",
    "inquiry.completed",
    "inquiry.failed",
    "inquiry.expired",
    "inquiry.marked-for-review",
    "inquiry.approved",
    "inquiry.declined",
    "inquiry.redacted",
    "verification.created",
    "verification.submitted",
    "verification.passed",
    "verification.failed",
    "verification.canceled",
    WEBHOOK_DISABLED_EVENT,
];

/// Written when a webhook is disabled because its deliveries failed for the whole retry window.
pub const WEBHOOK_DISABLED_EVENT: &str = "webhook.disabled";

/// How long a rotated-out secret keeps signing beside the new one.
pub const PREVIOUS_SECRET_GRACE: time::Duration = time::Duration::hours(24);

const SECRET_PREFIX: &str = "whsec_";

/// A new webhook's settings.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub enabled_events: Vec<String>,
}

/// A change to a webhook; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub enabled_events: Option<Vec<String>>,
    pub status: Option<WebhookStatus>,
}

/// Seconds between delivery attempts: attempt 1 is immediate, attempt k+1 waits `delays[k-1]`
/// (with ±20 % jitter); after the attempt that follows the last delay the delivery is given up.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl Default for RetrySchedule {
    /// About three days: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 24 h, 24 h (≈ 75.6 h).
    fn default() -> Self {
        let seconds = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 86_400, 86_400];
        RetrySchedule {
            delays: seconds.into_iter().map(Duration::from_secs).collect(),
        }
    }
}

impl RetrySchedule {
    /// Parses `1,2,4.5` (seconds, comma-separated, at least one, each > 0).
    pub fn parse(text: &str) -> Result<RetrySchedule, String> {
        let delays = text
            .split(',')
            .map(|part| {
                let seconds: f64 = part
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{}` is not a number of seconds", part.trim()))?;
                if !(seconds > 0.0 && seconds <= 30.0 * 86_400.0) {
                    return Err(format!("{seconds} s is not between 0 and 30 days"));
                }
                Ok(Duration::from_secs_f64(seconds))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() {
            return Err("the retry schedule needs at least one delay".into());
        }
        Ok(RetrySchedule { delays })
    }

    /// The delays, in order.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// The wait before the next attempt once `attempts_made` attempts failed, or `None` when the
    /// schedule is used up.
    pub fn next_delay(&self, attempts_made: u32) -> Option<Duration> {
        let base = *self.delays.get(attempts_made.checked_sub(1)? as usize)?;
        let jitter = rand::rng().random_range(0.8..1.2);
        Some(base.mul_f64(jitter))
    }
}

/// What one attempt found.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptOutcome {
    pub attempted_at: OffsetDateTime,
    pub status_code: Option<u16>,
    pub latency: Duration,
    /// Why it failed (no response body is kept).
    pub error: Option<String>,
}

impl AttemptOutcome {
    /// A 2xx answer in time.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
            && self
                .status_code
                .is_some_and(|code| (200..300).contains(&code))
    }
}

/// A claimed delivery with its secrets opened: the newest first, then the rotated-out one while
/// it still signs.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub due: DueDelivery,
    pub secrets: Vec<String>,
}

/// `v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}` under each secret, space-separated, as
/// the Standard Webhooks specification has it (the key is the base64 part after `whsec_`).
pub fn sign(secrets: &[String], message_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            let key = base64::engine::general_purpose::STANDARD
                .decode(secret.strip_prefix(SECRET_PREFIX)?)
                .ok()?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(message_id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Some(format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// Refuses URLs a webhook cannot be delivered to.
pub fn validate_url(url: &str) -> Result<(), EngineError> {
    let invalid = |why: &str| Err(EngineError::InvalidInput(format!("url {why}")));
    if url.len() > 2048 {
        return invalid("must be at most 2048 characters");
    }
    let rest = match url.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        _ => return invalid("must be an absolute http:// or https:// URL"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return invalid("must name a host (and no credentials)");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("must not contain spaces or control characters");
    }
    Ok(())
}

/// Checks and normalizes subscribed event names (known names or `*`, no repeats).
pub fn validate_events(events: Vec<String>) -> Result<Vec<String>, EngineError> {
    if events.is_empty() {
        return Err(EngineError::InvalidInput(
            "enabled-events must name at least one event (or \"*\")".into(),
        ));
    }
    let mut seen = Vec::new();
    for name in events {
        if name != "*" && !EVENT_NAMES.contains(&name.as_str()) {
            return Err(EngineError::InvalidInput(format!(
                "enabled-events: `{name}` is not an event name"
            )));
        }
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    Ok(seen)
}

fn webhook_not_found() -> EngineError {
    EngineError::NotFound { kind: "webhook" }
}

impl Engine {
    /// Subscribes an endpoint; the secret is returned once and stored sealed.
    pub async fn create_webhook(
        &self,
        input: NewWebhook,
    ) -> Result<(WebhookRecord, String), EngineError> {
        validate_url(&input.url)?;
        let enabled_events = validate_events(input.enabled_events)?;
        let now = self.clock.now();
        let webhook = WebhookRecord {
            id: WebhookId::new(),
            url: input.url,
            enabled_events,
            status: WebhookStatus::Enabled,
            created_at: now,
            updated_at: now,
            disabled_at: None,
        };
        let secret = new_secret();
        self.store
            .commit(vec![Write::InsertWebhook {
                webhook: webhook.clone(),
                sealed_secret: self.data_key.seal(&secret),
            }])
            .await?;
        tracing::info!(webhook.id = %webhook.id, "webhook created");
        Ok((webhook, secret))
    }

    /// One webhook.
    pub async fn webhook(&self, id: &WebhookId) -> Result<WebhookRecord, EngineError> {
        self.store.webhook(id).await?.ok_or_else(webhook_not_found)
    }

    /// Webhooks, newest first.
    pub async fn list_webhooks(
        &self,
        page: &PageRequest,
    ) -> Result<Page<WebhookRecord>, EngineError> {
        Ok(self.store.list_webhooks(page).await?)
    }

    /// Changes a webhook's URL, events or status.
    pub async fn update_webhook(
        &self,
        id: &WebhookId,
        change: WebhookChange,
    ) -> Result<WebhookRecord, EngineError> {
        let current = self.webhook(id).await?;
        let url = change.url.unwrap_or(current.url);
        validate_url(&url)?;
        let enabled_events = match change.enabled_events {
            Some(events) => validate_events(events)?,
            None => current.enabled_events,
        };
        let write = Write::UpdateWebhook {
            id: id.clone(),
            url,
            enabled_events,
            status: change.status.unwrap_or(current.status),
            at: self.clock.now(),
        };
        match self.store.commit(vec![write]).await {
            Ok(()) => {}
            Err(crate::store::StoreError::Conflict) => return Err(webhook_not_found()),
            Err(error) => return Err(error.into()),
        }
        self.webhook(id).await
    }

    /// Removes a webhook and everything queued for it.
    pub async fn delete_webhook(&self, id: &WebhookId) -> Result<WebhookRecord, EngineError> {
        let current = self.webhook(id).await?;
        match self
            .store
            .commit(vec![Write::DeleteWebhook { id: id.clone() }])
            .await
        {
            Ok(()) => Ok(current),
            Err(crate::store::StoreError::Conflict) => Err(webhook_not_found()),
            Err(error) => Err(error.into()),
        }
    }

    /// A new signing secret (returned once); the old one keeps signing for 24 h.
    pub async fn rotate_webhook_secret(
        &self,
        id: &WebhookId,
    ) -> Result<(WebhookRecord, String), EngineError> {
        let (sealed_current, _) = self
            .store
            .webhook_secrets(id)
            .await?
            .ok_or_else(webhook_not_found)?;
        let secret = new_secret();
        let now = self.clock.now();
        let write = Write::RotateWebhookSecret {
            id: id.clone(),
            sealed_secret: self.data_key.seal(&secret),
            sealed_previous: sealed_current,
            previous_expires_at: now + PREVIOUS_SECRET_GRACE,
            at: now,
        };
        match self.store.commit(vec![write]).await {
            Ok(()) => {}
            Err(crate::store::StoreError::Conflict) => return Err(webhook_not_found()),
            Err(error) => return Err(error.into()),
        }
        tracing::info!(webhook.id = %id, "webhook secret rotated");
        Ok((self.webhook(id).await?, secret))
    }

    /// Delivery attempts of a webhook, newest first.
    pub async fn webhook_attempts(
        &self,
        id: &WebhookId,
        event_id: Option<&EventId>,
        page: &PageRequest,
    ) -> Result<Page<WebhookAttemptRecord>, EngineError> {
        self.webhook(id).await?;
        Ok(self.store.list_webhook_attempts(id, event_id, page).await?)
    }

    /// Queues the webhook's events again from an event or a time; returns how many.
    pub async fn replay_webhook(
        &self,
        id: &WebhookId,
        from: ReplayFrom,
    ) -> Result<u64, EngineError> {
        self.webhook(id).await?;
        if let ReplayFrom::Event(event_id) = &from {
            self.store
                .event(event_id)
                .await?
                .ok_or(EngineError::NotFound { kind: "event" })?;
        }
        let count = self
            .store
            .replay_events(id, &from, self.clock.now())
            .await?;
        tracing::info!(webhook.id = %id, replayed = count, "webhook events replayed");
        Ok(count)
    }

    /// Claims up to `limit` due deliveries for `lease` and opens their secrets.
    pub async fn claim_deliveries(
        &self,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<ClaimedDelivery>, EngineError> {
        let now = self.clock.now();
        let due = self.store.claim_deliveries(now, now + lease, limit).await?;
        due.into_iter()
            .map(|due| {
                let mut secrets = vec![self.data_key.open(&due.secret)?];
                if let (Some(previous), Some(until)) =
                    (&due.previous_secret, due.previous_secret_expires_at)
                {
                    if until > now {
                        secrets.push(self.data_key.open(previous)?);
                    }
                }
                Ok(ClaimedDelivery { due, secrets })
            })
            .collect()
    }

    /// When the next pending delivery falls due.
    pub async fn next_delivery_due(&self) -> Result<Option<OffsetDateTime>, EngineError> {
        Ok(self.store.next_delivery_due().await?)
    }

    /// Woken when new deliveries are queued.
    pub fn deliveries_queued(&self) -> Arc<tokio::sync::Notify> {
        self.store.deliveries_queued()
    }

    /// Records an attempt and schedules what follows: done, a retry, or giving up — and when
    /// the webhook has not succeeded since this delivery first failed, disabling it with a
    /// `webhook.disabled` event.
    pub async fn record_delivery_attempt(
        &self,
        due: &DueDelivery,
        outcome: &AttemptOutcome,
        schedule: &RetrySchedule,
    ) -> Result<DeliveryNext, EngineError> {
        let attempt = due.attempts + 1;
        let succeeded = outcome.succeeded();
        let next = if succeeded {
            DeliveryNext::Succeeded
        } else {
            match schedule.next_delay(attempt) {
                Some(delay) => DeliveryNext::RetryAt(outcome.attempted_at + delay),
                None => DeliveryNext::GiveUp,
            }
        };
        let record = WebhookAttemptRecord {
            id: WebhookAttemptId::new(),
            webhook_id: due.webhook_id.clone(),
            delivery_id: due.delivery_id,
            event_id: due.event.id.clone(),
            event_name: due.event.name.clone(),
            attempt,
            attempted_at: outcome.attempted_at,
            status_code: outcome.status_code,
            latency_ms: u64::try_from(outcome.latency.as_millis()).unwrap_or(u64::MAX),
            error: outcome.error.clone(),
            succeeded,
        };
        self.store
            .commit(vec![Write::RecordDeliveryAttempt {
                attempt: record,
                next,
            }])
            .await?;
        if next == DeliveryNext::GiveUp {
            let failing_since = due.first_attempt_at.unwrap_or(outcome.attempted_at);
            let now = self.clock.now();
            let writes = vec![
                Write::DisableFailingWebhook {
                    id: due.webhook_id.clone(),
                    failing_since,
                    at: now,
                },
                lifecycle::webhook_event(&due.webhook_id, WEBHOOK_DISABLED_EVENT, now),
            ];
            match self.store.commit(writes).await {
                Ok(()) => {
                    tracing::warn!(webhook.id = %due.webhook_id, "webhook disabled: its deliveries failed for the whole retry window");
                }
                // It succeeded meanwhile, or is already disabled or deleted.
                Err(crate::store::StoreError::Conflict) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_test_vector() {
        // The specification's example: secret, id, timestamp and payload with its signature.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
        let signature = sign(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_signs_with_both_secrets() {
        let signature = sign(&[new_secret(), new_secret()], "evt_1", 1, b"{}");
        assert_eq!(signature.split(' ').count(), 2);
        assert!(signature.split(' ').all(|part| part.starts_with("v1,")));
    }

    #[test]
    fn schedules_parse_and_run_out() {
        let schedule = RetrySchedule::parse("1, 2.5,4").unwrap();
        assert_eq!(schedule.delays().len(), 3);
        let first = schedule.next_delay(1).unwrap();
        assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200));
        assert!(schedule.next_delay(3).is_some());
        assert_eq!(schedule.next_delay(4), None);
        assert!(RetrySchedule::parse("").is_err());
        assert!(RetrySchedule::parse("1,x").is_err());
        assert!(RetrySchedule::parse("0").is_err());
        let total: Duration = RetrySchedule::default().delays().iter().sum();
        assert!(total > Duration::from_secs(3 * 86_400) && total < Duration::from_secs(4 * 86_400));
    }

    #[test]
    fn urls_and_event_names_are_checked() {
        assert!(validate_url("https://example.com/hooks").is_ok());
        assert!(validate_url("http://127.0.0.1:8080/").is_ok());
        assert!(validate_url("ftp://example.com").is_err());
        assert!(validate_url("https://user:pw@example.com").is_err());
        assert!(validate_url("https:///path").is_err());
        assert_eq!(
            validate_events(vec!["*".into(), "*".into()]).unwrap(),
            vec!["*".to_owned()]
        );
        assert!(validate_events(vec!["inquiry.made-up".into()]).is_err());
        assert!(validate_events(Vec::new()).is_err());
    }
}
