//! The optional plain-HTTP listener (`server.http_redirect_listen`): every
//! request, whatever its method and path, is answered `308 Permanent
//! Redirect` to the same path on the HTTPS listener. It routes nothing else,
//! so no API, health or metrics answer over plain HTTP; 308 (not 301/302)
//! keeps the method and body, so a client that POSTs by mistake repeats the
//! POST over TLS rather than turning it into a GET.

use std::future::Future;
use std::io;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

use crate::ApiError;
use crate::serve::{NoDelayListener, ServeTimes, serve_connections};

/// Serves redirects to `https://<Host>:<https_port>` on `tcp` until
/// `shutdown` completes, with the same header-read timeout and grace as the
/// main listener.
pub async fn serve_redirects(
    tcp: TcpListener,
    https_port: u16,
    shutdown: impl Future<Output = ()> + Send + 'static,
    times: ServeTimes,
) -> io::Result<()> {
    let app = Router::new().fallback(redirect).with_state(https_port);
    serve_connections(NoDelayListener(tcp), app, shutdown, times).await
}

async fn redirect(State(https_port): State<u16>, request: Request) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).and_then(host_name);
    let Some(host) = host else {
        return ApiError::InvalidRequest("a Host header naming the server is needed to redirect to HTTPS".into())
            .into_response();
    };
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let origin = if https_port == 443 { format!("https://{host}") } else { format!("https://{host}:{https_port}") };
    match HeaderValue::from_str(&format!("{origin}{path}")) {
        Ok(location) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response(),
        Err(_) => ApiError::InvalidRequest("the request target cannot be redirected".into()).into_response(),
    }
}

/// The host part of a `Host` header, without its port; `None` unless it is
/// a DNS name or an IP literal, so the header cannot smuggle a path, a user
/// or another scheme into the `Location`.
fn host_name(header: &str) -> Option<&str> {
    let host = if header.starts_with('[') { &header[..=header.find(']')?] } else { header.split(':').next()? };
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':');
    (!host.is_empty() && host.chars().all(allowed)).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn the_host_header_keeps_only_a_host() {
        assert_eq!(host_name("vault.example:80"), Some("vault.example"));
        assert_eq!(host_name("127.0.0.1"), Some("127.0.0.1"));
        assert_eq!(host_name("[::1]:8080"), Some("[::1]"));
        for hostile in ["", "evil.example/path", "user@evil.example", "a b", "[::1"] {
            assert_eq!(host_name(hostile), None, "{hostile}");
        }
    }
}
