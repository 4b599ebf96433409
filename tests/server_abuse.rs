//! The server under abuse, with raw TCP clients on 127.0.0.1: slow headers,
//! slow bodies, huge declared bodies, more half-open sockets than slots, and
//! SIGTERM with a stalled client.

use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "support/running.rs"]
mod running;
use running::{start_with, SECRET};

/// What the server sent until it closed the connection, or `None` if it
/// kept it open past `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&got).into_owned())
}

/// The first response's status line and whatever followed, read until `within`.
async fn read_response(stream: &mut TcpStream, within: Duration) -> String {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn slow_headers_are_cut_by_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), 100, |c| {
        c.server.header_timeout_secs = 1;
    })
    .await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    stream
        .write_all(b"POST /v1/inquiries HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthoriz")
        .await
        .unwrap();
    let closed = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the server kept a stalled header open");
    // A connection that sends nothing at all is cut too.
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    assert!(read_until_closed(&mut silent, Duration::from_secs(5))
        .await
        .is_some());
    s.stop().await;
}

#[tokio::test]
async fn slow_bodies_are_cut_by_the_request_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), 100, |c| {
        c.server.request_timeout_secs = 1;
    })
    .await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /v1/inquiries HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {SECRET}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"text\": "
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let reply = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server kept a stalled body open");
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("\"request_timeout\""), "{reply}");
    s.stop().await;
}

#[tokio::test]
async fn huge_declared_bodies_are_refused_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), 100, |_| {}).await;
    let send = |auth: String| {
        let addr = s.addr;
        async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let head = format!(
                "POST /v1/inquiries HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\
                 Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{{\"te"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            // No more of the body is ever sent: a reply proves it was not awaited.
            read_response(&mut stream, Duration::from_secs(5)).await
        }
    };
    let reply = send(String::new()).await;
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
    let reply = send("Authorization: Bearer not-a-token\r\n".into()).await;
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
    let reply = send(format!("Authorization: Bearer {SECRET}\r\n")).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");

    // A chunked body with no declared length is cut at the limit.
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let chunk = "x".repeat(8192);
    let req = format!(
        "POST /v1/inquiries HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {SECRET}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n",
        chunk.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let reply = read_response(&mut stream, Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    s.stop().await;
}

#[tokio::test]
async fn half_open_sockets_cannot_lock_callers_out() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), 100, |c| {
        c.server.max_connections = 8;
        c.server.header_timeout_secs = 1;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(s.addr).await.unwrap();
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHo").await;
        held.push(stream);
    }
    // Every slot is taken by a stalled client; the header timeout frees them.
    let r = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .expect("a normal request got in once the timeouts freed slots");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    drop(held);
    s.stop().await;
}

#[tokio::test]
async fn quiet_connections_are_closed_by_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), 100, |c| {
        c.server.header_timeout_secs = 120;
        c.server.idle_timeout_secs = 1;
    })
    .await;
    // Silent from the start.
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    assert!(read_until_closed(&mut silent, Duration::from_secs(5))
        .await
        .is_some());
    // Quiet after a keep-alive request was answered.
    let mut kept = TcpStream::connect(s.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let reply = read_until_closed(&mut kept, Duration::from_secs(5))
        .await
        .expect("the server kept a quiet connection open");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    s.stop().await;
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), 100, |c| c.server.drain_secs = 30).await;
    let body = r#"{"text": "spend yesterday"}"#;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /v1/inquiries HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {SECRET}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..5]
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.trigger_shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(&body.as_bytes()[5..]).await.unwrap();
    // Answered, then closed rather than kept alive.
    let reply = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the connection was closed after the answer");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    s.stop().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `costbot serve` as a user runs it, with `config` as its costbot.toml and
/// at most `open_files` file descriptors; returns once `/healthz` answers.
async fn spawn_serve(
    dir: &std::path::Path,
    config: &str,
    open_files: u32,
) -> (std::process::Child, u16) {
    let config_path = dir.join("costbot.toml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let mut child = Command::new("sh")
        .args([
            "-c",
            &format!("ulimit -n {open_files} && exec \"$0\" serve --bind 127.0.0.1:{port}"),
            env!("CARGO_BIN_EXE_costbot"),
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("COSTBOT_DATA_DIR", dir)
        .env("COSTBOT_CONFIG", &config_path)
        .env("COSTBOT_RETRIEVAL_MODE", "lexical")
        .env("COSTBOT_WEBHOOK_TOKENS", SECRET)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..600 {
        if let Ok(r) = reqwest::get(&url).await {
            if r.status().is_success() {
                return (child, port);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("costbot serve exited early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("costbot serve did not come up");
}

#[tokio::test]
async fn hundreds_of_half_sent_requests_under_a_low_open_files_limit() {
    let dir = tempfile::tempdir().unwrap();
    // The reported case: 256 file descriptors, 300 half-sent requests.
    let (mut child, port) =
        spawn_serve(dir.path(), "[server]\nheader_timeout_secs = 1\n", 256).await;
    let mut held = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHo").await;
        held.push(stream);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let health = client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    // The database is still reachable: the connections did not take its descriptors.
    let ready = client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await;
    let _ = child.kill();
    let _ = child.wait();
    drop(held);
    assert_eq!(health.expect("a caller got in").status(), 200);
    assert_eq!(ready.expect("a caller got in").status(), 200);
}

#[tokio::test]
async fn sigterm_exits_zero_within_the_drain_despite_stalled_clients() {
    let dir = tempfile::tempdir().unwrap();
    // Long timeouts, so only the drain can end the stalled connections.
    let (mut child, port) = spawn_serve(
        dir.path(),
        "[server]\ndrain_secs = 1\nheader_timeout_secs = 120\nrequest_timeout_secs = 120\nidle_timeout_secs = 120\n",
        1024,
    )
    .await;

    // One client stalls mid-header, another mid-body with a request in flight.
    let mut stalled_head = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stalled_head
        .write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let mut stalled_body = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stalled_body
        .write_all(
            format!(
                "POST /v1/inquiries HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {SECRET}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"te"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The shell's built-in kill: present wherever `sh` is, procps or not.
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    // drain_secs (1) plus a generous margin for a loaded machine.
    let mut status = None;
    for _ in 0..150 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("costbot serve was still running 15 s after SIGTERM");
    };
    assert!(status.success(), "{status}");
    drop((stalled_head, stalled_body));
}
