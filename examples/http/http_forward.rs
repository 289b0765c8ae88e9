//! Forwarding batches over HTTP with an async client (feature `tokio`).
//!
//! `cargo run --example http_forward -- DIR` (package `examples/http`)
//!
//! The example starts its own HTTP server on 127.0.0.1 (hyper), which
//! refuses every fifth request with 503 like a busy endpoint. A tokio task
//! writes 100 000 small JSON events on four topics into the log in `DIR`;
//! an async reader (`ReaderBuilder::start_async`) POSTs each batch to the
//! server with hyper's client: a 2xx confirms the batch, anything else
//! retries it after a backoff. It prints progress every half second and
//! stops by itself once the server has every record, with a summary. Run
//! it again on the same directory: the group goes on after the last
//! record the server confirmed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

const RECORDS: u64 = 100_000;
const TOPICS: [&str; 4] = ["login", "search", "purchase", "logout"];
/// The server refuses every this-many-th request.
const REFUSE_EVERY: u64 = 5;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the local endpoint received.
#[derive(Default)]
struct Endpoint {
    requests: AtomicU64,
    refused: AtomicU64,
    /// Per topic: the next seq expected (records arrive in order per topic).
    next: Mutex<HashMap<String, u64>>,
    received: AtomicU64,
    duplicates: AtomicU64,
    all_in: tokio::sync::Notify,
    want: AtomicU64,
}

impl Endpoint {
    /// Takes one POST: `x-topic` names the topic, the body holds one
    /// `seq<TAB>json` line per record.
    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(REFUSE_EVERY) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Ok(reply(StatusCode::SERVICE_UNAVAILABLE, "busy, try again"));
        }
        let topic = req.headers().get("x-topic").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return Ok(reply(StatusCode::BAD_REQUEST, &format!("reading the body failed: {e}"))),
        };
        let mut next = self.next.lock().expect("endpoint state");
        let expect = next.entry(topic).or_insert(0);
        let (mut fresh, mut again) = (0, 0);
        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let seq: u64 = match std::str::from_utf8(line).ok().and_then(|l| l.split('\t').next()?.parse().ok()) {
                Some(s) => s,
                None => return Ok(reply(StatusCode::BAD_REQUEST, "a line without a sequence number")),
            };
            if seq < *expect {
                again += 1; // at-least-once: a batch sent again after a lost reply
            } else {
                *expect = seq + 1;
                fresh += 1;
            }
        }
        drop(next);
        self.duplicates.fetch_add(again, Ordering::Relaxed);
        let total = self.received.fetch_add(fresh, Ordering::Relaxed) + fresh;
        if total >= self.want.load(Ordering::Relaxed) {
            self.all_in.notify_one();
        }
        Ok(reply(StatusCode::OK, "ok"))
    }
}

fn reply(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_owned())));
    *r.status_mut() = status;
    r
}

/// Serves `endpoint` on 127.0.0.1 (a port the OS picks) until the runtime ends.
async fn serve(endpoint: Arc<Endpoint>) -> Result<SocketAddr, Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("accepting a connection failed: {e}");
                    continue;
                }
            };
            let ep = endpoint.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| ep.clone().handle(req));
                if let Err(e) =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await
                {
                    eprintln!("serving a connection failed: {e}");
                }
            });
        }
    });
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dir = std::env::args().nth(1).ok_or("usage: http_forward DIR")?;
    let mut cfg = logstream::Config::new(&dir);
    cfg.set_max_concurrent_forward(4);
    let writer = logstream::Writer::open(&cfg)?;
    // Records of earlier runs that the group has not confirmed yet come too.
    let group = "http-forward";
    let mut pending = 0;
    for t in writer.topics()? {
        let done = logstream::Group::open(&cfg, group)
            .ok()
            .and_then(|g| g.positions().ok())
            .and_then(|p| p.into_iter().find(|p| p.topic == t.topic).map(|p| p.next_seq));
        pending += t.next_seq - done.unwrap_or(t.first_seq).max(t.first_seq);
    }

    let endpoint = Arc::new(Endpoint::default());
    endpoint.want.store(RECORDS + pending, Ordering::Relaxed);
    let addr = serve(endpoint.clone()).await?;
    println!("log directory {dir}; endpoint http://{addr}/ingest (refuses every {REFUSE_EVERY}th request)");

    // The forwarder: one POST per batch, with hyper's pooled client.
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let uri: hyper::Uri = format!("http://{addr}/ingest").parse()?;
    let batches = Arc::new(AtomicU64::new(0));
    let sent = batches.clone();
    let reader = logstream::Reader::builder(&cfg)
        .group(group)
        .retry(logstream::RetryPolicy {
            initial: Duration::from_millis(20),
            max_delay: Duration::from_secs(1),
            max_attempts: None,
        })
        .start_async(move |batch: Arc<logstream::Batch>| {
            let (client, uri, sent) = (client.clone(), uri.clone(), sent.clone());
            async move {
                let mut body = Vec::with_capacity(batch.bytes() as usize + 16 * batch.len());
                for rec in batch.records() {
                    body.extend_from_slice(format!("{}\t", rec.seq()).as_bytes());
                    body.extend_from_slice(rec.data());
                    body.push(b'\n');
                }
                let req = Request::post(uri)
                    .header("x-topic", batch.topic())
                    .header("content-type", "text/tab-separated-values")
                    .body(Full::new(Bytes::from(body)))?;
                let resp = client.request(req).await?;
                if !resp.status().is_success() {
                    return Err(format!("the endpoint answered {}", resp.status()).into());
                }
                sent.fetch_add(1, Ordering::Relaxed);
                Ok::<(), Error>(())
            }
        })
        .await?;

    // The producer: `write()` never waits for the disk, so it is called
    // right here on the runtime (yielding now and then to share the thread).
    let start = Instant::now();
    let written = Arc::new(AtomicU64::new(0));
    let (w2, n2) = (writer.clone(), written.clone());
    let producer = tokio::spawn(async move {
        for i in 0..RECORDS {
            let topic = TOPICS[(i % TOPICS.len() as u64) as usize];
            let event = format!(r#"{{"n":{i},"topic":"{topic}","user":"user-{}"}}"#, i % 977);
            w2.write(topic, event.as_bytes())?;
            n2.fetch_add(1, Ordering::Relaxed);
            if i.is_multiple_of(1024) {
                tokio::task::yield_now().await;
            }
        }
        // Durable before we say so; the flush thread completes this.
        w2.flush_async().await
    });

    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.tick().await; // the first tick is at once
    let mut last = (0, 0);
    let all_in = endpoint.all_in.notified();
    tokio::pin!(all_in);
    loop {
        tokio::select! {
            _ = &mut all_in => break,
            _ = tick.tick() => {
                let (w, r) = (written.load(Ordering::Relaxed), endpoint.received.load(Ordering::Relaxed));
                println!(
                    "{:>5.1}s  written {w:>7} ({:>7}/s)  delivered {r:>7} ({:>7}/s)  requests {}  refused {}",
                    start.elapsed().as_secs_f64(),
                    (w - last.0) * 2,
                    (r - last.1) * 2,
                    endpoint.requests.load(Ordering::Relaxed),
                    endpoint.refused.load(Ordering::Relaxed),
                );
                last = (w, r);
            }
        }
    }
    producer.await??;
    let stats = reader.stats();
    reader.stop_async().await?; // positions persisted
    writer.close()?;
    let secs = start.elapsed().as_secs_f64();
    let got = endpoint.received.load(Ordering::Relaxed);
    println!();
    println!("done in {secs:.2}s:");
    println!("  {RECORDS} records written ({pending} more from earlier runs) on {} topics", TOPICS.len());
    println!(
        "  {got} delivered to the endpoint in {} batches ({:.0} records/s), each topic in order",
        batches.load(Ordering::Relaxed),
        got as f64 / secs
    );
    println!(
        "  {} requests refused with 503 and retried ({} retries), {} records received twice (at-least-once)",
        endpoint.refused.load(Ordering::Relaxed),
        stats.retries,
        endpoint.duplicates.load(Ordering::Relaxed)
    );
    println!("  positions saved in {dir}/groups/{group}: a new run goes on after the last confirmed record");
    Ok(())
}
