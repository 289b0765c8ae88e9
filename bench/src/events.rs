//! Realistic, deterministic JSON event logs for the compression scenario:
//! web access logs and audit events (about 150–300 bytes each) as a service
//! would write them, generated from a seeded PRNG so every run and every
//! subject sees the same bytes.
//!
//! What makes them realistic for a compressor: repeated keys and a small
//! vocabulary (hosts, methods, paths, user agents, actions) compress well;
//! timestamps that advance by a few milliseconds compress partly; request ids
//! (64 random bits in hex), object ids, byte counts and durations do not.
//! Users are skewed (4 events in 5 come from 2 000 active users, the rest
//! from 50 000) and each keeps one address and one client, as in sessions.

/// SplitMix64: small, fast, and good enough for synthetic data.
pub struct Rng(u64);

impl Rng {
    /// A generator with a fixed seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// One element of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// An index drawn with the given weights.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut x = self.below(weights.iter().sum());
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

const HOSTS: &[&str] = &["web-01", "web-02", "web-03", "web-04", "api-01", "api-02"];
const METHODS: &[&str] = &["GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"];
const PATHS: &[&str] = &[
    "/api/v1/orders/{}",
    "/api/v1/users/{}/profile",
    "/api/v1/cart",
    "/api/v1/search?q=item{}",
    "/static/js/app.{}.js",
    "/healthz",
    "/api/v1/products/{}/reviews",
    "/login",
    "/api/v2/payments/{}/capture",
];
const STATUS: &[(u64, u64)] =
    &[(200, 70), (201, 5), (204, 4), (304, 6), (400, 3), (401, 3), (404, 5), (500, 2), (503, 2)];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.5.0",
    "okhttp/4.12.0",
];
const ACTIONS: &[&str] = &[
    "user.login",
    "user.logout",
    "user.password_change",
    "role.grant",
    "api_key.create",
    "document.share",
    "document.delete",
    "billing.update",
];
const RESULTS: &[&str] = &["success", "success", "success", "denied", "error"];
const TARGETS: &[&str] = &["session", "role", "api_key", "document", "invoice"];

/// Generates the events: the same sequence for the same seed.
pub struct Events {
    rng: Rng,
    ms: u64,
}

impl Events {
    /// Events starting at 2026-11-26 00:00:00 UTC.
    pub fn new(seed: u64) -> Events {
        Events { rng: Rng::new(seed), ms: 1_795_651_200_000 }
    }

    /// The next event as JSON (no trailing newline).
    pub fn next_event(&mut self) -> Vec<u8> {
        self.ms += self.rng.below(15);
        let ts = format!("{}.{:03}Z", crate::utc(self.ms / 1000).replace(' ', "T"), self.ms % 1000);
        let r = &mut self.rng;
        // Skewed activity: most events come from a few thousand active users;
        // a user keeps an address and a client (a session).
        let uid = if r.below(5) == 0 { r.below(50_000) } else { r.below(2_000) };
        let user = format!("u_{uid:06}");
        let mut who = Rng::new(uid);
        let ip = format!("10.{}.{}.{}", who.below(8), who.below(256), 1 + who.below(254));
        let agent = who.pick(AGENTS);
        let req = format!("{:016x}", r.next_u64());
        if r.below(5) == 0 {
            let action = r.pick(ACTIONS);
            let target = format!("{}/{}", r.pick(TARGETS), r.below(1_000_000));
            let result = r.pick(RESULTS);
            let mfa = r.below(3) != 0;
            format!(
                r#"{{"ts":"{ts}","kind":"audit","actor":"{user}","action":"{action}","target":"{target}","result":"{result}","mfa":{mfa},"ip":"{ip}","req":"{req}","svc":"{}"}}"#,
                r.pick(HOSTS)
            )
            .into_bytes()
        } else {
            let path = r.pick(PATHS).replace("{}", &r.below(100_000).to_string());
            let status = STATUS[r.weighted(&STATUS.iter().map(|s| s.1).collect::<Vec<_>>())].0;
            let bytes = if status == 204 || status == 304 { 0 } else { 200 + r.below(40_000) };
            let ms = r.below(2_000) as f64 / 10.0;
            format!(
                r#"{{"ts":"{ts}","kind":"http","host":"{}","method":"{}","path":"{path}","status":{status},"bytes":{bytes},"ms":{ms:.1},"user":"{user}","ip":"{ip}","req":"{req}","ua":"{agent}"}}"#,
                r.pick(HOSTS),
                r.pick(METHODS),
            )
            .into_bytes()
        }
    }

    /// `n` events.
    pub fn take(seed: u64, n: u64) -> Vec<Vec<u8>> {
        let mut e = Events::new(seed);
        (0..n).map(|_| e.next_event()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_json_of_the_intended_size_and_deterministic() {
        let a = Events::take(7, 2000);
        assert_eq!(a, Events::take(7, 2000));
        for e in &a {
            let v: serde_json::Value = serde_json::from_slice(e).expect("valid JSON");
            assert!(v.get("ts").is_some());
            assert!((120..=320).contains(&e.len()), "{} bytes: {}", e.len(), String::from_utf8_lossy(e));
        }
        let mean = a.iter().map(Vec::len).sum::<usize>() / a.len();
        assert!((150..=300).contains(&mean), "mean {mean}");
    }
}
