//! A small fake of the Lambda Runtime API on 127.0.0.1: `GET /2018-06-01/runtime/invocation/next`
//! serves queued events and otherwise holds the request (as Lambda does between invocations);
//! `POST …/invocation/{id}/response`, `…/{id}/error` and `…/runtime/init/error` are recorded
//! with their arrival time. HTTP/1.1 with keep-alive, `Content-Length` or chunked bodies.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What happened on the API, in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A `GET …/next` arrived.
    NextRequested(Instant),
    /// An event was sent in answer to `…/next`.
    Delivered {
        /// Request id.
        id: String,
        /// When the answer was written.
        at: Instant,
    },
    /// The function posted a result.
    Response {
        /// Request id.
        id: String,
        /// When it arrived (body fully read).
        at: Instant,
        /// The body.
        body: Vec<u8>,
    },
    /// The function posted an invocation error.
    Error {
        /// Request id.
        id: String,
        /// When.
        at: Instant,
        /// The body.
        body: Vec<u8>,
    },
    /// The function reported an init error.
    InitError {
        /// When.
        at: Instant,
        /// The body.
        body: Vec<u8>,
    },
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Vec<u8>)>,
    events: Vec<Event>,
    shutdown: bool,
    seq: u64,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn record(&self, event: Event) {
        if let Ok(mut s) = self.state.lock() {
            s.events.push(event);
        }
        self.changed.notify_all();
    }
}

/// A running fake Runtime API; shut down on drop.
pub struct FakeRuntime {
    /// Listening port on 127.0.0.1.
    pub port: u16,
    shared: Arc<Shared>,
}

/// Name used in the invoked function ARN.
pub const FUNCTION_NAME: &str = "bench-function";

impl FakeRuntime {
    /// Binds a free loopback port and starts serving.
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::default());
        let accept_shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_shared
                    .state
                    .lock()
                    .map(|s| s.shutdown)
                    .unwrap_or(true)
                {
                    break;
                }
                if let Ok(stream) = stream {
                    let conn_shared = Arc::clone(&accept_shared);
                    std::thread::spawn(move || {
                        let _ = serve(stream, &conn_shared);
                    });
                }
            }
        });
        Ok(Self { port, shared })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Queues an event; returns its request id.
    pub fn push(&self, body: Vec<u8>) -> String {
        let id = {
            let Ok(mut s) = self.shared.state.lock() else {
                return String::new();
            };
            s.seq += 1;
            let id = format!("req-{:06}", s.seq);
            s.queue.push_back((id.clone(), body));
            id
        };
        self.shared.changed.notify_all();
        id
    }

    /// Waits until `found` returns a value for the recorded events, or the timeout passes.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        found: impl Fn(&[Event]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock().ok()?;
        loop {
            if let Some(value) = found(&state.events) {
                return Some(value);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .ok()?
                .0;
        }
    }

    /// A copy of the events so far.
    pub fn events(&self) -> Vec<Event> {
        self.shared
            .state
            .lock()
            .map(|s| s.events.clone())
            .unwrap_or_default()
    }

    /// Stops serving: held `…/next` requests are closed.
    pub fn shutdown(&self) {
        if let Ok(mut s) = self.shared.state.lock() {
            s.shutdown = true;
        }
        self.shared.changed.notify_all();
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl Drop for FakeRuntime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub(crate) fn read_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
) -> io::Result<Vec<u8>> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size_text = size_line.trim().split(';').next().unwrap_or("0");
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if size == 0 {
                // Trailers, then the final CRLF.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    }
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

fn write_response(
    stream: &mut TcpStream,
    status: &str,
    extra: &str,
    body: &[u8],
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out)?;
    stream.flush()
}

fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let body = read_body(&mut reader, &headers)?;
        let path = path.split('?').next().unwrap_or_default();
        let now = Instant::now();
        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            shared.record(Event::NextRequested(now));
            let next = {
                let mut state = shared
                    .state
                    .lock()
                    .map_err(|_| io::Error::other("poisoned"))?;
                loop {
                    if state.shutdown {
                        return Ok(());
                    }
                    if let Some(item) = state.queue.pop_front() {
                        break item;
                    }
                    state = shared
                        .changed
                        .wait(state)
                        .map_err(|_| io::Error::other("poisoned"))?;
                }
            };
            let (id, event) = next;
            let deadline_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() + 60_000)
                .unwrap_or(0);
            let extra = format!(
                "Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline_ms}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:{FUNCTION_NAME}\r\nLambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0\r\n"
            );
            write_response(&mut writer, "200 OK", &extra, &event)?;
            shared.record(Event::Delivered {
                id,
                at: Instant::now(),
            });
        } else if method == "POST" && path.ends_with("/runtime/init/error") {
            shared.record(Event::InitError { at: now, body });
            write_response(&mut writer, "202 Accepted", "", br#"{"status":"OK"}"#)?;
        } else if method == "POST" && path.contains("/runtime/invocation/") {
            let rest = path
                .split("/runtime/invocation/")
                .nth(1)
                .unwrap_or_default();
            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            let id = id.to_owned();
            match kind {
                "response" => shared.record(Event::Response { id, at: now, body }),
                "error" => shared.record(Event::Error { id, at: now, body }),
                _ => {}
            }
            write_response(&mut writer, "202 Accepted", "", br#"{"status":"OK"}"#)?;
        } else {
            write_response(
                &mut writer,
                "404 Not Found",
                "",
                br#"{"message":"not found"}"#,
            )?;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Read;

    fn send(stream: &mut TcpStream, request: &str) -> String {
        stream.write_all(request.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        head + &String::from_utf8(body).unwrap()
    }

    #[test]
    fn serves_an_event_and_records_chunked_and_plain_responses() {
        let rt = FakeRuntime::start().unwrap();
        let id = rt.push(br#"{"x":1}"#.to_vec());
        let mut conn = TcpStream::connect(("127.0.0.1", rt.port)).unwrap();
        let answer = send(
            &mut conn,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert!(answer.contains(&format!("Lambda-Runtime-Aws-Request-Id: {id}")));
        assert!(answer.ends_with(r#"{"x":1}"#));
        let chunked = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        );
        assert!(send(&mut conn, &chunked).starts_with("HTTP/1.1 202"));
        let plain =
            "POST /2018-06-01/runtime/invocation/z/error HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        assert!(send(&mut conn, plain).starts_with("HTTP/1.1 202"));
        let body = rt
            .wait_for(Duration::from_secs(2), |events| {
                events.iter().find_map(|e| match e {
                    Event::Response { body, .. } => Some(body.clone()),
                    _ => None,
                })
            })
            .unwrap();
        assert_eq!(body, b"abcde");
        assert!(rt
            .events()
            .iter()
            .any(|e| matches!(e, Event::Error { id, .. } if id == "z")));
        rt.shutdown();
    }
}
