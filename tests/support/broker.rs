//! A real Kafka-protocol broker process for tests: tansu, fetched by `./dev setup`.
//!
//! Known limit of this build (memory storage): its "latest" offsets are wrong, so tests only
//! read from the earliest offset and never assert on high watermarks.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

pub struct Tansu {
    child: Child,
    pub addr: String,
}

impl Tansu {
    /// Starts a broker on a free loopback port and waits until it accepts connections.
    pub fn start() -> Tansu {
        let bin = std::env::var("TANSU_BIN")
            .expect("TANSU_BIN is not set: run the tests with ./dev test, which fetches tansu");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let url = format!("tcp://{addr}");
        let child = Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(super::artifacts().join("tansu.log")).unwrap())
            .spawn()
            .expect("starting tansu");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not start listening on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Tansu { child, addr }
    }

    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.addr)
            .create()
            .unwrap();
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = admin
            .create_topics([&new], &options)
            .await
            .expect("create_topics");
        for result in results {
            result.expect("topic created");
        }
    }

    pub fn producer(&self) -> FutureProducer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.addr)
            .set("linger.ms", "5")
            // One request in flight keeps each partition in send order even across retries.
            .set("max.in.flight.requests.per.connection", "1")
            .create()
            .unwrap()
    }

    /// Produces every (key, value) in order and waits for all acknowledgements.
    pub async fn produce_all(
        producer: &FutureProducer,
        topic: &str,
        records: &[(String, Option<Vec<u8>>)],
    ) {
        let mut pending = Vec::with_capacity(records.len());
        for (key, value) in records {
            let mut record = FutureRecord::<str, [u8]>::to(topic).key(key);
            if let Some(value) = value {
                record = record.payload(value);
            }
            pending.push(
                producer
                    .send_result(record)
                    .map_err(|(e, _)| e)
                    .expect("record queued"),
            );
        }
        for delivery in pending {
            delivery
                .await
                .expect("delivery reported")
                .expect("record produced");
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
