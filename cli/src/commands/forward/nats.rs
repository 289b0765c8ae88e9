//! `forward --to nats://…`: the options from the command line, the
//! connection, and the JetStream stream that must capture the subjects.

use logstream_nats::{
    Auth, DEFAULT_ACK_TIMEOUT, DEFAULT_WINDOW, Ensured, ForwarderStats, HeaderSet, NatsConnection, NatsError,
    NatsForwarder, NatsOptions, StreamSpec, Tls,
};

use super::Connected;
use super::stats::EngineCounters;
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
    let stream = stream(forwarder.connection(), &opts, args)?;
    Ok(Connected { forwarder, target: format!("{url} (subject {}, {stream})", opts.subject()) })
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

/// How the subjects reach a stream, for the start line: `stream LOGS`.
fn stream(conn: &NatsConnection, opts: &NatsOptions, args: &ForwardArgs) -> Result<String, Failure> {
    if let Some(name) = &args.ensure_stream {
        return match conn.ensure_stream(&StreamSpec::new(name, opts.subject())) {
            Ok(Ensured::Created) => Ok(format!("stream {name} created")),
            Ok(Ensured::Existing) => Ok(format!("stream {name}")),
            Err(e) => Err(failure(e)),
        };
    }
    let filter = opts.subject().filter();
    match conn.stream_capturing(&filter) {
        Ok(Some(name)) => Ok(format!("stream {name}")),
        Ok(None) => {
            warn(&format!(
                "no JetStream stream on {} captures {filter}: every batch fails and is retried until one does \
                 (--ensure-stream NAME creates it)",
                opts.servers()
            ));
            Ok("no stream yet".to_owned())
        }
        Err(e) => {
            warn(&format!("{}; batches are retried until a stream captures {filter}", one_line(&e.to_string())));
            Ok("stream unknown".to_owned())
        }
    }
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
