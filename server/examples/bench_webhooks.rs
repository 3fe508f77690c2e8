//! The webhook delivery benchmark (issue #4): deliveries per second to a receiver on loopback,
//! and the time from a status change (its event's `created-at`) to the first delivery attempt
//! arriving at the receiver.
//!
//!     cargo run --release -p server --example bench_webhooks -- [BURST] [PACED]
//!
//! Runs the real engine (SQLite in a temp folder), the real delivery worker
//! (`server::background::start`) and an axum receiver answering 200 on 127.0.0.1, all in this
//! process. Phase 1 (drain): BURST inquiries (default 5,000) are created with no webhook, then a
//! webhook is created and `replay` queues all their `inquiry.created` events at once; the rate is
//! deliveries ÷ the time from the replay to the last arrival. Phase 2 (live): BURST more
//! inquiries are created as fast as the store takes them while the worker delivers; the rate is
//! deliveries ÷ the time from the first creation to the last arrival. Phase 3 (latency): PACED
//! inquiries (default 300) created 20 ms apart, so each event meets an idle worker; latency =
//! arrival − the event's `created-at` (millisecond clock).

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use engine::flow::NewInquiry;
use engine::webhooks::NewWebhook;
use engine::{Engine, EngineSettings, SystemClock};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// What the receiver saw: per event id, the arrival time and the event's creation time.
#[derive(Default)]
struct Received {
    arrivals: HashMap<String, (Instant, f64)>,
}

async fn receive(State(received): State<Arc<Mutex<Received>>>, body: Bytes) -> &'static str {
    let arrived_at = Instant::now();
    let now = OffsetDateTime::now_utc();
    let event: serde_json::Value = serde_json::from_slice(&body).expect("JSON event");
    let id = event["data"]["id"].as_str().unwrap_or_default().to_owned();
    let created = event["data"]["attributes"]["created-at"]
        .as_str()
        .and_then(|at| OffsetDateTime::parse(at, &Rfc3339).ok())
        .expect("created-at");
    let latency_ms = (now - created).as_seconds_f64() * 1000.0;
    received
        .lock()
        .unwrap()
        .arrivals
        .entry(id)
        .or_insert((arrived_at, latency_ms));
    "ok"
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn wait_for(received: &Arc<Mutex<Received>>, count: usize, deadline: Duration) -> Instant {
    let started = Instant::now();
    loop {
        {
            let seen = received.lock().unwrap();
            if seen.arrivals.len() >= count {
                return seen.arrivals.values().map(|(at, _)| *at).max().unwrap();
            }
        }
        assert!(
            started.elapsed() < deadline,
            "only {} of {count} deliveries arrived",
            received.lock().unwrap().arrivals.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let burst: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5_000);
    let paced: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(300);

    let received = Arc::new(Mutex::new(Received::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_addr = listener.local_addr()?;
    let receiver = Router::new()
        .route("/hook", post(receive))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let data = tempfile::tempdir()?;
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    let engine = Engine::open_local(
        data.path(),
        None,
        &templates,
        Arc::new(SystemClock),
        EngineSettings::default(),
    )
    .await?;
    let vars: HashMap<&str, String> = HashMap::from([
        ("VERITY_DATA_DIR", data.path().display().to_string()),
        ("VERITY_TEMPLATES_DIR", templates.display().to_string()),
    ]);
    let settings = server::config::Settings::from_sources(|name| vars.get(name).cloned())?;
    let _background = server::background::start(engine.clone(), &settings);
    let new_inquiry = || NewInquiry {
        template_id: Some("itmpl_basic_kyc".parse().unwrap()),
        ..NewInquiry::default()
    };
    let create_many = |count: usize| {
        let engine = engine.clone();
        async move {
            let mut creators = tokio::task::JoinSet::new();
            let per_task = count.div_ceil(32);
            for task in 0..32 {
                let engine = engine.clone();
                let share = per_task.min(count.saturating_sub(task * per_task));
                creators.spawn(async move {
                    for _ in 0..share {
                        engine
                            .create_inquiry(NewInquiry {
                                template_id: Some("itmpl_basic_kyc".parse().unwrap()),
                                ..NewInquiry::default()
                            })
                            .await
                            .expect("create");
                    }
                });
            }
            while let Some(done) = creators.join_next().await {
                done.expect("creator task");
            }
        }
    };

    // Phase 1: drain a queue of BURST deliveries.
    let before = engine.now();
    create_many(burst).await;
    let (webhook, _secret) = engine
        .create_webhook(NewWebhook {
            url: format!("http://{receiver_addr}/hook"),
            enabled_events: vec!["inquiry.created".into()],
        })
        .await?;
    let started = Instant::now();
    let queued = engine
        .replay_webhook(&webhook.id, engine::store::ReplayFrom::Time(before))
        .await?;
    assert_eq!(queued as usize, burst);
    let last = wait_for(&received, burst, Duration::from_secs(300)).await;
    let elapsed = last - started;
    println!(
        "drain: {burst} queued deliveries in {:.2} s = {:.0} deliveries/s",
        elapsed.as_secs_f64(),
        burst as f64 / elapsed.as_secs_f64(),
    );
    received.lock().unwrap().arrivals.clear();

    // Phase 2: live, creating and delivering at once.
    let started = Instant::now();
    create_many(burst).await;
    let created_in = started.elapsed();
    let last = wait_for(&received, burst, Duration::from_secs(300)).await;
    let elapsed = last - started;
    println!(
        "live: {burst} deliveries in {:.2} s = {:.0} deliveries/s (events created in {:.2} s = {:.0}/s)",
        elapsed.as_secs_f64(),
        burst as f64 / elapsed.as_secs_f64(),
        created_in.as_secs_f64(),
        burst as f64 / created_in.as_secs_f64(),
    );

    // Phase 3: latency from the status change to the first attempt, on an idle worker.
    received.lock().unwrap().arrivals.clear();
    for _ in 0..paced {
        engine.create_inquiry(new_inquiry()).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_for(&received, paced, Duration::from_secs(60)).await;
    let mut latencies: Vec<f64> = received
        .lock()
        .unwrap()
        .arrivals
        .values()
        .map(|(_, ms)| *ms)
        .collect();
    latencies.sort_by(f64::total_cmp);
    println!(
        "latency (event created-at → first attempt received), {paced} events: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1],
    );
    Ok(())
}
