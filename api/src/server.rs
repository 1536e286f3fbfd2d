//! The local server (`hitl serve`): the accept loop over the [`router`], with timeouts and
//! connection limits in all and per client.

use std::collections::HashMap;
use std::sync::Arc;

use axum::middleware::Next;
use axum::response::IntoResponse;
use serde_json::json;
use tracing::warn;

use crate::error::{self, ApiError};
use crate::router::router;
use crate::state::AppState;

/// Binds a TCP listener for [`serve`] (port 0 picks a free port; see `local_addr()`).
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Limits of [`serve`]: how long a client may take to send a request's head, how long one
/// request may take in all, and how many connections are served at once, in all and per client.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Time to receive a request's headers (a half-sent request is dropped after it).
    pub header_read_timeout: std::time::Duration,
    /// Time for one request from its first byte to the response (503 after it).
    pub request_timeout: std::time::Duration,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// Connections served at once from one client address. A connection beyond it is answered
    /// 503 at once and closed, so one client (say, holding half-sent requests) cannot take the
    /// slots of [`ServeLimits::max_connections`] that everyone else needs. Behind a reverse
    /// proxy every connection comes from the proxy's address: raise it to `max_connections`.
    pub max_connections_per_client: usize,
}

/// Default of [`ServeLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: u16 = 256;
/// Default of [`ServeLimits::max_connections_per_client`]: an eighth of the connections, far
/// more than a browser opens to one site (six).
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: u16 = 32;

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: std::time::Duration::from_secs(10),
            request_timeout: std::time::Duration::from_secs(30),
            max_connections: usize::from(DEFAULT_MAX_CONNECTIONS),
            max_connections_per_client: usize::from(DEFAULT_MAX_CONNECTIONS_PER_CLIENT),
        }
    }
}

/// Open connections per client address (IPv4-mapped IPv6 addresses count as IPv4).
#[derive(Default)]
struct ClientConnections {
    open: std::sync::Mutex<HashMap<std::net::IpAddr, usize>>,
}

/// One open connection of a client, counted until dropped.
struct ClientConnection {
    clients: Arc<ClientConnections>,
    ip: std::net::IpAddr,
}

impl ClientConnections {
    /// Counts a new connection from `ip`, unless the client already has `limit` open.
    fn open(self: &Arc<Self>, ip: std::net::IpAddr, limit: usize) -> Option<ClientConnection> {
        let ip = ip.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(ClientConnection {
            clients: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for ClientConnection {
    fn drop(&mut self) {
        let mut open = self.clients.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// What a connection over its client's limit gets before it is closed: a 503 like the API's
/// others (`unavailable`, with `Retry-After`).
fn too_many_connections() -> Vec<u8> {
    let body = json!({
        "error": "unavailable",
        "message": "too many connections from this client; retry",
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        error::RETRY_AFTER_SECONDS,
        body.len()
    )
    .into_bytes()
}

/// Serves the router on `listener` until the process ends (the local `hitl serve`), with the
/// default [`ServeLimits`].
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    serve_with(listener, state, ServeLimits::default()).await
}

/// [`serve`] with explicit limits: half-sent requests are dropped after the header timeout,
/// slow handlers answer 503 after the request timeout, at most `max_connections` are open, and
/// at most `max_connections_per_client` of them from one client address (a connection beyond
/// that is answered 503 and closed at once, without waiting for a slot).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ServeLimits,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let app = router(state).layer(axum::middleware::from_fn(move |request, next: Next| {
        let timeout = limits.request_timeout;
        async move {
            match tokio::time::timeout(timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => {
                    ApiError::Unavailable("the request took too long; retry".into()).into_response()
                }
            }
        }
    }));
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let clients = Arc::new(ClientConnections::default());
    let per_client = limits.max_connections_per_client.max(1);
    loop {
        let permit = Arc::clone(&slots)
            .acquire_owned()
            .await
            .map_err(std::io::Error::other)?;
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: back off instead of spinning.
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(client) = clients.open(peer.ip(), per_client) else {
            // The socket's send buffer is empty, so the answer goes out without waiting; the
            // slot is free again at once.
            let _ = stream.try_write(&too_many_connections());
            drop(stream);
            drop(permit);
            tracing::debug!(client = %peer.ip(), limit = per_client, "too many connections from one client");
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
            drop(client);
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_client_gets_its_share_of_connections_and_no_more() {
        let clients = Arc::new(ClientConnections::default());
        let flood: std::net::IpAddr = "127.0.0.2".parse().unwrap();
        let other: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| clients.open(flood, 3).unwrap()).collect();
        assert!(clients.open(flood, 3).is_none(), "over the client's limit");
        let mapped: std::net::IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        assert!(
            clients.open(mapped, 3).is_none(),
            "an IPv4-mapped address is the same client"
        );
        assert!(clients.open(other, 3).is_some(), "others are not affected");
        drop(held);
        assert!(
            clients.open(flood, 3).is_some(),
            "closed connections free the share"
        );
        assert!(
            clients.open.lock().unwrap().is_empty(),
            "no client is kept once gone"
        );
    }

    #[test]
    fn the_answer_over_the_limit_is_a_complete_503() {
        let answer = String::from_utf8(too_many_connections()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"], "unavailable");
    }
}
