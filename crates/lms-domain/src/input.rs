//! Inputs that can only be built by parsing: past the API boundary they are
//! known to be valid.

use std::fmt;

/// Why an input was refused. The message names the rule, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct InputError {
    /// The field that failed.
    pub field: &'static str,
    /// The rule it broke, in words.
    pub rule: &'static str,
}

impl InputError {
    /// A refusal of `field` for breaking `rule`.
    pub const fn new(field: &'static str, rule: &'static str) -> Self {
        Self { field, rule }
    }
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The validated text, owned.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// An e-mail address, trimmed and lower-cased: the form in which it is
    /// stored and compared, so `Ann@X.org` and `ann@x.org` are one user.
    Email
);

impl Email {
    /// Longest address accepted (RFC 5321 path limit).
    pub const MAX_LEN: usize = 320;

    /// Parses and normalises an address for `field`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InputError> {
        let email = raw.trim().to_lowercase();
        if email.chars().count() > Self::MAX_LEN {
            return Err(InputError::new(field, "must be at most 320 characters"));
        }
        let valid = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !email.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if !valid {
            return Err(InputError::new(field, "must be an e-mail address"));
        }
        Ok(Self(email))
    }
}

string_newtype!(
    /// An organization's slug: its subdomain under the base domain.
    Slug
);

impl Slug {
    /// Slugs kept for the platform's own hosts.
    pub const RESERVED: &'static [&'static str] = &[
        "admin", "api", "app", "auth", "docs", "platform", "status", "www", "mail",
    ];

    /// Parses a slug: one DNS label of lower-case letters, digits and
    /// inner hyphens, 1–63 characters, not reserved.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InputError> {
        let slug = Self::parse_label(field, raw)?;
        if Self::RESERVED.contains(&slug.as_str()) {
            return Err(InputError::new(field, "is reserved"));
        }
        Ok(slug)
    }

    /// Parses the shape of a slug only (for names that are not hosts, such
    /// as a category's): reserved words are allowed.
    pub fn parse_label(field: &'static str, raw: &str) -> Result<Self, InputError> {
        let slug = raw.trim();
        let shape_ok = !slug.is_empty()
            && slug.len() <= 63
            && !slug.starts_with('-')
            && !slug.ends_with('-')
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !shape_ok {
            return Err(InputError::new(
                field,
                "must be 1-63 lower-case letters, digits or inner hyphens",
            ));
        }
        Ok(Self(slug.to_owned()))
    }
}

string_newtype!(
    /// A title (course, lesson, section, organization name): trimmed, 1–200
    /// characters, no control characters.
    Title
);

impl Title {
    /// Longest title accepted, in characters.
    pub const MAX_CHARS: usize = 200;

    /// Parses a title for `field`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InputError> {
        let title = raw.trim();
        if title.is_empty() {
            return Err(InputError::new(field, "must not be blank"));
        }
        if title.chars().count() > Self::MAX_CHARS {
            return Err(InputError::new(field, "must be at most 200 characters"));
        }
        if title.chars().any(char::is_control) {
            return Err(InputError::new(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Self(title.to_owned()))
    }
}

string_newtype!(
    /// A username: 1–64 letters, digits, dots, hyphens or underscores,
    /// stored lower-case.
    Username
);

impl Username {
    /// Parses a username for `field`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InputError> {
        let u = raw.trim().to_lowercase();
        let ok = (1..=64).contains(&u.len())
            && u.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
        if ok {
            Ok(Self(u))
        } else {
            Err(InputError::new(
                field,
                "must be 1-64 letters, digits, '.', '-' or '_'",
            ))
        }
    }
}

string_newtype!(
    /// An http(s) URL (avatars, websites, images).
    WebUrl
);

impl WebUrl {
    /// Parses a URL for `field`: http or https, at most 2048 characters, no
    /// whitespace or control characters.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InputError> {
        let u = raw.trim();
        let rest = u
            .strip_prefix("https://")
            .or_else(|| u.strip_prefix("http://"));
        let ok = u.chars().count() <= 2048
            && rest.is_some_and(|r| !r.is_empty())
            && !u.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(Self(u.to_owned()))
        } else {
            Err(InputError::new(
                field,
                "must be an http(s) URL of at most 2048 characters",
            ))
        }
    }
}

string_newtype!(
    /// A colour, `#rrggbb`, stored lower-case.
    Colour
);

impl Colour {
    /// Parses a colour for `field`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InputError> {
        if raw.len() == 7 && raw.starts_with('#') && raw[1..].bytes().all(|b| b.is_ascii_hexdigit())
        {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(InputError::new(field, "must be a colour like #1a2b3c"))
        }
    }
}

string_newtype!(
    /// A person's first or last name.
    PersonName
);

impl PersonName {
    /// Parses a name for `field`: trimmed, 1–200 characters.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InputError> {
        Title::parse(field, raw).map(|t| Self(t.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised() {
        assert_eq!(
            Email::parse("email", "  Ann@Example.ORG ")
                .unwrap()
                .as_str(),
            "ann@example.org"
        );
        assert!(Email::parse("email", "ann").is_err());
        assert!(Email::parse("email", "ann@@x.org").is_err());
        assert!(Email::parse("email", "a nn@x.org").is_err());
        assert!(Email::parse("email", &format!("{}@x.org", "a".repeat(320))).is_err());
    }

    #[test]
    fn slugs() {
        assert!(Slug::parse("slug", "acme-2").is_ok());
        assert!(Slug::parse("slug", "Acme").is_err());
        assert!(Slug::parse("slug", "-acme").is_err());
        assert_eq!(
            Slug::parse("slug", "admin").unwrap_err().rule,
            "is reserved"
        );
    }

    #[test]
    fn titles() {
        assert!(Title::parse("title", "   ").is_err());
        assert_eq!(
            Title::parse("title", " Rust 101 ").unwrap().as_str(),
            "Rust 101"
        );
        assert!(Title::parse("title", &"x".repeat(201)).is_err());
        assert!(Title::parse("title", &"é".repeat(200)).is_ok());
    }
}
