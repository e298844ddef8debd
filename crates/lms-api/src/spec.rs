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
        for name in &bodies {
            if let Some(s) = schemas.get_mut(name).and_then(Value::as_object_mut)
                && s.get("type").and_then(Value::as_str) == Some("object")
            {
                s.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
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
fn request_body_schemas(doc: &Value) -> Vec<String> {
    let mut todo: Vec<String> = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for item in paths.values().filter_map(Value::as_object) {
            for op in item.values() {
                let json_bodies = op
                    .pointer("/requestBody/content")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .filter(|(media, _)| media.starts_with("application/json"));
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
    let takes_body = op.contains_key("requestBody");
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
