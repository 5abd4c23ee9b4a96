//! Unit tests of the HTTP server over real loopback sockets: statuses, limits, paths, streams.

use super::*;

fn start() -> (ServerHandle, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let handler = move |request: &Request| {
        counted.fetch_add(1, Ordering::Relaxed);
        match request.path() {
            "/" => Response::ok("text/plain", b"hello".as_slice()),
            "/asset" => {
                Response::ok("text/css", b"p{}".as_slice()).with_header("Cache-Control", "max-age=60")
            }
            "/query" => Response::json(&serde_json::json!(request.query_pairs())),
            "/panic" => panic!("a handler bug"),
            "/events" => {
                let first = request.last_event_id().and_then(|id| id.parse().ok()).unwrap_or(0_u32);
                let mut n = first;
                Response::stream(move |_: Duration| {
                    n += 1;
                    if n > first + 3 {
                        return Next::End;
                    }
                    let data = format!("line {n}\nsecond");
                    Next::Event(Event { id: Some(n.to_string()), event: Some("tick".to_owned()), data })
                })
            }
            "/forever" => Response::stream(|wait: Duration| {
                thread::sleep(wait);
                Next::Pending
            }),
            _ => Response::not_found(),
        }
    };
    let server = Server::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind loopback");
    (server.serve(Arc::new(handler)).expect("start the server"), calls)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("set a timeout");
    stream
}

/// Sends `raw` and reads the reply until the server closes.
fn send(addr: SocketAddr, raw: &[u8]) -> String {
    let mut stream = connect(addr);
    stream.write_all(raw).expect("send the request");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("the server answers and closes");
    String::from_utf8(reply).expect("a UTF-8 reply")
}

fn get(addr: SocketAddr, target: &str) -> String {
    send(addr, format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
}

fn status(reply: &str) -> u16 {
    reply.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)?.parse().ok()).unwrap_or(0)
}

fn body(reply: &str) -> &str {
    reply.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

#[test]
fn get_answers_with_the_body_and_the_safety_headers() {
    let (server, _) = start();
    let reply = get(server.local_addr(), "/");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert_eq!(body(&reply), "hello");
    for header in [
        "Content-Type: text/plain\r\n",
        "Content-Length: 5\r\n",
        "Cache-Control: no-store\r\n",
        "X-Content-Type-Options: nosniff\r\n",
        "Content-Security-Policy: default-src 'self'; img-src 'self' data: blob:;",
        "Connection: close\r\n",
    ] {
        assert!(reply.contains(header), "{header:?} missing from {reply}");
    }
    let asset = get(server.local_addr(), "/asset");
    assert!(asset.contains("Cache-Control: max-age=60\r\n") && !asset.contains("no-store"), "{asset}");
    // HTTP/1.0 needs no Host header.
    assert_eq!(status(&send(server.local_addr(), b"GET / HTTP/1.0\r\n\r\n")), 200);
    assert_eq!(status(&get(server.local_addr(), "/missing")), 404);
}

#[test]
fn head_sends_the_headers_without_the_body() {
    let (server, _) = start();
    let reply = send(server.local_addr(), b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&reply), 200);
    assert!(reply.contains("Content-Length: 5\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\n"), "{reply}");
    let events = send(server.local_addr(), b"HEAD /events HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(events.contains("Content-Type: text/event-stream\r\n") && events.ends_with("\r\n\r\n"));
}

#[test]
fn other_methods_are_405_with_allow() {
    let (server, calls) = start();
    for raw in [
        &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"[..],
        b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let reply = send(server.local_addr(), raw);
        assert_eq!(status(&reply), 405, "{reply}");
        assert!(reply.contains("Allow: GET, HEAD\r\n"), "{reply}");
    }
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}

#[test]
fn malformed_requests_and_unsafe_paths_are_400_before_the_handler() {
    let (server, calls) = start();
    let requests: &[&[u8]] = &[
        b"hello\r\n\r\n",
        b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET /../Cargo.toml HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /assets/..%2f..%2fetc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /a\\b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET //etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /a%00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /a\0 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /?x=%zz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n folded: line\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",
    ];
    for raw in requests {
        let reply = send(server.local_addr(), raw);
        assert_eq!(status(&reply), 400, "{} -> {reply}", raw.escape_ascii());
    }
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    assert_eq!(status(&get(server.local_addr(), "/")), 200);
}

#[test]
fn too_large_headers_are_431_and_bodies_413() {
    let (server, calls) = start();
    let padding = format!("X-Padding: {}\r\n", "a".repeat(1000)).repeat(9);
    let raw = format!("GET / HTTP/1.1\r\nHost: x\r\n{padding}\r\n");
    assert_eq!(status(&send(server.local_addr(), raw.as_bytes())), 431);
    let body = b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    assert_eq!(status(&send(server.local_addr(), body)), 413);
    let chunked = b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    assert_eq!(status(&send(server.local_addr(), chunked)), 413);
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}

#[test]
fn a_truncated_request_does_not_break_the_server() {
    let (server, _) = start();
    for half in [&b"GET /ind"[..], b"GET / HTTP/1.1\r\nHost: x\r\n"] {
        let mut stream = connect(server.local_addr());
        stream.write_all(half).expect("send half a request");
        drop(stream);
        assert_eq!(status(&get(server.local_addr(), "/")), 200);
    }
}

#[test]
fn a_silent_client_does_not_block_others() {
    let (server, _) = start();
    let _silent = connect(server.local_addr());
    assert_eq!(status(&get(server.local_addr(), "/")), 200);
}

#[test]
fn query_values_are_decoded() {
    let (server, _) = start();
    let reply = get(server.local_addr(), "/query?since=12&x=a%20b+c&flag");
    let pairs: serde_json::Value = serde_json::from_str(body(&reply)).expect("JSON");
    assert_eq!(pairs, serde_json::json!([["since", "12"], ["x", "a b c"], ["flag", ""]]));
    let request = Request::new(Method::Get, "/query?since=12&since=13").expect("a valid target");
    assert_eq!((request.path(), request.query("since"), request.query("x")), ("/query", Some("12"), None));
    assert_eq!(Request::new(Method::Get, "/a/../b"), None);
}

#[test]
fn an_event_stream_carries_the_events_then_ends() {
    let (server, _) = start();
    let raw = b"GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1\r\n\r\n";
    let reply = send(server.local_addr(), raw);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.contains("Content-Type: text/event-stream\r\n") && !reply.contains("Content-Length"));
    let events: Vec<Vec<&str>> =
        body(&reply).split("\n\n").filter(|e| !e.is_empty()).map(|e| e.lines().collect()).collect();
    let ids: Vec<&str> = events.iter().filter_map(|e| e[0].strip_prefix("id: ")).collect();
    assert_eq!(ids, ["2", "3", "4"], "{reply}");
    assert_eq!(events[0][1..], ["event: tick", "data: line 2", "data: second"]);
}

#[test]
fn events_are_encoded_line_by_line() {
    let event = Event { id: Some("7\nevent: x".to_owned()), event: None, data: "a\nb\r\nc\rd\n".to_owned() };
    assert_eq!(event.encode(), "id: 7 event: x\ndata: a\ndata: b\ndata: c\ndata: d\ndata: \n\n");
    assert_eq!(Event::new("").encode(), "data: \n\n");
}

#[test]
fn an_event_stream_ends_on_shutdown() {
    let (server, _) = start();
    let mut stream = connect(server.local_addr());
    stream.write_all(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n").expect("send the request");
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("the stream's headers");
        head.push(byte[0]);
    }
    server.shutdown();
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("set a timeout");
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("the stream ends after shutdown");
}

#[test]
fn a_panicking_handler_is_500_and_the_server_goes_on() {
    let (server, _) = start();
    assert_eq!(status(&get(server.local_addr(), "/panic")), 500);
    assert_eq!(status(&get(server.local_addr(), "/")), 200);
}

#[test]
fn connections_beyond_the_limit_get_503() {
    let (server, _) = start();
    let silent: Vec<TcpStream> = (0..MAX_CONNECTIONS).map(|_| connect(server.local_addr())).collect();
    // Accepted in order, after the silent ones; it sends nothing, so nothing is left unread.
    let mut reply = String::new();
    connect(server.local_addr()).read_to_string(&mut reply).expect("an answer");
    assert_eq!(status(&reply), 503, "{reply}");
    drop(silent);
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&get(server.local_addr(), "/")) != 200 {
        assert!(Instant::now() < deadline, "the closed connections were never freed");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn shutdown_joins_and_closes_the_port() {
    let (server, _) = start();
    let addr = server.local_addr();
    assert_eq!(status(&get(addr, "/")), 200);
    server.shutdown();
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn public_types_are_send() {
    fn send<T: Send>() {}
    fn sync<T: Send + Sync>() {}
    send::<Server>();
    send::<Response>();
    sync::<ServerHandle>();
    sync::<Request>();
    sync::<Event>();
}
