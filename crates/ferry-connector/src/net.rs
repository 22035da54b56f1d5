//! Outbound HTTP that a user's input can steer: webhook receivers a client registers, and the
//! URLs connectors call (a SimpleFIN setup token is a URL the end user chose). Both go through
//! one address policy: loopback, private, link-local, CGNAT and metadata addresses are refused
//! at connect time (the resolver drops them, so a name re-pointed there later is refused too),
//! redirects are never followed, and every request has a timeout.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Which addresses outbound requests may reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// 127.0.0.0/8 and ::1 (tests and local development).
    pub allow_loopback: bool,
    /// Private, link-local and unique-local networks.
    pub allow_private: bool,
}

impl AddressPolicy {
    /// Whether the policy lets a request reach `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        // An IPv4-mapped IPv6 address is judged as the IPv4 address it maps.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        // 0.0.0.0 and :: reach the host itself: never allowed, whatever the settings.
        if ip.is_unspecified() {
            return false;
        }
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        let private = match ip {
            IpAddr::V4(v4) => {
                v4.is_private()
                    || v4.is_link_local()
                    || v4.is_unspecified()
                    || v4.is_broadcast()
                    || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]) // CGNAT
                    || v4.octets()[0] == 0
            }
            IpAddr::V6(v6) => {
                let s = v6.segments()[0];
                v6.is_unspecified() || (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
            }
        };
        !private || self.allow_private
    }

    /// Checks a URL before any request: http(s), a host, and (for IP literals and `localhost`)
    /// an address the policy allows. Names are checked again when they resolve.
    pub fn check_url(&self, url: &url::Url) -> Result<(), UrlRefusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UrlRefusal::Scheme);
        }
        match url.host() {
            None => Err(UrlRefusal::NoHost),
            Some(url::Host::Ipv4(ip)) if !self.allows(IpAddr::V4(ip)) => Err(UrlRefusal::Address),
            Some(url::Host::Ipv6(ip)) if !self.allows(IpAddr::V6(ip)) => Err(UrlRefusal::Address),
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") => {
                if self.allow_loopback { Ok(()) } else { Err(UrlRefusal::Address) }
            }
            Some(_) => Ok(()),
        }
    }
}

/// Why a URL may not be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("the URL must use http or https")]
    Scheme,
    #[error("the URL must name a host")]
    NoHost,
    #[error("the URL points at a loopback or private address")]
    Address,
}

/// Resolves hosts and drops the addresses the policy refuses.
struct GuardedResolver(AddressPolicy);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs.into_iter().filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves only to addresses Ferry may not reach").into());
            }
            let iter: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(iter)
        })
    }
}

/// An HTTP client behind the policy: the given timeout, no redirects, TLS by rustls, and a
/// resolver that drops refused addresses. IP literals in URLs bypass resolvers, so callers
/// check every URL with [`AddressPolicy::check_url`] too.
pub fn guarded_client(policy: AddressPolicy, timeout: std::time::Duration, user_agent: &str) -> reqwest::Client {
    // No proxy from the environment either: a proxy would resolve names itself, past the
    // guarded resolver. Built at start-up; a client that cannot be built with its guards must
    // not be replaced by one without them.
    #[allow(clippy::expect_used)]
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver(policy)))
        .no_proxy()
        .user_agent(user_agent)
        .build()
        .expect("the guarded HTTP client builds (TLS backend available)")
}

/// Reads a response body up to `limit` bytes; a longer body is an error, so a hostile or
/// broken server cannot make Ferry buffer without bound.
pub async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| BodyError::Transport(describe(&e)))? {
        if out.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the response is larger than Ferry accepts")]
    TooLarge,
    #[error("{0}")]
    Transport(String),
}

/// A reqwest error's kind and causes, never its URL (which may carry credentials: reqwest puts
/// the URL only in its own `Display`, not in the causes).
pub fn describe(e: &reqwest::Error) -> String {
    let mut s = String::from(if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response broke off"
    } else {
        "the HTTP exchange failed"
    });
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, policy: AddressPolicy) -> Result<(), UrlRefusal> {
        policy.check_url(&url::Url::parse(url).map_err(|_| UrlRefusal::NoHost)?)
    }

    #[test]
    fn the_policy_refuses_the_servers_own_network() {
        let strict = AddressPolicy::default();
        for url in ["https://bridge.example.com/x", "http://93.184.216.34/x", "https://[2606:4700::1111]/x"] {
            assert!(check(url, strict).is_ok(), "{url}");
        }
        for url in [
            "http://127.0.0.1:9000/x",
            "http://localhost/x",
            "http://api.localhost/x",
            "http://[::1]/x",
            "http://10.1.2.3/x",
            "http://172.16.0.1/x",
            "http://192.168.1.1/x",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/x",
            "http://0.0.0.0/x",
            "http://[::]/x",
            "http://[fd00::1]/x",
            "http://[fe80::1]/x",
            "http://[::ffff:10.0.0.1]/x",
            "http://[::ffff:127.0.0.1]/x",
            "file:///etc/passwd",
            "gopher://example.com/",
        ] {
            assert!(check(url, strict).is_err(), "{url}");
        }
        let loopback = AddressPolicy { allow_loopback: true, allow_private: false };
        assert!(check("http://127.0.0.1:9000/x", loopback).is_ok());
        assert!(check("http://[::ffff:127.0.0.1]/x", loopback).is_ok());
        assert!(check("http://localhost/x", loopback).is_ok());
        assert!(check("http://10.1.2.3/x", loopback).is_err(), "loopback does not open private networks");
        let private = AddressPolicy { allow_loopback: false, allow_private: true };
        assert!(check("http://10.1.2.3/x", private).is_ok());
        let all = AddressPolicy { allow_loopback: true, allow_private: true };
        assert!(check("http://0.0.0.0:8080/x", all).is_err(), "the unspecified address reaches the host itself");
    }
}
