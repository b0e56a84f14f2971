//! Connection-level attacks over real TCP: silence, slowloris heads, idle keep-alive and h2c
//! connections, filling every slot, and one address opening too many connections. Each test
//! checks both that the attack is cut and that it is not cut before its time.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::helpers::raw::{address, closed_after, get, read_response};
use crate::helpers::{Backend, TestApp};

const HEADER_READ_TIMEOUT: &str = "TOKENMINT_SERVER__HEADER_READ_TIMEOUT";
const IDLE_TIMEOUT: &str = "TOKENMINT_SERVER__IDLE_TIMEOUT";
/// How long past its timeout a connection may take to be closed (a loaded CI machine).
const SLACK: Duration = Duration::from_secs(4);
/// How much earlier than its timeout a close may be seen (timer and clock granularity).
const EARLY: Duration = Duration::from_millis(100);

async fn spawn(env: &[(&str, &str)]) -> (TestApp, String) {
    let app = TestApp::spawn_with(Backend::Sqlite, env).await;
    let addr = address(&app.base);
    (app, addr)
}

/// Whether `/metrics` counts one connection cut for `reason`, soon.
async fn counted_cut(app: &TestApp, reason: &str) -> bool {
    let line = format!("tokenmint_connections_cut_total{{reason=\"{reason}\"}} 1");
    app.eventually(Duration::from_secs(2), || async {
        let metrics = app.get("/metrics").await.text().await.unwrap_or_default();
        metrics.contains(&line)
    })
    .await
}

fn assert_closed_in_time(after: Duration, timeout: Duration, what: &str) {
    assert!(
        after + EARLY >= timeout,
        "{what}: closed after {after:?}, before its {timeout:?}"
    );
    assert!(
        after < timeout + SLACK,
        "{what}: closed only after {after:?}"
    );
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_header_read_timeout() {
    let (app, addr) = spawn(&[(HEADER_READ_TIMEOUT, "1s"), (IDLE_TIMEOUT, "30s")]).await;
    let since = Instant::now();
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let after = closed_after(&mut silent, since, Duration::from_secs(1) + SLACK).await;
    assert_closed_in_time(after, Duration::from_secs(1), "a silent connection");
    assert!(counted_cut(&app, "silent").await);
}

#[tokio::test]
async fn a_slowloris_head_is_cut_after_header_read_timeout() {
    let (app, addr) = spawn(&[(HEADER_READ_TIMEOUT, "1s"), (IDLE_TIMEOUT, "30s")]).await;
    let since = Instant::now();
    let stream = TcpStream::connect(&addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // One byte every 200 ms: never idle, never a whole head.
    let drip = tokio::spawn(async move {
        let head = b"GET /healthz HTTP/1.1\r\nHost: tokenmint.test\r\nX-Slow: ";
        for byte in head.iter().chain(std::iter::repeat(&b'a')) {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut buf = [0u8; 1024];
    let after = loop {
        let read = tokio::io::AsyncReadExt::read(&mut reader, &mut buf);
        match tokio::time::timeout_at(since + Duration::from_secs(1) + SLACK, read).await {
            Err(_) => panic!("a slowloris head is still being read"),
            Ok(Ok(0) | Err(_)) => break since.elapsed(),
            Ok(Ok(_)) => {}
        }
    };
    drip.abort();
    assert_closed_in_time(after, Duration::from_secs(1), "a slowloris head");
    assert!(counted_cut(&app, "header_timeout").await);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_idle_timeout() {
    // header_read_timeout, which in hyper also bounds the wait for the next request, is set
    // long, so what closes the connection is idle_timeout.
    let (_app, addr) = spawn(&[(HEADER_READ_TIMEOUT, "10s"), (IDLE_TIMEOUT, "1s")]).await;
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(get(&mut stream, "/healthz").await.status, 200);
    let since = Instant::now();
    let after = closed_after(&mut stream, since, Duration::from_secs(1) + SLACK).await;
    assert_closed_in_time(
        after,
        Duration::from_secs(1),
        "an idle kept-alive connection",
    );
}

#[tokio::test]
async fn a_kept_alive_connection_waits_no_longer_than_header_read_timeout_for_its_next_request() {
    let (_app, addr) = spawn(&[(HEADER_READ_TIMEOUT, "1s"), (IDLE_TIMEOUT, "30s")]).await;
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(get(&mut stream, "/healthz").await.status, 200);
    let since = Instant::now();
    let after = closed_after(&mut stream, since, Duration::from_secs(1) + SLACK).await;
    assert_closed_in_time(after, Duration::from_secs(1), "a kept-alive connection");
}

/// Each request on a kept-alive connection moves both deadlines: a connection busier than its
/// timeouts is never cut, however long it lives, and once it falls quiet it is cut a timeout
/// after its last answer, not after its first (the connection keeps one head timer, moved to
/// each new deadline, and its watchdog is never woken by a request).
#[tokio::test]
async fn a_busy_kept_alive_connection_outlives_its_timeouts_and_is_cut_after_its_last_request() {
    for (header, idle, what, reason) in [
        ("1s", "30s", "header_read_timeout", "header_timeout"),
        ("30s", "1s", "idle_timeout", "idle"),
    ] {
        let (app, addr) = spawn(&[(HEADER_READ_TIMEOUT, header), (IDLE_TIMEOUT, idle)]).await;
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        let opened = Instant::now();
        // Three seconds of requests 600 ms apart: three times the 1 s timeout.
        while opened.elapsed() < Duration::from_secs(3) {
            let response = get(&mut stream, "/healthz").await;
            assert_eq!(
                response.status,
                200,
                "{what}: cut {:?} after opening",
                opened.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
        assert_eq!(get(&mut stream, "/healthz").await.status, 200);
        let since = Instant::now();
        let after = closed_after(&mut stream, since, Duration::from_secs(1) + SLACK).await;
        assert_closed_in_time(after, Duration::from_secs(1), what);
        assert!(counted_cut(&app, reason).await, "{what}: cut as `{reason}`");
    }
}

#[tokio::test]
async fn an_h2c_connection_that_sends_only_the_preface_is_cut_after_idle_timeout() {
    let (_app, addr) = spawn(&[(HEADER_READ_TIMEOUT, "10s"), (IDLE_TIMEOUT, "1s")]).await;
    let since = Instant::now();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    // The server answers the preface with its SETTINGS frame (type 0x4): it speaks h2c.
    let mut frame = [0u8; 9];
    tokio::io::AsyncReadExt::read_exact(&mut stream, &mut frame)
        .await
        .unwrap();
    assert_eq!(frame[3], 0x4, "a SETTINGS frame: {frame:?}");
    let after = closed_after(&mut stream, since, Duration::from_secs(1) + SLACK).await;
    assert_closed_in_time(
        after,
        Duration::from_secs(1),
        "a preface-only h2c connection",
    );
}

/// The review's attack: an h2c connection kept "busy" with PING frames, never a request.
#[tokio::test]
async fn an_h2c_connection_that_only_pings_is_cut_after_idle_timeout() {
    let (_app, addr) = spawn(&[(HEADER_READ_TIMEOUT, "10s"), (IDLE_TIMEOUT, "1s")]).await;
    let since = Instant::now();
    let stream = TcpStream::connect(&addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    // Preface, an empty SETTINGS frame, then a PING (type 0x6, 8 bytes) every 200 ms.
    write
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let pinger = tokio::spawn(async move {
        let ping = *b"\0\0\x08\x06\0\0\0\0\0pingping";
        while write.write_all(&ping).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let after = closed_after(&mut read, since, Duration::from_secs(1) + SLACK).await;
    pinger.abort();
    assert_closed_in_time(after, Duration::from_secs(1), "a pinging h2c connection");
}

#[tokio::test]
async fn slots_held_by_silent_sockets_come_back_once_they_are_cut() {
    let (_app, addr) = spawn(&[
        ("TOKENMINT_SERVER__MAX_CONNECTIONS", "4"),
        (HEADER_READ_TIMEOUT, "1s"),
        (IDLE_TIMEOUT, "30s"),
    ])
    .await;
    let since = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut waiting = TcpStream::connect(&addr).await.unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: tokenmint.test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(
        Duration::from_millis(400),
        tokio::io::AsyncReadExt::read(&mut waiting, &mut buf),
    )
    .await;
    assert!(early.is_err(), "every slot is held by a silent socket");
    assert_eq!(read_response(&mut waiting).await.status, 200);
    assert!(
        since.elapsed() + EARLY >= Duration::from_secs(1),
        "served only once the silent sockets were cut"
    );
    for mut socket in silent {
        closed_after(&mut socket, since, Duration::from_secs(1) + SLACK).await;
    }
}

#[tokio::test]
async fn past_the_per_address_cap_a_connection_is_closed_at_once() {
    let (_app, addr) = spawn(&[
        ("TOKENMINT_SERVER__MAX_CONNECTIONS_PER_ADDRESS", "3"),
        (HEADER_READ_TIMEOUT, "10s"),
        (IDLE_TIMEOUT, "30s"),
    ])
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        assert_eq!(get(&mut stream, "/healthz").await.status, 200);
        open.push(stream);
    }
    let since = Instant::now();
    let mut fourth = TcpStream::connect(&addr).await.unwrap();
    let _ = fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: tokenmint.test\r\n\r\n")
        .await;
    let after = closed_after(&mut fourth, since, Duration::from_secs(2)).await;
    assert!(after < Duration::from_secs(1), "closed at once: {after:?}");
    for stream in &mut open {
        assert_eq!(get(stream, "/healthz").await.status, 200, "the first three");
    }
    let metrics = get(&mut open[0], "/metrics").await.body;
    assert!(
        metrics.contains("tokenmint_connections_refused_total{reason=\"per_address\"} 1"),
        "{metrics}"
    );
    drop(open.pop());
    // The server sees the close, and the place comes back.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut next = TcpStream::connect(&addr).await.unwrap();
        let request = b"GET /healthz HTTP/1.1\r\nHost: tokenmint.test\r\n\r\n";
        if next.write_all(request).await.is_ok() {
            let mut buf = [0u8; 16];
            let read = tokio::io::AsyncReadExt::read(&mut next, &mut buf).await;
            if matches!(read, Ok(n) if n > 0) {
                assert!(buf.starts_with(b"HTTP/1.1 200"), "{buf:?}");
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "a closed connection's place came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
