//! A per-client rate limit: one token bucket per peer IP address.
//!
//! Each client's bucket holds up to `burst` tokens and refills at `requests_per_s`; a request
//! takes one token or is refused with 429 and a `Retry-After` saying when the next token
//! arrives. The table of buckets is capped at `clients_max`: when full, buckets that have
//! refilled completely (clients that went quiet) are dropped, and if none has, the new client
//! is refused rather than letting an attacker with many addresses grow the table without
//! bound.
//!
//! A batch (`POST /v1/txs/batch`) costs one token per transaction: the middleware takes the
//! first, and the handler [charges](RateLimiter::charge) the rest once it has counted them. The
//! charge may leave the bucket in debt, which the client's next requests wait out, so a batch
//! larger than the burst still goes through once, and a client's sustained rate stays
//! `requests_per_s` transactions however it sends them.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Extensions;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// How fast each client may call the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Sustained requests per second per client.
    pub requests_per_s: u32,
    /// Requests a client may make at once after being idle.
    pub burst: u32,
    /// Most clients tracked at once.
    pub clients_max: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            requests_per_s: 50,
            burst: 100,
            clients_max: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// The tokens it holds at `now` at `rate` per second, before the burst caps them.
    fn tokens_at(&self, now: Instant, rate: f64) -> f64 {
        self.tokens + now.duration_since(self.updated).as_secs_f64() * rate
    }

    /// Brings it up to `now`: the tokens earned since its last update, up to `burst`.
    fn refill(&mut self, now: Instant, rate: f64, burst: f64) {
        self.tokens = self.tokens_at(now, rate).min(burst);
        self.updated = now;
    }
}

/// The buckets of every client seen recently.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    config: RateLimitConfig,
    buckets: Arc<Mutex<HashMap<IpAddr, Bucket>>>,
}

impl RateLimiter {
    pub(crate) fn new(config: RateLimitConfig) -> Self {
        assert!(
            config.requests_per_s > 0 && config.burst > 0,
            "a rate limit must allow requests"
        );
        RateLimiter {
            config,
            buckets: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes a token for `client`, or says how long until one is available.
    fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(self.config.requests_per_s);
        let burst = f64::from(self.config.burst);
        let mut buckets = self
            .buckets
            .lock()
            .expect("no panics while holding the lock");
        if !buckets.contains_key(&client) && buckets.len() >= self.config.clients_max {
            buckets.retain(|_, b| b.tokens_at(now, rate) < burst);
            if buckets.len() >= self.config.clients_max {
                return Err(Duration::from_secs(1));
            }
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        bucket.refill(now, rate, burst);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
    }

    /// Takes `tokens` more from `client`, refilled to `now`, even into debt (see the module
    /// docs); a client the table no longer tracks is not charged.
    pub(crate) fn charge(&self, client: IpAddr, tokens: u32, now: Instant) {
        let rate = f64::from(self.config.requests_per_s);
        let burst = f64::from(self.config.burst);
        let mut buckets = self
            .buckets
            .lock()
            .expect("no panics while holding the lock");
        let Some(bucket) = buckets.get_mut(&client) else {
            return;
        };
        bucket.refill(now, rate, burst);
        bucket.tokens -= f64::from(tokens);
    }
}

/// The client a request comes from: its peer's IPv4 address, or its IPv6 /64 network (one
/// host is usually given a whole /64, so counting addresses would give it 2^64 buckets); a
/// server started without connection info counts everyone as one.
pub(crate) fn client_of(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| client_key(c.0.ip()))
}

/// The bucket an address counts against: an IPv4 address (also when mapped into IPv6) as
/// is, an IPv6 address by its /64 prefix.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

/// Middleware: refuses a request with 429 when its client is over the limit.
pub(crate) async fn limit(
    State(limiter): State<RateLimiter>,
    request: Request,
    next: Next,
) -> Response {
    let client = client_of(request.extensions());
    match limiter.take(client, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let mut error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many requests from {client}: at most {} per second, bursts of {}",
                    limiter.config.requests_per_s, limiter.config.burst
                ),
            );
            error.retry_after_s = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
            error.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A limiter of `requests_per_s` and `burst` that tracks two clients at most.
    fn limiter(requests_per_s: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            requests_per_s,
            burst,
            clients_max: 2,
        })
    }

    /// Client `n`'s address.
    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
    }

    #[test]
    fn ipv6_clients_count_by_their_64_network_and_mapped_ipv4_as_ipv4() {
        let host: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_network: Ipv6Addr = "2001:db8:1:2:ffff:eeee:dddd:cccc".parse().unwrap();
        let other_network: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        let key = |ip: Ipv6Addr| client_key(IpAddr::V6(ip));
        assert_eq!(key(host), key(same_network));
        assert_ne!(key(host), key(other_network));
        assert_eq!(key(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped()), ip(1));

        // Addresses from one /64 share a bucket: rotating them does not escape the limit.
        let limiter = limiter(1, 2);
        let now = Instant::now();
        let mut refused = false;
        for suffix in 1..=3u128 {
            let rotated = Ipv6Addr::from(u128::from(host) + suffix);
            refused |= limiter.take(client_key(IpAddr::V6(rotated)), now).is_err();
        }
        assert!(refused, "three requests from one /64 passed a burst of two");
    }

    #[test]
    fn a_bucket_allows_a_burst_then_refills() {
        let limiter = limiter(10, 3);
        let start = Instant::now();
        let a = ip(1);
        for _ in 0..3 {
            assert!(limiter.take(a, start).is_ok());
        }
        let wait = limiter.take(a, start).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO);
        assert!(limiter.take(a, start + Duration::from_millis(100)).is_ok());
        let b = ip(2);
        assert!(
            limiter.take(b, start).is_ok(),
            "clients have separate buckets"
        );
    }

    #[test]
    fn a_charge_goes_into_debt_that_later_requests_wait_out() {
        let limiter = limiter(10, 5);
        let start = Instant::now();
        let a = ip(1);
        assert!(limiter.take(a, start).is_ok());
        limiter.charge(a, 9, start);
        let wait = limiter.take(a, start).unwrap_err();
        assert!(
            wait > Duration::from_millis(599) && wait <= Duration::from_millis(600),
            "5 - 10 tokens: 6 to refill at 10/s, not {wait:?}"
        );
        assert!(limiter.take(a, start + Duration::from_millis(600)).is_ok());
        let b = ip(2);
        limiter.charge(b, 100, start);
        assert!(
            limiter.take(b, start).is_ok(),
            "an untracked client is not charged"
        );
    }

    #[test]
    fn the_table_is_capped_and_quiet_clients_make_room() {
        let limiter = limiter(1, 2);
        let start = Instant::now();
        assert!(limiter.take(ip(1), start).is_ok());
        assert!(limiter.take(ip(2), start).is_ok());
        assert!(
            limiter.take(ip(3), start).is_err(),
            "table full of active clients"
        );
        let later = start + Duration::from_secs(5);
        assert!(
            limiter.take(ip(3), later).is_ok(),
            "refilled clients were dropped"
        );
    }
}
