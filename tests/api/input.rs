//! Bad input: a clear 4xx JSON error with a stable code, never a 500, and
//! nothing written.

use lms_tests::{Body, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn malformed_requests_get_clear_errors_and_write_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let long = "x".repeat(201);
    let cases: Vec<(&str, Body, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            Body::Raw("application/json", "{\"title\": ".into()),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "not JSON at all",
            Body::Raw("text/plain", "title=x".into()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "wrong type",
            Body::Json(json!({ "title": { "text": "T" } })),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "missing title",
            Body::Json(json!({ "description": "x" })),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "unknown enum value",
            Body::Json(json!({ "title": "T", "difficulty": "IMPOSSIBLE" })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "unknown field",
            Body::Json(json!({ "title": "T", "organization_id": uuid::Uuid::now_v7() })),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "over-long title",
            Body::Json(json!({ "title": long })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "blank title",
            Body::Json(json!({ "title": "   " })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "negative hours",
            Body::Json(json!({ "title": "T", "estimated_hours": -1 })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "metadata not an object",
            Body::Json(json!({ "title": "T", "metadata": [1, 2] })),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "image URL not http",
            Body::Json(json!({ "title": "T", "image_url": "javascript:alert(1)" })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "string for a number",
            Body::Json(json!({ "title": "T", "estimated_hours": "ten" })),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        // The published schema is the rule: a number is not a string, a
        // `$ref` property is not nullable, text cannot hold NUL.
        (
            "number for a string",
            Body::Json(json!({ "title": 123 })),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "null for an enum",
            Body::Json(json!({ "title": "T", "difficulty": null })),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "NUL in a description",
            Body::Json(json!({ "title": "T", "description": "a\u{0}b" })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "line feed in a title",
            Body::Json(json!({ "title": "two\nlines" })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "huge number",
            Body::Json(json!({ "title": "T", "estimated_hours": 1e30 })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
    ];
    for (why, body, status, code) in cases {
        let a = app
            .send(
                Method::POST,
                &acme.host,
                "/api/v1/courses",
                Some(&acme.token),
                Some(body),
            )
            .await;
        assert_eq!(a.status, status, "{why}: {}", a.text);
        assert_eq!(a.code(), code, "{why}: {}", a.text);
        assert!(
            a.json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{why}"
        );
        assert!(a.json["request_id"].is_string(), "{why}");
    }
    let mut su = app.connect_as_superuser().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM courses")
        .fetch_one(&mut su)
        .await
        .unwrap();
    assert_eq!(n, 0, "nothing half-written");
}

#[tokio::test]
async fn bad_parameters_get_clear_errors() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    for (path, status, code) in [
        (
            "/api/v1/courses/not-a-uuid",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/v1/courses?limit=0",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/v1/courses?limit=101",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/v1/courses?difficulty=EASY",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/v1/courses?cursor=abc",
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "/api/v1/nothing-here",
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
    ] {
        let a = acme.get(path).await;
        assert_eq!(a.status, status, "{path}: {}", a.text);
        assert_eq!(a.code(), code, "{path}");
    }
    let a = app
        .send(
            Method::PUT,
            &acme.host,
            "/api/v1/courses",
            Some(&acme.token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.code(), "method_not_allowed");
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let app = TestApp::spawn_with(|a| a.max_body_bytes = 4096).await;
    let acme = app.tenant("acme").await;
    let big = json!({ "title": "T", "description": "y".repeat(10_000) });
    let a = acme.post("/api/v1/courses", big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);
    assert_eq!(a.code(), "payload_too_large");
}

#[tokio::test]
async fn organization_input_is_validated() {
    let app = TestApp::spawn().await;
    let op = app.platform_token().await;
    let admin = json!({ "email": "a@b.test", "first_name": "A", "last_name": "B", "password": lms_tests::PASSWORD });
    for (why, body, status, code) in [
        (
            "bad slug",
            json!({ "slug": "Not Valid", "name": "X", "admin": admin }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "reserved slug",
            json!({ "slug": "admin", "name": "X", "admin": admin }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "short password",
            json!({ "slug": "ok", "name": "X", "admin": { "email": "a@b.test", "first_name": "A", "last_name": "B", "password": "short" } }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "bad email",
            json!({ "slug": "ok", "name": "X", "admin": { "email": "nope", "first_name": "A", "last_name": "B", "password": lms_tests::PASSWORD } }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "missing admin",
            json!({ "slug": "ok", "name": "X" }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
    ] {
        let a = app
            .send(
                Method::POST,
                lms_tests::PLATFORM_HOST,
                "/platform/v1/organizations",
                Some(&op),
                Some(Body::Json(body)),
            )
            .await;
        assert_eq!(a.status, status, "{why}: {}", a.text);
        assert_eq!(a.code(), code, "{why}");
    }
    // A duplicate slug is a conflict, and leaves nothing half-made.
    let _acme = app.tenant("acme").await;
    let dup = json!({ "slug": "acme", "name": "Again", "admin": admin });
    let a = app
        .send(
            Method::POST,
            lms_tests::PLATFORM_HOST,
            "/platform/v1/organizations",
            Some(&op),
            Some(Body::Json(dup)),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.code(), "slug_taken");
    let mut su = app.connect_as_superuser().await;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'a@b.test'")
        .fetch_one(&mut su)
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn identity_and_catalog_inputs_get_clear_errors() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let posts = [
        (
            "/api/v1/roles",
            json!({ "name": "  ", "permissions": [] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "/api/v1/roles",
            json!({ "name": "r", "permissions": "course:read" }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "/api/v1/users",
            json!({ "email": "x@acme.test", "first_name": "X", "last_name": "Y", "username": "no spaces allowed" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "/api/v1/users",
            json!({ "email": "x@acme.test", "first_name": "X", "last_name": "Y", "password": "short" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "/api/v1/users",
            json!({ "email": "x@acme.test", "first_name": "X", "last_name": "Y", "roles": ["nope"] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_role",
        ),
        (
            "/api/v1/categories",
            json!({ "name": "C", "slug": "c", "icon": "two words" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "/api/v1/categories",
            json!({ "name": "C", "slug": "c", "colour": "#000000" }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "/api/v1/tags",
            json!({ "name": "" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "/api/v1/auth/refresh",
            json!({ "refresh_token": { "token": "x" } }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
    ];
    for (path, body, status, code) in posts {
        let a = acme.post(path, body.clone()).await;
        assert_eq!(a.status, status, "{path} {body}: {}", a.text);
        assert_eq!(a.code(), code, "{path} {body}");
    }
    for (path, status, code) in [
        (
            "/api/v1/courses?sort=popular",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/v1/courses?category=not-a-uuid",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/v1/users?cursor=abc",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/v1/users?active=maybe",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
    ] {
        let a = acme.get(path).await;
        assert_eq!(a.status, status, "{path}: {}", a.text);
        assert_eq!(a.code(), code, "{path}");
    }
    let a = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "self_signup": "yes" }),
        )
        .await;
    assert_eq!(a.code(), "invalid_body");
    let a = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "slug": "taken-over" }),
        )
        .await;
    assert_eq!(
        a.code(),
        "invalid_body",
        "unknown fields are refused, the slug is not a setting"
    );
}
