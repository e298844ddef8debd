//! The whole HTTP application: host routing, request ids, error shape.

use std::time::Instant;

use futures::FutureExt as _;
use lms_domain::HostTarget;
use poem::endpoint::BoxEndpoint;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::Json;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler};
use tracing::Instrument;

use crate::context::Ctx;
use crate::error::{ApiError, ErrorCode, normalize};

/// Header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Builds the application: `/healthz` and `/readyz` on every host; the
/// platform API, its docs and `/metrics` on the platform host; a tenant's API
/// and docs on that tenant's hosts.
pub fn build(ctx: Ctx) -> impl Endpoint<Output = Response> {
    let tenant = crate::tenant_api::service();
    let platform = crate::platform_api::service();
    crate::contract::warm();
    let (tenant_raw, platform_raw) = (tenant.spec(), platform.spec());
    let tenant_doc = crate::spec::polish(&tenant_raw, crate::spec::Api::Tenant);
    let platform_doc = crate::spec::polish(&platform_raw, crate::spec::Api::Platform);
    let routes = std::sync::Arc::new(crate::routes::Routes::from_documents([
        ("/api/v1", tenant_doc.clone()),
        ("/platform/v1", platform_doc.clone()),
    ]));
    let tenant_ep = Route::new()
        .nest(
            "/docs",
            docs(tenant.swagger_ui_html().replace(&tenant_raw, &tenant_doc)),
        )
        .at("/openapi.json", document(tenant_doc))
        .nest("/api/v1", tenant)
        .boxed();
    let platform_ep = Route::new()
        .nest(
            "/docs",
            docs(
                platform
                    .swagger_ui_html()
                    .replace(&platform_raw, &platform_doc),
            ),
        )
        .at("/openapi.json", document(platform_doc))
        // Process-wide numbers are not for tenants: only the platform host
        // serves them.
        .at("/metrics", get(metrics))
        .nest("/platform/v1", platform)
        .boxed();
    let hosts = HostRouter {
        ctx: ctx.clone(),
        tenant: tenant_ep,
        platform: platform_ep,
    };
    let app = Route::new()
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
        .nest("/", hosts)
        .data(ctx.clone());
    RequestScope {
        inner: std::sync::Arc::new(BodyLimit {
            inner: app,
            max: ctx.config.max_body_bytes,
            max_import: ctx.config.max_import_bytes,
        }),
        routes,
        timeout: ctx.config.request_timeout,
    }
}

/// `inner` behind the service's own per-request stack (request id, span,
/// time limit, panic guard, error shape, standard headers, access line),
/// exactly as every request to the service is served: the benchmark's
/// second ceiling, a static body served this way.
pub fn request_scope<E: Endpoint + 'static>(
    inner: E,
    timeout: std::time::Duration,
) -> impl Endpoint<Output = Response> {
    RequestScope {
        inner: std::sync::Arc::new(inner),
        routes: std::sync::Arc::default(),
        timeout,
    }
}

/// Serves a document, as it is checked in.
fn document(doc: String) -> impl Endpoint<Output = Response> {
    fixed_body(doc, "application/json")
}

/// Serves the interactive documentation of a document.
fn docs(html: String) -> impl Endpoint<Output = Response> {
    fixed_body(html, "text/html; charset=utf-8")
}

/// Serves the same body to every request.
fn fixed_body(body: String, content_type: &'static str) -> impl Endpoint<Output = Response> {
    let body = bytes::Bytes::from(body);
    poem::endpoint::make_sync(move |_| {
        Response::builder()
            .content_type(content_type)
            .body(body.clone())
    })
}

#[handler]
fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[handler]
async fn readyz(req: &Request) -> Response {
    let Some(ctx) = req.data::<Ctx>() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    if !ctx.freshness.ready() {
        tracing::warn!("not ready: the invalidation listener is disconnected");
        return ApiError::unavailable().into_response();
    }
    match ctx.db.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError::unavailable().into_response()
        }
    }
}

/// Prometheus metrics of this process.
#[handler]
fn metrics(req: &Request) -> Response {
    let Some(ctx) = req.data::<Ctx>() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    // Process-wide counters are for the operator's scraper only.
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    if !peer.is_some_and(|ip| ctx.config.metrics_allow.contains(&ip)) {
        return ApiError::not_found(ErrorCode::RouteNotFound, "no such route").into_response();
    }
    let (entries, bytes) = ctx.catalog.size();
    let body = format!(
        "# HELP lms_catalog_cache_hits_total Catalog reads answered from the cache.\n\
         # TYPE lms_catalog_cache_hits_total counter\n\
         lms_catalog_cache_hits_total {}\n\
         # HELP lms_catalog_cache_misses_total Catalog reads that went to the database.\n\
         # TYPE lms_catalog_cache_misses_total counter\n\
         lms_catalog_cache_misses_total {}\n\
         # HELP lms_catalog_cache_entries Entries in the catalog cache.\n\
         # TYPE lms_catalog_cache_entries gauge\n\
         lms_catalog_cache_entries {entries}\n\
         # HELP lms_catalog_cache_bytes Approximate size of the catalog cache.\n\
         # TYPE lms_catalog_cache_bytes gauge\n\
         lms_catalog_cache_bytes {bytes}\n\
         # HELP lms_actor_cache_entries Authorized callers in the cache.\n\
         # TYPE lms_actor_cache_entries gauge\n\
         lms_actor_cache_entries {}\n\
         # HELP lms_invalidation_listener_up Whether the invalidation listener is connected.\n\
         # TYPE lms_invalidation_listener_up gauge\n\
         lms_invalidation_listener_up {}\n\
         # HELP lms_invalidation_notices_total Invalidation notices applied.\n\
         # TYPE lms_invalidation_notices_total counter\n\
         lms_invalidation_notices_total {}\n\
         # HELP lms_invalidation_listener_reconnects_total Times the listener reconnected.\n\
         # TYPE lms_invalidation_listener_reconnects_total counter\n\
         lms_invalidation_listener_reconnects_total {}\n",
        ctx.catalog.hits(),
        ctx.catalog.misses(),
        ctx.actors.entries(),
        u8::from(ctx.freshness.trusted()),
        ctx.freshness.notices(),
        ctx.freshness.reconnects(),
    );
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}

/// Resolves the Host and hands the request to the platform or tenant app.
struct HostRouter {
    ctx: Ctx,
    tenant: BoxEndpoint<'static>,
    platform: BoxEndpoint<'static>,
}

impl Endpoint for HostRouter {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let host = crate::client::requested_host(&req, &self.ctx.config)?;
        let cfg = &self.ctx.config;
        let allowed = req.extensions().get::<crate::cors::Allowed>().cloned();
        match HostTarget::classify(&host, &cfg.base_domain, &cfg.platform_host) {
            HostTarget::Platform => {
                if let Some(answer) = preflight(&req, allowed, &cfg.platform_cors_origins) {
                    return Ok(answer);
                }
                let token = bearer_token(&req);
                let answer = self.platform.call(req).await;
                // (Rare paths on the heap: the request's future stays small.)
                if let Some(op) = refused_input(&answer)
                    && let Some(e) = Box::pin(crate::platform_api::role_before_input(
                        &self.ctx,
                        token.as_deref(),
                        op,
                    ))
                    .await
                {
                    return Ok(e.into_response());
                }
                answer
            }
            target => {
                let tenant = self.ctx.tenants.resolve(&host, &target).await?;
                Seen::org(&req, tenant.id.as_uuid());
                if let Some(answer) = preflight(&req, allowed, &tenant.cors_origins) {
                    return Ok(answer);
                }
                let token = bearer_token(&req);
                req.extensions_mut().insert(tenant.clone());
                let answer = self.tenant.call(req).await;
                if let Some(op) = refused_input(&answer)
                    && let Some(e) = Box::pin(crate::tenant_api::permission_before_input(
                        &self.ctx,
                        &tenant,
                        token.as_deref(),
                        op,
                    ))
                    .await
                {
                    return Ok(e.into_response());
                }
                answer
            }
        }
    }
}

/// Records the origins the resolved host allows, and answers the request
/// if it is a preflight.
fn preflight(
    req: &Request,
    allowed: Option<crate::cors::Allowed>,
    origins: &std::sync::Arc<[String]>,
) -> Option<Response> {
    let allowed = allowed?;
    allowed.set(origins.clone());
    crate::cors::preflight(req, &allowed)
}

/// The bearer token of `req`, if any.
fn bearer_token(req: &Request) -> Option<String> {
    req.header(header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

/// The operation whose input was refused (400, 422), if that is the
/// answer: the caller's permission is then checked first.
fn refused_input(answer: &poem::Result<Response>) -> Option<&'static str> {
    let (status, op) = match answer {
        Ok(r) => (r.status(), r.data::<poem_openapi::OperationId>()),
        Err(e) => (e.status(), e.data::<poem_openapi::OperationId>()),
    };
    matches!(status.as_u16(), 400 | 422)
        .then(|| op.map(|o| o.0))
        .flatten()
}

/// Who a request turned out to be for, noted as it is learned (the
/// tenant from the host, the user from a valid token), for its access line.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    org: std::sync::OnceLock<uuid::Uuid>,
    user: std::sync::OnceLock<uuid::Uuid>,
}

impl Seen {
    /// Notes the tenant `req` is for.
    pub(crate) fn org(req: &Request, org: uuid::Uuid) {
        if let Some(seen) = req.extensions().get::<std::sync::Arc<Seen>>() {
            let _ = seen.org.set(org);
        }
    }

    /// Notes the user (or platform admin) whose valid token `req` carries.
    pub(crate) fn user(req: &Request, user: uuid::Uuid) {
        if let Some(seen) = req.extensions().get::<std::sync::Arc<Seen>>() {
            let _ = seen.user.set(user);
        }
    }
}

/// How long an organization's import may take.
const IMPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Gives every request an id, a tracing span and a time limit, turns every
/// error into the API's JSON error shape, and sets the headers HTTP asks
/// for: `WWW-Authenticate` on a 401, `Allow` on a 405, `Cache-Control` on
/// the APIs' answers (`no-store`: they are per caller, tokens included).
struct RequestScope<E> {
    inner: std::sync::Arc<E>,
    routes: std::sync::Arc<crate::routes::Routes>,
    timeout: std::time::Duration,
}

impl<E: Endpoint + 'static> Endpoint for RequestScope<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let id = crate::request_id::generate();
        let path = req.uri().path().to_owned();
        let method = req.method().clone();
        // What is logged inside the request carries its id; who it was for
        // goes on its access line only (recording it on the span would
        // format the span again).
        let span = tracing::info_span!("request", request_id = %id);
        let seen = std::sync::Arc::new(Seen::default());
        let with_credentials = req
            .headers()
            .contains_key(poem::http::header::AUTHORIZATION);
        let origin = req.header(header::ORIGIN).map(str::to_owned);
        let allowed = crate::cors::Allowed::default();
        let mut req = req;
        req.extensions_mut().insert(allowed.clone());
        req.extensions_mut().insert(seen.clone());
        let started = Instant::now();
        // An import runs as long as its archive takes to load (the operator
        // waits for its answer); everything else is held to the limit.
        let limit = if is_import(&req) {
            IMPORT_TIMEOUT
        } else {
            self.timeout
        };
        // The handler runs on the connection's own task; past the time
        // limit the caller is answered, and the handler is handed to a task
        // of its own to finish rather than cut off in the middle of a commit
        // (a write is applied whole or not at all, and the caches hear of it
        // either way). A panic is a 500, not a lost connection.
        let inner = self.inner.clone();
        let mut handler = Box::pin(
            crate::request_id::scope(id.clone(), async move {
                inner.call(req).await.map(IntoResponse::into_response)
            })
            .instrument(span.clone()),
        );
        let outcome = crate::request_id::scope(id.clone(), async {
            let polled = std::panic::AssertUnwindSafe(&mut handler).catch_unwind();
            tokio::time::timeout(limit, polled).await
        })
        .instrument(span.clone())
        .await;
        let mut resp = crate::request_id::scope(id.clone(), async {
            match outcome {
                Ok(Ok(Ok(r))) => r,
                Ok(Ok(Err(e))) => self.error_response(e, &path),
                Ok(Err(_panicked)) => ApiError::internal("the handler panicked").into_response(),
                Err(_) => {
                    tokio::spawn(handler);
                    tracing::warn!(timeout_ms = limit.as_millis() as u64, "request timed out");
                    ApiError::unavailable_because(
                        ErrorCode::RequestTimeout,
                        "the request took too long and the service stopped waiting for it; \
                         a change is applied whole or not at all: read before retrying",
                    )
                    .into_response()
                }
            }
        })
        .instrument(span.clone())
        .await;
        crate::cors::decorate(&mut resp, origin.as_deref(), &allowed);
        let status = resp.status();
        let headers = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&id) {
            headers.insert(REQUEST_ID_HEADER, v);
        }
        match status {
            StatusCode::UNAUTHORIZED if !headers.contains_key(header::WWW_AUTHENTICATE) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(if with_credentials {
                        "Bearer error=\"invalid_token\""
                    } else {
                        "Bearer"
                    }),
                );
            }
            StatusCode::METHOD_NOT_ALLOWED => {
                let allowed = self.routes.allowed(&path);
                if !allowed.is_empty()
                    && let Ok(v) = HeaderValue::from_str(&allowed)
                {
                    headers.insert(header::ALLOW, v);
                }
            }
            _ => {}
        }
        if (path.starts_with("/api/") || path.starts_with("/platform/"))
            && !headers.contains_key(header::CACHE_CONTROL)
        {
            // A representation with an ETag may be kept by the caller's
            // own cache, and revalidated on every use.
            let policy = if headers.contains_key(header::ETAG) {
                "private, no-cache"
            } else {
                "no-store"
            };
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
        }
        // One access line per request, outside the span (its fields are
        // all here).
        tracing::info!(
            request_id = %id,
            method = %method,
            path = %path,
            status = resp.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            org_id = seen.org.get().map(tracing::field::display),
            user_id = seen.user.get().map(tracing::field::display),
            "request done"
        );
        Ok(resp)
    }
}

impl<E> RequestScope<E> {
    /// The JSON error answer of `err`; a malformed path parameter is named
    /// as the documents name it.
    fn error_response(&self, err: poem::Error, path: &str) -> Response {
        if let Some(e) = err.downcast_ref::<poem_openapi::error::ParsePathError>() {
            let name = e
                .name
                .strip_prefix("param")
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| self.routes.parameter_name(path, n))
                .unwrap_or("path");
            return ApiError::bad_request(
                ErrorCode::InvalidParameter,
                format!("path parameter `{name}`: {}", e.reason),
            )
            .into_response();
        }
        normalize(err)
    }
}

/// Refuses bodies over `max` bytes with 413: by `Content-Length` when the
/// client sends one, by reading at most `max` bytes when it streams.
struct BodyLimit<E> {
    inner: E,
    max: usize,
    /// The limit of an organization's import (an archive).
    max_import: usize,
}

/// Whether `req` loads an organization's archive: a large body, and a
/// request that runs as long as the load does.
fn is_import(req: &Request) -> bool {
    req.method() == Method::POST && req.uri().path() == "/platform/v1/organizations/import"
}

impl<E: Endpoint> Endpoint for BodyLimit<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> poem::Result<Self::Output> {
        let too_large = || poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE);
        // An import's archive is read by its handler, after the caller is
        // authorized, within its own limit.
        let import = is_import(&req);
        let max = if import { self.max_import } else { self.max };
        match req.header("content-length").map(str::parse::<usize>) {
            Some(Ok(len)) if len > max => return Err(too_large()),
            Some(Ok(_)) => {}
            Some(Err(_)) => return Err(poem::Error::from_status(StatusCode::BAD_REQUEST)),
            // An archive comes with its length, checked before it is read.
            None if import => return Err(poem::Error::from_status(StatusCode::LENGTH_REQUIRED)),
            None if req.header("transfer-encoding").is_some() => {
                let body = req
                    .take_body()
                    .into_bytes_limit(self.max)
                    .await
                    .map_err(|_| too_large())?;
                req.set_body(body);
            }
            None => {}
        }
        self.inner.call(req).await
    }
}
