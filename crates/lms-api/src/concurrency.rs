//! Optimistic concurrency: every editable resource carries a `version`;
//! a single-resource GET sends it as the `ETag`, and a change may name the
//! version it is based on, as `If-Match` (412 when stale) or as `version`
//! in the body (409 `version_conflict`). A stale change is refused whole:
//! no update is ever lost.

use crate::error::{ApiError, ApiResult, ErrorCode};

/// The version a change is based on, if the client named one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Precondition {
    expected: Option<i32>,
    from_header: bool,
    /// A weak entity tag, or one this API never sent: `If-Match` never
    /// matches it (strong comparison, RFC 9110 §13.1.1).
    never_matches: bool,
}

impl Precondition {
    /// From an `If-Match` header (`"3"` or `*`; a weak `W/"3"`, or
    /// anything else, never matches) and a `version` field of the body; the header wins when
    /// both are given.
    pub fn new(if_match: Option<&str>, body: Option<i32>) -> Self {
        match if_match {
            None => Self {
                expected: body,
                from_header: false,
                never_matches: false,
            },
            Some("*") => Self::default(),
            Some(tag) => {
                // A weak tag, or anything that is not a tag this API sent,
                // never matches (strong comparison, RFC 9110 §13.1.1): 412.
                let weak = tag.starts_with("W/");
                let version = tag
                    .strip_prefix("W/")
                    .unwrap_or(tag)
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    // `"3"`, or a representation's tag `"3-…"` (its version first).
                    .map(|t| t.split_once('-').map_or(t, |(v, _)| v))
                    .and_then(|v| v.parse::<i32>().ok());
                Self {
                    expected: Some(version.unwrap_or(-1)),
                    from_header: true,
                    never_matches: weak || version.is_none(),
                }
            }
        }
    }

    /// Refuses the change when the resource is no longer at the named
    /// version.
    pub fn check(&self, current: i32) -> ApiResult<()> {
        match self.expected {
            Some(v) if v != current || self.never_matches => {
                let message = format!(
                    "the resource changed since the version this change is based on; it is now at version {current}"
                );
                Err(if self.from_header {
                    ApiError::precondition_failed(message)
                } else {
                    ApiError::conflict(ErrorCode::VersionConflict, message)
                })
            }
            _ => Ok(()),
        }
    }
}

/// The entity tag of a version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// The entity tag of one representation of a resource at `version` whose
/// body also shows derived values (a course's ratings) that change without
/// a new version: the version, then a digest of the body. `If-Match`
/// compares the version part.
pub fn representation_etag(version: i32, body: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(body);
    let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{version}-{short}\"")
}

/// Whether an `If-None-Match` header names `tag`: `*`, or a list of entity
/// tags compared weakly (RFC 9110 §13.1.2), so `W/"3"` names `"3"`.
pub fn none_match(header: &str, tag: &str) -> bool {
    header.split(',').map(str::trim).any(|t| {
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag.strip_prefix("W/").unwrap_or(tag)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_representation_tag_names_its_version_and_its_body() {
        let a = representation_etag(3, b"{\"rating\":4}");
        assert!(a.starts_with("\"3-") && a.ends_with('"'), "{a}");
        assert_ne!(a, representation_etag(3, b"{\"rating\":5}"));
        assert_eq!(a, representation_etag(3, b"{\"rating\":4}"));
        assert!(Precondition::new(Some(&a), None).check(3).is_ok());
        assert!(Precondition::new(Some(&a), None).check(4).is_err());
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists() {
        assert!(none_match("\"3\"", "\"3\""));
        assert!(none_match("W/\"3\"", "\"3\""));
        assert!(none_match("\"1\", \"3\"", "\"3\""));
        assert!(none_match("*", "\"3\""));
        assert!(!none_match("\"4\"", "\"3\""));
        assert!(!none_match("3", "\"3\""));
    }

    #[test]
    fn if_match_forms() {
        assert!(Precondition::new(Some("\"3\""), None).check(3).is_ok());
        assert_eq!(
            Precondition::new(Some("W/\"3\""), None)
                .check(3)
                .unwrap_err()
                .code(),
            "precondition_failed"
        );
        assert_eq!(
            Precondition::new(Some("\"2\""), Some(3))
                .check(3)
                .unwrap_err()
                .code(),
            "precondition_failed"
        );
        assert!(Precondition::new(Some("*"), None).check(9).is_ok());
        assert_eq!(
            Precondition::new(None, Some(2))
                .check(3)
                .unwrap_err()
                .code(),
            "version_conflict"
        );
        // Not a tag this API sent: it never matches.
        assert_eq!(
            Precondition::new(Some("3"), None)
                .check(3)
                .unwrap_err()
                .code(),
            "precondition_failed"
        );
        assert!(Precondition::new(None, None).check(7).is_ok());
    }
}
