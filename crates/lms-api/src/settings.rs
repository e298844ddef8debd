//! An organization's own settings, stored as JSON in `organizations.settings`
//! and read with defaults, so adding a setting needs no migration.

use serde::{Deserialize, Serialize};

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
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            self_signup: false,
            search_language: "english".into(),
            certificate_shows_grade: true,
            trash_retention_days: 30,
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
