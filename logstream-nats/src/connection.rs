//! One NATS connection with the tokio runtime that drives it, shared by
//! forwarders, sources and the stream helper.
//!
//! The logstream reader's threaded pool calls its forwarder on plain
//! threads, so a connection made with [`NatsConnection::connect`] lives on a
//! runtime this crate owns; synchronous calls enter it with `block_on` from
//! the caller's thread (never one runtime per batch). A tokio service uses
//! [`NatsConnection::connect_async`] instead: the client then runs on the
//! caller's runtime, with no thread of this crate, and is used through the
//! `*_async` methods (with [`logstream::ReaderBuilder::start_async`]).

use std::sync::Arc;

use async_nats::jetstream;

use crate::error::{NatsError, Result};
use crate::options::{Auth, NatsOptions};

/// A connection to NATS with JetStream, cheap to clone.
#[derive(Clone)]
pub struct NatsConnection {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    // Declared before the runtime: the client's tasks end before it drops.
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub opts: NatsOptions,
    /// The runtime of [`NatsConnection::connect`]; `None` after
    /// [`NatsConnection::connect_async`] (the caller's runtime drives it).
    pub runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for NatsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsConnection").field("servers", &self.inner.opts.servers).finish()
    }
}

impl NatsConnection {
    /// Starts the client's runtime and connects.
    ///
    /// # Errors
    /// [`NatsError::Runtime`], [`NatsError::File`] for an unreadable
    /// credentials or certificate file, [`NatsError::Connect`] if the server
    /// cannot be reached or refuses the credentials.
    pub fn connect(opts: &NatsOptions) -> Result<NatsConnection> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.runtime_threads)
            .thread_name("logstream-nats")
            .enable_all()
            .build()
            .map_err(NatsError::Runtime)?;
        let client = runtime.block_on(connect_client(opts))?;
        // Building the context spawns its ack task, which needs the runtime entered.
        let js = {
            let _entered = runtime.enter();
            context(opts, &client)
        };
        Ok(NatsConnection { inner: Arc::new(Inner { client, js, opts: opts.clone(), runtime: Some(runtime) }) })
    }

    /// Connects on the caller's tokio runtime (any flavour): no runtime or
    /// thread of this crate's own. Use such a connection through the async
    /// methods ([`NatsForwarder::forward_async`](crate::NatsForwarder::forward_async),
    /// [`NatsConnection::ensure_stream_async`], …), for instance from
    /// [`logstream::ReaderBuilder::start_async`]; its blocking methods
    /// return [`NatsError::InvalidOption`], as they would have to drive a
    /// runtime they do not own. The client's tasks live on the caller's
    /// runtime: it must outlive the connection's use.
    ///
    /// # Errors
    /// As [`NatsConnection::connect`], but never [`NatsError::Runtime`].
    pub async fn connect_async(opts: &NatsOptions) -> Result<NatsConnection> {
        let client = connect_client(opts).await?;
        let js = context(opts, &client);
        Ok(NatsConnection { inner: Arc::new(Inner { client, js, opts: opts.clone(), runtime: None }) })
    }

    /// The options it was made with.
    pub fn options(&self) -> &NatsOptions {
        &self.inner.opts
    }

    /// The JetStream context, for anything this crate does not wrap.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.inner.js
    }

    /// The runtime this crate started for the client
    /// ([`NatsConnection::connect`]), to spawn on or to block on; `None`
    /// for a connection made with [`NatsConnection::connect_async`].
    pub fn runtime(&self) -> Option<&tokio::runtime::Runtime> {
        self.inner.runtime.as_ref()
    }

    /// Runs `fut` to completion on this connection's runtime from a
    /// synchronous caller.
    pub(crate) fn block_on<F: std::future::Future>(&self, fut: F) -> Result<F::Output> {
        Ok(self.own_runtime()?.block_on(fut))
    }

    /// The runtime a synchronous call may block on: this crate's, and only
    /// from outside any runtime.
    pub(crate) fn own_runtime(&self) -> Result<&tokio::runtime::Runtime> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(NatsError::option(
                "calling context",
                "a blocking call was made from inside a tokio runtime; use the async variant (e.g. forward_async)",
            ));
        }
        self.inner.runtime.as_ref().ok_or_else(|| {
            NatsError::option(
                "calling context",
                "a blocking call on a connection made with connect_async, which has no runtime of its own; \
                 use the async variant (e.g. forward_async, ensure_stream_async) on your runtime",
            )
        })
    }
}

/// The JetStream context. Its own in-flight limit stays above the
/// forwarder's window, so that publishing never waits on acks nobody
/// awaits. Must be called inside a runtime (it spawns the ack task).
fn context(opts: &NatsOptions, client: &async_nats::Client) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(opts.ack_timeout)
        .ack_timeout(opts.ack_timeout)
        .max_ack_inflight(opts.window * 2 + 64)
        .backpressure_on_inflight(true)
        .build(client.clone())
}

async fn connect_client(opts: &NatsOptions) -> Result<async_nats::Client> {
    let mut co = async_nats::ConnectOptions::new()
        .name(&opts.client_name)
        .connection_timeout(opts.connect_timeout)
        .request_timeout(Some(opts.ack_timeout))
        // Keep reconnecting forever: the reader retries failed batches, and
        // the client picks the server up again when it is back.
        .max_reconnects(None);
    co = match &opts.auth {
        Auth::None => co,
        Auth::UserPassword { user, password } => co.user_and_password(user.clone(), password.clone()),
        Auth::Token(t) => co.token(t.clone()),
        Auth::NKey(seed) => co.nkey(seed.clone()),
        Auth::CredentialsFile(path) => co.credentials_file(path).await.map_err(|source| NatsError::File {
            what: "credentials",
            path: path.clone(),
            source,
        })?,
    };
    for ca in &opts.tls.root_certificates {
        std::fs::metadata(ca).map_err(|source| NatsError::File {
            what: "root certificate",
            path: ca.clone(),
            source,
        })?;
        co = co.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &opts.tls.client_certificate {
        for (what, p) in [("client certificate", cert), ("client key", key)] {
            std::fs::metadata(p).map_err(|source| NatsError::File { what, path: p.clone(), source })?;
        }
        co = co.add_client_certificate(cert.clone(), key.clone());
    }
    if opts.tls.required {
        co = co.require_tls(true);
    }
    let servers: Vec<async_nats::ServerAddr> = opts
        .servers
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| NatsError::option("server URL", format!("{:?}: {e}", opts.servers)))?;
    co.connect(servers).await.map_err(|e| NatsError::Connect { url: opts.servers.clone(), cause: e.to_string() })
}
