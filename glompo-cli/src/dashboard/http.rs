//! A small blocking HTTP/1.1 server: enough for one read-only page, its assets, its JSON and a
//! stream of server-sent events, and nothing more.
//!
//! **Threads.** [`Server::serve`] runs an accept loop on its own thread and each connection on a
//! thread of its own, as glompo does elsewhere (no async runtime). At most [`MAX_CONNECTIONS`]
//! connections are served at once; one more gets `503` and is closed. The listener is nonblocking
//! and polled every 20 ms, so [`ServerHandle::shutdown`] (or dropping the handle) ends the accept
//! thread within one poll, and it cannot hang.
//!
//! **One request per connection.** Every response carries `Connection: close`: a dashboard makes a
//! handful of requests on loopback, and a server without keep-alive has no idle connections holding
//! threads and no request framing to get wrong after the first one. Before closing, the server
//! shuts its side down and drains what the client still sends for a moment (a "lingering close"),
//! so the client reads the response instead of a reset.
//!
//! **Limits.** The request line and headers together are at most [`MAX_HEAD_BYTES`] (else `431`)
//! and must arrive within [`REQUEST_TIMEOUT`] (else `408`): a slow or silent client is dropped, not
//! kept forever. Only `HTTP/1.0` and `HTTP/1.1` (with `Host`), only `GET` and `HEAD` (else `405`
//! with `Allow: GET, HEAD`) and no request body (`Content-Length` other than 0 or any
//! `Transfer-Encoding` is `413`): the server is read-only. A malformed request line or header, or a
//! head that is not UTF-8, is `400`. A request cut short just closes its connection.
//!
//! **Paths are not percent-decoded.** The handler routes by exact match on the raw path, so there is
//! nothing to decode: a path that contains `%` is refused, as is one with `..`, `//`, `\`, a control
//! character or anything outside printable ASCII, and one that does not start with `/` (absolute
//! and asterisk forms). This is defence in depth: no encoded `..%2f` can reach a handler that
//! someday joins a path. Query values are decoded ([`Request::query`]: `%XX`, and `+` as a space).
//!
//! **Responses.** Every response sends `X-Content-Type-Options: nosniff`, the
//! [`CONTENT_SECURITY_POLICY`] and `Cache-Control: no-store` (unless the handler set its own).
//! A [`Response::Full`] has a `Content-Length` (`HEAD` sends the same headers and no body). A
//! [`Response::Stream`] is a `text/event-stream`: the connection's thread asks its [`EventSource`]
//! for the next [`Event`], waiting at most [`EVENT_WAIT`] each time, writes it, and sends a `: ping`
//! comment when nothing was written for [`HEARTBEAT`], which keeps proxies and SSH tunnels open. The
//! stream ends when the source ends, the client goes away (a failed write, logged at debug level)
//! or the server shuts down, which a stream notices within about half a second.
//!
//! **Failures.** Nothing a client sends can end the server. A handler that panics answers `500`;
//! an event source that panics ends its own connection only.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::sync::Arc;
//!
//! use glompo_cli::dashboard::http::{Request, Response, Server};
//!
//! let server = Server::bind("127.0.0.1:0".parse()?)?;
//! let addr = server.local_addr();
//! let handle = server.serve(Arc::new(|request: &Request| match request.path() {
//!     "/" => Response::ok("text/plain; charset=utf-8", b"hello".as_slice()),
//!     _ => Response::not_found(),
//! }))?;
//!
//! let mut stream = TcpStream::connect(addr)?;
//! stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
//! let mut reply = String::new();
//! stream.read_to_string(&mut reply)?;
//! assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(reply.ends_with("\r\n\r\nhello"));
//! handle.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How many connections are served at once; one more is answered `503` and closed.
pub const MAX_CONNECTIONS: usize = 64;
/// The most bytes the request line and headers may take together.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long a client has to send its request line and headers.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest an [`EventSource`] is asked to wait for an event, and the shortest time between two
/// calls that find nothing.
pub const EVENT_WAIT: Duration = Duration::from_millis(250);
/// The longest an event stream stays silent: then it sends a `: ping` comment.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// The `Content-Security-Policy` of every response: the page, its scripts and its data come from the
/// server itself (no inline scripts), images may also be `data:` or `blob:` URLs, styles may be
/// inline, and no other site may frame the page.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
     style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/// How often the accept loop looks for a new connection or for shutdown.
const ACCEPT_POLL: Duration = Duration::from_millis(20);
/// How long one read on a connection blocks before the thread looks at its deadline and shutdown.
const READ_POLL: Duration = Duration::from_millis(250);
/// How long a write to a client may block before the connection is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server drains a client's input after its response, before closing.
const LINGER: Duration = Duration::from_secs(2);

/// A bound listener, not yet serving: [`Server::local_addr`] tells the port when bound to port 0.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port). The dashboard binds a loopback address unless told
    /// otherwise.
    pub fn bind(addr: SocketAddr) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        Ok(Server { listener, addr })
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts the accept loop on its own thread, answering every request with `handler`. The server
    /// runs until the returned handle is shut down or dropped; the error is a thread that could not
    /// be started.
    pub fn serve(self, handler: Arc<dyn Handler>) -> io::Result<ServerHandle> {
        let shared = Arc::new(Shared { shutdown: AtomicBool::new(false), active: AtomicUsize::new(0) });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("glompo-http-accept".to_owned())
                .spawn(move || accept_loop(&self.listener, &handler, &shared))?
        };
        Ok(ServerHandle { addr: self.addr, shared, accept: Some(accept) })
    }
}

/// A running server. Shutting it down (or dropping it) stops accepting, tells open event streams to
/// end and joins the accept thread.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server: once this returns, the port is closed. Connections still open end on their
    /// own within about half a second; a handler still running finishes its call first, and a write
    /// to a client that reads nothing gives up after 10 s.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take()
            && accept.join().is_err()
        {
            tracing::debug!("the dashboard's accept thread panicked");
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug)]
struct Shared {
    shutdown: AtomicBool,
    active: AtomicUsize,
}

/// Answers requests. The server calls it from many connection threads at once.
///
/// A closure `Fn(&Request) -> Response` is a handler too.
///
/// ```
/// use glompo_cli::dashboard::http::{Handler, Method, Request, Response};
/// use serde_json::json;
///
/// struct Page;
///
/// impl Handler for Page {
///     fn handle(&self, request: &Request) -> Response {
///         match request.path() {
///             "/" => Response::ok("text/html; charset=utf-8", b"<h1>run</h1>".as_slice()),
///             "/api/evaluations" => Response::json(&json!({"since": request.query("since")})),
///             _ => Response::not_found(),
///         }
///     }
/// }
///
/// let request = Request::new(Method::Get, "/api/evaluations?since=12").expect("a valid target");
/// assert_eq!(Page.handle(&request).status(), 200);
/// let request = Request::new(Method::Get, "/missing").expect("a valid target");
/// assert_eq!(Page.handle(&request).status(), 404);
/// ```
pub trait Handler: Send + Sync {
    /// The response to `request`.
    fn handle(&self, request: &Request) -> Response;
}

impl<F: Fn(&Request) -> Response + Send + Sync> Handler for F {
    fn handle(&self, request: &Request) -> Response {
        self(request)
    }
}

/// The two methods a read-only server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: the headers of the `GET` response, without its body.
    Head,
}

/// A request that passed every check of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    host: Option<String>,
    last_event_id: Option<String>,
}

impl Request {
    /// A request for `target` (a path and an optional `?query`) with no headers, after the checks
    /// the server applies to the request line; `None` if they refuse it. For testing handlers.
    pub fn new(method: Method, target: &str) -> Option<Request> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let refused = !path.starts_with('/')
            || path.contains("..")
            || path.contains("//")
            || path.bytes().any(|b| matches!(b, b'%' | b'\\') || !b.is_ascii_graphic());
        if refused || !query.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let query = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                Some((percent_decode(key)?, percent_decode(value)?))
            })
            .collect::<Option<_>>()?;
        Some(Request { method, path: path.to_owned(), query, host: None, last_event_id: None })
    }

    /// `GET` or `HEAD`.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The path exactly as the client sent it, without its query and not percent-decoded.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The decoded value of the first query parameter named `key` (`?since=12` gives `"12"`; a key
    /// without `=` has the value `""`).
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every decoded query parameter, in order.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The `Host` header, which a handler may check against DNS rebinding.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The `Last-Event-ID` header, which a browser sends when it reconnects to an event stream.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }
}

/// What a handler answers.
pub enum Response {
    /// A complete response, sent with a `Content-Length`.
    Full {
        /// The status code.
        status: u16,
        /// The `Content-Type`.
        content_type: &'static str,
        /// The body (left out for `HEAD`).
        body: Cow<'static, [u8]>,
        /// More headers, such as a `Cache-Control` of its own for an asset.
        headers: Vec<(&'static str, String)>,
    },
    /// A `text/event-stream` of server-sent events, written as the source produces them.
    Stream(Box<dyn EventSource>),
}

impl Response {
    /// A `200` response with `body`.
    pub fn ok(content_type: &'static str, body: impl Into<Cow<'static, [u8]>>) -> Response {
        Response::Full { status: 200, content_type, body: body.into(), headers: Vec::new() }
    }

    /// A `200` response with `value` as JSON.
    pub fn json(value: &serde_json::Value) -> Response {
        Response::ok("application/json", value.to_string().into_bytes())
    }

    /// A plain-text response with any status.
    pub fn text(status: u16, message: impl Into<String>) -> Response {
        let body = Cow::Owned(message.into().into_bytes());
        Response::Full { status, content_type: "text/plain; charset=utf-8", body, headers: Vec::new() }
    }

    /// `404 Not Found`.
    pub fn not_found() -> Response {
        Response::text(404, "not found")
    }

    /// `400 Bad Request`, saying what is wrong.
    pub fn bad_request(message: impl Into<String>) -> Response {
        Response::text(400, message)
    }

    /// An event stream from `source`.
    pub fn stream(source: impl EventSource + 'static) -> Response {
        Response::Stream(Box::new(source))
    }

    /// Adds a header to a full response; a stream's headers are fixed, so there it does nothing. A
    /// value with a line break is not sent.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        if let Response::Full { headers, .. } = &mut self {
            headers.push((name, value.into()));
        }
        self
    }

    /// The status code (`200` for a stream).
    pub fn status(&self) -> u16 {
        match self {
            Response::Full { status, .. } => *status,
            Response::Stream(_) => 200,
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Response::Full { status, content_type, body, headers } => f
                .debug_struct("Full")
                .field("status", status)
                .field("content_type", content_type)
                .field("body_len", &body.len())
                .field("headers", headers)
                .finish(),
            Response::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// The events of one [`Response::Stream`], pulled by its connection's thread.
///
/// [`next`](EventSource::next) waits at most `wait` ([`EVENT_WAIT`]) and answers [`Next::Pending`]
/// when nothing came, so that the thread can notice shutdown and send heartbeats; a source that
/// answers at once is called again only after `wait`. The dashboard's source blocks until the run
/// directory has new data or `wait` has passed. A closure `FnMut(Duration) -> Next` is a source too.
///
/// ```
/// use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
/// use std::time::Duration;
///
/// use glompo_cli::dashboard::http::{Event, EventSource, Next};
///
/// /// Forwards lines from a channel until it closes.
/// struct Lines(Receiver<String>);
///
/// impl EventSource for Lines {
///     fn next(&mut self, wait: Duration) -> Next {
///         match self.0.recv_timeout(wait) {
///             Ok(line) => Next::Event(Event::new(line)),
///             Err(RecvTimeoutError::Timeout) => Next::Pending,
///             Err(RecvTimeoutError::Disconnected) => Next::End,
///         }
///     }
/// }
///
/// let (tx, rx) = mpsc::channel();
/// let mut lines = Lines(rx);
/// assert!(matches!(lines.next(Duration::from_millis(1)), Next::Pending));
/// tx.send("best 0.5".to_owned())?;
/// assert!(matches!(lines.next(Duration::ZERO), Next::Event(e) if e.data == "best 0.5"));
/// drop(tx);
/// assert!(matches!(lines.next(Duration::ZERO), Next::End));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait EventSource: Send {
    /// The next event, waiting at most `wait` for it.
    fn next(&mut self, wait: Duration) -> Next;
}

impl<F: FnMut(Duration) -> Next + Send> EventSource for F {
    fn next(&mut self, wait: Duration) -> Next {
        self(wait)
    }
}

/// What an [`EventSource`] has next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// An event to send.
    Event(Event),
    /// Nothing new yet.
    Pending,
    /// The stream is over.
    End,
}

/// One server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// The `id:`, which the browser sends back as `Last-Event-ID` when it reconnects.
    pub id: Option<String>,
    /// The `event:` type (`message` when `None`).
    pub event: Option<String>,
    /// The `data:`; each of its lines goes in a `data:` line of its own.
    pub data: String,
}

impl Event {
    /// An event of type `message` with `data` and no id.
    pub fn new(data: impl Into<String>) -> Event {
        Event { id: None, event: None, data: data.into() }
    }

    /// The event as the stream carries it. A line break in the id or type would start another
    /// field, so it becomes a space.
    fn encode(&self) -> String {
        let mut out = String::new();
        for (field, value) in [("id", &self.id), ("event", &self.event)] {
            if let Some(value) = value {
                out += &format!("{field}: {}\n", value.replace(['\r', '\n'], " "));
            }
        }
        for line in self.data.replace("\r\n", "\n").split(['\r', '\n']) {
            out += &format!("data: {line}\n");
        }
        out.push('\n');
        out
    }
}

fn accept_loop(listener: &TcpListener, handler: &Arc<dyn Handler>, shared: &Arc<Shared>) {
    while !shared.shutdown.load(Ordering::Relaxed) {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                if e.kind() != io::ErrorKind::WouldBlock {
                    tracing::debug!("dashboard accept failed: {e}");
                }
                thread::sleep(ACCEPT_POLL);
                continue;
            }
        };
        // Only this thread adds to the count, so it cannot pass the limit between load and add.
        if shared.active.load(Ordering::Acquire) >= MAX_CONNECTIONS {
            refuse(&stream);
            continue;
        }
        shared.active.fetch_add(1, Ordering::AcqRel);
        let guard = Active(Arc::clone(shared));
        let handler = Arc::clone(handler);
        let spawned = thread::Builder::new().name("glompo-http-conn".to_owned()).spawn(move || {
            connection(&stream, peer, &*handler, &guard.0.shutdown);
            drop(guard);
        });
        if let Err(e) = spawned {
            tracing::debug!("no thread for the dashboard connection from {peer}: {e}");
        }
    }
}

/// Counts a connection as open until its thread ends, by return or by panic.
struct Active(Arc<Shared>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers `503` from the accept thread without ever blocking it.
fn refuse(mut stream: &TcpStream) {
    let busy = Response::text(503, "too many connections");
    if stream.set_nonblocking(true).is_ok() {
        let _ = write_response(&mut stream, busy, false, &AtomicBool::new(false));
    }
    let _ = stream.shutdown(Shutdown::Write);
}

fn connection(stream: &TcpStream, peer: SocketAddr, handler: &dyn Handler, shutdown: &AtomicBool) {
    let configured = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(READ_POLL)))
        .and_then(|()| stream.set_write_timeout(Some(WRITE_TIMEOUT)))
        .and_then(|()| stream.set_nodelay(true));
    if let Err(e) = configured {
        tracing::debug!("dashboard connection from {peer}: {e}");
        return;
    }
    let (response, head_only) = match read_head(stream, shutdown).map(|head| parse_head(&head)) {
        Err(None) => return,
        Err(Some(response)) | Ok(Err(response)) => (response, false),
        Ok(Ok(request)) => {
            let response = catch_unwind(AssertUnwindSafe(|| handler.handle(&request)))
                .unwrap_or_else(|_| Response::text(500, "the handler panicked"));
            (response, request.method == Method::Head)
        }
    };
    if let Err(e) = write_response(&mut &*stream, response, head_only, shutdown) {
        tracing::debug!("dashboard connection from {peer} ended: {e}");
        return;
    }
    linger_close(stream, shutdown);
}

/// Reads the request line and headers, up to and including the blank line. `Err(None)` means
/// close without an answer: the client went away, or the server is shutting down.
fn read_head(mut stream: &TcpStream, shutdown: &AtomicBool) -> Result<Vec<u8>, Option<Response>> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut head = Vec::new();
    let mut chunk = [0; 1024];
    loop {
        // The head ends at the first blank line, `\r\n` or a bare `\n`.
        let end = (1..=head.len()).find(|&i| head[..i].ends_with(b"\n\n") || head[..i].ends_with(b"\n\r\n"));
        match end {
            Some(end) if end <= MAX_HEAD_BYTES => {
                head.truncate(end);
                return Ok(head);
            }
            _ if head.len() >= MAX_HEAD_BYTES => {
                return Err(Some(Response::text(431, "request headers too large")));
            }
            _ => {}
        }
        if shutdown.load(Ordering::Relaxed) {
            return Err(None);
        }
        if Instant::now() >= deadline {
            return Err(Some(Response::text(408, "request timeout")));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(None),
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => {
                tracing::debug!("dashboard request read failed: {e}");
                return Err(None);
            }
        }
    }
}

fn parse_head(head: &[u8]) -> Result<Request, Response> {
    let text = std::str::from_utf8(head).map_err(|_| Response::bad_request("request is not UTF-8"))?;
    let mut lines = text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line));
    let mut parts = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Response::bad_request("malformed request line"));
    };
    if !is_token(method) || !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(Response::bad_request("malformed request line"));
    }
    let (mut host, mut last_event_id, mut has_body) = (None, None, false);
    for line in lines.take_while(|line| !line.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(Response::bad_request("malformed header"));
        };
        let value = value.trim_matches([' ', '\t']);
        // A token name also refuses folded lines, which start with whitespace.
        if !is_token(name) || value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(Response::bad_request("malformed header"));
        }
        match name.to_ascii_lowercase().as_str() {
            "host" => host = Some(value.to_owned()),
            "last-event-id" => last_event_id = Some(value.to_owned()),
            "content-length" => has_body |= value != "0",
            "transfer-encoding" => has_body = true,
            _ => {}
        }
    }
    if version == "HTTP/1.1" && host.is_none() {
        return Err(Response::bad_request("missing Host header"));
    }
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => return Err(Response::text(405, "method not allowed").with_header("Allow", "GET, HEAD")),
    };
    if has_body {
        return Err(Response::text(413, "this server takes no request body"));
    }
    let request = Request::new(method, target).ok_or_else(|| Response::bad_request("bad request target"))?;
    Ok(Request { host, last_event_id, ..request })
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn percent_decode(s: &str) -> Option<String> {
    let hex = |b: Option<u8>| char::from(b?).to_digit(16);
    let mut bytes = s.bytes();
    let mut out = Vec::with_capacity(s.len());
    while let Some(b) = bytes.next() {
        out.push(match b {
            b'+' => b' ',
            // Two hex digits make at most 255.
            b'%' => (hex(bytes.next())? * 16 + hex(bytes.next())?) as u8,
            b => b,
        });
    }
    String::from_utf8(out).ok()
}

fn write_response(
    w: &mut impl Write,
    response: Response,
    head_only: bool,
    shutdown: &AtomicBool,
) -> io::Result<()> {
    let (status, content_type, body, mut headers, source) = match response {
        Response::Full { status, content_type, body, headers } => {
            (status, content_type, Some(body), headers, None)
        }
        // A proxy must not hold the events back to buffer them.
        Response::Stream(source) => {
            let headers = vec![("X-Accel-Buffering", "no".to_owned())];
            (200, "text/event-stream", None, headers, Some(source))
        }
    };
    let mut out = format!("HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\n", reason(status));
    if let Some(body) = &body {
        out += &format!("Content-Length: {}\r\n", body.len());
    }
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("cache-control")) {
        headers.push(("Cache-Control", "no-store".to_owned()));
    }
    headers.push(("X-Content-Type-Options", "nosniff".to_owned()));
    headers.push(("Content-Security-Policy", CONTENT_SECURITY_POLICY.to_owned()));
    headers.push(("Connection", "close".to_owned()));
    for (name, value) in headers {
        if is_token(name) && !value.contains(['\r', '\n']) {
            out += &format!("{name}: {value}\r\n");
        }
    }
    out += "\r\n";
    w.write_all(out.as_bytes())?;
    match body {
        Some(body) if !head_only => w.write_all(&body)?,
        _ => {}
    }
    w.flush()?;
    match source {
        Some(source) if !head_only => write_events(w, source, shutdown),
        _ => Ok(()),
    }
}

fn write_events(
    w: &mut impl Write,
    mut source: Box<dyn EventSource>,
    shutdown: &AtomicBool,
) -> io::Result<()> {
    let mut last_write = Instant::now();
    while !shutdown.load(Ordering::Relaxed) {
        let asked = Instant::now();
        match source.next(EVENT_WAIT) {
            Next::Event(event) => w.write_all(event.encode().as_bytes())?,
            Next::Pending => {
                if last_write.elapsed() >= HEARTBEAT {
                    w.write_all(b": ping\n\n")?;
                    last_write = Instant::now();
                }
                // A source that answers at once must not make this loop spin.
                thread::sleep(EVENT_WAIT.saturating_sub(asked.elapsed()));
                continue;
            }
            Next::End => break,
        }
        w.flush()?;
        last_write = Instant::now();
    }
    Ok(())
}

/// Shuts the sending side, then reads what the client still sends until it closes or [`LINGER`]
/// passes (or shutdown), so that closing with unread input does not reset the connection under the
/// response.
fn linger_close(mut stream: &TcpStream, shutdown: &AtomicBool) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER;
    let mut sink = [0; 1024];
    while Instant::now() < deadline && !shutdown.load(Ordering::Relaxed) {
        match stream.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests;
