//! Shared helpers for the integration tests: the real `flightcast` binary as a child process,
//! WebSocket clients, the bundled data set and an independent model of the topic grammar.

#![allow(dead_code)]

pub mod admin;
pub mod broker;
pub mod expect;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A built filter component, failing with a pointer to the build command when it is missing.
pub fn filter(name: &str) -> PathBuf {
    let path = root().join("target/filters").join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run ./dev filters first",
        path.display()
    );
    path
}

/// Where tests keep artefacts (screenshots, logs) for a human to look at.
pub fn artifacts() -> PathBuf {
    let dir = root().join("tests/artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The bundled flight events, in file order, parsed.
pub fn dataset() -> &'static [Value] {
    static DATA: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        let file = std::fs::File::open(root().join("data/flight-events.jsonl.gz")).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    })
}

/// A configuration with the two example tenants (and any extra `[tenants.*]` given).
pub fn config(kafka: &str, extra: &str) -> String {
    format!(
        r#"
[http]
listen = "127.0.0.1:0"

[kafka]
{kafka}

[replay]
speedup = 0.0
loops = 1

[delivery]
queue_capacity = 100000
window_events_per_partition = 100000

[tenants.demo]
filter = "{standard}"

[tenants.partner]
filter = "{partner}"
{extra}

[[api_keys]]
key = "demo-key"
tenant = "demo"
subject = "tester"

[[api_keys]]
key = "partner-key"
tenant = "partner"
subject = "afr-ops"
attributes = {{ airline = "AFR" }}
"#,
        standard = filter("standard").display(),
        partner = filter("airline-partner").display(),
    )
}

/// The service as a child process, killed on drop. Its log goes to a file in the artefacts.
pub struct Service {
    child: Child,
    pub addr: String,
    /// The admin API's address.
    pub admin: String,
    pub log: PathBuf,
    _config: tempfile::NamedTempFile,
    _store: Option<tempfile::TempDir>,
}

impl Service {
    /// Starts the binary with `config` (TOML) and a version store of its own, and waits for
    /// its listening line.
    pub fn start(name: &str, config: &str) -> Service {
        let store = tempfile::tempdir().unwrap();
        let mut service = Self::start_with_store(name, config, store.path());
        service._store = Some(store);
        service
    }

    /// Starts the binary with `config` and the version store in `store` (which outlives it,
    /// for restarts).
    pub fn start_with_store(name: &str, config: &str, store: &Path) -> Service {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, config.as_bytes()).unwrap();
        let log = artifacts().join(format!("{name}.log"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_flightcast"))
            .arg("--config")
            .arg(file.path())
            .current_dir(root())
            .env("FLIGHTCAST_ADMIN__LISTEN", "127.0.0.1:0")
            .env("FLIGHTCAST_ADMIN__STORE_DIR", store)
            .env("RUST_LOG", "info,flightcast=debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting flightcast");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut admin = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("flightcast admin API on http://") {
                    admin = rest.trim_end_matches('/').to_string();
                }
                if let Some(rest) = line.strip_prefix("flightcast listening on http://") {
                    let _ = tx.send((rest.trim_end_matches('/').to_string(), admin.clone()));
                }
            }
        });
        let (addr, admin) = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "flightcast did not start; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        Service {
            child,
            addr,
            admin,
            log,
            _config: file,
            _store: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A metric's value summed over the series whose labels include every `labels` pair.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = http_get(&self.addr, "/metrics").await.1;
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
                let matches = metric == name
                    && labels
                        .iter()
                        .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
                matches.then(|| value.parse::<f64>().ok()).flatten()
            })
            .sum()
    }

    /// Waits (bounded) until a metric reaches at least `target`.
    pub async fn wait_metric(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        target: f64,
        limit: Duration,
    ) {
        let deadline = Instant::now() + limit;
        loop {
            let value = self.metric(name, labels).await;
            if value >= target {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name}{labels:?} reached only {value}, wanted {target}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (bounded, four minutes) until `tenant`'s worker has routed the whole data set.
    pub async fn wait_all_routed(&self, tenant: &str) {
        let total = dataset().len() as f64;
        let labels = [("tenant", tenant)];
        let limit = Duration::from_secs(240);
        self.wait_metric("flightcast_events_routed_total", &labels, total, limit)
            .await;
    }

    /// Waits (bounded) until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get(&self.addr, "/readyz").await.0 != 200 {
            assert!(Instant::now() < deadline, "flightcast never became ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to exit (bounded).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "sending SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "flightcast did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET: (status, body).
pub async fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A JSON-protocol client.
pub struct Client {
    socket: Socket,
    pub welcome: Value,
}

/// How a read ended when it did not yield a message.
#[derive(Debug)]
pub enum Closed {
    Frame(Option<u16>, String),
    Timeout,
}

impl Client {
    pub async fn connect(addr: &str, token: &str) -> Client {
        let url = format!("ws://{addr}/ws?token={token}");
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket handshake");
        let mut client = Client {
            socket,
            welcome: Value::Null,
        };
        client.welcome = client.next().await;
        assert_eq!(
            client.welcome["type"], "welcome",
            "first message: {}",
            client.welcome
        );
        client
    }

    pub async fn send(&mut self, value: Value) {
        self.socket
            .send(Message::text(value.to_string()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.unwrap();
    }

    /// Subscribes from the start of every partition in `0..partitions`.
    pub async fn subscribe_from_start(&mut self, id: &str, topic: &str, partitions: i32) {
        let from: serde_json::Map<String, Value> =
            (0..partitions).map(|p| (p.to_string(), json!(0))).collect();
        self.send(json!({"op": "subscribe", "id": id, "topic": topic, "from": from}))
            .await;
    }

    /// The next WebSocket message of any kind (pings included), or `None` at the end.
    pub async fn raw_next(&mut self) -> Option<Message> {
        self.socket.next().await.and_then(Result::ok)
    }

    /// The next text message, or how the connection ended (waits at most 60 s).
    pub async fn try_next(&mut self) -> Result<Value, Closed> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(60), self.socket.next()).await;
            match message {
                Err(_) => return Err(Closed::Timeout),
                Ok(Some(Ok(Message::Text(text)))) => {
                    return Ok(serde_json::from_str(&text).unwrap())
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let (code, reason) = frame.map_or((None, String::new()), |f| {
                        (Some(f.code.into()), f.reason.to_string())
                    });
                    return Err(Closed::Frame(code, reason));
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(e))) => return Err(Closed::Frame(None, e.to_string())),
                Ok(None) => return Err(Closed::Frame(None, "stream ended".into())),
            }
        }
    }

    pub async fn next(&mut self) -> Value {
        self.try_next().await.expect("a message")
    }

    /// The next event message, passing over notices such as `caught_up`.
    pub async fn next_event(&mut self) -> Value {
        loop {
            let message = self.next().await;
            if message["type"] == "event" {
                return message;
            }
        }
    }

    /// Reads until a message of `kind` for subscription `id` arrives; returns the events seen
    /// before it (other notices are collected too, in order).
    pub async fn until(&mut self, kind: &str, id: &str) -> (Value, Vec<Value>) {
        let mut before = Vec::new();
        loop {
            let message = self.next().await;
            if message["type"] == kind && message["id"] == id {
                return (message, before);
            }
            before.push(message);
        }
    }
}
