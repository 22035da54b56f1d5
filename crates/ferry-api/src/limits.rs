//! Per-node request limits: failed authentication per source address, and an optional request
//! rate per client. Both are kept in this process's memory: several nodes behind a load
//! balancer each count on their own (so an address gets up to N × the limit across N nodes),
//! and a restart forgets them.
//!
//! - **Failed authentication.** A response that refuses credentials the caller presented (a
//!   401 in any dialect to a request that carried credentials; a request with none at all, as
//!   clients without preemptive auth send first, does not count), or an OAuth page for a state
//!   that does not exist, counts against the request's source address; once an address has `failed_auth_per_minute` failures in
//!   the current minute, every request from it gets 429 with `Retry-After` until the minute
//!   ends, the right key included. IPv6 addresses count by their /64, which one host usually
//!   holds whole.
//! - **Client rate** (`FERRY_RATE_LIMIT`, off by default): a token bucket per authenticated
//!   client that holds the rate's count (a burst of 500 for `500/s`, of 100 for `100/min`)
//!   and refills evenly over the rate's period.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// The limits of one node.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Failed authentications an address may make in a minute before it gets 429s (0: no limit).
    pub failed_auth_per_minute: u32,
    /// Requests a client may make, when set.
    pub client_rate: Option<Rate>,
    /// Take the source address from the last `X-Forwarded-For` entry (the one the reverse proxy
    /// in front of Ferry added), not from the connection. Only behind a proxy that sets it.
    pub trust_forwarded_for: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self { failed_auth_per_minute: 20, client_rate: None, trust_forwarded_for: false }
    }
}

/// A request rate, written `500/s`, `100/min` or `3600/h`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// How many requests, at most, at once.
    pub burst: u32,
    pub per_second: f64,
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a rate; write it as COUNT/s, COUNT/min or COUNT/h (e.g. 500/s)");
        let (count, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let seconds = match unit.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(format!("`{s}`: the rate must be more than 0 (leave it unset for no limit)"));
        }
        Ok(Rate { burst: count, per_second: f64::from(count) / seconds })
    }
}

/// A response marks itself with this when it refused a caller that could not be authenticated
/// but is not a 401 (an OAuth page for an unknown state, say).
#[derive(Debug, Clone, Copy)]
pub struct AuthFailure;

const WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked addresses or clients, stale entries are dropped; the next cleanup
/// waits until the map has doubled, so a flood of fresh addresses costs one scan per doubling,
/// not one per request.
const PRUNE_AT: usize = 10_000;
/// No more addresses than this are tracked at once (beyond it, new ones go uncounted until old
/// ones expire): a bound on memory whatever the flood.
const MAX_TRACKED: usize = 500_000;

/// A map that cleans itself up as it grows.
struct Tracked<K, V> {
    map: HashMap<K, V>,
    prune_at: usize,
}

impl<K: std::hash::Hash + Eq, V> Default for Tracked<K, V> {
    fn default() -> Self {
        Self { map: HashMap::new(), prune_at: PRUNE_AT }
    }
}

impl<K: std::hash::Hash + Eq, V> Tracked<K, V> {
    /// Drops the entries `stale` says are stale, when the map has grown enough to be worth it.
    fn prune(&mut self, stale: impl Fn(&V) -> bool) {
        if self.map.len() >= self.prune_at {
            self.map.retain(|_, v| !stale(v));
            self.prune_at = (self.map.len() * 2).max(PRUNE_AT);
        }
    }
}

/// The limits and their counters, shared by every request of a node.
#[derive(Clone)]
pub struct Limiter(Arc<Inner>);

struct Inner {
    limits: Limits,
    failures: Mutex<Tracked<IpAddr, Window>>,
    buckets: Mutex<Tracked<String, Bucket>>,
}

struct Window {
    started: Instant,
    count: u32,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limiter {
    pub fn new(limits: Limits) -> Self {
        Self(Arc::new(Inner { limits, failures: Mutex::default(), buckets: Mutex::default() }))
    }

    /// How long `ip` must wait, when it has used up its failed authentications.
    fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let max = self.0.limits.failed_auth_per_minute;
        if max == 0 {
            return None;
        }
        let failures = self.0.failures.lock().unwrap_or_else(|e| e.into_inner());
        let w = failures.map.get(&ip)?;
        let elapsed = now.saturating_duration_since(w.started);
        (w.count >= max && elapsed < WINDOW).then(|| WINDOW - elapsed)
    }

    fn failed(&self, ip: IpAddr, now: Instant) {
        if self.0.limits.failed_auth_per_minute == 0 {
            return;
        }
        let mut failures = self.0.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.prune(|w| now.saturating_duration_since(w.started) >= WINDOW);
        if failures.map.len() >= MAX_TRACKED && !failures.map.contains_key(&ip) {
            return;
        }
        let w = failures.map.entry(ip).or_insert(Window { started: now, count: 0 });
        if now.saturating_duration_since(w.started) >= WINDOW {
            *w = Window { started: now, count: 0 };
        }
        w.count = w.count.saturating_add(1);
    }

    /// Takes one request from `client`'s budget: an error (429) when there is none left.
    pub fn admit(&self, client: &str) -> Result<(), ApiError> {
        let Some(rate) = self.0.limits.client_rate else { return Ok(()) };
        let now = Instant::now();
        let capacity = f64::from(rate.burst);
        let mut buckets = self.0.buckets.lock().unwrap_or_else(|e| e.into_inner());
        // A bucket that has refilled is the same as no bucket.
        buckets.prune(|b| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate.per_second >= capacity);
        let b = buckets.map.entry(client.to_owned()).or_insert(Bucket { tokens: capacity, at: now });
        b.tokens = (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate.per_second).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - b.tokens) / rate.per_second);
        Err(too_many("this client has made too many requests; slow down and retry", wait))
    }

    /// The address a request counts against.
    fn source(&self, req: &Request) -> Option<IpAddr> {
        let forwarded = || {
            let value = req.headers().get_all("x-forwarded-for").iter().last()?.to_str().ok()?;
            let last = value.rsplit(',').next()?.trim();
            // `ip`, `ip:port`, `[v6]` or `[v6]:port`.
            last.parse::<IpAddr>()
                .ok()
                .or_else(|| last.parse::<SocketAddr>().ok().map(|s| s.ip()))
                .or_else(|| last.strip_prefix('[')?.strip_suffix(']')?.parse::<IpAddr>().ok())
        };
        let ip = if self.0.limits.trust_forwarded_for { forwarded() } else { None };
        let ip = ip.or_else(|| req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))?;
        Some(match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let s = v6.segments();
                    IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
                }
            },
            v4 => v4,
        })
    }
}

/// The 429 answer: `Retry-After` in whole seconds (at least 1).
fn too_many(message: &str, wait: Duration) -> ApiError {
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, message);
    e.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
    e
}

/// The layer of every dialect's router: refuses addresses that failed authentication too
/// often, and counts the failures of the requests it lets through. A request without a source
/// address (one handed to the router directly, not over a connection) is not counted.
pub async fn failed_auth(req: Request, next: Next) -> Response {
    let Some(limiter) = req.extensions().get::<Limiter>().cloned() else { return next.run(req).await };
    let Some(ip) = limiter.source(&req) else { return next.run(req).await };
    if let Some(wait) = limiter.blocked(ip, Instant::now()) {
        tracing::info!(%ip, "refused: too many failed authentications");
        return too_many("too many failed authentication attempts from this address; retry later", wait)
            .into_response();
    }
    let presented = CREDENTIAL_HEADERS.iter().any(|h| req.headers().contains_key(*h));
    let response = next.run(req).await;
    let refused = presented && response.status() == StatusCode::UNAUTHORIZED;
    if refused || response.extensions().get::<AuthFailure>().is_some() {
        limiter.failed(ip, Instant::now());
    }
    response
}

/// The headers that carry credentials in one dialect or another.
const CREDENTIAL_HEADERS: &[&str] =
    &["authorization", "mx-api-key", "mx-client-id", "md-session-token", "md-api-token"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!("500/s".parse::<Rate>().unwrap().per_second, 500.0);
        assert_eq!("120/min".parse::<Rate>().unwrap().per_second, 2.0);
        assert_eq!(" 3600 / h ".parse::<Rate>().unwrap().per_second, 1.0);
        for bad in ["", "500", "0/s", "x/s", "5/day", "-1/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_address_is_blocked_after_its_failures_for_the_rest_of_the_minute() {
        let l = Limiter::new(Limits { failed_auth_per_minute: 3, ..Limits::default() });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.blocked(ip, t0).is_none());
            l.failed(ip, t0);
        }
        let wait = l.blocked(ip, t0 + Duration::from_secs(15)).unwrap();
        assert_eq!(wait, Duration::from_secs(45));
        assert!(l.blocked(other, t0).is_none());
        assert!(l.blocked(ip, t0 + WINDOW).is_none());
        l.failed(ip, t0 + WINDOW);
        assert!(l.blocked(ip, t0 + WINDOW).is_none(), "a new minute starts over");
    }

    #[test]
    fn a_flood_of_addresses_is_cleaned_up_once_per_doubling_and_bounded() {
        let l = Limiter::new(Limits::default());
        let t0 = Instant::now();
        for i in 0..(PRUNE_AT as u32 + 10) {
            l.failed(IpAddr::V4(std::net::Ipv4Addr::from(i)), t0);
        }
        let failures = l.0.failures.lock().unwrap();
        assert_eq!(failures.map.len(), PRUNE_AT + 10, "all fresh: none dropped");
        assert_eq!(failures.prune_at, (PRUNE_AT * 2).max(PRUNE_AT), "the next cleanup waits for twice as many");
        drop(failures);
        // A minute later the stale ones go at the next cleanup.
        for i in 0..(PRUNE_AT as u32) {
            l.failed(IpAddr::V4(std::net::Ipv4Addr::from(1_000_000 + i)), t0 + WINDOW);
        }
        assert!(l.0.failures.lock().unwrap().map.len() <= PRUNE_AT + 1);
    }

    #[test]
    fn a_client_gets_its_rate_and_no_more() {
        let l = Limiter::new(Limits { client_rate: Some("5/s".parse().unwrap()), ..Limits::default() });
        for _ in 0..5 {
            l.admit("a").unwrap();
        }
        let e = l.admit("a").unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after, Some(1));
        l.admit("b").unwrap();
    }
}
