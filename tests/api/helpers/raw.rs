//! Raw HTTP over TCP, for the tests that must send what no client library would: silence, a
//! head one byte at a time, a missing or doubled Host.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A response read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// The head, lowercased, for `contains` checks on headers.
    pub head: String,
    pub body: String,
}

impl RawResponse {
    /// The `content-type` header's value, or "".
    pub fn content_type(&self) -> &str {
        self.head
            .lines()
            .find_map(|line| line.strip_prefix("content-type: "))
            .unwrap_or_default()
    }
}

/// `host:port` of a base URL.
pub fn address(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// Sends `request` as is and reads one response (head, then `Content-Length` bytes of body).
pub async fn exchange(stream: &mut TcpStream, request: &[u8]) -> RawResponse {
    stream.write_all(request).await.expect("request sent");
    read_response(stream).await
}

/// Reads one response; panics if none comes within 5 seconds.
pub async fn read_response(stream: &mut TcpStream) -> RawResponse {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(5);
    let head_end = loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .expect("a response within 5s")
            .expect("readable");
        assert!(n > 0, "closed before a whole head: {bytes:?}");
        bytes.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().expect("a length"));
    while bytes.len() < head_end + length {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .expect("a whole body within 5s")
            .expect("readable");
        assert!(n > 0, "closed before the whole body");
        bytes.extend_from_slice(&buf[..n]);
    }
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    RawResponse {
        status,
        head,
        body: String::from_utf8_lossy(&bytes[head_end..head_end + length]).into_owned(),
    }
}

/// `GET path` on a kept-alive connection.
pub async fn get(stream: &mut TcpStream, path: &str) -> RawResponse {
    let request = format!("GET {path} HTTP/1.1\r\nHost: tokenmint.test\r\n\r\n");
    exchange(stream, request.as_bytes()).await
}

/// Reads (and discards) until the server closes the connection, and says how long after
/// `since` it did; panics if it is still open `bound` after `since`. A reset counts as closed.
pub async fn closed_after<R: AsyncRead + Unpin>(
    stream: &mut R,
    since: Instant,
    bound: Duration,
) -> Duration {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(since + bound, stream.read(&mut buf)).await {
            Err(_) => panic!("the connection is still open after {bound:?}"),
            Ok(Ok(0) | Err(_)) => return since.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}
