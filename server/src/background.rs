//! The work `verity serve` does besides answering requests: the webhook delivery worker and the
//! scheduler (expiring overdue inquiries, forgetting old idempotency keys).

use crate::config::Settings;
use crate::delivery;
use engine::Engine;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long stored idempotent responses are kept (the contract promises at least 24 hours).
const IDEMPOTENCY_RETENTION: time::Duration = time::Duration::hours(48);
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// The running background tasks; dropping it stops them.
#[derive(Debug)]
pub struct BackgroundWork {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for BackgroundWork {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts the delivery worker and the scheduler on the current Tokio runtime.
pub fn start(engine: Engine, settings: &Settings) -> BackgroundWork {
    let worker = tokio::spawn(delivery::run(
        engine.clone(),
        settings.webhook_retry_schedule.clone(),
    ));
    let scheduler = tokio::spawn(run_scheduler(engine, settings.scheduler_interval));
    BackgroundWork {
        tasks: vec![worker, scheduler],
    }
}

async fn run_scheduler(engine: Engine, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_purge: Option<Instant> = None;
    loop {
        tick.tick().await;
        match engine.expire_overdue().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "expired overdue inquiries"),
            Err(error) => tracing::error!(error = ?error, "expiry run failed"),
        }
        if last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
            last_purge = Some(Instant::now());
            match engine.purge_idempotency_keys(IDEMPOTENCY_RETENTION).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "forgot old idempotency keys"),
                Err(error) => tracing::error!(error = ?error, "idempotency key purge failed"),
            }
        }
    }
}
