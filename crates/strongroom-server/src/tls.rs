//! A TLS 1.3 listener for axum (rustls with the ring provider).
//!
//! Handshakes run in their own tasks, so a client that stalls mid-handshake
//! never holds up the accept loop; finished connections are queued for axum.
//!
//! The configuration can be swapped while serving ([`TlsReloader`], on
//! SIGHUP): each handshake takes the configuration current when it starts,
//! so open connections keep the certificate they were made with and new
//! ones get the new one; nothing is dropped.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the TLS configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file is unreadable or not PEM.
    #[error("cannot read {what} from {path}: {reason}")]
    File {
        /// `certificate chain` or `private key`.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the pair (for example, the key does not match the certificate).
    #[error("invalid TLS certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Builds a TLS 1.3-only server configuration from PEM files.
pub fn load_tls_config(cert_file: &Path, key_file: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let file_error =
        |what, path: &Path, reason: String| TlsError::File { what, path: path.display().to_string(), reason };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|iter| iter.collect())
        .map_err(|e| file_error("certificate chain", cert_file, e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error("certificate chain", cert_file, "no certificate found".into()));
    }
    // The parser's error never contains key bytes, only the kind of failure.
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| file_error("private key", key_file, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The configuration new handshakes use, shared by the listener and its reloader.
type CurrentConfig = Arc<RwLock<Arc<rustls::ServerConfig>>>;

/// Replaces the certificate of a running [`TlsListener`].
#[derive(Debug, Clone)]
pub struct TlsReloader {
    current: CurrentConfig,
}

impl TlsReloader {
    /// Loads `cert_file` and `key_file` as [`load_tls_config`] does and,
    /// only if they are a valid pair, makes them the configuration of every
    /// handshake from now on. On an error the old certificate stays in use.
    pub fn reload(&self, cert_file: &Path, key_file: &Path) -> Result<(), TlsError> {
        let config = load_tls_config(cert_file, key_file)?;
        // A poisoned lock still holds a whole `Arc`: replacing it is safe.
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = config;
        Ok(())
    }

    fn acceptor(current: &CurrentConfig) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&current.read().unwrap_or_else(std::sync::PoisonError::into_inner)))
    }
}

/// Accepts TCP connections and completes their TLS handshakes.
#[derive(Debug)]
pub struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    current: CurrentConfig,
}

impl TlsListener {
    /// Starts accepting on `tcp` with `config`. Must be called inside a Tokio runtime.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let current: CurrentConfig = Arc::new(RwLock::new(config));
        let handshakes = Arc::clone(&current);
        let (sender, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (mut stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if sender.is_closed() {
                    break;
                }
                crate::serve::no_delay(&mut stream);
                let acceptor = TlsReloader::acceptor(&handshakes);
                let sender = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { local_addr, ready, current })
    }

    /// A handle that swaps this listener's certificate.
    pub fn reloader(&self) -> TlsReloader {
        TlsReloader { current: Arc::clone(&self.current) }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept task only ends when this listener is dropped, so the
            // channel cannot close while we are waiting on it.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
