//! Where and how to connect, and how to publish: [`NatsOptions`].

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{NatsError, Result};
use crate::headers::HeaderSet;
use crate::subject::{SubjectTemplate, TopicEncoding};

/// How the client authenticates.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No credentials, or those in the URL (`nats://user:pass@host:4222`).
    #[default]
    None,
    /// User name and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A token.
    Token(String),
    /// An NKey seed.
    NKey(String),
    /// A `.creds` file (JWT and NKey seed), as written by `nsc`.
    CredentialsFile(PathBuf),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets are never printed.
        match self {
            Auth::None => f.write_str("None"),
            Auth::UserPassword { user, .. } => write!(f, "UserPassword {{ user: {user:?}, password: \"***\" }}"),
            Auth::Token(_) => f.write_str("Token(\"***\")"),
            Auth::NKey(_) => f.write_str("NKey(\"***\")"),
            Auth::CredentialsFile(p) => write!(f, "CredentialsFile({})", p.display()),
        }
    }
}

/// TLS settings (the client also upgrades to TLS when the server asks for it
/// or the URL scheme is `tls://`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// Refuse to talk to a server without TLS.
    pub required: bool,
    /// PEM files of extra root certificates (a private CA).
    pub root_certificates: Vec<PathBuf>,
    /// PEM client certificate and key, for servers that verify clients.
    pub client_certificate: Option<(PathBuf, PathBuf)>,
}

/// Everything needed to connect to NATS and publish a log's records.
///
/// ```
/// let opts = logstream_nats::NatsOptions::new("nats://127.0.0.1:4222", "logs.{topic}")?
///     .window(2048)
///     .ack_timeout(std::time::Duration::from_secs(5));
/// assert_eq!(opts.subject().as_str(), "logs.{topic}");
/// # Ok::<(), logstream_nats::NatsError>(())
/// ```
#[derive(Debug, Clone)]
pub struct NatsOptions {
    pub(crate) servers: String,
    pub(crate) subject: SubjectTemplate,
    pub(crate) auth: Auth,
    pub(crate) tls: Tls,
    pub(crate) connect_timeout: Duration,
    pub(crate) ack_timeout: Duration,
    pub(crate) window: usize,
    pub(crate) runtime_threads: usize,
    pub(crate) client_name: String,
    pub(crate) headers: HeaderSet,
}

/// Default of [`NatsOptions::ack_timeout`].
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Default number of publishes awaiting their ack at once, over all topics.
pub const DEFAULT_WINDOW: usize = 4096;

impl NatsOptions {
    /// Options for the server(s) at `url` (comma-separated for a cluster;
    /// `nats://`, `tls://` or `host:port`; credentials may be in the URL)
    /// publishing each topic to the subject rendered from `subject_template`
    /// (see [`SubjectTemplate`]; topics are [`TopicEncoding::Escape`]d).
    ///
    /// # Errors
    /// [`NatsError::InvalidOption`] for an unparsable URL or template.
    pub fn new(url: &str, subject_template: &str) -> Result<NatsOptions> {
        for server in url.split(',') {
            server
                .trim()
                .parse::<async_nats::ServerAddr>()
                .map_err(|e| NatsError::option("server URL", format!("{server:?}: {e}")))?;
        }
        Ok(NatsOptions {
            servers: url.to_owned(),
            subject: SubjectTemplate::parse(subject_template, TopicEncoding::Escape)?,
            auth: Auth::None,
            tls: Tls::default(),
            connect_timeout: Duration::from_secs(5),
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            window: DEFAULT_WINDOW,
            runtime_threads: 2,
            client_name: "logstream-nats".into(),
            headers: HeaderSet::Full,
        })
    }

    /// How topics become subject tokens (default [`TopicEncoding::Escape`]).
    ///
    /// # Errors
    /// [`NatsError::InvalidOption`] if the template does not fit the encoding.
    pub fn topic_encoding(mut self, encoding: TopicEncoding) -> Result<NatsOptions> {
        self.subject = SubjectTemplate::parse(self.subject.as_str(), encoding)?;
        Ok(self)
    }

    /// Authentication (default: none, or what the URL holds).
    pub fn auth(mut self, auth: Auth) -> NatsOptions {
        self.auth = auth;
        self
    }

    /// TLS settings.
    pub fn tls(mut self, tls: Tls) -> NatsOptions {
        self.tls = tls;
        self
    }

    /// How long connecting may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> NatsOptions {
        self.connect_timeout = timeout;
        self
    }

    /// How long a publish waits for its JetStream ack, and the bound of
    /// JetStream API requests (default [`DEFAULT_ACK_TIMEOUT`], 10 s). It
    /// bounds every wait of a batch (a place in the window, handing a
    /// message to the client, each ack): a batch the server does not answer
    /// fails within twice this time and is retried by the reader, and so a
    /// reader stopping while the server is down waits at most that long
    /// for its batches in flight.
    pub fn ack_timeout(mut self, timeout: Duration) -> NatsOptions {
        self.ack_timeout = timeout;
        self
    }

    /// Publishes awaiting their ack at once, over all topics (default
    /// [`DEFAULT_WINDOW`]; clamped to 1..=65536). Larger windows hide more
    /// round trips; each in-flight record holds a copy of its bytes.
    pub fn window(mut self, window: usize) -> NatsOptions {
        self.window = window.clamp(1, 65_536);
        self
    }

    /// Threads of the runtime that drives the client (default 2).
    pub fn runtime_threads(mut self, threads: usize) -> NatsOptions {
        self.runtime_threads = threads.max(1);
        self
    }

    /// The client name the server shows in its connection list (default `logstream-nats`).
    pub fn client_name(mut self, name: &str) -> NatsOptions {
        self.client_name = name.to_owned();
        self
    }

    /// Which headers each message carries (default [`HeaderSet::Full`]).
    pub fn headers(mut self, set: HeaderSet) -> NatsOptions {
        self.headers = set;
        self
    }

    /// The server URL(s).
    pub fn servers(&self) -> &str {
        &self.servers
    }

    /// The subject template.
    pub fn subject(&self) -> &SubjectTemplate {
        &self.subject
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_templates_are_checked_when_options_are_made() {
        assert!(NatsOptions::new("nats://127.0.0.1:4222,tls://h:1", "logs.{topic}").is_ok());
        let e = NatsOptions::new("nats://h:notaport", "logs.{topic}").unwrap_err().to_string();
        assert!(e.contains("server URL"), "{e}");
        assert!(NatsOptions::new("nats://h:4222", "logs.{nope}").is_err());
    }

    #[test]
    fn secrets_are_not_printed_in_debug_output() {
        let a = Auth::UserPassword { user: "u".into(), password: "hunter2".into() };
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(!format!("{:?}", Auth::Token("tok".into())).contains("tok\""));
    }
}
