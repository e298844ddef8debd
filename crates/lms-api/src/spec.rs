//! The OpenAPI documents as served and checked in: what the framework
//! generates, made exact where it cannot say enough by itself.
//!
//! - A property that refers to another schema is a plain `$ref` (the
//!   framework wraps it in `allOf` to carry a description, which generated
//!   clients turn into duplicate or missing types).
//! - Request bodies refuse unknown fields, and say so
//!   (`additionalProperties: false`).
//! - Public operations say they need no credentials (`security: []`).
//! - Each operation declares the error statuses it can answer: 413 and 415
//!   only where it takes a body, 429 only where attempts are limited.
//! - `servers` tells a client how to reach a tenant (or the platform), and
//!   `info` names the licence and a contact.

use serde_json::{Map, Value, json};

use crate::access::Access;

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// The tenant API, on each organization's host.
    Tenant,
    /// The platform API, on the platform host.
    Platform,
}

/// Operations that limit attempts and may answer 429.
const LIMITED: &[&str] = &["createToken", "signUp", "createPlatformToken"];

/// The framework's document `raw`, made exact.
pub fn polish(raw: &str, api: Api) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(raw) else {
        return raw.to_owned();
    };
    unwrap_refs(&mut doc);
    let bodies = request_body_schemas(&doc);
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (schema, property, rule) in TEXT_RULES {
            if let Some(p) = schemas
                .get_mut(*schema)
                .and_then(|s| s.pointer_mut(&format!("/properties/{property}")))
                .and_then(Value::as_object_mut)
            {
                rule.apply(p);
            }
        }
        for name in &bodies {
            if let Some(s) = schemas.get_mut(name).and_then(Value::as_object_mut)
                && s.get("type").and_then(Value::as_str) == Some("object")
            {
                s.insert("additionalProperties".into(), Value::Bool(false));
                optional_is_nullable(s);
                no_nul_in_text(s);
            }
        }
    }
    // Each error code with its meaning.
    if let Some(codes) = doc
        .pointer_mut("/components/schemas/ErrorCode")
        .and_then(Value::as_object_mut)
    {
        let list: String = crate::error::ErrorCode::ALL
            .iter()
            .map(|c| format!("\n- `{}`: {}", c.as_str(), c.meaning()))
            .collect();
        let described: Vec<Value> = crate::error::ErrorCode::ALL
            .iter()
            .map(|c| Value::from(c.meaning()))
            .collect();
        codes.insert(
            "description".into(),
            Value::from(format!(
                "The stable, machine-readable code of an error answer. A code is never renamed \
                 or reused for another meaning; new ones may be added.\n{list}"
            )),
        );
        codes.insert("x-enum-descriptions".into(), Value::from(described));
    }
    let table = match api {
        Api::Tenant => crate::access::TENANT_OPERATIONS,
        Api::Platform => crate::access::PLATFORM_OPERATIONS,
    };
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in item.values_mut().filter_map(Value::as_object_mut) {
                operation(op, table);
            }
        }
    }
    if let Some(info) = doc.get_mut("info").and_then(Value::as_object_mut) {
        info.insert(
            "license".into(),
            json!({ "name": env!("CARGO_PKG_LICENSE"), "url": "https://www.apache.org/licenses/LICENSE-2.0" }),
        );
        info.insert(
            "contact".into(),
            json!({ "name": "Tenantry LMS", "url": env!("CARGO_PKG_REPOSITORY") }),
        );
    }
    doc["servers"] = match api {
        Api::Tenant => json!([
            { "url": "/api/v1", "description": "The organization whose host serves this document." },
            {
                "url": "{scheme}://{host}/api/v1",
                "description": "An organization: its host is `<slug>.<base domain>` (the \
                                `api_url` of the organization) or one of its verified custom domains.",
                "variables": {
                    "scheme": { "default": "http", "enum": ["http", "https"] },
                    "host": { "default": "demo.localhost:8080",
                              "description": "`<slug>.<base domain>[:port]` or a custom domain." }
                }
            }
        ]),
        Api::Platform => json!([
            { "url": "/platform/v1", "description": "The platform host that serves this document." },
            {
                "url": "{scheme}://{host}/platform/v1",
                "description": "The platform host of an installation.",
                "variables": {
                    "scheme": { "default": "http", "enum": ["http", "https"] },
                    "host": { "default": "admin.localhost:8080",
                              "description": "The installation's platform host." }
                }
            }
        ]),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| raw.to_owned())
}

/// What the server checks in a string beyond its length, said in the
/// schema: a pattern (ECMA-262, the same in Rust's `regex`), a least length,
/// or the allowed values. The request body check enforces it as written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextRule {
    pattern: Option<&'static str>,
    /// The rule in words, as an error names it.
    says: &'static str,
    min_length: Option<u64>,
    one_of: Option<&'static [&'static str]>,
    /// The rule is for the items of an array property.
    items: bool,
    /// The property is of this JSON type (for a free-form value that must
    /// still be, say, an object).
    json_type: Option<&'static str>,
    /// More of the schema.
    more: Option<fn() -> Value>,
}

/// Some text on one line: no control characters, not blank.
const LINE: TextRule = TextRule::pattern(
    r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
    "must be one line of text, not blank, without control characters",
);
/// Free text: no control characters but tab and line feed.
const TEXT: TextRule = TextRule::pattern(
    r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$",
    "must not contain control characters other than tab and line feed",
);
/// An e-mail address: one `@`, a dotted domain, no inner spaces.
const EMAIL: TextRule = TextRule::pattern(
    r"^ *[^@\s\x00-\x1F\x7F-\x9F]+@[^@\s\x00-\x1F\x7F-\x9F.][^@\s\x00-\x1F\x7F-\x9F]*\.[^@\s\x00-\x1F\x7F-\x9F]*[^@\s\x00-\x1F\x7F-\x9F.] *$",
    "must be an e-mail address",
);
/// A new password: 10 characters at least.
const PASSWORD: TextRule = TextRule {
    min_length: Some(crate::auth::MIN_PASSWORD_CHARS as u64),
    ..TextRule::NONE
};
const USERNAME: TextRule = TextRule::pattern(
    r"^ *[A-Za-z0-9._-]{1,64} *$",
    "must be 1-64 letters, digits, '.', '-' or '_'",
);
/// An http(s) URL without spaces or control characters.
const URL: TextRule = TextRule::pattern(
    r"^https?://[^\s\x00-\x1F\x7F-\x9F]+$",
    "must be an http(s) URL",
);
/// One DNS label of lower-case letters, digits and inner hyphens.
const SLUG: TextRule = TextRule::pattern(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "must be 1-63 lower-case letters, digits or inner hyphens",
);
/// An https URL without spaces or control characters.
const HTTPS_URL: TextRule = TextRule::pattern(
    r"^https://[^\s\x00-\x1F\x7F-\x9F]+$",
    "must be an https URL of at most 2048 characters",
);
const COLOUR: TextRule = TextRule::pattern(r"^#[0-9A-Fa-f]{6}$", "must be a colour like #1a2b3c");
/// A name without spaces.
const WORD: TextRule = TextRule::pattern(
    r"^[^\s\x00-\x1F\x7F-\x9F]+$",
    "must be a name without spaces",
);
/// `scheme://host[:port]`, http or https, nothing else.
const ORIGIN: TextRule = TextRule {
    items: true,
    ..TextRule::pattern(
        r"^https?://(([A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*|((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?/?$",
        "must be an origin: http(s)://host[:port]",
    )
};
/// A fully qualified DNS name whose last label starts with a letter (so
/// never an IP address).
const DOMAIN: TextRule = TextRule::pattern(
    r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$",
    "must be DNS names",
);
const DOMAINS: TextRule = TextRule {
    items: true,
    ..DOMAIN
};
const LANGUAGE: TextRule = TextRule {
    one_of: Some(crate::settings::SEARCH_LANGUAGES),
    ..TextRule::NONE
};
const PERMISSIONS: TextRule = TextRule {
    one_of: Some(lms_domain::Permission::NAMES),
    items: true,
    ..TextRule::NONE
};

/// A JSON object (of any members).
const OBJECT: TextRule = TextRule {
    json_type: Some("object"),
    ..TextRule::NONE
};

/// Social links: up to ten names, each mapped to an http(s) URL.
const LINKS: TextRule = TextRule {
    json_type: Some("object"),
    more: Some(|| {
        json!({
            "maxProperties": crate::tenant_api::me::MAX_SOCIAL_LINKS,
            "additionalProperties": {
                "type": "string",
                "maxLength": 2048,
                "pattern": URL.pattern,
            }
        })
    }),
    ..TextRule::NONE
};

/// Text without NUL, which PostgreSQL cannot store: the least rule of any
/// string the API keeps.
const NO_NUL: &str = r"^[^\x00]*$";

/// Every string property of a request schema without a rule of its own
/// refuses NUL characters, and says so.
fn no_nul_in_text(schema: &mut Map<String, Value>) {
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for prop in props.values_mut() {
        let target = match prop.get("type").and_then(Value::as_str) {
            Some("array") => prop.get_mut("items"),
            _ => Some(prop),
        };
        if let Some(t) = target.and_then(Value::as_object_mut)
            && t.get("type").and_then(Value::as_str) == Some("string")
            && !["pattern", "enum", "format"]
                .iter()
                .any(|k| t.contains_key(*k))
        {
            t.insert("pattern".into(), Value::from(NO_NUL));
        }
    }
}

/// The words for `pattern`, one of the rules' patterns (or the `If-Match`
/// pattern).
pub(crate) fn rule_of_pattern(pattern: &str) -> &'static str {
    if pattern == NO_NUL {
        return "must not contain NUL characters";
    }
    TEXT_RULES
        .iter()
        .find(|(_, _, r)| r.pattern == Some(pattern))
        .map_or("does not have the documented form", |(_, _, r)| r.says)
}

impl TextRule {
    const NONE: Self = Self {
        pattern: None,
        says: "",
        min_length: None,
        one_of: None,
        items: false,
        json_type: None,
        more: None,
    };

    const fn pattern(pattern: &'static str, says: &'static str) -> Self {
        Self {
            pattern: Some(pattern),
            says,
            min_length: None,
            one_of: None,
            items: false,
            json_type: None,
            more: None,
        }
    }

    fn apply(&self, property: &mut Map<String, Value>) {
        let target = if self.items {
            match property.get_mut("items").and_then(Value::as_object_mut) {
                Some(items) => items,
                None => return,
            }
        } else {
            property
        };
        if let Some(p) = self.pattern {
            target.insert("pattern".into(), Value::from(p));
        }
        if let Some(n) = self.min_length {
            target.insert("minLength".into(), Value::from(n));
        }
        if let Some(ty) = self.json_type {
            target.insert("type".into(), Value::from(ty));
        }
        if let Some(Value::Object(more)) = self.more.map(|f| f()) {
            target.extend(more);
        }
        if let Some(values) = self.one_of {
            target.insert("enum".into(), Value::from(values.to_vec()));
        }
    }
}

/// Which rule each request property follows.
pub(crate) const TEXT_RULES: &[(&str, &str, TextRule)] = &[
    ("CreateCourse", "title", LINE),
    ("UpdateCourse", "title", LINE),
    ("CreateLesson", "title", LINE),
    ("UpdateLesson", "title", LINE),
    ("CreateSection", "title", LINE),
    ("UpdateSection", "title", LINE),
    ("CreateCohort", "name", LINE),
    ("UpdateCohort", "name", LINE),
    ("CreateRole", "name", LINE),
    ("UpdateRole", "name", LINE),
    ("CreateCategory", "name", LINE),
    ("UpdateCategory", "name", LINE),
    ("CreateTag", "name", LINE),
    ("CreateOrganization", "name", LINE),
    ("UpdateOrganization", "name", LINE),
    ("CreatePlatformAdmin", "display_name", LINE),
    ("CreateUser", "first_name", LINE),
    ("CreateUser", "last_name", LINE),
    ("UpdateUser", "first_name", LINE),
    ("UpdateUser", "last_name", LINE),
    ("UpdateMe", "first_name", LINE),
    ("UpdateMe", "last_name", LINE),
    ("SignUpRequest", "first_name", LINE),
    ("SignUpRequest", "last_name", LINE),
    ("NewOrganizationAdmin", "first_name", LINE),
    ("NewOrganizationAdmin", "last_name", LINE),
    ("ProfileUpdate", "bio", TEXT),
    ("ProfileUpdate", "location", TEXT),
    ("CreateUser", "email", EMAIL),
    ("UpdateUser", "email", EMAIL),
    ("SignUpRequest", "email", EMAIL),
    ("NewOrganizationAdmin", "email", EMAIL),
    ("CreatePlatformAdmin", "email", EMAIL),
    ("CreateUser", "password", PASSWORD),
    ("SignUpRequest", "password", PASSWORD),
    ("ChangePassword", "new_password", PASSWORD),
    ("NewOrganizationAdmin", "password", PASSWORD),
    ("CreatePlatformAdmin", "password", PASSWORD),
    ("CreateUser", "username", USERNAME),
    ("UpdateUser", "username", USERNAME),
    ("UpdateMe", "username", USERNAME),
    ("CreateCourse", "image_url", URL),
    ("UpdateCourse", "image_url", URL),
    ("UpdateUser", "avatar_url", URL),
    ("UpdateMe", "avatar_url", URL),
    ("ProfileUpdate", "website", URL),
    ("CreateOrganization", "slug", SLUG),
    ("UpdateOrganization", "slug", SLUG),
    ("CreateCategory", "slug", SLUG),
    ("UpdateCategory", "slug", SLUG),
    ("CreateCategory", "color", COLOUR),
    ("UpdateCategory", "color", COLOUR),
    ("CreateTag", "color", COLOUR),
    ("CreateCategory", "icon", WORD),
    ("UpdateCategory", "icon", WORD),
    ("UpdateSettings", "cors_allowed_origins", ORIGIN),
    ("UpdateSettings", "search_language", LANGUAGE),
    ("UpdateBranding", "logo_url", HTTPS_URL),
    ("UpdateBranding", "favicon_url", HTTPS_URL),
    ("UpdateBranding", "primary_color", COLOUR),
    ("UpdateBranding", "accent_color", COLOUR),
    ("AddDomain", "domain", DOMAIN),
    ("CreateOrganization", "domains", DOMAINS),
    ("CreateRole", "permissions", PERMISSIONS),
    ("CreateCourse", "metadata", OBJECT),
    ("UpdateCourse", "metadata", OBJECT),
    ("ProfileUpdate", "preferences", OBJECT),
    ("ProfileUpdate", "social_links", LINKS),
    ("UpdateRole", "permissions", PERMISSIONS),
];

/// The server reads `null` for an optional property as if it were left out
/// (or, where the description says so, as "remove it"): the schema says so.
/// A property that is a plain `$ref` cannot carry `nullable` in OpenAPI 3.0;
/// `null` is refused there, as the schema says.
fn optional_is_nullable(schema: &mut Map<String, Value>) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, prop) in props.iter_mut() {
        if let Some(p) = prop.as_object_mut()
            && !required.contains(name)
            && p.contains_key("type")
        {
            p.insert("nullable".into(), Value::Bool(true));
            // An enumerated value lists `null` among the values too.
            if let Some(values) = p.get_mut("enum").and_then(Value::as_array_mut) {
                values.push(Value::Null);
            }
        }
    }
}

/// `{allOf: [{$ref}, {description}], description}` → `{$ref}`, everywhere.
fn unwrap_refs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(r) = single_ref(map) {
                *map = Map::from_iter([("$ref".to_owned(), Value::String(r))]);
                return;
            }
            for child in map.values_mut() {
                unwrap_refs(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_refs),
        _ => {}
    }
}

/// The schema a wrapper stands for, when it only wraps one `$ref` with
/// descriptions.
fn single_ref(map: &Map<String, Value>) -> Option<String> {
    let all = map.get("allOf")?.as_array()?;
    if map.keys().any(|k| k != "allOf" && k != "description") {
        return None;
    }
    let mut refs = all.iter().filter_map(|s| s.get("$ref"));
    let r = refs.next()?.as_str()?.to_owned();
    let rest_is_descriptions = all.iter().all(|s| {
        s.get("$ref").is_some()
            || s.as_object()
                .is_some_and(|o| o.keys().all(|k| k == "description"))
    });
    (refs.next().is_none() && rest_is_descriptions).then_some(r)
}

/// The names of the schemas JSON request bodies use, with every schema
/// they reach through their properties.
pub(crate) fn request_body_schemas(doc: &Value) -> Vec<String> {
    let mut todo: Vec<String> = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for item in paths.values().filter_map(Value::as_object) {
            for op in item.values() {
                let json_bodies = op
                    .pointer("/requestBody/content")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .filter(|(media, _)| {
                        media.starts_with("application/json")
                            || media.starts_with("multipart/form-data")
                    });
                for (_, content) in json_bodies {
                    if let Some(schema) = content.get("schema") {
                        collect_refs(schema, &mut todo);
                    }
                }
            }
        }
    }
    let mut seen: Vec<String> = Vec::new();
    while let Some(name) = todo.pop() {
        if seen.contains(&name) {
            continue;
        }
        if let Some(s) = doc.pointer(&format!("/components/schemas/{name}")) {
            collect_refs(s, &mut todo);
        }
        seen.push(name);
    }
    seen
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str)
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                out.push(name.to_owned());
            }
            map.values().for_each(|c| collect_refs(c, out));
        }
        Value::Array(items) => items.iter().for_each(|c| collect_refs(c, out)),
        _ => {}
    }
}

/// One operation: its security and the error statuses it can answer.
fn operation(op: &mut Map<String, Value>, table: &[(&str, Access)]) {
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let public = table
        .iter()
        .any(|(name, access)| *name == id && *access == Access::Public);
    if public {
        op.insert("security".into(), json!([]));
    }
    // A one-paragraph doc comment becomes the summary alone; the
    // description repeats it rather than stay empty.
    if !op.contains_key("description")
        && let Some(summary) = op.get("summary").cloned()
    {
        op.insert("description".into(), summary);
    }
    // A form refuses unknown parts too.
    if let Some(form) = op
        .get_mut("requestBody")
        .and_then(|b| b.pointer_mut("/content/multipart~1form-data/schema"))
        .and_then(Value::as_object_mut)
        && form.get("type").and_then(Value::as_str) == Some("object")
    {
        form.insert("additionalProperties".into(), Value::Bool(false));
    }
    let takes_body = op.contains_key("requestBody");
    let takes_if_match = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| {
            ps.iter()
                .any(|p| p["in"] == "header" && p["name"] == "If-Match")
        });
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let error = responses.get("400").cloned();
    if !takes_body {
        responses.remove("415");
    } else if let Some(mut e) = error {
        e["description"] = json!("The body is larger than the service accepts.");
        responses.insert("413".into(), e);
    }
    if !LIMITED.contains(&id.as_str()) {
        responses.remove("429");
    }
    // Only a stale `If-Match` answers 412.
    if !takes_if_match {
        responses.remove("412");
    }
    if public
        && !matches!(
            id.as_str(),
            "createToken" | "createPlatformToken" | "refreshToken" | "refreshPlatformToken"
        )
    {
        // Nothing to authenticate, nothing to refuse for it.
        responses.remove("401");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_rule_names_a_string_property_of_a_request_body() {
        let docs: Vec<Value> = [crate::tenant_spec(), crate::platform_spec()]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        for (schema, property, rule) in TEXT_RULES {
            let found = docs.iter().find_map(|d| {
                d.pointer(&format!(
                    "/components/schemas/{schema}/properties/{property}"
                ))
            });
            let found = found.unwrap_or_else(|| panic!("{schema}.{property} is not in a document"));
            let target = if rule.items { &found["items"] } else { found };
            let ty = rule.json_type.unwrap_or("string");
            assert_eq!(target["type"], ty, "{schema}.{property}");
            let stated = rule.json_type.is_some()
                || target.get("pattern").is_some()
                || target.get("enum").is_some()
                || target.get("minLength").is_some();
            assert!(stated, "{schema}.{property} does not state its rule");
        }
    }

    #[test]
    fn a_described_reference_becomes_a_plain_one() {
        let mut v = json!({ "properties": { "role": {
            "description": "What they may do.",
            "allOf": [{ "$ref": "#/components/schemas/Role" }, { "description": "What they may do." }]
        }}});
        unwrap_refs(&mut v);
        assert_eq!(
            v,
            json!({ "properties": { "role": { "$ref": "#/components/schemas/Role" } } })
        );
        // A real composition stays.
        let mut v = json!({ "allOf": [{ "$ref": "#/a" }, { "$ref": "#/b" }] });
        let before = v.clone();
        unwrap_refs(&mut v);
        assert_eq!(v, before);
    }
}
