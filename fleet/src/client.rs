//! A small client of the admin API (HTTP/1.1 over TCP), for scripts, the demo and tests.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// An answer of the admin API.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The body as text.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
#[error("{method} {path}: {message}")]
pub struct ClientError {
    method: String,
    path: String,
    message: String,
}

/// A client of one admin API.
#[derive(Clone)]
pub struct AdminClient {
    addr: SocketAddr,
    token: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl AdminClient {
    /// A client of the API at `addr`, sending `token` as the bearer token when set.
    #[must_use]
    pub fn new(addr: SocketAddr, token: Option<String>) -> Self {
        Self {
            addr,
            token,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `GET path`.
    ///
    /// # Errors
    /// No answer.
    pub async fn get(&self, path: &str) -> Result<Reply, ClientError> {
        self.request("GET", path, None, &[]).await
    }

    /// `POST path` with a JSON body.
    ///
    /// # Errors
    /// No answer.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> Result<Reply, ClientError> {
        self.request("POST", path, Some(body.to_string().into_bytes()), &[])
            .await
    }

    /// Any request; `body` is sent as `application/json`.
    ///
    /// # Errors
    /// No answer.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, ClientError> {
        let err = |message: String| ClientError {
            method: method.to_owned(),
            path: path.to_owned(),
            message,
        };
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| err(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| err(e.to_string()))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| err(e.to_string()))?
            .to_bytes()
            .to_vec();
        Ok(Reply {
            status,
            content_type,
            body,
        })
    }
}
