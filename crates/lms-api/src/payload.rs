//! A JSON body that is already bytes: what the caches hold and send.

use std::marker::PhantomData;

use bytes::Bytes;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};

/// A JSON document of type `T`, serialized once: a cached answer is sent
/// as the bytes it was stored as, with no parsing or re-serialization. In
/// the OpenAPI document it is exactly `T`.
pub struct JsonBody<T> {
    bytes: Bytes,
    _type: PhantomData<fn() -> T>,
}

impl<T: ToJSON> JsonBody<T> {
    /// Serializes `value`.
    pub fn new(value: &T) -> Self {
        let json = value.to_json().unwrap_or_default();
        Self::from_bytes(Bytes::from(serde_json::to_vec(&json).unwrap_or_default()))
    }
}

impl<T> JsonBody<T> {
    /// A body that was serialized from a `T` before.
    pub fn from_bytes(bytes: Bytes) -> Self {
        Self {
            bytes,
            _type: PhantomData,
        }
    }

    /// The bytes sent.
    pub fn bytes(&self) -> Bytes {
        self.bytes.clone()
    }
}

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T> IntoResponse for JsonBody<T> {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(self.bytes)
    }
}
