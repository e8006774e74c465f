//! Running the application until shutdown.
//!
//! On the shutdown signal the server stops accepting, lets in-flight requests
//! finish for up to the grace period, then returns (dropping what remains).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, TcpStream};

use crate::TlsListener;

/// The peer address of a connection, as the request extension
/// `ConnectInfo<ClientAddr>` (ours, so it can be filled in for the TLS
/// listener too). `auth::RequestOrigin` reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) SocketAddr);

/// The plain listener, with Nagle's algorithm off on every connection.
#[derive(Debug)]
struct NoDelayListener(TcpListener);

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

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, NoDelayListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, NoDelayListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        Self(*stream.remote_addr())
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

/// Serves `app` on `listener` until `shutdown` completes, then waits up to
/// `grace` for in-flight requests.
pub async fn serve(
    listener: Listener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> io::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!(grace_seconds = grace.as_secs(), "shutting down: finishing in-flight requests");
        let _ = stopping_tx.send(());
    };
    let server = async move {
        match listener {
            Listener::Tcp(tcp) => {
                axum::serve(NoDelayListener(tcp), app.into_make_service_with_connect_info::<ClientAddr>())
                    .with_graceful_shutdown(signal)
                    .await
            }
            Listener::Tls(tls) => {
                axum::serve(tls, app.into_make_service_with_connect_info::<ClientAddr>())
                    .with_graceful_shutdown(signal)
                    .await
            }
        }
    };
    let deadline = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!("grace period over: dropping requests still in flight");
            Ok(())
        }
    }
}
