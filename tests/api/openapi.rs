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
                assert_eq!(
                    op.get("security").is_some(),
                    access != Access::Public,
                    "{id}: bearer security declared exactly on non-public operations"
                );
                for status in ["400", "401", "404", "422", "429", "500"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{id}: {status} not declared"
                    );
                }
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
