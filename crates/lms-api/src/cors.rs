//! Cross-origin requests from browsers (CORS): an organization lists the web
//! origins whose pages may call its API (`cors_allowed_origins` in its
//! settings); the platform host has its own list (`--platform-cors-origins`).
//! Nothing is allowed by default. Tokens travel in `Authorization`, never in
//! cookies, so no answer allows credentials in the cookie sense.

use std::sync::{Arc, OnceLock};

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{IntoResponse, Request, Response};

use crate::error::ApiError;
use crate::error::ErrorCode;

/// Request headers a page may send.
const ALLOWED_HEADERS: &str = "authorization, content-type, if-match, if-none-match";
/// Response headers a page may read.
const EXPOSED_HEADERS: &str = "etag, retry-after, x-request-id, www-authenticate";
/// Methods a page may use.
const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";
/// How long a browser may keep a preflight answer, in seconds.
const MAX_AGE: &str = "600";

/// The origins the request's host allows, filled in once the host is
/// resolved (the outermost layer decorates the answer with it).
#[derive(Debug, Clone, Default)]
pub struct Allowed(Arc<OnceLock<Arc<[String]>>>);

impl Allowed {
    /// Records the origins of the resolved host.
    pub fn set(&self, origins: Arc<[String]>) {
        let _ = self.0.set(origins);
    }

    /// Whether `origin` may read the answer.
    pub fn allows(&self, origin: &str) -> bool {
        self.0
            .get()
            .is_some_and(|o| o.iter().any(|a| a.eq_ignore_ascii_case(origin)))
    }
}

/// The answer to a preflight request (`OPTIONS` with an `Origin` and an
/// `Access-Control-Request-Method`), or `None` for any other request.
pub fn preflight(req: &Request, allowed: &Allowed) -> Option<Response> {
    if req.method() != Method::OPTIONS
        || !req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return None;
    }
    let origin = req.header(header::ORIGIN)?;
    if !allowed.allows(origin) {
        return Some(
            ApiError::forbidden(
                ErrorCode::OriginNotAllowed,
                "this origin may not call the API from a browser",
            )
            .into_response(),
        );
    }
    Some(
        Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS)
            .header(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS)
            .header(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE)
            .finish(),
    )
}

/// Lets the page of `origin` read `resp` when the host allows it; the
/// answer varies with `Origin` either way.
pub fn decorate(resp: &mut Response, origin: Option<&str>, allowed: &Allowed) {
    let Some(origin) = origin else {
        return;
    };
    let headers = resp.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    if allowed.allows(origin)
        && let Ok(v) = HeaderValue::from_str(origin)
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}
