//! An organization's own settings, stored as JSON in `organizations.settings`
//! and read with defaults, so adding a setting needs no migration.

use lms_domain::input::Colour;
use lms_domain::{InputError, WebUrl};
use poem_openapi::Object;
use poem_openapi::types::MaybeUndefined;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Languages full-text search can use (PostgreSQL's built-in configurations).
pub const SEARCH_LANGUAGES: &[&str] = &[
    "simple",
    "arabic",
    "danish",
    "dutch",
    "english",
    "finnish",
    "french",
    "german",
    "greek",
    "hungarian",
    "indonesian",
    "irish",
    "italian",
    "lithuanian",
    "nepali",
    "norwegian",
    "portuguese",
    "romanian",
    "russian",
    "spanish",
    "swedish",
    "tamil",
    "turkish",
];

/// Fewest and most days a deleted item may stay in the trash.
pub const TRASH_RETENTION_DAYS: std::ops::RangeInclusive<u32> = 1..=3650;

/// How an organization's pages look: shown on its login page before anyone
/// logs in, so nothing here is secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    /// Logo, an https URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    /// Favicon, an https URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favicon_url: Option<String>,
    /// Main colour, `#rrggbb`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// Accent colour, `#rrggbb`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accent_color: Option<String>,
}

impl Branding {
    /// Reads stored branding; a value that is not valid is left out.
    pub fn from_json(v: Option<&Value>) -> Self {
        let text = |k: &str| v.and_then(|v| v.get(k)).and_then(Value::as_str);
        let url = |k: &'static str| text(k).and_then(|u| https_url(k, u).ok());
        let colour = |k: &'static str| {
            text(k).and_then(|c| Colour::parse(k, c).ok().map(Colour::into_inner))
        };
        Self {
            logo_url: url("logo_url"),
            favicon_url: url("favicon_url"),
            primary_color: colour("primary_color"),
            accent_color: colour("accent_color"),
        }
    }
}

/// `raw` as an https URL (an organization's pages are served over https: an
/// http image on them would be blocked or flagged by browsers).
fn https_url(field: &'static str, raw: &str) -> Result<String, InputError> {
    let url = WebUrl::parse(field, raw)?.into_inner();
    if url.starts_with("https://") {
        Ok(url)
    } else {
        Err(InputError::new(
            field,
            "must be an https URL of at most 2048 characters",
        ))
    }
}

/// The settings of one organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSettings {
    /// Whether anyone may create a learner account at `POST /auth/signup`.
    pub self_signup: bool,
    /// Text-search configuration of the catalog.
    pub search_language: String,
    /// Whether certificates show the final grade.
    pub certificate_shows_grade: bool,
    /// Days a deleted course stays in the trash before it is purged.
    pub trash_retention_days: u32,
    /// Web origins whose pages may call the API from a browser (CORS);
    /// none by default.
    pub cors_allowed_origins: Vec<String>,
    /// How its pages look.
    pub branding: Branding,
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            self_signup: false,
            search_language: "english".into(),
            certificate_shows_grade: true,
            trash_retention_days: 30,
            cors_allowed_origins: Vec::new(),
            branding: Branding::default(),
        }
    }
}

impl OrgSettings {
    /// Reads stored settings key by key: a missing or malformed key reads as
    /// its default (the others stay), a retention out of range as its
    /// nearest bound (as the purge reads it: `app.trash_retention`).
    pub fn from_json(v: &Value) -> Self {
        let d = Self::default();
        let flag = |k: &str, default: bool| v.get(k).and_then(Value::as_bool).unwrap_or(default);
        Self {
            self_signup: flag("self_signup", d.self_signup),
            certificate_shows_grade: flag("certificate_shows_grade", d.certificate_shows_grade),
            search_language: v
                .get("search_language")
                .and_then(Value::as_str)
                .filter(|l| SEARCH_LANGUAGES.contains(l))
                .map_or(d.search_language, str::to_owned),
            trash_retention_days: v
                .get("trash_retention_days")
                .and_then(Value::as_f64)
                .map_or(d.trash_retention_days, |n| {
                    n.round().clamp(
                        f64::from(*TRASH_RETENTION_DAYS.start()),
                        f64::from(*TRASH_RETENTION_DAYS.end()),
                    ) as u32
                }),
            cors_allowed_origins: v
                .get("cors_allowed_origins")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .filter_map(|o| cors_origin(o).ok())
                        .collect()
                })
                .unwrap_or_default(),
            branding: Branding::from_json(v.get("branding")),
        }
    }

    /// The stored form.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Changes to the branding; absent fields stay, `null` removes.
#[derive(Object, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateBranding {
    /// Logo, an https URL, or `null`.
    #[oai(validator(max_length = 2048))]
    #[oai(nullable)]
    pub logo_url: MaybeUndefined<String>,
    /// Favicon, an https URL, or `null`.
    #[oai(validator(max_length = 2048))]
    #[oai(nullable)]
    pub favicon_url: MaybeUndefined<String>,
    /// Main colour, `#rrggbb`, or `null`.
    #[oai(validator(max_length = 7))]
    #[oai(nullable)]
    pub primary_color: MaybeUndefined<String>,
    /// Accent colour, `#rrggbb`, or `null`.
    #[oai(validator(max_length = 7))]
    #[oai(nullable)]
    pub accent_color: MaybeUndefined<String>,
}

impl UpdateBranding {
    fn check(&self) -> Result<(), InputError> {
        for (field, v) in [
            ("logo_url", &self.logo_url),
            ("favicon_url", &self.favicon_url),
        ] {
            if let MaybeUndefined::Value(u) = v {
                https_url(field, u)?;
            }
        }
        for (field, v) in [
            ("primary_color", &self.primary_color),
            ("accent_color", &self.accent_color),
        ] {
            if let MaybeUndefined::Value(c) = v {
                Colour::parse(field, c)?;
            }
        }
        Ok(())
    }

    fn apply(&self, b: &mut Branding) {
        let set = |slot: &mut Option<String>,
                   v: &MaybeUndefined<String>,
                   norm: fn(&str) -> Option<String>| {
            match v {
                MaybeUndefined::Undefined => {}
                MaybeUndefined::Null => *slot = None,
                MaybeUndefined::Value(x) => *slot = norm(x),
            }
        };
        set(&mut b.logo_url, &self.logo_url, |u| {
            https_url("logo_url", u).ok()
        });
        set(&mut b.favicon_url, &self.favicon_url, |u| {
            https_url("favicon_url", u).ok()
        });
        set(&mut b.primary_color, &self.primary_color, |c| {
            Colour::parse("primary_color", c)
                .ok()
                .map(Colour::into_inner)
        });
        set(&mut b.accent_color, &self.accent_color, |c| {
            Colour::parse("accent_color", c)
                .ok()
                .map(Colour::into_inner)
        });
    }
}

/// Changes to the settings; absent fields stay.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateSettings {
    /// Allow self sign-up.
    pub self_signup: Option<bool>,
    /// Catalog search language.
    #[oai(validator(max_length = 32))]
    pub search_language: Option<String>,
    /// Show the final grade on certificates.
    pub certificate_shows_grade: Option<bool>,
    /// Days a deleted item stays in the trash, 1–3650.
    #[oai(validator(minimum(value = "1"), maximum(value = "3650")))]
    pub trash_retention_days: Option<u32>,
    /// Web origins (`https://app.example.com`, scheme, host and port only)
    /// whose pages may call the API from a browser; at most 20. The whole
    /// list is replaced; `[]` allows none (the default).
    #[oai(validator(max_items = 20))]
    pub cors_allowed_origins: Option<Vec<String>>,
    /// How the organization's pages look (public: shown before login).
    pub branding: Option<UpdateBranding>,
}

/// `raw` as a web origin in its serialised form (`scheme://host[:port]`,
/// lower case, no default port), or why it is not one.
pub fn cors_origin(raw: &str) -> Result<String, &'static str> {
    if raw.len() > 2048 {
        return Err("is too long");
    }
    let url = url::Url::parse(raw).map_err(|_| "is not an origin (scheme://host[:port])")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https origin");
    }
    // Nothing but scheme, host and port: no path, query, fragment or user.
    if !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.host().is_none()
    {
        return Err("must be scheme://host[:port] only");
    }
    Ok(url.origin().ascii_serialization())
}

impl UpdateSettings {
    /// Refuses values the schema cannot say are wrong.
    pub fn check(&self) -> Result<(), InputError> {
        if let Some(lang) = &self.search_language
            && !SEARCH_LANGUAGES.contains(&lang.as_str())
        {
            return Err(InputError::new(
                "search_language",
                "is not a supported language",
            ));
        }
        // (At most 20: the schema's `maxItems` refuses more.)
        for o in self.cors_allowed_origins.iter().flatten() {
            cors_origin(o).map_err(|why| InputError::new("cors_allowed_origins", why))?;
        }
        if let Some(b) = &self.branding {
            b.check()?;
        }
        Ok(())
    }

    /// The stored settings with these changes: the JSON to store (keys this
    /// version does not know are kept) and the settings it reads as.
    pub fn apply(&self, stored: &Value) -> (Value, OrgSettings) {
        let mut settings = OrgSettings::from_json(stored);
        if let Some(v) = self.self_signup {
            settings.self_signup = v;
        }
        if let Some(v) = self.certificate_shows_grade {
            settings.certificate_shows_grade = v;
        }
        if let Some(v) = self.trash_retention_days {
            settings.trash_retention_days = v;
        }
        if let Some(v) = &self.search_language {
            settings.search_language = v.clone();
        }
        if let Some(v) = &self.cors_allowed_origins {
            let mut origins: Vec<String> = Vec::with_capacity(v.len());
            for o in v.iter().filter_map(|o| cors_origin(o).ok()) {
                if !origins.contains(&o) {
                    origins.push(o);
                }
            }
            settings.cors_allowed_origins = origins;
        }
        if let Some(b) = &self.branding {
            b.apply(&mut settings.branding);
        }
        let mut out = stored.clone();
        if let (Some(obj), Value::Object(new)) = (out.as_object_mut(), settings.to_json()) {
            obj.extend(new);
        }
        (out, settings)
    }
}

impl OrgSettings {
    /// The settings as an event reports them.
    pub fn event_payload(&self) -> Value {
        json!({
            "self_signup": self.self_signup,
            "search_language": self.search_language,
            "certificate_shows_grade": self.certificate_shows_grade,
            "trash_retention_days": self.trash_retention_days,
            "cors_allowed_origins": self.cors_allowed_origins,
            "branding": self.branding,
        })
    }
}
