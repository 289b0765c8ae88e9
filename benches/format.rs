//! Criterion micro-benchmarks of the pure parts: record frame encode and
//! decode, CRC-32 (crc32fast, as the frames use it), and config parsing.
//! `cargo bench --bench format`.
#![expect(missing_docs, reason = "criterion_group! generates undocumented functions")]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use logstream::format::frame::{checksum, decode_bytes, encode_record, frame_len, record_tag, seq_and_time};

const SIZES: &[usize] = &[16, 100, 1024, 64 * 1024];

fn frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    for &size in SIZES {
        let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let mut buf = vec![0u8; frame_len(size)];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("encode_record", size), &payload, |b, p| {
            b.iter(|| encode_record(black_box(&mut buf), black_box(7), black_box(1), black_box(p)));
        });
        encode_record(&mut buf, 7, 1, &payload);
        g.bench_with_input(BenchmarkId::new("decode_bytes", size), &buf, |b, buf| {
            b.iter(|| {
                let f = decode_bytes(black_box(buf));
                assert!(f.is_ok());
                f
            });
        });
    }
    g.finish();
}

fn crc(c: &mut Criterion) {
    let mut g = c.benchmark_group("crc32fast");
    for &size in SIZES {
        let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("hash", size), &payload, |b, p| {
            b.iter(|| crc32fast::hash(black_box(p)));
        });
        // What a frame costs: one pass over seq ++ timestamp ++ payload,
        // seeded with the tag (as `write()` and the reader do).
        let mut body = seq_and_time(7, 1).to_vec();
        body.extend_from_slice(&payload);
        let tag = record_tag(size);
        g.bench_with_input(BenchmarkId::new("frame checksum", size), &body, |b, p| {
            b.iter(|| checksum(black_box(tag), black_box(p)));
        });
    }
    g.finish();
}

fn config(c: &mut Criterion) {
    let mut g = c.benchmark_group("config");
    let text = include_str!("../meta.example.json");
    g.bench_function("from_json_str meta.example.json", |b| {
        b.iter(|| logstream::Config::from_json_str(black_box(text), None).expect("example config parses"));
    });
    g.bench_function("parse_size", |b| {
        b.iter(|| {
            for s in ["512K", "200M", "1G", "4GiB", "1048576", "2 GB"] {
                black_box(logstream::parse_size(black_box(s)).expect("size parses"));
            }
        });
    });
    g.finish();
}

fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = frames, crc, config
}
criterion_main!(benches);
