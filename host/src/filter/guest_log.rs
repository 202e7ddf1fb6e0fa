//! What a filter writes, through the contract's `log` import or to WASI stdout and stderr,
//! goes to the host's log tagged with the tenant, under one rate limit per instance.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use super::Level;
use crate::telemetry::metrics;

/// Most lines one instance may log per second; the rest are counted and dropped.
const LINES_PER_SECOND: u32 = 20;
/// Longest line kept, in bytes; a longer one is cut (and an unterminated write is logged once
/// it reaches this length).
const LINE_MAX_BYTES: usize = 1024;

/// The log of one filter instance.
pub struct GuestLog {
    tenant: Arc<str>,
    budget: Mutex<Budget>,
}

struct Budget {
    window: Instant,
    lines: u32,
}

impl GuestLog {
    pub fn new(tenant: Arc<str>) -> Arc<Self> {
        Arc::new(Self {
            tenant,
            budget: Mutex::new(Budget {
                window: Instant::now(),
                lines: 0,
            }),
        })
    }

    /// Logs one line from `source` (`log`, `stdout` or `stderr`) unless over the budget.
    pub fn line(&self, level: Level, source: &'static str, message: &str) {
        {
            let mut budget = self.budget.lock().expect("log budget lock");
            if budget.window.elapsed().as_secs() >= 1 {
                budget.window = Instant::now();
                budget.lines = 0;
            }
            budget.lines += 1;
            if budget.lines > LINES_PER_SECOND {
                metrics()
                    .filter_log_lines_dropped
                    .with_label_values(&[&self.tenant])
                    .inc();
                return;
            }
        }
        let message = truncate(message);
        let tenant = &*self.tenant;
        match level {
            Level::Debug => tracing::debug!(tenant, source, line = message, "filter log"),
            Level::Info => tracing::info!(tenant, source, line = message, "filter log"),
            Level::Warn => tracing::warn!(tenant, source, line = message, "filter log"),
            Level::Error => tracing::error!(tenant, source, line = message, "filter log"),
        }
    }

    /// A WASI output stream (stdout at `info`, stderr at `warn`) into this log.
    pub fn stream(self: &Arc<Self>, source: &'static str) -> GuestStream {
        let level = if source == "stderr" {
            Level::Warn
        } else {
            Level::Info
        };
        GuestStream {
            log: self.clone(),
            source,
            level,
            pending: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

fn truncate(message: &str) -> &str {
    if message.len() <= LINE_MAX_BYTES {
        return message;
    }
    let cut = (0..=LINE_MAX_BYTES)
        .rev()
        .find(|&i| message.is_char_boundary(i))
        .unwrap_or(0);
    &message[..cut]
}

/// Line-buffered WASI output into a `GuestLog`.
#[derive(Clone)]
pub struct GuestStream {
    log: Arc<GuestLog>,
    source: &'static str,
    level: Level,
    pending: Arc<Mutex<Vec<u8>>>,
}

impl GuestStream {
    fn write_bytes(&self, bytes: &[u8]) {
        let mut pending = self.pending.lock().expect("stream lock");
        pending.extend_from_slice(bytes);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            self.emit(&line[..line.len() - 1]);
        }
        if pending.len() >= LINE_MAX_BYTES {
            let line = std::mem::take(&mut *pending);
            self.emit(&line);
        }
    }

    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        if !text.is_empty() {
            self.log.line(self.level, self.source, text);
        }
    }
}

impl IsTerminal for GuestStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for GuestStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestStream {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        let line = "é".repeat(LINE_MAX_BYTES);
        let cut = truncate(&line);
        assert!(cut.len() <= LINE_MAX_BYTES && cut.len() >= LINE_MAX_BYTES - 1);
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn the_budget_drops_lines_past_the_rate() {
        let log = GuestLog::new("budget-test".into());
        let dropped = || {
            metrics()
                .filter_log_lines_dropped
                .with_label_values(&["budget-test"])
                .get()
        };
        let before = dropped();
        for _ in 0..LINES_PER_SECOND + 5 {
            log.line(Level::Info, "log", "x");
        }
        assert_eq!(dropped() - before, 5);
    }

    #[test]
    fn streams_split_on_newlines_and_keep_partial_lines() {
        let log = GuestLog::new("stream-test".into());
        let stream = log.stream("stdout");
        stream.write_bytes(b"one\ntw");
        assert_eq!(&*stream.pending.lock().unwrap(), b"tw");
        stream.write_bytes(b"o\n");
        assert!(stream.pending.lock().unwrap().is_empty());
        stream.write_bytes(&vec![b'x'; LINE_MAX_BYTES]);
        assert!(stream.pending.lock().unwrap().is_empty());
    }
}
