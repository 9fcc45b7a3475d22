//! A minimal HTTP/1.1 GET for tests of the daemons' `/healthz`, `/readyz` and
//! `/metrics`, and a free local port to give a daemon's `--http-addr`.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code (200, 503, ...).
    pub status: u16,
    /// The body as text.
    pub body: String,
}

/// `GET path` on `addr` with `Connection: close`; `None` if nothing answers there
/// (not listening yet, or any I/O error).
pub async fn http_get(addr: SocketAddr, path: &str) -> Option<HttpResponse> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(HttpResponse {
        status,
        body: body.to_owned(),
    })
}

/// A local address with a port that was free a moment ago, for a daemon's
/// `--http-addr` (the daemon binds it itself).
pub fn free_local_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("its address")
}

/// The value of the sample `series` (name and labels exactly as rendered, e.g.
/// `bytebot_messages_sent_total{daemon="gateway-discord"}`) in a Prometheus text
/// exposition, if present.
pub fn metric_value(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// Polls `GET path` until it answers `expected` (within [`crate::PATIENCE`]); that
/// response, or an error with the last one seen.
pub async fn wait_for_status(
    addr: SocketAddr,
    path: &str,
    expected: u16,
) -> Result<HttpResponse, String> {
    let deadline = tokio::time::Instant::now() + crate::PATIENCE;
    loop {
        let response = http_get(addr, path).await;
        if let Some(response) = response.as_ref().filter(|r| r.status == expected) {
            return Ok(response.clone());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{path} never answered {expected}; last: {response:?}"
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Scrapes `/metrics` until the sample `series` (as for [`metric_value`]) is at least
/// `at_least` (within [`crate::PATIENCE`]); that exposition, or an error with the last
/// one seen.
pub async fn scrape_until(addr: SocketAddr, series: &str, at_least: f64) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + crate::PATIENCE;
    loop {
        let body = http_get(addr, "/metrics")
            .await
            .map(|response| response.body)
            .unwrap_or_default();
        if metric_value(&body, series).is_some_and(|value| value >= at_least) {
            return Ok(body);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("{series} never reached {at_least}:\n{body}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
