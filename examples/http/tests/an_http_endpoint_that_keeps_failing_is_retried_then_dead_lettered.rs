//! End to end over real HTTP, as `http_forward` does: an async reader POSTs
//! batches with hyper's client to a hyper server started by the test. The
//! server answers 503 to every request for topic `broken`: each of its
//! batches is retried (every attempt reaches the server) and, once the
//! attempts run out, becomes the group's dead letters; topic `orders`, on a
//! server that works, arrives whole and once. On a current-thread and a
//! multi-thread runtime.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

const ATTEMPTS: u32 = 3;
const RECORDS: u64 = 300;
const SAFETY: Duration = Duration::from_secs(30);

/// Per topic, the first seqs of the requests that reached the server, and
/// the seqs it accepted.
#[derive(Default)]
struct Seen {
    requests: HashMap<String, Vec<u64>>,
    accepted: HashMap<String, Vec<u64>>,
}

type Shared = Arc<(Mutex<Seen>, tokio::sync::Notify)>;

async fn handle(seen: Shared, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |k: &str| req.headers().get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (topic, first) = (header("x-topic"), header("x-first-seq").parse::<u64>().unwrap_or(u64::MAX));
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let mut s = seen.0.lock().unwrap();
    s.requests.entry(topic.clone()).or_default().push(first);
    let status = if topic == "broken" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        let seqs = body.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| {
            let line = std::str::from_utf8(l).unwrap();
            line.split('\t').next().unwrap().parse::<u64>().unwrap()
        });
        s.accepted.entry(topic).or_default().extend(seqs);
        StatusCode::OK
    };
    drop(s);
    seen.1.notify_waiters();
    let mut r = Response::new(Full::new(Bytes::from_static(b"")));
    *r.status_mut() = status;
    Ok(r)
}

async fn serve(seen: Shared) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| handle(seen.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    addr
}

async fn a_failing_endpoint_is_retried_then_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = logstream::Config::new(dir.path());
    cfg.set_max_batch_bytes(1024).set_flush_interval_ms(10);
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..RECORDS {
        w.write("orders", format!(r#"{{"order":{i}}}"#).as_bytes()).unwrap();
        w.write("broken", format!(r#"{{"event":{i}}}"#).as_bytes()).unwrap();
    }
    let seen: Shared = Arc::default();
    let addr = serve(seen.clone()).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let uri: hyper::Uri = format!("http://{addr}/ingest").parse().unwrap();
    let reader = logstream::Reader::builder(&cfg)
        .group("http")
        .retry(logstream::RetryPolicy {
            initial: Duration::from_millis(1),
            max_delay: Duration::from_millis(10),
            max_attempts: Some(ATTEMPTS),
        })
        .start_async(move |batch: Arc<logstream::Batch>| {
            let (client, uri) = (client.clone(), uri.clone());
            async move {
                let mut body = Vec::new();
                for rec in batch.records() {
                    body.extend_from_slice(format!("{}\t", rec.seq()).as_bytes());
                    body.extend_from_slice(rec.data());
                    body.push(b'\n');
                }
                let req = Request::post(uri)
                    .header("x-topic", batch.topic())
                    .header("x-first-seq", batch.first_seq().to_string())
                    .body(Full::new(Bytes::from(body)))?;
                let status = client.request(req).await?.status();
                if !status.is_success() {
                    return Err(format!("the endpoint answered {status}").into());
                }
                Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
            }
        })
        .await
        .unwrap();

    // Until the server has every order and the last broken batch was
    // tried ATTEMPTS times (and so made dead letters).
    let group = logstream::Group::open(&cfg, "http").unwrap();
    let done = || {
        let letters = group.dead_letters("broken", 10_000).unwrap();
        let s = seen.0.lock().unwrap();
        s.accepted.get("orders").map_or(0, Vec::len) as u64 == RECORDS && letters.len() as u64 == RECORDS
    };
    let waited = tokio::time::timeout(SAFETY, async {
        loop {
            let changed = seen.1.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if done() {
                return;
            }
            // Dead letters are stored after the last failed request; look
            // again shortly after each request, at least every 50 ms.
            let _ = tokio::time::timeout(Duration::from_millis(50), changed).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out: not every order accepted, or not every broken record a dead letter");
    reader.stop_async().await.unwrap();

    let s = seen.0.lock().unwrap();
    assert_eq!(s.accepted["orders"], (0..RECORDS).collect::<Vec<_>>(), "orders arrived whole, in order, once");
    // Every broken batch reached the server exactly ATTEMPTS times.
    let mut tries: HashMap<u64, u32> = HashMap::new();
    for &first in &s.requests["broken"] {
        *tries.entry(first).or_default() += 1;
    }
    assert!(tries.len() > 1, "several broken batches");
    assert!(tries.values().all(|&n| n == ATTEMPTS), "attempts per broken batch: {tries:?}");
    let letters = group.dead_letters("broken", 10_000).unwrap();
    assert_eq!(letters.iter().map(|l| l.seq).collect::<Vec<_>>(), (0..RECORDS).collect::<Vec<_>>());
    assert!(letters.iter().all(|l| l.attempts == ATTEMPTS && l.error.contains("503")), "{:?}", letters[0]);
    assert_eq!(letters[7].data, br#"{"event":7}"#);
}

#[tokio::test(flavor = "current_thread")]
async fn a_failing_endpoint_is_retried_then_dead_lettered_on_a_current_thread_runtime() {
    a_failing_endpoint_is_retried_then_dead_lettered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_then_dead_lettered_on_a_multi_thread_runtime() {
    a_failing_endpoint_is_retried_then_dead_lettered().await;
}
