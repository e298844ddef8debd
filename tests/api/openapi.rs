//! The checked-in OpenAPI documents match the code; `cargo run -- openapi`
//! rewrites them.

use serde_json::Value;

fn check(name: &str, served: String) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/").to_owned() + name;
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk.trim_end() == served.trim_end(),
        "openapi/{name} is out of date: run `cargo run -- openapi` and commit the result"
    );
}

#[test]
fn checked_in_specs_match_the_code() {
    check("tenant.json", lms_api::tenant_spec());
    check("platform.json", lms_api::platform_spec());
}

#[test]
fn every_operation_is_named_tagged_secured_and_declares_its_errors() {
    use lms_api::access::{Access, PLATFORM_OPERATIONS, TENANT_OPERATIONS};
    for (spec, table) in [
        (lms_api::tenant_spec(), TENANT_OPERATIONS),
        (lms_api::platform_spec(), PLATFORM_OPERATIONS),
    ] {
        let spec: Value = serde_json::from_str(&spec).unwrap();
        let mut seen = Vec::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
                seen.push(id.to_owned());
                assert!(
                    op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                    "{id}: no tag"
                );
                let access = table
                    .iter()
                    .find(|(op, _)| *op == id)
                    .map(|(_, a)| *a)
                    .unwrap_or_else(|| panic!("{id} has no entry in the access table"));
                let security = op["security"].as_array().expect("security stated");
                assert_eq!(
                    security.is_empty(),
                    access == Access::Public,
                    "{id}: bearer security exactly on non-public operations, `[]` on public ones"
                );
                let declared = |status: &str| op["responses"].get(status).is_some();
                for status in ["400", "404", "500"] {
                    assert!(declared(status), "{id}: {status} not declared");
                }
                if access != Access::Public {
                    assert!(declared("401"), "{id}: 401 not declared");
                }
                let takes_body = op.get("requestBody").is_some();
                assert_eq!(
                    declared("413"),
                    takes_body,
                    "{id}: 413 where a body is taken"
                );
                assert_eq!(
                    declared("415"),
                    takes_body,
                    "{id}: 415 where a body is taken"
                );
                let limited = ["createToken", "signUp", "createPlatformToken"].contains(&id);
                assert_eq!(
                    declared("429"),
                    limited,
                    "{id}: 429 where attempts are limited"
                );
            }
        }
        for (op, _) in table {
            assert!(
                seen.iter().any(|s| s == op),
                "access table names {op}, which the API does not have"
            );
        }
    }
}

/// What generated clients trip over: wrapped references, open request
/// bodies, no way to reach a tenant, no licence.
#[test]
fn the_documents_say_exactly_what_the_server_does() {
    let mut bodies = 0;
    for spec in [lms_api::tenant_spec(), lms_api::platform_spec()] {
        assert!(
            !spec.contains("\"allOf\""),
            "a reference is wrapped in allOf"
        );
        let spec: Value = serde_json::from_str(&spec).unwrap();
        assert!(spec["info"]["license"]["name"].is_string());
        assert!(spec["info"]["contact"]["url"].is_string());
        let servers = spec["servers"].as_array().unwrap();
        assert!(
            servers
                .iter()
                .any(|s| s["variables"]["host"]["default"].is_string()),
            "a server with a host variable"
        );
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(r) = op
                    .pointer("/requestBody/content")
                    .and_then(Value::as_object)
                    .and_then(|c| {
                        c.iter()
                            .find(|(media, _)| media.starts_with("application/json"))
                    })
                    .and_then(|(_, c)| c.pointer("/schema/$ref"))
                    .and_then(Value::as_str)
                else {
                    continue;
                };
                bodies += 1;
                let name = r.trim_start_matches("#/components/schemas/");
                let schema = &spec["components"]["schemas"][name];
                if schema["type"] == "object" {
                    assert_eq!(
                        schema["additionalProperties"],
                        Value::Bool(false),
                        "{method} {path}: {name} refuses unknown fields and must say so"
                    );
                }
            }
        }
    }
    assert!(bodies > 30, "only {bodies} JSON request bodies found");
}
