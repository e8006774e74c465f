//! Running the application until shutdown.
//!
//! On the shutdown signal the server stops accepting, lets in-flight requests
//! finish for up to the grace period, then returns (dropping what remains).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tower::Service;

use crate::TlsListener;

/// The peer address of a connection, as the request extension
/// `ConnectInfo<ClientAddr>` (ours, so it can be filled in for the TLS
/// listener too). `auth::RequestOrigin` reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) SocketAddr);

/// The plain listener, with Nagle's algorithm off on every connection.
#[derive(Debug)]
pub(crate) struct NoDelayListener(pub(crate) TcpListener);

impl axum::serve::Listener for NoDelayListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (mut stream, peer) = axum::serve::Listener::accept(&mut self.0).await;
        no_delay(&mut stream);
        (stream, peer)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Turns Nagle's algorithm off: a response written in two pieces (head,
/// then a body of a few KiB) would otherwise wait for the client's delayed
/// ACK, 40 ms on Linux, before its second piece leaves.
pub(crate) fn no_delay(stream: &mut TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}

/// A bound listener: plain TCP or TLS.
#[derive(Debug)]
pub enum Listener {
    /// Plain HTTP (development, or behind a TLS-terminating proxy).
    Tcp(TcpListener),
    /// HTTPS with TLS 1.3.
    Tls(TlsListener),
}

impl Listener {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Self::Tcp(tcp) => tcp.local_addr(),
            Self::Tls(tls) => axum::serve::Listener::local_addr(tls),
        }
    }
}

/// The time limits of the connections themselves.
#[derive(Debug, Clone, Copy)]
pub struct ServeTimes {
    /// After the shutdown signal, how long in-flight requests may take.
    pub grace: Duration,
    /// How long a client has to send a request's whole head (request line
    /// and headers). Without it a connection that trickles one header line
    /// at a time is held open forever, and enough of them exhaust the server.
    pub header_read: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then waits up to
/// `times.grace` for in-flight requests.
///
/// The accept loop is ours rather than `axum::serve` because axum gives
/// hyper no timer, so hyper's header-read timeout never fires.
pub async fn serve(
    listener: Listener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    times: ServeTimes,
) -> io::Result<()> {
    match listener {
        Listener::Tcp(tcp) => serve_connections(NoDelayListener(tcp), app, shutdown, times).await,
        Listener::Tls(tls) => serve_connections(tls, app, shutdown, times).await,
    }
}

pub(crate) async fn serve_connections<L>(
    mut listener: L,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    times: ServeTimes,
) -> io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(times.header_read);
    let connections = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let router = app.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(ClientAddr(peer)));
            router.clone().call(request.map(Body::new))
        });
        let connection = http.serve_connection(TokioIo::new(io), service);
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    tracing::info!(grace_seconds = times.grace.as_secs(), "shutting down: finishing in-flight requests");
    if tokio::time::timeout(times.grace, connections.shutdown()).await.is_err() {
        tracing::warn!("grace period over: dropping requests still in flight");
    }
    Ok(())
}
