//! A loopback HTTP server that answers every request `200 OK` and records it (method, path,
//! headers, body): the receiving end of the webhook and Slack channels when `deploy-check` runs
//! the built functions. HTTP/1.1 with keep-alive, `Content-Length` or chunked bodies.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST`, `GET`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A running recorder; it stops accepting when dropped.
pub struct HttpRecorder {
    /// Listening port on 127.0.0.1.
    pub port: u16,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stopped: Arc<Mutex<bool>>,
}

impl HttpRecorder {
    /// Binds a free loopback port and starts serving.
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(Mutex::new(false));
        let (seen, stop) = (Arc::clone(&requests), Arc::clone(&stopped));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.lock().map(|s| *s).unwrap_or(true) {
                    break;
                }
                if let Ok(stream) = stream {
                    let seen = Arc::clone(&seen);
                    std::thread::spawn(move || {
                        let _ = serve(stream, &seen);
                    });
                }
            }
        });
        Ok(Self {
            port,
            requests,
            stopped,
        })
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The requests so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for HttpRecorder {
    fn drop(&mut self) {
        if let Ok(mut s) = self.stopped.lock() {
            *s = true;
        }
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Recorded>>) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default().to_owned();
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
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let body = crate::fake_runtime::read_body(&mut reader, &headers)?;
        if let Ok(mut all) = seen.lock() {
            all.push(Recorded {
                method,
                path,
                headers,
                body,
            });
        }
        writer.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
        )?;
        writer.flush()?;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn records_what_a_client_posts_and_answers_ok() {
        let recorder = HttpRecorder::start().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let answer = runtime.block_on(async {
            reqwest::Client::new()
                .post(recorder.url("/hook?x=1"))
                .header("X-Test", "yes")
                .body("{\"a\":1}")
                .send()
                .await
                .unwrap()
        });
        assert_eq!(answer.status(), 200);
        let seen = recorder.requests();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            (seen[0].method.as_str(), seen[0].path.as_str()),
            ("POST", "/hook")
        );
        assert_eq!(seen[0].header("x-test"), Some("yes"));
        assert_eq!(seen[0].body, b"{\"a\":1}");
    }
}
