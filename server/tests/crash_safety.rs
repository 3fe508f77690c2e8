//! Crash safety of the event outbox and webhook deliveries: the real `verity` binary is
//! SIGKILLed twice while 200 inquiries go through the hosted flow, and restarted on the same data
//! folder each time. Afterwards every event the API lists was delivered at least once, nothing
//! was delivered that the API does not list, every inquiry's status is explained by its newest
//! event, its events' sequences have no gaps, and all 200 inquiries are completed exactly once.

mod support;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use support::{
    api_request, flow_details_request, flow_photo_request, try_raw_exchange, Receiver, Response,
};
use tokio::time::Instant;

const INQUIRIES: usize = 200;
const CONCURRENCY: usize = 8;
/// Steps: create, details and photo for each inquiry; the server is killed when this many
/// steps were answered (the first while inquiries are being created and started, the second
/// while photos are being checked).
const KILL_AT: [usize; 2] = [INQUIRIES * 3 / 4, INQUIRIES * 2];
const RETRY_SCHEDULE: &str = "0.2,0.5,1,2,4,8,16";
/// One request's longest wait: the server holds a repeated Idempotency-Key up to 30 s.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);

fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates")
}

fn sharp_photo() -> &'static [u8] {
    static PHOTO: OnceLock<Vec<u8>> = OnceLock::new();
    PHOTO.get_or_init(|| {
        checks::fixtures::encode_jpeg(&checks::fixtures::id_card_image(1600, 1000), 90)
    })
}

/// `verity …` over the test's data folder, with a clean environment.
fn verity(data_dir: &Path, addr: SocketAddr) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_verity"));
    command
        .current_dir(data_dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VERITY_DATA_DIR", data_dir.join("data"))
        .env("VERITY_TEMPLATES_DIR", templates_dir())
        .env("LEPTOS_SITE_ADDR", addr.to_string())
        .env("LEPTOS_SITE_ROOT", data_dir.join("site"))
        .env("VERITY_PUBLIC_URL", format!("http://{addr}"))
        .env("VERITY_WEBHOOK_RETRY_SCHEDULE", RETRY_SCHEDULE)
        .env("VERITY_API_RATE_LIMIT", "0")
        .env("RUST_LOG", "warn");
    command
}

/// The running server process; killed (SIGKILL) when dropped, so a failing test leaves none.
struct Server {
    child: Child,
    generation: usize,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `verity serve`, its log in `server-<generation>.log`; returns once `/readyz` answers 200.
    async fn start(folder: &Path, addr: SocketAddr, generation: usize) -> Server {
        let log = std::fs::File::create(folder.join(format!("server-{generation}.log"))).unwrap();
        let child = verity(folder, addr)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the verity binary starts");
        let mut server = Server { child, generation };
        let deadline = Instant::now() + Duration::from_secs(30);
        let request = format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        loop {
            if let Some(response) =
                try_raw_exchange(addr, request.as_bytes(), Duration::from_secs(2)).await
            {
                if response.status == 200 {
                    return server;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "verity serve exited with {status}:\n{}",
                    std::fs::read_to_string(folder.join(format!("server-{generation}.log")))
                        .unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "verity serve was not ready within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no graceful shutdown, nothing flushed.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }
}

/// What the drivers share.
struct Drive {
    addr: SocketAddr,
    key: String,
    /// Steps answered so far (the killer watches it).
    progress: AtomicUsize,
    next: AtomicUsize,
    deadline: Instant,
}

impl Drive {
    /// Sends a request until the server answers it (it may be down or being killed).
    async fn exchange(&self, request: &[u8], what: &str) -> Result<Response, String> {
        loop {
            if let Some(response) = try_raw_exchange(self.addr, request, REQUEST_TIMEOUT).await {
                if response.status < 500 {
                    return Ok(response);
                }
            }
            if Instant::now() >= self.deadline {
                return Err(format!("{what}: no answer before the deadline"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn api(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Response, String> {
        self.exchange(
            &api_request(self.addr, &self.key, method, path, headers, body),
            &format!("{method} {path}"),
        )
        .await
    }

    /// Creates inquiry `index` with an Idempotency-Key, retrying with the same key; its id and
    /// session token (a replay hands back the first answer, token included).
    async fn create(&self, index: usize) -> Result<(String, String), String> {
        let key = format!("crash-safety-{index}");
        let body = json!({ "data": { "type": "inquiry", "attributes": {
            "inquiry-template-id": "itmpl_basic_kyc",
            "note": key,
        } } });
        let response = self
            .api(
                "POST",
                "/api/v1/inquiries",
                &[("Idempotency-Key", &key)],
                Some(&body),
            )
            .await?;
        self.progress.fetch_add(1, Ordering::SeqCst);
        if response.status != 201 {
            return Err(format!(
                "creating inquiry {index} (Idempotency-Key {key}) after a restart: {} {}",
                response.status,
                response.text()
            ));
        }
        let document = response.json();
        let id = document["data"]["id"].as_str().unwrap().to_owned();
        let token = document["meta"]["session-token"]
            .as_str()
            .ok_or_else(|| format!("no session token in {document}"))?
            .to_owned();
        Ok((id, token))
    }

    async fn status(&self, id: &str) -> Result<String, String> {
        loop {
            let response = self
                .api("GET", &format!("/api/v1/inquiries/{id}"), &[], None)
                .await?;
            if response.status == 200 {
                return Ok(response.json()["data"]["attributes"]["status"]
                    .as_str()
                    .unwrap()
                    .to_owned());
            }
            if Instant::now() >= self.deadline {
                return Err(format!("GET {id}: {} {}", response.status, response.text()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Takes one inquiry to `completed`, going by its state after every step: a step that took
    /// effect before a kill (and whose answer was lost) is not repeated.
    async fn run(&self, index: usize) -> Result<String, String> {
        let (id, token) = self.create(index).await?;
        let mut steps = 0;
        loop {
            steps += 1;
            if steps > 20 {
                return Err(format!("{id}: still not completed after 20 steps"));
            }
            match self.status(&id).await?.as_str() {
                "created" => {
                    self.exchange(&flow_details_request(self.addr, &id, &token), "details")
                        .await?;
                    self.progress.fetch_add(1, Ordering::SeqCst);
                }
                "pending" => {
                    self.exchange(
                        &flow_photo_request(self.addr, &id, &token, sharp_photo()),
                        "ID photo",
                    )
                    .await?;
                    self.progress.fetch_add(1, Ordering::SeqCst);
                }
                "completed" => return Ok(id),
                other => return Err(format!("{id} is {other}, not completed")),
            }
        }
    }
}

/// Every item of a list endpoint, walking `links.next`.
async fn list_all(drive: &Drive, first: &str) -> Vec<Value> {
    let mut path = first.to_owned();
    let mut items = Vec::new();
    for _ in 0..1000 {
        let response = drive.api("GET", &path, &[], None).await.unwrap();
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        let page = response.json();
        items.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["links"]["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => return items,
        }
    }
    panic!("links.next never ends from {first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_twice_mid_traffic_every_event_is_delivered_and_every_status_explained() {
    let started = Instant::now();
    let folder = tempfile::tempdir().unwrap();
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let output = verity(folder.path(), addr)
        .args(["api-key", "create", "--name", "t"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let key = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let server = Server::start(folder.path(), addr, 0).await;

    let receiver = Receiver::start().await;
    let drive = Arc::new(Drive {
        addr,
        key,
        progress: AtomicUsize::new(0),
        next: AtomicUsize::new(0),
        deadline: Instant::now() + Duration::from_secs(120),
    });
    let created = drive
        .api(
            "POST",
            "/api/v1/webhooks",
            &[],
            Some(&json!({ "data": { "attributes": {
                "url": receiver.url("/all"),
                "enabled-events": ["*"],
            } } })),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());
    let webhook_id = created.json()["data"]["id"].as_str().unwrap().to_owned();

    // The killer: SIGKILL at two points of the traffic, restarting on the same data folder.
    let killer = {
        let drive = drive.clone();
        let folder = folder.path().to_owned();
        tokio::spawn(async move {
            let mut server = server;
            let mut kills = Vec::new();
            for threshold in KILL_AT {
                while drive.progress.load(Ordering::SeqCst) < threshold {
                    if Instant::now() >= drive.deadline {
                        return (server, kills);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                server.kill();
                kills.push(drive.progress.load(Ordering::SeqCst));
                let generation = server.generation + 1;
                drop(server);
                server = Server::start(&folder, addr, generation).await;
            }
            (server, kills)
        })
    };

    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let drive = drive.clone();
        workers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let index = drive.next.fetch_add(1, Ordering::SeqCst);
                if index >= INQUIRIES {
                    return outcomes;
                }
                outcomes.push(drive.run(index).await);
            }
        }));
    }
    let mut completed = BTreeSet::new();
    let mut failures = Vec::new();
    for worker in workers {
        for outcome in worker.await.unwrap() {
            match outcome {
                Ok(id) => {
                    completed.insert(id);
                }
                Err(error) => failures.push(error),
            }
        }
    }
    let (_server, kills) = killer.await.unwrap();
    let driven = started.elapsed();
    assert_eq!(kills.len(), 2, "the server was killed only at {kills:?}");
    assert!(
        failures.is_empty(),
        "{} inquiries failed: {failures:#?}",
        failures.len()
    );
    assert_eq!(completed.len(), INQUIRIES);

    // Exactly the 200 inquiries exist (a retried create made no second one), all completed.
    let inquiries = list_all(&drive, "/api/v1/inquiries?page[size]=100").await;
    let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for inquiry in &inquiries {
        by_key
            .entry(inquiry["attributes"]["note"].as_str().unwrap_or("-"))
            .or_default()
            .push(inquiry["id"].as_str().unwrap());
    }
    let duplicated: Vec<String> = by_key
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(key, ids)| {
            let statuses: Vec<&str> = inquiries
                .iter()
                .filter(|inquiry| ids.contains(&inquiry["id"].as_str().unwrap()))
                .map(|inquiry| inquiry["attributes"]["status"].as_str().unwrap())
                .collect();
            format!("Idempotency-Key {key} created {ids:?} ({statuses:?})")
        })
        .collect();
    assert!(
        duplicated.is_empty(),
        "a create retried with the same Idempotency-Key after a kill made a second inquiry:\n{}",
        duplicated.join("\n")
    );
    let statuses: BTreeMap<String, String> = inquiries
        .iter()
        .map(|inquiry| {
            (
                inquiry["id"].as_str().unwrap().to_owned(),
                inquiry["attributes"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(statuses.len(), INQUIRIES, "{statuses:?}");
    assert_eq!(statuses.keys().cloned().collect::<BTreeSet<_>>(), completed);
    assert!(
        statuses.values().all(|status| status == "completed"),
        "{statuses:?}"
    );

    // Every event the API lists is delivered at least once (by webhook-id); give the retries
    // after the kills time to settle.
    let events = list_all(&drive, "/api/v1/events?page[size]=100").await;
    let event_ids: BTreeSet<String> = events
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(event_ids.len(), events.len(), "an event is listed twice");
    assert_eq!(
        events.len(),
        INQUIRIES * 6,
        "3 inquiry and 3 verification events each"
    );
    let settle = Instant::now() + Duration::from_secs(40);
    let missing = loop {
        let accepted: BTreeSet<String> = receiver
            .deliveries()
            .iter()
            .filter(|delivery| delivery.accepted())
            .map(|delivery| delivery.event_id().to_owned())
            .collect();
        let missing: Vec<&String> = event_ids.difference(&accepted).collect();
        if missing.is_empty() || Instant::now() >= settle {
            break missing.into_iter().cloned().collect::<Vec<_>>();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if !missing.is_empty() {
        let attempts = drive
            .api(
                "GET",
                &format!(
                    "/api/v1/webhooks/{webhook_id}/deliveries?filter[event-id]={}",
                    missing[0]
                ),
                &[],
                None,
            )
            .await
            .unwrap()
            .text();
        panic!(
            "{} of {} events were never delivered (killed at steps {kills:?}), e.g. {}; its attempts: {attempts}",
            missing.len(),
            event_ids.len(),
            missing[0]
        );
    }
    let deliveries = receiver.deliveries();
    let phantoms: BTreeSet<&str> = deliveries
        .iter()
        .map(|delivery| delivery.event_id())
        .filter(|id| !event_ids.contains(*id))
        .collect();
    assert!(
        phantoms.is_empty(),
        "delivered events the API does not list (a rolled-back write escaped?): {phantoms:?}"
    );
    // Each delivered body is the listed event (the same name and object).
    let listed: BTreeMap<&str, &Value> = events
        .iter()
        .map(|event| (event["id"].as_str().unwrap(), event))
        .collect();
    let mut delivered_sequences: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for delivery in deliveries.iter().filter(|delivery| delivery.accepted()) {
        let body = delivery.json();
        let event = &body["data"];
        let listed = listed[delivery.event_id()];
        assert_eq!(event["attributes"]["name"], listed["attributes"]["name"]);
        assert_eq!(
            event["attributes"]["sequence"],
            listed["attributes"]["sequence"]
        );
        assert_eq!(
            event["attributes"]["payload"]["data"]["id"],
            listed["attributes"]["payload"]["data"]["id"]
        );
        delivered_sequences
            .entry(
                event["attributes"]["payload"]["data"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
            .or_default()
            .insert(event["attributes"]["sequence"].as_i64().unwrap());
    }

    // No status is unexplained: each inquiry's newest event carries its current status, and
    // its events' sequences count 1, 2, 3 without gaps.
    for (id, status) in &statuses {
        let mut own = list_all(
            &drive,
            &format!("/api/v1/events?filter[object-id]={id}&page[size]=100"),
        )
        .await;
        own.reverse();
        let names: Vec<&str> = own
            .iter()
            .map(|event| event["attributes"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["inquiry.created", "inquiry.started", "inquiry.completed"],
            "{id}"
        );
        let sequences: Vec<i64> = own
            .iter()
            .map(|event| event["attributes"]["sequence"].as_i64().unwrap())
            .collect();
        assert_eq!(sequences, [1, 2, 3], "{id}");
        let newest = own.last().unwrap();
        assert_eq!(
            newest["attributes"]["payload"]["data"]["attributes"]["status"],
            json!(status),
            "{id}: its status is not the one its newest event announced"
        );
        assert_eq!(
            delivered_sequences.get(id),
            Some(&BTreeSet::from([1, 2, 3])),
            "{id}: delivered sequences"
        );
    }
    let webhook = drive
        .api("GET", &format!("/api/v1/webhooks/{webhook_id}"), &[], None)
        .await
        .unwrap()
        .json();
    assert_eq!(webhook["data"]["attributes"]["status"], "enabled");
    eprintln!(
        "crash safety: {INQUIRIES} inquiries driven in {driven:?} with kills at steps {kills:?}; {} deliveries for {} events; {:?} in all",
        deliveries.len(),
        event_ids.len(),
        started.elapsed()
    );
}
