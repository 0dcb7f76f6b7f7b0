//! A small HTTP/1.1 client for `ratelab live` and the example: hyper-util's pooled client (the
//! same hyper the server uses, so no second HTTP stack), plain HTTP only.

use bytes::Bytes;
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::driver::Attempt;
use crate::headers::{ATTEMPT, CLIENT, REQUEST_ID, TOKENS};

/// Why an attempt got no HTTP reply.
#[derive(Debug)]
pub struct SendError(pub String);

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SendError {}

/// Sends attempts as `POST URL` with the `x-ratelimit-client`, `x-request-id`, `x-attempt` and
/// `x-tokens` headers and a small JSON body.
#[derive(Clone)]
pub struct Target {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
}

impl Target {
    /// The URL it calls.
    pub fn url(&self) -> String {
        self.uri.to_string()
    }

    /// A target URL (`http://host:port/path`); only plain HTTP.
    pub fn new(url: &str) -> Result<Target, String> {
        let uri: Uri = url.parse().map_err(|e| format!("{url}: not a URL ({e})"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(format!(
                    "{url}: only http:// is supported (got {other}://); put a TLS proxy in front"
                ));
            }
            None => {
                return Err(format!(
                    "{url}: give a full URL, e.g. http://127.0.0.1:8080/v1/analyze"
                ));
            }
        }
        if uri.host().is_none() {
            return Err(format!("{url}: no host"));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        Ok(Target { client, uri })
    }

    /// The URL.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Opens (and closes) one TCP connection to the URL's host, so that a dead endpoint is
    /// reported at once instead of being retried per policy (within 5 s).
    pub async fn check_reachable(&self) -> Result<(), String> {
        let host = self.uri.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = self.uri.port_u16().unwrap_or(80);
        let connect = tokio::net::TcpStream::connect((host, port));
        match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("{}: cannot connect: {e}", self.uri)),
            Err(_) => Err(format!("{}: cannot connect within 5 s", self.uri)),
        }
    }

    /// Opens up to `n` pooled connections to an in-process `serve` by sending `n` concurrent
    /// requests to its warm-up path (answered outside the model), so that the first burst of a
    /// run does not pay for TCP set-up. Failures are ignored.
    pub async fn warm_up(&self, n: usize) {
        let mut parts = self.uri.clone().into_parts();
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static(
            crate::server::WARM_UP_PATH,
        ));
        let Ok(uri) = Uri::from_parts(parts) else {
            return;
        };
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (client, uri) = (self.client.clone(), uri.clone());
            set.spawn(async move {
                let req = Request::get(uri).body(Full::new(Bytes::new())).ok()?;
                let resp = client.request(req).await.ok()?;
                resp.into_body().collect().await.ok()?;
                Some(())
            });
        }
        while set.join_next().await.is_some() {}
    }

    /// Sends one attempt and reads the whole reply; the body is returned in the response.
    pub async fn send(&self, a: Attempt) -> Result<http::Response<Bytes>, SendError> {
        let body = format!(
            "{{\"client\":{},\"id\":{},\"attempt\":{},\"tokens\":{}}}",
            a.client, a.id, a.attempt, a.tokens
        );
        let req = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header("content-type", "application/json")
            .header(CLIENT, a.client)
            .header(REQUEST_ID, a.id)
            .header(ATTEMPT, a.attempt)
            .header(TOKENS, a.tokens)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SendError(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| SendError(format!("{}: {e}", self.uri)))?;
        let (parts, body) = resp.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|e| SendError(format!("{}: reading the body: {e}", self.uri)))?
            .to_bytes();
        Ok(http::Response::from_parts(parts, bytes))
    }
}
