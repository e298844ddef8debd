//! JSON request bodies are checked against the published OpenAPI documents
//! before a handler sees them, so that the server refuses exactly what the
//! documents refuse: a wrong type (the framework would read `123` as the
//! string `"123"`), `null` where the schema is not nullable, a string
//! outside its length or pattern, an unknown property. The handler's own
//! rules still run afterwards; the documents state each of them too.

use std::collections::HashMap;
use std::sync::LazyLock;

use jsonschema::{Draft, Validator};
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::error::ParseRequestPayloadError;
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A validator per request body schema of both documents, by schema name.
static VALIDATORS: LazyLock<HashMap<String, Validator>> = LazyLock::new(|| {
    let mut all = HashMap::new();
    for doc in [crate::tenant_spec(), crate::platform_spec()] {
        all.extend(validators(&doc));
    }
    all
});

/// Compiles the validators now rather than on the first request.
pub fn warm() {
    LazyLock::force(&VALIDATORS);
}

/// The validators of the request body schemas of one document.
fn validators(doc: &str) -> HashMap<String, Validator> {
    let Ok(doc) = serde_json::from_str::<Value>(doc) else {
        return HashMap::new();
    };
    let names = crate::spec::request_body_schemas(&doc);
    let mut schemas = doc
        .pointer("/components/schemas")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    to_json_schema(&mut schemas);
    let root = serde_json::json!({ "components": { "schemas": schemas } });
    // The linear-time `regex` engine: a pattern never backtracks over a
    // large body. The documents are fixed at build time, so a schema that
    // does not compile is a bug, and the service must not start without
    // its checks.
    let map = jsonschema::options()
        .with_draft(Draft::Draft4)
        .should_validate_formats(true)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build_map(&root)
        .unwrap_or_else(|e| panic!("the request schemas do not compile: {e}"));
    names
        .into_iter()
        .filter_map(|name| {
            let v = map.get(&format!("#/components/schemas/{name}"))?.clone();
            Some((name, v))
        })
        .collect()
}

/// OpenAPI 3.0's `nullable: true` is JSON Schema's `"null"` among the types.
fn to_json_schema(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.remove("nullable") == Some(Value::Bool(true))
                && let Some(Value::String(ty)) = o.get("type").cloned()
            {
                o.insert("type".into(), serde_json::json!([ty, "null"]));
            }
            o.values_mut().for_each(to_json_schema);
        }
        Value::Array(a) => a.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

/// Why a body was refused.
#[derive(Debug)]
pub enum Refusal {
    /// Its shape is wrong (a type, a missing or unknown property): 400.
    Shape(String),
    /// A value breaks a rule of its field (length, pattern, range, allowed
    /// values): 422 `validation_failed`, naming the field.
    Value { field: String, rule: String },
}

/// Checks `value` against the schema named `name`; the first violation,
/// named by its place in the body, is the error.
pub fn check(name: &str, value: &Value) -> Result<(), Refusal> {
    use jsonschema::error::ValidationErrorKind as Kind;
    let Some(validator) = VALIDATORS.get(name) else {
        return Ok(());
    };
    // The first violation only: `validate` stops there.
    let Err(e) = validator.validate(value) else {
        return Ok(());
    };
    let at = e.instance_path().to_string();
    let field = short(&at.trim_start_matches('/').replace('/', "."), 64);
    let rule = match e.kind() {
        Kind::Pattern { pattern } => Some(crate::spec::rule_of_pattern(pattern).to_owned()),
        Kind::MinLength { limit } => Some(format!("must be at least {limit} characters")),
        Kind::MaxLength { limit } => Some(format!("must be at most {limit} characters")),
        Kind::Minimum { limit } => Some(format!("must be at least {}", number(limit))),
        Kind::Maximum { limit } => Some(format!("must be at most {}", number(limit))),
        Kind::MinItems { limit } => Some(format!("must have at least {limit} items")),
        Kind::MaxItems { limit } => Some(format!("must have at most {limit} items")),
        Kind::Enum { options } => Some(format!("must be one of {options}")),
        _ => None,
    };
    Err(match rule {
        Some(rule) if !field.is_empty() => Refusal::Value { field, rule },
        _ => {
            let place = if field.is_empty() {
                "the body".to_owned()
            } else {
                format!("`{field}`")
            };
            Refusal::Shape(short(&format!("{place}: {}", e.masked()), 300))
        }
    })
}

/// `text`, cut to `max` characters: an error never echoes a large input.
fn short(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A bound as a person writes it: `0`, not `0.0`.
fn number(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => v.to_string(),
    }
}

/// A JSON request body of type `T`, checked against its published schema
/// before it is read. In the OpenAPI document it is exactly `T`, as with
/// the framework's `Json`.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T> std::ops::Deref for Body<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Type> Payload for Body<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        <poem_openapi::payload::Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON> ParsePayload for Body<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let refused = |reason: String| ParseRequestPayloadError { reason };
        let data = Vec::<u8>::from_request(request, body).await?;
        let value: Value = if data.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&data).map_err(|e| refused(e.to_string()))?
        };
        match check(&T::name(), &value) {
            Ok(()) => {}
            Err(Refusal::Shape(why)) => return Err(refused(why).into()),
            Err(Refusal::Value { field, rule }) => {
                return Err(ApiError::invalid_field(field, rule).into());
            }
        }
        let value = T::parse_from_json(Some(value)).map_err(|e| refused(e.into_message()))?;
        Ok(Self(value))
    }
}

poem_openapi::impl_apirequest_for_payload!(Body<T>, T: ParseFromJSON);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_body_schema_has_a_validator() {
        for doc in [crate::tenant_spec(), crate::platform_spec()] {
            let doc: Value = serde_json::from_str(&doc).unwrap();
            for name in crate::spec::request_body_schemas(&doc) {
                assert!(VALIDATORS.contains_key(&name), "{name} is not checked");
            }
        }
    }

    #[test]
    fn a_value_rule_names_its_field_and_a_wrong_type_is_a_shape_error() {
        match check("CreateCourse", &serde_json::json!({ "title": " " })) {
            Err(Refusal::Value { field, rule }) => {
                assert_eq!(field, "title");
                assert!(rule.contains("not blank"), "{rule}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check("CreateCourse", &serde_json::json!({ "title": 1 })),
            Err(Refusal::Shape(_))
        ));
        assert!(check("CreateCourse", &serde_json::json!({ "title": " T " })).is_ok());
    }
}
