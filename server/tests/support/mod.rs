//! A tiny HTTP/1.1 client for the integration tests: one connection per request with
//! `Connection: close`, so every test talks to the real server over loopback.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of this client"
)]

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    pub fn location(&self) -> &str {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location header in {self:?}"))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        assert!(
            self.header("content-type")
                .is_some_and(|value| value.starts_with("application/json")),
            "not JSON: {:?} {}",
            self.headers,
            self.text()
        );
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("invalid JSON ({error}): {}", self.text()))
    }
}

/// How long one exchange may take before the test fails (instead of hanging the run).
const EXCHANGE_LIMIT: std::time::Duration = std::time::Duration::from_secs(90);

/// Writes one request while reading the answer until the server closes the connection. The
/// server may answer (413) and close before it read a large body, so write errors are ignored
/// and whatever arrived before a reset is kept. A server that has not finished answering within
/// [`EXCHANGE_LIMIT`] fails the test, naming the request and showing what had arrived.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.split();
    let write = async {
        let _ = writer.write_all(request).await;
        let _ = writer.flush().await;
    };
    let mut raw = Vec::new();
    let read = async {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let exchange = async { tokio::join!(write, read) };
    if tokio::time::timeout(EXCHANGE_LIMIT, exchange)
        .await
        .is_err()
    {
        let request_line = request
            .split(|&byte| byte == b'\r')
            .next()
            .unwrap_or_default();
        let tail = &raw[raw.len().saturating_sub(400)..];
        panic!(
            "no complete answer to {:?} within {EXCHANGE_LIMIT:?}; {} bytes arrived, ending {:?}",
            String::from_utf8_lossy(request_line),
            raw.len(),
            String::from_utf8_lossy(tail)
        );
    }
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no complete response head in {:?}",
                String::from_utf8_lossy(raw)
            )
        });
    let head = std::str::from_utf8(&raw[..end]).expect("an ASCII response head");
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let body =
        if header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
            decode_chunked(rest)
        } else if let Some(length) =
            header("content-length").and_then(|value| value.parse::<usize>().ok())
        {
            rest[..length.min(rest.len())].to_vec()
        } else {
            rest.to_vec()
        };
    Response {
        status,
        headers,
        body,
    }
}

pub fn decode_chunked(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|window| window == b"\r\n")
            .expect("a chunk size line");
        let size_line = std::str::from_utf8(&rest[..line_end]).unwrap();
        let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
            .expect("a hex chunk size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// `application/x-www-form-urlencoded`, the way browsers encode (brackets included).
pub fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Webhooks: request builders, a tolerant exchange, Standard Webhooks signatures and a receiver
// (used by webhooks.rs and crash_safety.rs)
// ---------------------------------------------------------------------------------------------

/// A request to the REST API with a bearer key: `Connection: close`, JSON body when given.
pub fn api_request(
    addr: SocketAddr,
    key: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> Vec<u8> {
    let body = body.map(|value| serde_json::to_vec(value).unwrap());
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\nAuthorization: Bearer {key}\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    if body.is_some() || method != "GET" {
        head.push_str(&format!(
            "Content-Length: {}\r\n",
            body.as_ref().map_or(0, Vec::len)
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_deref().unwrap_or_default());
    bytes
}

/// The hosted flow's details step as a browser without JavaScript posts it, with the inquiry's
/// session cookie (`verity_<id>` = the session token the API handed out).
pub fn flow_details_request(addr: SocketAddr, inquiry_id: &str, session_token: &str) -> Vec<u8> {
    let body = [
        ("inquiry_id", inquiry_id),
        ("fields[name-first]", "Jane"),
        ("fields[name-last]", "Doe"),
        ("fields[birthdate]", "1990-01-31"),
    ]
    .iter()
    .map(|(key, value)| format!("{}={}", form_encode(key), form_encode(value)))
    .collect::<Vec<_>>()
    .join("&");
    let mut bytes = format!(
        "POST /flow/details HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html\r\nConnection: close\r\nCookie: verity_{inquiry_id}={session_token}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// The hosted flow's ID photo form (multipart, a JPEG), with the inquiry's session cookie.
pub fn flow_photo_request(
    addr: SocketAddr,
    inquiry_id: &str,
    session_token: &str,
    jpeg: &[u8],
) -> Vec<u8> {
    const BOUNDARY: &str = "----VerityWebhookTestBoundary";
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"inquiry_id\"\r\n\r\n{inquiry_id}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"id-front.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(jpeg);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let mut bytes = format!(
        "POST /flow/id-photo HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html\r\nConnection: close\r\nCookie: verity_{inquiry_id}={session_token}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

/// Like [`raw_exchange`], for a server that may be down or killed mid-answer: a refused
/// connection, a reset, an incomplete answer or no answer within `timeout` is `None`.
pub async fn try_raw_exchange(
    addr: SocketAddr,
    request: &[u8],
    timeout: std::time::Duration,
) -> Option<Response> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(request).await.ok()?;
        stream.flush().await.ok()?;
        let mut raw = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&chunk[..n]),
                Err(_) => return None,
            }
        }
        Some(raw)
    };
    let raw = tokio::time::timeout(timeout, exchange).await.ok()??;
    let end = raw.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let rest = &raw[end + 4..];
    let complete = if head.contains("transfer-encoding: chunked") {
        rest.ends_with(b"0\r\n\r\n")
    } else if let Some(length) = head
        .split("\r\n")
        .find_map(|line| line.strip_prefix("content-length:"))
    {
        length
            .trim()
            .parse::<usize>()
            .is_ok_and(|length| rest.len() >= length)
    } else {
        true
    };
    complete.then(|| parse_response(&raw))
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = (u32::from(group[0]) << 16)
            | (u32::from(*group.get(1).unwrap_or(&0)) << 8)
            | u32::from(*group.get(2).unwrap_or(&0));
        for (index, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if index <= group.len() {
                out.push(BASE64_ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64, padding optional; `None` for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for byte in text.bytes() {
        let value = BASE64_ALPHABET.iter().position(|&b| b == byte)? as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// HMAC-SHA256 (RFC 2104), on `sha2` alone.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// The Standard Webhooks signature `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` with
/// the key that a `whsec_<base64>` secret carries.
pub fn webhook_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = base64_decode(
        secret
            .strip_prefix("whsec_")
            .unwrap_or_else(|| panic!("a secret starts with whsec_: {secret}")),
    )
    .unwrap_or_else(|| panic!("a secret is whsec_ + base64: {secret}"));
    assert!(!key.is_empty(), "an empty key in {secret}");
    let mut message = format!("{id}.{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    format!("v1,{}", base64_encode(&hmac_sha256(&key, &message)))
}

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub answered: u16,
}

impl Delivery {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// `webhook-id`: the event id.
    pub fn event_id(&self) -> &str {
        self.header("webhook-id")
            .unwrap_or_else(|| panic!("a delivery without webhook-id: {self:?}"))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "a delivery body that is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// `data.attributes.name` of the delivered event.
    pub fn event_name(&self) -> String {
        self.json()["data"]["attributes"]["name"]
            .as_str()
            .unwrap_or_else(|| panic!("no event name in {}", String::from_utf8_lossy(&self.body)))
            .to_owned()
    }

    /// The receiver answered 2xx.
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.answered)
    }

    /// The `v1,…` signatures of `webhook-signature`, in order.
    pub fn signatures(&self) -> Vec<String> {
        self.header("webhook-signature")
            .unwrap_or_else(|| panic!("a delivery without webhook-signature: {self:?}"))
            .split(' ')
            .map(str::to_owned)
            .collect()
    }

    /// Whether one of the signatures is the one `secret` makes.
    pub fn signed_by(&self, secret: &str) -> bool {
        let expected = webhook_signature(
            secret,
            self.event_id(),
            self.header("webhook-timestamp").expect("webhook-timestamp"),
            &self.body,
        );
        self.signatures().contains(&expected)
    }
}

#[derive(Default)]
struct ReceiverState {
    deliveries: std::sync::Mutex<Vec<Delivery>>,
    answer: std::sync::atomic::AtomicU16,
}

/// A webhook receiver on loopback: records every POST (any path) and answers with the status
/// the test sets (200 at first); it stops when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    state: std::sync::Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// A receiver on a free loopback port.
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// A receiver on the given address (e.g. a port that was closed until now).
    pub async fn start_on(addr: SocketAddr) -> Receiver {
        use axum::extract::State;
        use std::sync::Arc;
        async fn receive(
            State(state): State<Arc<ReceiverState>>,
            uri: axum::http::Uri,
            headers: axum::http::HeaderMap,
            body: bytes::Bytes,
        ) -> axum::http::StatusCode {
            let answered = state.answer.load(std::sync::atomic::Ordering::SeqCst);
            let delivery = Delivery {
                path: uri.path().to_owned(),
                headers: headers
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.as_str().to_owned(),
                            String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: body.to_vec(),
                answered,
            };
            state.deliveries.lock().unwrap().push(delivery);
            axum::http::StatusCode::from_u16(answered).unwrap()
        }
        let state = Arc::new(ReceiverState::default());
        state.answer.store(200, std::sync::atomic::Ordering::SeqCst);
        let mut listener = None;
        for _ in 0..50 {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(bound) => {
                    listener = Some(bound);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
        let listener = listener.unwrap_or_else(|| panic!("could not listen on {addr}"));
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { addr, state, task }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// From now on, answer every delivery with `status`.
    pub fn answer_with(&self, status: u16) {
        self.state
            .answer
            .store(status, std::sync::atomic::Ordering::SeqCst);
    }

    /// Everything received so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.deliveries.lock().unwrap().clone()
    }

    /// Everything received so far on one path, oldest first.
    pub fn deliveries_to(&self, path: &str) -> Vec<Delivery> {
        self.deliveries()
            .into_iter()
            .filter(|delivery| delivery.path == path)
            .collect()
    }

    /// Waits (up to `timeout`) until `done` holds for what arrived on `path`; panics with
    /// `what` and the deliveries so far when it does not.
    pub async fn wait_for(
        &self,
        path: &str,
        what: &str,
        timeout: std::time::Duration,
        done: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let deliveries = self.deliveries_to(path);
            if done(&deliveries) {
                return deliveries;
            }
            if tokio::time::Instant::now() >= deadline {
                let summary: Vec<String> = deliveries
                    .iter()
                    .map(|delivery| {
                        format!(
                            "{} {} attempt {:?} -> {}",
                            delivery.event_id(),
                            delivery.event_name(),
                            delivery.header("webhook-attempt"),
                            delivery.answered
                        )
                    })
                    .collect();
                panic!("timed out waiting for {what} on {path}; received: {summary:#?}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }
}
