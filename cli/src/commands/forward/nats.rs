//! `forward --to nats://…`: the options from the command line, the
//! connection, and the JetStream stream that must capture the subjects.

use logstream_nats::{
    Auth, DEFAULT_ACK_TIMEOUT, DEFAULT_WINDOW, Ensured, ForwarderStats, HeaderSet, NatsConnection, NatsError,
    NatsForwarder, NatsOptions, StreamSpec, Tls,
};

use std::time::Duration;

use super::Connected;
use super::stats::{Dedup, EngineCounters};
use crate::args::{ForwardArgs, Headers};
use crate::exit::{Failure, one_line};
use crate::output::warn;

impl EngineCounters for ForwarderStats {
    fn sent(&self) -> u64 {
        self.published
    }

    fn duplicates(&self) -> Option<u64> {
        Some(self.duplicates)
    }
}

/// Connects to the server(s) at `url` within `--connect-timeout`, then
/// creates or checks `--ensure-stream`, or looks for a stream capturing the
/// subjects and warns if there is none (every batch fails until one exists).
///
/// # Errors
/// Exit code 5 when no server answers, 2 for a bad URL or `--subject`, 1
/// for unreadable credentials or a stream that cannot be created or used.
pub fn connect(url: &str, args: &ForwardArgs) -> Result<Connected<NatsForwarder>, Failure> {
    let opts = options(url, args).map_err(failure)?;
    let forwarder = NatsForwarder::connect(&opts).map_err(failure)?;
    let (stream, dedup) = stream(forwarder.connection(), &opts, args)?;
    Ok(Connected { forwarder, target: format!("{url} (subject {}, {stream})", opts.subject()), dedup: Some(dedup) })
}

fn options(url: &str, args: &ForwardArgs) -> Result<NatsOptions, NatsError> {
    let auth = match (&args.user, &args.password, &args.token, &args.creds_file) {
        (Some(user), Some(password), _, _) => Auth::UserPassword { user: user.clone(), password: password.clone() },
        (_, _, Some(token), _) => Auth::Token(token.clone()),
        (_, _, _, Some(file)) => Auth::CredentialsFile(file.clone()),
        _ => Auth::None,
    };
    let tls = Tls { required: url.starts_with("tls://"), root_certificates: args.tls_ca.clone(), ..Tls::default() };
    let headers = match args.headers.unwrap_or(Headers::Full) {
        Headers::Full => HeaderSet::Full,
        Headers::IdOnly => HeaderSet::IdOnly,
    };
    Ok(NatsOptions::new(url, &args.subject)?
        .auth(auth)
        .tls(tls)
        .connect_timeout(args.connect_timeout)
        .ack_timeout(args.ack_timeout.unwrap_or(DEFAULT_ACK_TIMEOUT))
        .window(args.window.map_or(DEFAULT_WINDOW, |w| w as usize))
        .client_name("logstream forward")
        .headers(headers))
}

/// `--ride-out` when not given: JetStream's default duplicate window.
const DEFAULT_RIDE_OUT: Duration = Duration::from_secs(120);

/// How the subjects reach a stream, for the start line (`stream LOGS`),
/// and how long that stream de-duplicates re-sends. With `--ensure-stream`
/// the stream is created with (or must already have) a duplicate window of
/// at least `--ride-out`; a stream found by its subjects is only checked,
/// with a warning when its window is shorter.
fn stream(conn: &NatsConnection, opts: &NatsOptions, args: &ForwardArgs) -> Result<(String, Dedup), Failure> {
    let ride_out = args.ride_out.unwrap_or(DEFAULT_RIDE_OUT);
    if let Some(name) = &args.ensure_stream {
        let spec = StreamSpec::new(name, opts.subject());
        let window = spec.duplicate_window.max(ride_out);
        let line = match conn.ensure_stream(&spec.duplicate_window(window)) {
            Ok(Ensured::Created) => format!("stream {name} created"),
            Ok(Ensured::Existing) => format!("stream {name}"),
            Err(e) => return Err(failure(e)),
        };
        return Ok((line, dedup(conn, name, ride_out)));
    }
    let filter = opts.subject().filter();
    match conn.stream_capturing(&filter) {
        Ok(Some(name)) => Ok((format!("stream {name}"), dedup(conn, &name, ride_out))),
        Ok(None) => {
            warn(&format!(
                "no JetStream stream on {} captures {filter}: every batch fails and is retried until one does \
                 (--ensure-stream NAME creates it)",
                opts.servers()
            ));
            Ok(("no stream yet".to_owned(), Dedup::default()))
        }
        Err(e) => {
            warn(&format!("{}; batches are retried until a stream captures {filter}", one_line(&e.to_string())));
            Ok(("stream unknown".to_owned(), Dedup::default()))
        }
    }
}

/// Reads the duplicate window of stream `name` and warns (here and in
/// every report) when it is shorter than `ride_out`.
fn dedup(conn: &NatsConnection, name: &str, ride_out: Duration) -> Dedup {
    let window = match conn.duplicate_window(name) {
        Ok(w) => w,
        Err(e) => {
            warn(&format!("{}; cannot tell how long re-sent records are de-duplicated", one_line(&e.to_string())));
            return Dedup::default();
        }
    };
    let warning = (window < ride_out).then(|| {
        format!(
            "stream {name} de-duplicates re-sent records for {window:?} only, less than --ride-out {ride_out:?}: \
             records re-sent after a longer outage are stored twice; widen the stream's duplicate_window \
             (--ensure-stream {name} --ride-out SECS refuses a shorter one)"
        )
    });
    if let Some(w) = &warning {
        warn(w);
    }
    Dedup { window: Some(window), warning }
}

/// The exit code of each error: unreachable 5, wrong option 2, else 1.
fn failure(e: NatsError) -> Failure {
    let message = one_line(&e.to_string());
    match e {
        NatsError::Connect { .. } => Failure::unreachable(message),
        NatsError::InvalidOption { .. } => Failure::usage(message),
        _ => Failure::error(message),
    }
}
