//! An organization's own settings, stored as JSON in `organizations.settings`
//! and read with defaults, so adding a setting needs no migration.

use lms_domain::InputError;
use poem_openapi::Object;
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

/// The settings of one organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
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
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            self_signup: false,
            search_language: "english".into(),
            certificate_shows_grade: true,
            trash_retention_days: 30,
            cors_allowed_origins: Vec::new(),
        }
    }
}

impl OrgSettings {
    /// Reads stored settings; unknown or malformed keys fall back to defaults.
    pub fn from_json(v: &serde_json::Value) -> Self {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    /// The stored form.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
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
    /// Days a deleted course stays in the trash, 1–3650.
    #[oai(validator(minimum(value = "1"), maximum(value = "3650")))]
    pub trash_retention_days: Option<u32>,
    /// Web origins (`https://app.example.com`, scheme, host and port only)
    /// whose pages may call the API from a browser; at most 20. The whole
    /// list is replaced; `[]` allows none (the default).
    #[oai(validator(max_items = 20))]
    pub cors_allowed_origins: Option<Vec<String>>,
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
        })
    }
}
