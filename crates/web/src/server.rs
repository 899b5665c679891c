//! The listener behind `ferry serve`: HTTP/1.1, in plain text on loopback or over TLS,
//! with bounds a hostile client cannot outwait:
//! - at most [`MAX_CONNECTIONS`] connections; one more is closed at once;
//! - a request's headers must arrive within [`HEADER_READ`], and an idle keep-alive
//!   connection is closed after the same time (hyper's header timer also runs while a
//!   connection waits for its next request);
//! - a TLS handshake must end within [`HANDSHAKE`];
//! - on shutdown, connections get [`DRAIN`] to finish their requests.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;

/// The time a client has to send a request's headers, and the longest a connection may
/// wait idle for its next request.
pub const HEADER_READ: Duration = Duration::from_secs(10);

/// The time a client has to finish a TLS handshake.
pub const HANDSHAKE: Duration = Duration::from_secs(10);

/// The time connections get to finish on shutdown.
pub const DRAIN: Duration = Duration::from_secs(5);

/// A TLS configuration from PEM files: the certificate chain and its private key.
pub fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("cannot read the TLS certificate {}: {e}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "the TLS certificate file {} holds no certificate (PEM)", cert.display());
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| anyhow::anyhow!("cannot read the TLS key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not make a server identity")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serve `app` on `listener` until `shutdown` completes; over TLS when `tls` is given.
pub async fn serve(listener: TcpListener, app: Router, tls: Option<Arc<rustls::ServerConfig>>, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (stopping, stop) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!("dashboard: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!("dashboard: {MAX_CONNECTIONS} connections are open; closed the one from {peer}");
            drop(stream);
            continue;
        };
        let (app, acceptor, stop) = (app.clone(), acceptor.clone(), stop.clone());
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            match acceptor {
                None => connection(stream, app, stop).await,
                Some(acceptor) => match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => connection(tls, app, stop).await,
                    Ok(Err(e)) => tracing::debug!("dashboard: TLS handshake with {peer} failed: {e}"),
                    Err(_) => tracing::debug!("dashboard: TLS handshake with {peer} took over {HANDSHAKE:?}"),
                },
            }
            drop(slot);
        });
    }
    let _ = stopping.send(true);
    // Wait for the connections to end (each has DRAIN after the signal).
    let _ = tokio::time::timeout(DRAIN + Duration::from_secs(1), slots.acquire_many(MAX_CONNECTIONS as u32)).await;
    Ok(())
}

/// Serve one connection: HTTP/1.1 with the header timer, ended gracefully on shutdown.
async fn connection<S>(io: S, app: Router, mut stop: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ).keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!("dashboard connection ended: {e}");
            }
        }
        _ = async { stop.wait_for(|stopping| *stopping).await.map(|_| ()) } => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn).await;
        }
    }
}
