//! The request's Host, normalised, and what it points at.

/// A Host header that cannot name any tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// No Host header (nor authority in the request line).
    #[error("the request names no host")]
    Missing,
    /// Characters, lengths or shape no DNS name has.
    #[error("the host is not a valid DNS name")]
    Invalid,
}

/// Normalises a Host value: lower-case, port and trailing dot removed,
/// punycode kept as it is. Only DNS names are accepted; an IP literal names no
/// tenant and is rejected.
pub fn normalize_host(raw: &str) -> Result<String, HostError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(HostError::Missing);
    }
    if raw.starts_with('[') {
        // An IPv6 literal: never a tenant.
        return Err(HostError::Invalid);
    }
    let without_port = match raw.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return Err(HostError::Invalid),
        None => raw,
    };
    let host = without_port
        .strip_suffix('.')
        .unwrap_or(without_port)
        .to_ascii_lowercase();
    if host.is_empty() || host.len() > 253 {
        return Err(HostError::Invalid);
    }
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    // An all-numeric last label is no DNS name: it is an IPv4 literal
    // (`127.0.0.1`, `10.1.2.3`) or a shorthand of one, never a tenant.
    let tld_numeric = host
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()));
    if !labels_ok || tld_numeric {
        return Err(HostError::Invalid);
    }
    Ok(host)
}

/// What a normalised host points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostTarget {
    /// The platform host: serves only the platform API.
    Platform,
    /// `<slug>.<base domain>`.
    Subdomain(String),
    /// Any other name: possibly a custom domain registered to a tenant.
    CustomDomain(String),
}

impl HostTarget {
    /// Classifies a host already passed through [`normalize_host`].
    pub fn classify(host: &str, base_domain: &str, platform_host: &str) -> HostTarget {
        if host == platform_host {
            return HostTarget::Platform;
        }
        if let Some(prefix) = host
            .strip_suffix(base_domain)
            .and_then(|p| p.strip_suffix('.'))
            && !prefix.is_empty()
            && !prefix.contains('.')
        {
            return HostTarget::Subdomain(prefix.to_owned());
        }
        HostTarget::CustomDomain(host.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_port_and_trailing_dot() {
        assert_eq!(
            normalize_host("Acme.LMS.Example.com.:8443").unwrap(),
            "acme.lms.example.com"
        );
        assert_eq!(
            normalize_host("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
    }

    #[test]
    fn rejects_what_no_tenant_can_be() {
        assert_eq!(normalize_host(""), Err(HostError::Missing));
        assert_eq!(normalize_host("[::1]:80"), Err(HostError::Invalid));
        assert_eq!(normalize_host("a..b"), Err(HostError::Invalid));
        assert_eq!(normalize_host("evil.com/x"), Err(HostError::Invalid));
        assert_eq!(normalize_host("a:b"), Err(HostError::Invalid));
        assert_eq!(normalize_host("-a.com"), Err(HostError::Invalid));
        assert_eq!(normalize_host("127.0.0.1"), Err(HostError::Invalid));
        assert_eq!(normalize_host("10.1.2.3:8080"), Err(HostError::Invalid));
        assert_eq!(normalize_host("2130706433"), Err(HostError::Invalid));
    }

    #[test]
    fn classifies() {
        let c = |h| HostTarget::classify(h, "lms.test", "admin.lms.test");
        assert_eq!(c("admin.lms.test"), HostTarget::Platform);
        assert_eq!(c("acme.lms.test"), HostTarget::Subdomain("acme".into()));
        assert_eq!(
            c("a.b.lms.test"),
            HostTarget::CustomDomain("a.b.lms.test".into())
        );
        assert_eq!(c("lms.test"), HostTarget::CustomDomain("lms.test".into()));
        assert_eq!(c("xlms.test"), HostTarget::CustomDomain("xlms.test".into()));
        assert_eq!(
            c("learn.acme.com"),
            HostTarget::CustomDomain("learn.acme.com".into())
        );
    }
}
