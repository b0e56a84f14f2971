//! Connection-level attacks over real TCP: silence, slowloris heads, idle keep-alive and h2c
//! connections, filling every slot, and one address opening too many connections. Each test
//! checks both that the attack is cut and that it is not cut before its time.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    stream.read_exact(&mut frame).await.unwrap();
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

/// An h2c client's opening, as curl writes it: the preface, an empty SETTINGS frame and a
/// connection WINDOW_UPDATE in one write, the request in a second, and the SETTINGS ACK only
/// once the server's SETTINGS have arrived.
const H2C_OPENING: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0\0\0\x04\x08\0\0\0\0\0\0\x0f\0\x01";
/// HEADERS on stream 1, END_STREAM | END_HEADERS: `GET http://a/healthz` in HPACK, no Huffman.
const H2C_GET_HEALTHZ: &[u8] = b"\0\0\x0f\x01\x05\0\0\0\x01\x82\x86\x44\x08/healthz\x41\x01a";
const H2C_SETTINGS_ACK: &[u8] = b"\0\0\0\x04\x01\0\0\0\0";
const SETTINGS: u8 = 0x4;
const HEADERS: u8 = 0x1;

/// Reads frames until one of `kind` whose flags `wanted` accepts has arrived.
fn read_frames_until(stream: &mut std::net::TcpStream, kind: u8, wanted: impl Fn(u8) -> bool) {
    use std::io::Read;
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head).unwrap();
        let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).unwrap();
        if head[3] == kind && wanted(head[4]) {
            return;
        }
    }
}

/// How long a fresh h2c connection opened as curl opens one waits for its answer's HEADERS.
/// A blocking client on a thread of its own, so that the server answers as the client's
/// writes arrive rather than when the test's runtime gets round to it.
fn h2c_answer_time(addr: &str) -> Duration {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let since = std::time::Instant::now();
    stream.write_all(H2C_OPENING).unwrap();
    stream.write_all(H2C_GET_HEALTHZ).unwrap();
    read_frames_until(&mut stream, SETTINGS, |flags| flags & 0x1 == 0);
    stream.write_all(H2C_SETTINGS_ACK).unwrap();
    read_frames_until(&mut stream, HEADERS, |_| true);
    since.elapsed()
}

/// Nagle's algorithm (RFC 896) holds a small write back while an earlier one is
/// unacknowledged, and a client delays its ACK by up to 40 ms or more (RFC 1122 §4.2.3.2):
/// without TCP_NODELAY, an h2c answer written after two small frames of the server's waited
/// for that ACK on about half of fresh connections.
#[tokio::test]
async fn an_h2c_answer_is_not_held_back_for_the_clients_delayed_ack() {
    let (_app, addr) = spawn(&[]).await;
    let held_back = Duration::from_millis(35);
    let mut slow = 0;
    for _ in 0..20 {
        let client = addr.clone();
        let waited = tokio::task::spawn_blocking(move || h2c_answer_time(&client))
            .await
            .unwrap();
        if waited >= held_back {
            slow += 1;
        }
    }
    // Without TCP_NODELAY all 20 wait; a loaded machine may delay a few.
    assert!(
        slow < 10,
        "{slow} of 20 fresh h2c connections waited {held_back:?} or more for their answer"
    );
}

/// A new h2c connection (prior knowledge) with hyper's HTTP/2 client, driven in the background.
async fn h2c_client(
    addr: &str,
) -> hyper::client::conn::http2::SendRequest<http_body_util::Channel<bytes::Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let executor = hyper_util::rt::TokioExecutor::new();
    let (sender, connection) =
        hyper::client::conn::http2::handshake(executor, hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    sender
}

/// A request on an h2c connection whose body stays open until `body` is dropped (or ends).
fn open_request(
    addr: &str,
    method: hyper::Method,
    path: &str,
) -> (
    http_body_util::channel::Sender<bytes::Bytes>,
    hyper::Request<http_body_util::Channel<bytes::Bytes>>,
) {
    let (body, channel) = http_body_util::Channel::new(1);
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(channel)
        .unwrap();
    (body, request)
}

/// Over HTTP/2 one connection can carry many requests at once, each holding up to 64 KiB of
/// body: each one in flight beyond the connection's first takes a place in its address's
/// count, so that an address holds no more requests (and bodies) than it could over HTTP/1.1.
/// With a cap of 3, a connection carrying 3 requests gets 503 for a 4th, and is served again
/// once one of them ends.
#[tokio::test]
async fn an_h2c_connection_carries_no_more_requests_at_once_than_its_address_may_open_connections()
{
    let (app, addr) = spawn(&[("TOKENMINT_SERVER__MAX_CONNECTIONS_PER_ADDRESS", "3")]).await;
    let sender = h2c_client(&addr).await;
    let mut held = hold_token_requests(&sender, &addr, 3).await;
    let refused = get_over(&sender, &addr, "/healthz").await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body = http_body_util::BodyExt::collect(refused.into_body())
        .await
        .unwrap();
    let error: serde_json::Value = serde_json::from_slice(&body.to_bytes()).unwrap();
    assert_eq!(error["error"], "temporarily_unavailable", "{error}");
    // One request ends (its body ends; the grant refuses it): its place comes back.
    let (body, answer) = held.pop().unwrap();
    drop(body);
    assert_eq!(answer.await.unwrap().unwrap().status(), 400);
    assert_eq!(get_over(&sender, &addr, "/healthz").await.status(), 200);
    // Once every request has ended, every place is back, no more and no fewer: three held
    // again, and a fourth refused.
    release(held).await;
    let again = hold_token_requests(&sender, &addr, 3).await;
    assert_eq!(get_over(&sender, &addr, "/healthz").await.status(), 503);
    release(again).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("tokenmint_connections_refused_total{reason=\"streams\"} 2"),
        "{metrics}"
    );
}

/// A request whose body never ends is answered 408 at the request timeout (10 s), and its
/// stream slot comes back with the answer: with a cap of 3, a connection whose three requests
/// were cut that way carries three again, and refuses a fourth.
#[tokio::test]
async fn an_h2c_request_cut_at_the_request_timeout_gives_its_stream_slot_back() {
    let (_app, addr) = spawn(&[("TOKENMINT_SERVER__MAX_CONNECTIONS_PER_ADDRESS", "3")]).await;
    let sender = h2c_client(&addr).await;
    let held = hold_token_requests(&sender, &addr, 3).await;
    assert_eq!(get_over(&sender, &addr, "/healthz").await.status(), 503);
    let mut open_bodies = Vec::new();
    for (body, answer) in held {
        open_bodies.push(body);
        let answer = tokio::time::timeout(Duration::from_secs(20), answer)
            .await
            .expect("answered at the request timeout")
            .unwrap()
            .unwrap();
        assert_eq!(answer.status(), 408);
    }
    assert_eq!(get_over(&sender, &addr, "/healthz").await.status(), 200);
    let again = hold_token_requests(&sender, &addr, 3).await;
    assert!(
        again.iter().all(|(_, answer)| !answer.is_finished()),
        "three requests are in flight again: no place was kept by a request cut at the timeout"
    );
    assert_eq!(get_over(&sender, &addr, "/healthz").await.status(), 503);
    release(again).await;
    drop(open_bodies);
}

/// A held request: the sender of its open body, and its answer to come.
type Held = (
    http_body_util::channel::Sender<bytes::Bytes>,
    tokio::task::JoinHandle<hyper::Result<hyper::Response<hyper::body::Incoming>>>,
);

/// `count` token requests on the h2c connection whose bodies stay open, each in flight on the
/// server once this returns.
async fn hold_token_requests(
    sender: &hyper::client::conn::http2::SendRequest<http_body_util::Channel<bytes::Bytes>>,
    addr: &str,
    count: usize,
) -> Vec<Held> {
    let mut held = Vec::new();
    for _ in 0..count {
        let (mut body, request) = open_request(addr, hyper::Method::POST, "/api/oauth/token");
        body.send_data(bytes::Bytes::from_static(b"grant_type="))
            .await
            .unwrap();
        held.push((body, tokio::spawn(sender.clone().send_request(request))));
    }
    // hyper's client sends the streams in order and the server takes them in order; the
    // pause lets the bodies' first bytes arrive too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    held
}

/// Ends each held request's body and waits for its answer (the grant refuses it: 400).
async fn release(held: Vec<Held>) {
    for (body, answer) in held {
        drop(body);
        assert_eq!(answer.await.unwrap().unwrap().status(), 400);
    }
}

/// A GET with an empty body over the h2c connection.
async fn get_over(
    sender: &hyper::client::conn::http2::SendRequest<http_body_util::Channel<bytes::Bytes>>,
    addr: &str,
    path: &str,
) -> hyper::Response<hyper::body::Incoming> {
    let (done, request) = open_request(addr, hyper::Method::GET, path);
    drop(done);
    sender.clone().send_request(request).await.unwrap()
}

/// Stream slots are apart from connection slots: with every connection slot taken (one idle
/// HTTP/1.1 connection and one h2c connection), the h2c connection still carries a second
/// request at once, rather than being answered 503 because of other connections.
#[tokio::test]
async fn an_h2c_connection_carries_several_requests_while_every_connection_slot_is_taken() {
    let (_app, addr) = spawn(&[("TOKENMINT_SERVER__MAX_CONNECTIONS", "2")]).await;
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(get(&mut idle, "/healthz").await.status, 200);
    let sender = h2c_client(&addr).await;
    let held = hold_token_requests(&sender, &addr, 1).await;
    assert_eq!(get_over(&sender, &addr, "/healthz").await.status(), 200);
    release(held).await;
}

/// Over HTTP/1.1 a connection carries one request at a time, even pipelined: with a cap of one
/// connection per address, three requests sent in one write get three answers, none a 503.
#[tokio::test]
async fn pipelined_http1_requests_are_never_refused_for_want_of_a_stream_slot() {
    let (_app, addr) = spawn(&[
        ("TOKENMINT_SERVER__MAX_CONNECTIONS_PER_ADDRESS", "1"),
        ("TOKENMINT_SERVER__MAX_CONNECTIONS", "1"),
    ])
    .await;
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let one = "GET /healthz HTTP/1.1\r\nHost: tokenmint.test\r\n\r\n";
    stream.write_all(one.repeat(3).as_bytes()).await.unwrap();
    let mut answers = String::new();
    let mut buf = [0u8; 4096];
    while answers.matches("HTTP/1.1 ").count() < 3 {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("three answers within 5 s")
            .unwrap();
        assert!(read > 0, "closed after: {answers}");
        answers.push_str(&String::from_utf8_lossy(&buf[..read]));
    }
    assert_eq!(answers.matches("HTTP/1.1 200 OK").count(), 3, "{answers}");
}
