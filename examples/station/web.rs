//! One port for the pads: WebSocket upgrades at `/aliscan` go to device-core's server (the station's
//! sessions), every other HTTP request to the page and its small JSON API (axum).
//!
//! Each accepted connection is classified by peeking at its request head (never consuming it): at most
//! [`MAX_HEAD`] bytes within [`HEAD_TIMEOUT`], otherwise the connection is dropped.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use device_core::runtime::server::{Listen, OpenSetup};
use device_core::runtime::{TransportError, WsTransport};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::records::Records;

/// The pad page.
pub const PAGE: &str = include_str!("pad.html");

/// Longest request head looked at to classify a connection.
pub const MAX_HEAD: usize = 8 * 1024;
/// Time a connection has to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections being classified at once; more wait in the accept backlog.
pub const MAX_CLASSIFYING: usize = 512;

type Conn = (TcpStream, SocketAddr);

/// Accepts on `listener` and splits the connections: returns the WebSocket side (for device-core's server)
/// and the HTTP side (for axum), plus the accept task.
pub fn split(listener: TcpListener) -> io::Result<(WsSide, HttpSide, tokio::task::JoinHandle<()>)> {
    let addr = listener.local_addr()?;
    let (ws_tx, ws_rx) = mpsc::channel::<Conn>(256);
    let (http_tx, http_rx) = mpsc::channel::<Conn>(256);
    let task = tokio::spawn(async move {
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CLASSIFYING));
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if ws_tx.is_closed() && http_tx.is_closed() {
                return;
            }
            let (ws_tx, http_tx) = (ws_tx.clone(), http_tx.clone());
            tokio::spawn(async move {
                let _permit = permit;
                match tokio::time::timeout(HEAD_TIMEOUT, is_upgrade(&stream)).await {
                    Ok(Ok(true)) => {
                        let _ = ws_tx.send((stream, peer)).await;
                    }
                    Ok(Ok(false)) => {
                        let _ = http_tx.send((stream, peer)).await;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "connection dropped before its request")
                    }
                    Err(_) => tracing::debug!(%peer, "no request head in time"),
                }
            });
        }
    });
    Ok((
        WsSide { rx: ws_rx, addr },
        HttpSide { rx: http_rx, addr },
        task,
    ))
}

/// Whether the request head (peeked, not read) asks for a WebSocket upgrade.
async fn is_upgrade(stream: &TcpStream) -> io::Result<bool> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut seen = 0;
    loop {
        stream.readable().await?;
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"));
        }
        let head = &buf[..n];
        let end = head.windows(4).position(|w| w == b"\r\n\r\n");
        if end.is_some() || n == MAX_HEAD {
            let text = String::from_utf8_lossy(&head[..end.unwrap_or(n)]).to_ascii_lowercase();
            return Ok(text
                .lines()
                .any(|l| l.starts_with("upgrade:") && l.contains("websocket")));
        }
        if n == seen {
            // Nothing new yet: peek returns at once while bytes wait, so pause before looking again.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        seen = n;
    }
}

/// The WebSocket connections, for device-core's [`Server`](device_core::runtime::server::Server).
#[derive(Debug)]
pub struct WsSide {
    rx: mpsc::Receiver<Conn>,
    addr: SocketAddr,
}

impl Listen for WsSide {
    type Conn = TcpStream;
    type Transport = WsTransport<TcpStream>;

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }

    async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        self.rx
            .recv()
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "listener closed"))
    }

    // tungstenite's handshake callback returns its HTTP error response by value.
    #[allow(clippy::result_large_err)]
    async fn open(
        conn: TcpStream,
        setup: &OpenSetup,
    ) -> Result<WsTransport<TcpStream>, TransportError> {
        use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
        let _ = conn.set_nodelay(true);
        let path = setup.ws.path.clone();
        let check = move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            match &path {
                Some(want) if req.uri().path() != want => {
                    let mut refusal = ErrorResponse::new(Some(format!(
                        "no WebSocket endpoint at {}",
                        req.uri().path()
                    )));
                    *refusal.status_mut() =
                        tokio_tungstenite::tungstenite::http::StatusCode::NOT_FOUND;
                    Err(refusal)
                }
                _ => Ok(resp),
            }
        };
        let accept = tokio_tungstenite::accept_hdr_async_with_config(
            conn,
            check,
            Some(setup.ws.tungstenite()),
        );
        match tokio::time::timeout(setup.handshake_timeout, accept).await {
            Ok(Ok(ws)) => Ok(WsTransport::new(ws, &setup.ws)),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(TransportError::HandshakeTimeout(setup.handshake_timeout)),
        }
    }
}

/// The plain HTTP connections, for axum.
#[derive(Debug)]
pub struct HttpSide {
    rx: mpsc::Receiver<Conn>,
    addr: SocketAddr,
}

impl axum::serve::Listener for HttpSide {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        match self.rx.recv().await {
            Some(c) => c,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

#[derive(serde::Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default = "one")]
    page: u32,
    #[serde(rename = "pageSize", default = "ten")]
    page_size: u32,
}

fn one() -> u32 {
    1
}

fn ten() -> u32 {
    10
}

/// The page, the record search and the statistics (both from the store), and `/healthz`.
pub fn router(records: Records) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/records", get(search))
        .route("/api/statistics", get(statistics))
        .with_state(records)
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

fn problem(status: StatusCode, detail: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        Json(serde_json::json!({ "type": "about:blank", "title": status.canonical_reason(), "detail": detail })),
    )
        .into_response()
}

async fn search(State(records): State<Records>, Query(q): Query<SearchQuery>) -> Response {
    if q.q.len() > 100 {
        return problem(StatusCode::BAD_REQUEST, "q: at most 100 characters".into());
    }
    match records.search(&q.q, q.page, q.page_size).await {
        Ok(page) => Json(page).into_response(),
        Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}")),
    }
}

async fn statistics(State(records): State<Records>) -> Response {
    match records.statistics().await {
        Ok(s) => Json(s).into_response(),
        Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}")),
    }
}
