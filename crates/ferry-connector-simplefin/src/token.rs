//! Setup tokens and access URLs. A setup token is the base64 of a claim URL; claiming it once
//! answers the access URL, `https://user:secret@host/path`, a bearer secret Ferry keeps only
//! sealed and never logs. Both URLs are checked against the address policy: a token is input
//! from an end user and must not make Ferry call its own network.

use base64::Engine;
use ferry_connector::net::{AddressPolicy, UrlRefusal};
use url::Url;

/// Why a token or an access URL is unusable, in words for the end user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenError {
    Malformed,
    Refused(UrlRefusal),
    Insecure,
}

impl TokenError {
    pub(crate) fn message(&self) -> String {
        match self {
            TokenError::Malformed => "This is not a SimpleFIN setup token. Copy the whole token your SimpleFIN server \
                                      shows after Create Setup Token, and try again."
                .into(),
            TokenError::Refused(UrlRefusal::Address) => "This setup token points at a loopback or private network \
                                                         address, which Ferry does not call. Use a token from your \
                                                         SimpleFIN server (the operator may allow local servers with \
                                                         FERRY_CONNECTORS_ALLOW_LOOPBACK=1 or \
                                                         FERRY_CONNECTORS_ALLOW_PRIVATE=1)."
                .into(),
            TokenError::Refused(_) => "This setup token does not hold a web address Ferry can call.".into(),
            TokenError::Insecure => {
                "This setup token points at a server without HTTPS; SimpleFIN requires HTTPS.".into()
            }
        }
    }
}

/// Decodes a setup token into its claim URL: surrounding space trimmed, standard or URL-safe
/// base64 with any padding.
pub(crate) fn claim_url(token: &str, policy: AddressPolicy) -> Result<Url, TokenError> {
    let token: String = token.chars().filter(|c| !c.is_whitespace()).collect();
    let config = base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    let standard = base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url_safe = base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    let bytes = standard.decode(&token).or_else(|_| url_safe.decode(&token)).map_err(|_| TokenError::Malformed)?;
    let text = String::from_utf8(bytes).map_err(|_| TokenError::Malformed)?;
    let url = Url::parse(text.trim()).map_err(|_| TokenError::Malformed)?;
    check(&url, policy)?;
    Ok(url)
}

/// An access URL split into where to send requests and the Basic credentials to send.
#[derive(Clone)]
pub(crate) struct Access {
    /// The URL without its userinfo, ending in `/`.
    pub(crate) base: Url,
    pub(crate) username: String,
    pub(crate) password: String,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Access(***)")
    }
}

/// Reads an access URL (from a claim, or from the member's state).
pub(crate) fn access(text: &str, policy: AddressPolicy) -> Result<Access, TokenError> {
    let url = Url::parse(text.trim()).map_err(|_| TokenError::Malformed)?;
    check(&url, policy)?;
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let username = decode(url.username());
    let password = url.password().map(decode).unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return Err(TokenError::Malformed);
    }
    let mut base = url.clone();
    base.set_username("").map_err(|_| TokenError::Malformed)?;
    base.set_password(None).map_err(|_| TokenError::Malformed)?;
    base.set_query(None);
    base.set_fragment(None);
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(Access { base, username, password })
}

/// https, or plain http only to a loopback address the operator allowed (local tests and
/// development); and an address the policy allows.
fn check(url: &Url, policy: AddressPolicy) -> Result<(), TokenError> {
    policy.check_url(url).map_err(TokenError::Refused)?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if url.scheme() != "https" && !(loopback && policy.allow_loopback) {
        return Err(TokenError::Insecure);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const STRICT: AddressPolicy = AddressPolicy { allow_loopback: false, allow_private: false };
    const LOOPBACK: AddressPolicy = AddressPolicy { allow_loopback: true, allow_private: false };

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn tokens_decode_with_or_without_padding_and_space() {
        // The demo token of the protocol's documentation.
        let demo = "aHR0cHM6Ly9icmlkZ2Uuc2ltcGxlZmluLm9yZy9zaW1wbGVmaW4vY2xhaW0vZGVtbw==";
        let url = claim_url(demo, STRICT).unwrap();
        assert_eq!(url.as_str(), "https://bridge.simplefin.org/simplefin/claim/demo");
        assert_eq!(claim_url(&format!("  {}\n", demo.trim_end_matches('=')), STRICT).unwrap(), url);
        assert_eq!(claim_url("not base64 at all!", STRICT), Err(TokenError::Malformed));
        assert_eq!(claim_url(&b64("just words"), STRICT), Err(TokenError::Malformed));
    }

    #[test]
    fn tokens_may_not_point_inside_the_network_or_skip_tls() {
        for u in [
            "http://127.0.0.1:9/claim/x",
            "https://10.0.0.1/claim/x",
            "https://169.254.169.254/latest",
            "https://localhost/c",
        ] {
            assert_eq!(claim_url(&b64(u), STRICT), Err(TokenError::Refused(UrlRefusal::Address)), "{u}");
        }
        assert_eq!(claim_url(&b64("http://bridge.example.com/claim/x"), STRICT), Err(TokenError::Insecure));
        assert!(claim_url(&b64("http://127.0.0.1:9/claim/x"), LOOPBACK).is_ok());
        assert_eq!(claim_url(&b64("http://10.0.0.1/claim/x"), LOOPBACK), Err(TokenError::Refused(UrlRefusal::Address)));
        assert_eq!(claim_url(&b64("file:///etc/passwd"), LOOPBACK), Err(TokenError::Refused(UrlRefusal::Scheme)));
    }

    #[test]
    fn access_urls_split_into_base_and_credentials() {
        let a = access("https://user123:p%40ss456@bridge.example.com/simplefin", STRICT).unwrap();
        assert_eq!(a.base.as_str(), "https://bridge.example.com/simplefin/");
        assert_eq!((a.username.as_str(), a.password.as_str()), ("user123", "p@ss456"));
        assert_eq!(format!("{a:?}"), "Access(***)");
        assert!(access("https://bridge.example.com/simplefin", STRICT).is_err(), "no credentials");
        assert!(access("https://u:p@192.168.0.2/simplefin", STRICT).is_err());
    }
}
