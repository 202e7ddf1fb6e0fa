//! STOMP at the frame level against the real binary, with hand-written frames: negotiation,
//! receipts, errors, acknowledgements, framing edge cases and limits.

mod support;

use std::time::Duration;

use flightcast::stomp::{Decoder, Frame, Item, Limits, Version};
use futures::{SinkExt, StreamExt};
use support::{config, Service};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Stomp {
    socket: Socket,
    decoder: Decoder,
    /// The subprotocol the server chose, if any.
    protocol: Option<String>,
}

impl Stomp {
    async fn open(addr: &str, path: &str, subprotocol: Option<&str>) -> Stomp {
        let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
        if let Some(p) = subprotocol {
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
        }
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("handshake");
        let protocol = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.to_str().unwrap().to_string());
        let mut decoder = Decoder::new(Limits::default());
        decoder.set_version(Version::V1_2);
        Stomp {
            socket,
            decoder,
            protocol,
        }
    }

    /// Opens with v12.stomp and connects with the demo key.
    async fn connected(addr: &str) -> Stomp {
        let mut stomp = Stomp::open(addr, "/ws", Some("v12.stomp")).await;
        stomp
            .raw("CONNECT\naccept-version:1.2\npasscode:demo-key\nheart-beat:0,0\n\n\0")
            .await;
        let connected = stomp.frame().await;
        assert_eq!(connected.command, "CONNECTED", "{connected:?}");
        stomp
    }

    async fn raw(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    /// The next frame (heart-beats skipped), or panics after 30 s or on close.
    async fn frame(&mut self) -> Frame {
        loop {
            match self.decoder.next().unwrap() {
                Some(Item::Frame(frame)) => return frame,
                Some(Item::HeartBeat) => continue,
                None => {}
            }
            let message = tokio::time::timeout(Duration::from_secs(30), self.socket.next()).await;
            match message.expect("a frame within 30 s") {
                Some(Ok(Message::Text(t))) => self.decoder.push(t.as_bytes()),
                Some(Ok(Message::Binary(b))) => self.decoder.push(&b),
                Some(Ok(Message::Close(frame))) => panic!("closed: {frame:?}"),
                Some(Ok(_)) => {}
                other => panic!("socket ended: {other:?}"),
            }
        }
    }

    /// The next frame that is not a MESSAGE.
    async fn reply(&mut self) -> Frame {
        loop {
            let frame = self.frame().await;
            if frame.command != "MESSAGE" {
                return frame;
            }
        }
    }

    /// Reads until the server closes; returns the close code.
    async fn closed(&mut self) -> Option<u16> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), self.socket.next()).await;
            match message.expect("a close within 30 s") {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    }

    /// An ERROR frame, then the close.
    async fn error(&mut self) -> Frame {
        let error = self.reply().await;
        assert_eq!(error.command, "ERROR", "{error:?}");
        assert!(self.closed().await.is_some(), "no close frame after ERROR");
        error
    }
}

fn service(name: &str) -> Service {
    let extra = "\n[stomp]\nmax_frame_bytes = 4096\nmax_headers = 16\n";
    let config = config("embedded_partitions = 4", "")
        .replace("[http]\n", "[http]\nconnect_timeout_ms = 1000\n");
    Service::start(name, &format!("{config}{extra}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiates_version_heartbeat_and_subprotocol() {
    let service = service("stomp-negotiate");
    let mut stomp = Stomp::open(&service.addr, "/ws", Some("v11.stomp")).await;
    assert_eq!(stomp.protocol.as_deref(), Some("v11.stomp"));
    // No host header (stompjs sends none), several versions offered, a heart-beat asked for.
    stomp
        .raw("CONNECT\naccept-version:1.0,1.1,1.2\npasscode:demo-key\nheart-beat:0,500\n\n\0")
        .await;
    let connected = stomp.frame().await;
    assert_eq!(connected.command, "CONNECTED");
    assert_eq!(
        connected.header("version"),
        Some("1.1"),
        "capped by the subprotocol"
    );
    assert_eq!(connected.header("heart-beat"), Some("10000,10000"));
    assert!(connected.header("session").is_some() && connected.header("server").is_some());

    // /stomp without a subprotocol, a STOMP frame instead of CONNECT, 1.2.
    let mut stomp = Stomp::open(&service.addr, "/stomp", None).await;
    assert_eq!(stomp.protocol, None);
    stomp
        .raw("STOMP\naccept-version:1.2\nhost:flightcast\npasscode:demo-key\n\n\0")
        .await;
    assert_eq!(stomp.frame().await.header("version"), Some("1.2"));

    let mut stomp = Stomp::open(&service.addr, "/ws", Some("v12.stomp")).await;
    stomp
        .raw("CONNECT\naccept-version:2.0\npasscode:demo-key\n\n\0")
        .await;
    let error = stomp.error().await;
    assert_eq!(error.header("version"), Some("1.0,1.1,1.2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_lifecycle_with_receipts_and_positions() {
    let service = service("stomp-lifecycle");
    let mut stomp = Stomp::connected(&service.addr).await;
    // Split across messages, with EOLs before it and CRLF line endings.
    stomp.raw("\n\r\nSUBSCRIBE\r\nid:a\\cb\r\ndesti").await;
    stomp
        .raw("nation:/topic/airline:AFR\r\nfrom:0:0,1:0,2:0,3:0\r\nreceipt:r1\r\n\r\n\0")
        .await;
    let receipt = stomp.reply().await;
    assert_eq!(
        (receipt.command.as_str(), receipt.header("receipt-id")),
        ("RECEIPT", Some("r1"))
    );
    let message = loop {
        let frame = stomp.frame().await;
        assert_eq!(frame.command, "MESSAGE");
        assert_eq!(
            frame.header("subscription"),
            Some("a:b"),
            "escaped id round trip"
        );
        if frame.header("notice").is_none() {
            break frame;
        }
    };

    assert_eq!(message.header("destination"), Some("/topic/airline:AFR"));
    assert_eq!(message.header("content-type"), Some("application/json"));
    let length: usize = message.header("content-length").unwrap().parse().unwrap();
    assert_eq!(length, message.body.len());
    let body: serde_json::Value = serde_json::from_slice(&message.body).unwrap();
    assert_eq!(body["airline_icao"], "AFR");
    assert!(message.header("partition").is_some() && message.header("offset").is_some());

    // Two frames in one message: an unsubscribe and a disconnect, each with a receipt.
    stomp
        .raw("UNSUBSCRIBE\nid:a\\cb\nreceipt:r2\n\n\0DISCONNECT\nreceipt:r3\n\n\0")
        .await;
    assert_eq!(stomp.reply().await.header("receipt-id"), Some("r2"));
    let last = stomp.reply().await;
    assert_eq!(
        (last.command.as_str(), last.header("receipt-id")),
        ("RECEIPT", Some("r3"))
    );
    assert_eq!(stomp.closed().await, Some(1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgements_follow_the_ack_mode() {
    let service = service("stomp-ack");
    let mut stomp = Stomp::connected(&service.addr).await;
    stomp
        .raw("SUBSCRIBE\nid:c\ndestination:/topic/all\nack:client\nfrom:0:0,1:0,2:0,3:0\n\n\0")
        .await;
    let mut acks = Vec::new();
    while acks.len() < 3 {
        let frame = stomp.frame().await;
        if frame.command == "MESSAGE" && frame.header("notice").is_none() {
            acks.push(
                frame
                    .header("ack")
                    .expect("ack header in client mode")
                    .to_string(),
            );
        }
    }
    // Cumulative: acknowledging the third covers the first two, which are then unknown.
    stomp
        .raw(&format!("ACK\nid:{}\nreceipt:a3\n\n\0", acks[2]))
        .await;
    assert_eq!(stomp.reply().await.header("receipt-id"), Some("a3"));
    stomp
        .raw(&format!("NACK\nid:{}\nreceipt:n1\n\n\0", acks[0]))
        .await;
    let error = stomp.error().await;
    assert!(
        error
            .header("message")
            .unwrap()
            .contains("no unacknowledged message"),
        "{error:?}"
    );
    assert_eq!(error.header("receipt-id"), Some("n1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_error_frames_that_close() {
    let service = service("stomp-errors");
    let cases = [
        (
            "SEND\ndestination:/topic/all\n\nhello\0",
            "SEND is not supported",
        ),
        (
            "BEGIN\ntransaction:t1\n\n\0",
            "transactions are not supported",
        ),
        (
            "SUBSCRIBE\nid:x\ndestination:/topic/nonsense\nreceipt:s1\n\n\0",
            "unknown topic",
        ),
        ("SUBSCRIBE\ndestination:/topic/all\n\n\0", "needs an id"),
        (
            "SUBSCRIBE\nid:x\ndestination:/topic/all\nack:sometimes\n\n\0",
            "unknown ack mode",
        ),
        ("FROB\n\n\0", "unknown command"),
        (
            "SUBSCRIBE\nid:x\ndestination:/topic/all\nbad\\theader:1\n\n\0",
            "escape",
        ),
    ];
    for (frame, needle) in cases {
        let mut stomp = Stomp::connected(&service.addr).await;
        stomp.raw(frame).await;
        let error = stomp.error().await;
        let message = error.header("message").unwrap_or_default();
        assert!(message.contains(needle), "{frame:?}: {message:?}");
        if frame.contains("receipt:s1") {
            assert_eq!(error.header("receipt-id"), Some("s1"));
        }
    }

    // Before CONNECT: anything else is an error; no credential, or a bad one, too.
    for (frame, needle) in [
        (
            "SUBSCRIBE\nid:x\ndestination:/topic/all\n\n\0",
            "expected CONNECT",
        ),
        ("CONNECT\naccept-version:1.2\n\n\0", "no token"),
        (
            "CONNECT\naccept-version:1.2\npasscode:wrong\n\n\0",
            "unknown API key",
        ),
    ] {
        let mut stomp = Stomp::open(&service.addr, "/ws", Some("v12.stomp")).await;
        stomp.raw(frame).await;
        let message = stomp
            .error()
            .await
            .header("message")
            .unwrap_or_default()
            .to_string();
        assert!(message.contains(needle), "{frame:?}: {message:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_limits_are_enforced_on_both_sides() {
    let service = service("stomp-limits");
    // A body with NUL inside, announced by content-length, at just under the 4096-byte limit.
    let mut stomp = Stomp::connected(&service.addr).await;
    let head = "SUBSCRIBE\nid:n\ndestination:/topic/flight:ZZ99\nreceipt:ok\ncontent-length:";
    let body_len = 4096 - head.len() - 4 - 3 - 1; // digits, blank line, NUL
    let body = format!("a\0{}", "b".repeat(body_len - 2));
    stomp.raw(&format!("{head}{body_len}\n\n{body}\0")).await;
    assert_eq!(stomp.reply().await.header("receipt-id"), Some("ok"));

    let mut stomp = Stomp::connected(&service.addr).await;
    let big = "x".repeat(4096);
    stomp
        .raw(&format!(
            "SUBSCRIBE\nid:n\ndestination:/topic/all\ncontent-length:4096\n\n{big}\0"
        ))
        .await;
    let message = stomp
        .error()
        .await
        .header("message")
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("max_frame_bytes"), "{message}");

    let within: String = (0..15).map(|i| format!("h{i}:v\n")).collect();
    let mut stomp = Stomp::connected(&service.addr).await;
    stomp
        .raw(&format!("UNSUBSCRIBE\n{within}id:nothing\n\n\0"))
        .await;
    let error = stomp.error().await;
    assert!(
        error.header("message").unwrap().contains("no subscription"),
        "{error:?}"
    );
    let mut stomp = Stomp::connected(&service.addr).await;
    stomp
        .raw(&format!("UNSUBSCRIBE\n{within}h15:v\nid:nothing\n\n\0"))
        .await;
    let message = stomp
        .error()
        .await
        .header("message")
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("max_headers"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_connects_is_closed() {
    let service = service("stomp-timeout");
    let mut stomp = Stomp::open(&service.addr, "/stomp", None).await;
    let started = std::time::Instant::now();
    assert_eq!(stomp.closed().await, Some(1008));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_id_gets_its_own_subscription_and_every_receipt_in_order() {
    let service = service("stomp-reuse");
    let mut stomp = Stomp::connected(&service.addr).await;
    stomp
        .raw(concat!(
            "SUBSCRIBE\nid:a\ndestination:/topic/flight:XX1\nreceipt:r1\n\n\0",
            "UNSUBSCRIBE\nid:a\nreceipt:r2\n\n\0",
            "SUBSCRIBE\nid:a\ndestination:/topic/all\nreceipt:r3\n\n\0",
            "SUBSCRIBE\nid:a\ndestination:/topic/all\nreceipt:r4\n\n\0",
        ))
        .await;
    let receipts: Vec<String> = [
        stomp.reply().await,
        stomp.reply().await,
        stomp.reply().await,
    ]
    .iter()
    .map(|f| {
        format!(
            "{}:{}",
            f.command,
            f.header("receipt-id").unwrap_or_default()
        )
    })
    .collect();
    assert_eq!(receipts, ["RECEIPT:r1", "RECEIPT:r2", "RECEIPT:r3"]);
    // The duplicate is refused with its own receipt id.
    let error = stomp.error().await;
    assert_eq!(error.header("receipt-id"), Some("r4"), "{error:?}");

    let mut stomp = Stomp::connected(&service.addr).await;
    stomp
        .raw("SUBSCRIBE\nid:b\ndestination:/topic/all\nfrom:0:0,1:0,2:0,3:0\n\n\0")
        .await;
    let message = stomp.frame().await;
    assert_eq!(
        (message.command.as_str(), message.header("subscription")),
        ("MESSAGE", Some("b"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_the_version_cannot_write_back_are_refused_up_front() {
    let service = service("stomp-unwritable");
    let mut stomp = Stomp::open(&service.addr, "/ws", Some("v11.stomp")).await;
    stomp
        .raw("CONNECT\naccept-version:1.1\npasscode:demo-key\n\n\0")
        .await;
    assert_eq!(stomp.frame().await.header("version"), Some("1.1"));
    // STOMP 1.1 has no escape for a carriage return, so this id could never be sent back.
    stomp
        .raw("SUBSCRIBE\nid:a\r0\ndestination:/topic/all\n\n\0")
        .await;
    let error = stomp.error().await;
    assert!(
        error.header("message").unwrap().contains("carriage return"),
        "{error:?}"
    );
}
