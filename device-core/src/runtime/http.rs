//! The broker lookup over HTTP (best.md 3.1; DECISIONS.md, best): the platform's endpoint
//! ([`LookupServer`], axum) and the device's request ([`lookup`], hyper). Both carry the sans-io
//! [`LookupHandler`] and [`BrokerLookup`] unchanged.
//!
//! Only plain `http://` is spoken here; a deployment that needs TLS puts the endpoint behind its TLS terminator
//! and gives [`lookup`] a URL of that terminator's plain side, or uses its own HTTPS client with
//! [`BrokerLookup::request`] and [`BrokerLookup::parse_reply`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use best_proto::broker::{BrokerInfo, LookupReply, LOOKUP_PATH};
use best_proto::DecodeError;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::best::{BrokerDirectory, BrokerLookup, LookupHandler};

/// Largest lookup reply body [`lookup`] reads (a reply carries a URL and, in certificate mode, a few PEM texts).
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

type SharedHandler<D> = Arc<Mutex<LookupHandler<D>>>;

/// The lookup route alone (`GET /v3/device/getBrokerServer`), for a deployment that serves it from its own axum
/// application. Every answer is HTTP 200 with the JSON reply; a refusal is the reply's `code` (best.md 3.1).
pub fn lookup_router<D: BrokerDirectory + 'static>(handler: LookupHandler<D>) -> Router {
    let shared: SharedHandler<D> = Arc::new(Mutex::new(handler));
    Router::new()
        .route(LOOKUP_PATH, get(answer::<D>))
        .with_state(shared)
}

async fn answer<D: BrokerDirectory + 'static>(
    State(handler): State<SharedHandler<D>>,
    RawQuery(query): RawQuery,
) -> impl IntoResponse {
    let body = handler
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .handle_json(query.as_deref().unwrap_or(""));
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
}

/// Limits of [`LookupServer`]'s listener: a lookup is one small `GET`, so a connection that holds a slot
/// without sending one is closed, and the number of connections is capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LookupServerConfig {
    /// Most connections served at once; a connection accepted beyond it is closed at once (counted in the log
    /// at debug level). Default 1024.
    pub max_connections: usize,
    /// How long a connection may take to send a request's complete head, counted from the accept and again
    /// from each response (hyper's `header_read_timeout`): an idle or slow client loses its slot after it.
    /// Default 10 s.
    pub header_timeout: Duration,
    /// Largest request head buffered, in bytes (hyper's `max_buf_size`; at least 8192). A larger head is
    /// answered 431 and the connection closed. Default 16 KiB.
    pub max_head_bytes: usize,
    /// Longest a connection lives, requests included, before it is closed. Default 60 s.
    pub max_connection_age: Duration,
}

impl Default for LookupServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            max_head_bytes: 16 * 1024,
            max_connection_age: Duration::from_secs(60),
        }
    }
}

/// The platform's lookup endpoint on its own listener, with the same handle/shutdown shape as the session
/// servers, and the limits of [`LookupServerConfig`].
#[derive(Debug)]
pub struct LookupServer {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<JoinHandle<std::io::Result<()>>>>,
}

impl LookupServer {
    /// Serves `handler` at `GET /v3/device/getBrokerServer` on `listener` until [`LookupServer::shutdown`].
    ///
    /// # Errors
    /// The listener has no local address.
    pub fn spawn<D: BrokerDirectory + 'static>(
        listener: TcpListener,
        handler: LookupHandler<D>,
        config: LookupServerConfig,
    ) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (shutdown, stop) = watch::channel(false);
        let app = lookup_router(handler);
        let task = tokio::spawn(accept_loop(listener, app, config, stop));
        tracing::info!(%local_addr, "best broker lookup endpoint listening");
        Ok(Self {
            local_addr,
            shutdown,
            task: tokio::sync::Mutex::new(Some(task)),
        })
    }

    /// The address it listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets requests in progress finish, and waits for the server to end.
    ///
    /// # Errors
    /// The server failed (the accept loop's I/O error), or its task panicked.
    pub async fn shutdown(&self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        let task = self.task.lock().await.take();
        match task {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

/// Accepts until `stop`, one task per connection under the limits, then lets the connections finish.
async fn accept_loop(
    listener: TcpListener,
    app: Router,
    config: LookupServerConfig,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        // Reap finished connections so the set stays as large as the live ones.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // Out of descriptors or a connection reset before accept: the listener itself is fine.
            Err(e) => {
                tracing::warn!(error = %e, "lookup endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, max = config.max_connections, "lookup endpoint full: connection closed");
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(config.header_timeout)
                .max_buf_size(config.max_head_bytes.max(8192));
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let age = tokio::time::sleep(config.max_connection_age);
            tokio::pin!(age);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stop.wait_for(|s| *s) => {}
                () = &mut age => {}
            }
            // Shutdown or age: finish the request in progress, then close.
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(config.header_timeout, connection).await;
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Why a lookup over HTTP found no broker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The base URL is not `http://host[:port][/prefix]`.
    #[error("broker lookup URL {url:?} is not usable: {why}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Connecting, writing or reading failed.
    #[error("broker lookup to {url}: {source}")]
    Io {
        /// The URL asked.
        url: String,
        /// The failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No complete answer within the timeout.
    #[error("broker lookup to {url} got no answer within {timeout:?}")]
    TimedOut {
        /// The URL asked.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The endpoint answered with an HTTP status other than 200.
    #[error("broker lookup to {url} answered HTTP {status}")]
    Status {
        /// The URL asked.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The reply body is larger than [`MAX_REPLY_BYTES`].
    #[error("broker lookup reply exceeds {max} bytes")]
    ReplyTooLarge {
        /// The limit.
        max: usize,
    },
    /// The reply body is not a lookup reply.
    #[error("broker lookup reply: {0}")]
    Decode(#[from] DecodeError),
    /// The platform refused the lookup: its code and message are in the reply.
    #[error("broker lookup refused with {}: {}", .0.code.as_str(), .0.message.as_deref().unwrap_or(""))]
    Refused(Box<LookupReply>),
}

/// Asks the platform at `base_url` (`http://host[:port]`, optionally with a path prefix) for the broker of the
/// device behind `lookup`, with a freshly signed query; the whole exchange must finish within `timeout`.
///
/// # Errors
/// See [`LookupError`]: a bad URL, an I/O failure, a timeout, a non-200 status, an oversized or malformed body,
/// or the platform's refusal.
pub async fn lookup(
    base_url: &str,
    lookup: &mut BrokerLookup,
    timeout: Duration,
) -> Result<BrokerInfo, LookupError> {
    let query = lookup.request();
    let target = Target::parse(base_url)?;
    let path = format!("{}{}", target.prefix, query.path_and_query());
    let url = format!("http://{}{path}", target.authority);
    match tokio::time::timeout(timeout, fetch(&target, &path, &url)).await {
        Ok(body) => match BrokerLookup::parse_reply(&body?)? {
            Ok(info) => Ok(info),
            Err(reply) => Err(LookupError::Refused(Box::new(reply))),
        },
        Err(_) => Err(LookupError::TimedOut { url, timeout }),
    }
}

/// Where a lookup goes.
#[derive(Debug)]
struct Target {
    authority: String,
    host: String,
    port: u16,
    prefix: String,
}

impl Target {
    fn parse(base_url: &str) -> Result<Self, LookupError> {
        let bad = |why| LookupError::BadUrl {
            url: base_url.to_owned(),
            why,
        };
        let uri: Uri = base_url.parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => return Err(bad("only http:// is supported")),
            None => return Err(bad("no scheme (expected http://)")),
        }
        if uri.query().is_some() {
            return Err(bad("the base URL must not carry a query"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        Ok(Self {
            authority: authority.as_str().to_owned(),
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(80),
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }
}

async fn fetch(target: &Target, path: &str, url: &str) -> Result<Bytes, LookupError> {
    let io = |e: Box<dyn std::error::Error + Send + Sync>| LookupError::Io {
        url: url.to_owned(),
        source: e,
    };
    let stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| io(e.into()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| io(e.into()))?;
    let driver = tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(header::HOST, target.authority.as_str())
        .header(header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|e| io(e.into()))?;
    let outcome = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| io(e.into()))?;
        if response.status() != StatusCode::OK {
            return Err(LookupError::Status {
                url: url.to_owned(),
                status: response.status().as_u16(),
            });
        }
        let body = Limited::new(response.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    LookupError::ReplyTooLarge {
                        max: MAX_REPLY_BYTES,
                    }
                } else {
                    io(e)
                }
            })?;
        Ok(body.to_bytes())
    }
    .await;
    driver.abort();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        let t = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.prefix.as_str()),
            ("127.0.0.1", 8080, "")
        );
        let t = Target::parse("http://platform.example/api/").unwrap();
        assert_eq!(
            (
                t.host.as_str(),
                t.port,
                t.prefix.as_str(),
                t.authority.as_str()
            ),
            ("platform.example", 80, "/api", "platform.example")
        );
        let t = Target::parse("http://[::1]:81").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 81));
        for (url, why) in [
            ("https://x", "only http:// is supported"),
            ("x:80", "no scheme (expected http://)"),
            ("http://x/?a=1", "the base URL must not carry a query"),
            ("not a url", "not a URL"),
        ] {
            match Target::parse(url) {
                Err(LookupError::BadUrl { why: w, .. }) => assert_eq!(w, why, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
