//! Per-process rate limits on the publisher API and search: a request is counted against its
//! token (when it has one) and against its client address, each with its own budget, and is
//! answered `429 rate-limited` with `Retry-After` when either budget is spent.
//!
//! Tokens are keyed by a salted hash of the `Authorization` header, so no secret is kept.
//! Budgets refill continuously (GCRA): a limit of N per minute allows a burst of N, then one
//! request every 60/N seconds.

use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::Config;
use crate::http::ApiError;

/// Which budget a route draws on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteClass {
    Publisher,
    Search,
    Unlimited,
}

/// The class of a route template (`MatchedPath`).
pub fn classify(route: &str) -> RouteClass {
    match route {
        "/v2/snaps/find" | "/v2/charms/find" | "/v1/search" | "/v1/{namespace}/{name}/related" => {
            RouteClass::Search
        }
        "/unscanned-upload/" => RouteClass::Publisher,
        r if r.starts_with("/v1/") => RouteClass::Publisher,
        _ => RouteClass::Unlimited,
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Key {
    Token(u64),
    Address(IpAddr),
}

/// The limiters of one process.
pub struct RateLimits {
    publisher: Option<DefaultKeyedRateLimiter<Key>>,
    search: Option<DefaultKeyedRateLimiter<Key>>,
    trust_forwarded_for: bool,
    salt: std::collections::hash_map::RandomState,
    checks: AtomicU64,
}

/// Forget idle keys every this many checks, so that the key tables stay small.
const SWEEP_EVERY: u64 = 4096;

fn limiter(per_minute: u32) -> Option<DefaultKeyedRateLimiter<Key>> {
    NonZeroU32::new(per_minute).map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_minute(n)))
}

impl RateLimits {
    pub fn new(config: &Config) -> RateLimits {
        RateLimits {
            publisher: limiter(config.publisher_rate_limit_per_minute),
            search: limiter(config.search_rate_limit_per_minute),
            trust_forwarded_for: config.trust_forwarded_for,
            salt: std::collections::hash_map::RandomState::new(),
            checks: AtomicU64::new(0),
        }
    }

    fn limiter(&self, class: RouteClass) -> Option<&DefaultKeyedRateLimiter<Key>> {
        match class {
            RouteClass::Publisher => self.publisher.as_ref(),
            RouteClass::Search => self.search.as_ref(),
            RouteClass::Unlimited => None,
        }
    }

    fn address(&self, request: &Request) -> Option<IpAddr> {
        client_address(
            request.headers(),
            request.extensions(),
            self.trust_forwarded_for,
        )
    }

    fn token(&self, headers: &HeaderMap) -> Option<u64> {
        let value = headers.get(header::AUTHORIZATION)?;
        Some(self.salt.hash_one(value.as_bytes()))
    }

    /// `Err(wait)` when the request must wait `wait` before it would be allowed.
    fn check(&self, class: RouteClass, request: &Request) -> Result<(), Duration> {
        let Some(limiter) = self.limiter(class) else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            for limiter in [&self.publisher, &self.search].into_iter().flatten() {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
        let keys = [
            self.token(request.headers()).map(Key::Token),
            self.address(request).map(Key::Address),
        ];
        let now = limiter.clock().now();
        let mut wait = Duration::ZERO;
        for key in keys.iter().flatten() {
            if let Err(not_until) = limiter.check_key(key) {
                wait = wait.max(not_until.wait_time_from(now));
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }
}

/// The client's address: the connection's peer, or with `trust_forwarded_for` the last
/// `X-Forwarded-For` entry (the one the proxy in front of depot added).
pub(crate) fn client_address(
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    if trust_forwarded_for && let Some(ip) = forwarded_for(headers) {
        return Some(ip);
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|v| !v.is_empty())?;
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

impl RateLimits {
    /// The `429 rate-limited` answer, with `Retry-After` (whole seconds, at least 1), when the
    /// budget of `route` (a route template) for this request's token or address is spent.
    pub fn refuse(&self, route: &str, request: &Request) -> Option<Response> {
        let wait = self.check(classify(route), request).err()?;
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let secs = secs.max(1);
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            format!("too many requests; retry in {secs} s"),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        Some(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classified_by_template() {
        assert_eq!(classify("/v1/tokens/whoami"), RouteClass::Publisher);
        assert_eq!(
            classify("/v1/{namespace}/{name}/releases"),
            RouteClass::Publisher
        );
        assert_eq!(classify("/unscanned-upload/"), RouteClass::Publisher);
        assert_eq!(classify("/v2/snaps/find"), RouteClass::Search);
        assert_eq!(classify("/v2/charms/find"), RouteClass::Search);
        assert_eq!(classify("/v1/search"), RouteClass::Search);
        assert_eq!(
            classify("/v1/{namespace}/{name}/related"),
            RouteClass::Search
        );
        assert_eq!(classify("/v2/snaps/info/{name}"), RouteClass::Unlimited);
        assert_eq!(classify("/v2/snaps/refresh"), RouteClass::Unlimited);
        assert_eq!(
            classify("/api/v1/{plural}/download/{file}"),
            RouteClass::Unlimited
        );
    }

    #[test]
    fn forwarded_for_takes_the_last_hop() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "10.0.0.1, 192.0.2.7".parse().unwrap());
        assert_eq!(forwarded_for(&headers), Some("192.0.2.7".parse().unwrap()));
        headers.append("x-forwarded-for", "[2001:db8::1]:443".parse().unwrap());
        assert_eq!(
            forwarded_for(&headers),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(forwarded_for(&HeaderMap::new()), None);
    }
}
