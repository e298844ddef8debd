//! What HTTP itself asks of every answer: challenges on 401, `Allow` on
//! 405, no caching of per-caller answers, one unambiguous Host, named path
//! parameters, and a time limit.

use lms_tests::{Body, PLATFORM_HOST, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_401_challenges_for_a_bearer_token() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let a = app
        .send(Method::GET, &acme.host, "/api/v1/me", None, None)
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.headers["www-authenticate"], "Bearer");
    let a = app
        .send(
            Method::GET,
            &acme.host,
            "/api/v1/me",
            Some("not-a-token"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.headers["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    let a = app
        .send(
            Method::GET,
            PLATFORM_HOST,
            "/platform/v1/organizations",
            None,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.headers["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn per_caller_answers_and_tokens_are_never_stored_by_caches() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let a = acme.login("admin@acme.test", lms_tests::PASSWORD).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["cache-control"], "no-store", "token answer");
    let a = acme.get("/api/v1/me").await;
    assert_eq!(a.headers["cache-control"], "no-store");
    let a = app
        .send(
            Method::GET,
            PLATFORM_HOST,
            "/platform/v1/organizations",
            None,
            None,
        )
        .await;
    assert_eq!(a.headers["cache-control"], "no-store", "an error too");
    // A course carries an ETag: the caller's own cache may keep it, and
    // asks again every time.
    let course = acme.create_course("Kept").await;
    let a = acme
        .get(&format!(
            "/api/v1/courses/{}",
            course["id"].as_str().unwrap()
        ))
        .await;
    assert!(a.headers.contains_key("etag"));
    assert_eq!(a.headers["cache-control"], "private, no-cache");
    // Not the health check, which no cache keeps anyway.
    let a = app
        .send(Method::GET, &acme.host, "/healthz", None, None)
        .await;
    assert!(!a.headers.contains_key("cache-control"));
}

#[tokio::test]
async fn a_405_says_which_methods_the_path_allows() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let a = acme
        .send_as(&acme.token, Method::PUT, "/api/v1/courses", None)
        .await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.code(), "method_not_allowed");
    assert_eq!(a.headers["allow"], "GET, HEAD, POST");
    // A literal segment is told apart from a parameter in its place.
    let course = acme.create_course("Ordered").await;
    let a = acme
        .send_as(
            &acme.token,
            Method::GET,
            &format!(
                "/api/v1/courses/{}/lessons/order",
                course["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.headers["allow"], "PUT");
}

#[tokio::test]
async fn a_malformed_path_parameter_is_named() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let course = acme.create_course("Named").await;
    let id = course["id"].as_str().unwrap();
    let a = acme
        .get(&format!("/api/v1/courses/{id}/lessons/not-a-uuid"))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert_eq!(a.code(), "invalid_parameter");
    let message = a.json["message"].as_str().unwrap();
    assert!(message.contains("`lesson_id`"), "{message}");
    assert!(
        !message.contains("param0") && !message.contains("param1"),
        "{message}"
    );
}

/// Raw HTTP/1.1, for what a client library will not send.
async fn raw(app: &TestApp, request: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn two_host_headers_are_refused() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let _globex = app.tenant("globex").await;
    let out = raw(
        &app,
        &format!(
            "GET /api/v1/courses HTTP/1.1\r\nHost: {}\r\nHost: globex.lms.test\r\n\
             Authorization: Bearer {}\r\nConnection: close\r\n\r\n",
            acme.host, acme.token
        ),
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("\"code\":\"invalid_host\""), "{out}");
}

#[tokio::test]
async fn a_request_past_its_time_limit_is_abandoned_whole() {
    let app = TestApp::spawn_with(|a| a.request_timeout_ms = 0).await;
    // Nothing waits in the health check: it answers.
    let a = app
        .send(Method::GET, PLATFORM_HOST, "/healthz", None, None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    // Anything that waits on the database is cut off with a clear code.
    let a = app
        .send(
            Method::POST,
            PLATFORM_HOST,
            "/platform/v1/auth/token",
            None,
            Some(Body::Json(
                json!({ "email": "x@platform.test", "password": "whatever-long" }),
            )),
        )
        .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text);
    assert_eq!(a.code(), "request_timeout");
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_request_is_disconnected() {
    let app = TestApp::spawn_with(|a| a.header_read_timeout_ms = 300).await;
    // A whole head in time is served.
    let out = raw(
        &app,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    // A head that never ends: the server hangs up rather than wait.
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(20), s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the connection is still open");
    assert!(!String::from_utf8_lossy(&out).contains("200 OK"));
}

/// A preflight and an authorized request from a browser page, as the
/// browser sends them.
async fn from_page(
    app: &TestApp,
    host: &str,
    method: Method,
    origin: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let mut r = app
        .http
        .request(
            method.clone(),
            format!("http://{}/api/v1/courses", app.addr),
        )
        .header("host", host)
        .header("origin", origin);
    if method == Method::OPTIONS {
        r = r
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization");
    }
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn browsers_call_an_organization_only_from_the_origins_it_allows() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let page = "https://app.acme.test";

    // Nothing is allowed by default.
    let a = from_page(&app, &acme.host, Method::OPTIONS, page, None).await;
    assert_eq!(a.status(), StatusCode::FORBIDDEN);
    assert!(!a.headers().contains_key("access-control-allow-origin"));

    // Origins are checked when set.
    for bad in [
        "*",
        "https://app.acme.test/path",
        "ftp://app.acme.test",
        "app.acme.test",
    ] {
        let a = acme
            .patch(
                "/api/v1/organization/settings",
                json!({ "cors_allowed_origins": [bad] }),
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            a.text
        );
    }
    let many: Vec<String> = (0..21)
        .map(|i| format!("https://app{i}.acme.test"))
        .collect();
    let a = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "cors_allowed_origins": many }),
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "21 origins: {}",
        a.text
    );
    assert_eq!(a.code(), "validation_failed");
    let a = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "cors_allowed_origins": ["https://APP.acme.test/"] }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["settings"]["cors_allowed_origins"], json!([page]));

    // The preflight is answered from the list...
    let a = from_page(&app, &acme.host, Method::OPTIONS, page, None).await;
    assert_eq!(a.status(), StatusCode::NO_CONTENT);
    assert_eq!(a.headers()["access-control-allow-origin"], page);
    assert!(
        a.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    // ...and so is the authorized request that follows.
    let a = from_page(&app, &acme.host, Method::GET, page, Some(&acme.token)).await;
    assert_eq!(a.status(), StatusCode::OK);
    assert_eq!(a.headers()["access-control-allow-origin"], page);
    assert_eq!(a.headers()["vary"], "origin");

    // Another origin, and another organization, get nothing.
    let a = from_page(&app, &acme.host, Method::OPTIONS, "https://evil.test", None).await;
    assert_eq!(a.status(), StatusCode::FORBIDDEN);
    let a = from_page(
        &app,
        &acme.host,
        Method::GET,
        "https://evil.test",
        Some(&acme.token),
    )
    .await;
    assert!(!a.headers().contains_key("access-control-allow-origin"));
    let a = from_page(&app, &globex.host, Method::OPTIONS, page, None).await;
    assert_eq!(
        a.status(),
        StatusCode::FORBIDDEN,
        "acme's origins are acme's"
    );

    // Emptied, the list allows none again.
    acme.patch(
        "/api/v1/organization/settings",
        json!({ "cors_allowed_origins": [] }),
    )
    .await;
    let a = from_page(&app, &acme.host, Method::OPTIONS, page, None).await;
    assert_eq!(a.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_platform_host_has_its_own_origins() {
    let app = TestApp::spawn_with(|a| {
        a.platform_cors_origins = vec!["https://console.example.test".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        let app = &app;
        async move {
            app.http
                .request(
                    Method::OPTIONS,
                    format!("http://{}/platform/v1/organizations", app.addr),
                )
                .header("host", PLATFORM_HOST)
                .header("origin", origin)
                .header("access-control-request-method", "GET")
                .send()
                .await
                .unwrap()
        }
    };
    let a = preflight("https://console.example.test").await;
    assert_eq!(a.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        a.headers()["access-control-allow-origin"],
        "https://console.example.test"
    );
    assert_eq!(
        preflight("https://app.acme.test").await.status(),
        StatusCode::FORBIDDEN
    );
}

/// A caller without the permission an operation needs learns that, not
/// the operation's rules for its input.
#[tokio::test]
async fn permission_comes_before_the_rules_of_the_input() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (_, learner) = acme.user_with_role("lea@acme.test", "learner").await;
    for body in [
        json!({ "title": "" }),
        json!({ "title": "T", "surprise": 1 }),
        json!([]),
    ] {
        let a = acme
            .send_as(
                &learner,
                Method::POST,
                "/api/v1/courses",
                Some(body.clone()),
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{body}: {}", a.text);
        assert_eq!(a.code(), "permission_denied");
        let a = acme
            .send_as(
                &acme.token,
                Method::POST,
                "/api/v1/courses",
                Some(body.clone()),
            )
            .await;
        assert!(
            matches!(a.status.as_u16(), 400 | 422),
            "{body}: the admin learns the rule: {}",
            a.text
        );
    }
    let a = acme
        .send_as(
            &learner,
            Method::PATCH,
            "/api/v1/organization/settings",
            Some(json!({ "trash_retention_days": 0 })),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    // Without a token: 401, whatever the body.
    let a = app
        .send(
            Method::POST,
            &acme.host,
            "/api/v1/courses",
            None,
            Some(Body::Json(json!({ "title": "" }))),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_archive_beyond_the_import_limit_or_of_unknown_length_is_refused_unread() {
    let app = TestApp::spawn_with(|a| a.max_import_bytes = 64).await;
    let op = app.platform_token().await;
    let a = app
        .send(
            Method::POST,
            PLATFORM_HOST,
            "/platform/v1/organizations/import",
            Some(&op),
            Some(Body::Raw("application/x-tar", "x".repeat(100))),
        )
        .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);
    assert_eq!(a.code(), "payload_too_large");
    // Streamed without a length, it is not read at all.
    let out = raw(
        &app,
        &format!(
            "POST /platform/v1/organizations/import HTTP/1.1\r\nHost: {PLATFORM_HOST}\r\n\
             Authorization: Bearer {op}\r\nContent-Type: application/x-tar\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        ),
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("\"code\":\"bad_request\""), "{out}");
}
