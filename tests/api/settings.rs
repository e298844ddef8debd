//! An organization's settings: branding shown before login, and stored
//! values read safely whatever they hold.

use lms_tests::{Answer, TestApp, within_a_second};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn branding(app: &TestApp, host: &str) -> Answer {
    app.send(Method::GET, host, "/api/v1/branding", None, None)
        .await
}

#[tokio::test]
async fn branding_is_checked_and_shown_before_login_on_every_replica() {
    let app = TestApp::spawn().await;
    let replica = app.replica().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    // Both replicas have read (and cached) the unbranded organization.
    for server in [&app, &replica] {
        let a = branding(server, &acme.host).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(a.json["branding"], json!({}), "{}", a.text);
        assert_eq!(a.json["name"], "acme academy");
    }

    for bad in [
        json!({ "logo_url": "http://cdn.acme.test/logo.png" }),
        json!({ "logo_url": "javascript:alert(1)" }),
        json!({ "favicon_url": "https://cdn.acme.test/a b.ico" }),
        json!({ "primary_color": "red" }),
        json!({ "accent_color": "#12345" }),
    ] {
        let a = acme
            .patch(
                "/api/v1/organization/settings",
                json!({ "branding": bad.clone() }),
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            a.text
        );
    }
    // A part this version does not know is refused, not dropped.
    let a = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "branding": { "banner": "https://cdn.acme.test/b.png" } }),
        )
        .await;
    assert_eq!(a.code(), "invalid_body", "{}", a.text);
    let a = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "branding": {
                "logo_url": "https://cdn.acme.test/logo.png",
                "primary_color": "#A1B2C3",
            } }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let set = json!({ "logo_url": "https://cdn.acme.test/logo.png", "primary_color": "#a1b2c3" });
    assert_eq!(a.json["settings"]["branding"], set);
    // Every replica shows it as soon as its invalidation notice arrives, to
    // anyone; another tenant is untouched.
    for server in [&app, &replica] {
        within_a_second(
            "the new branding",
            || branding(server, &acme.host),
            |a| a.json["branding"] == set,
        )
        .await;
        assert_eq!(
            branding(server, &globex.host).await.json,
            json!({ "name": "globex academy", "branding": {} })
        );
    }
    // `null` removes one part, the rest stays.
    let a = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "branding": { "logo_url": null, "accent_color": "#000000" } }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    within_a_second(
        "one part removed",
        || branding(&replica, &acme.host),
        |a| a.json["branding"] == json!({ "primary_color": "#a1b2c3", "accent_color": "#000000" }),
    )
    .await;
    // An unknown host is not anyone's branding.
    let a = branding(&app, "nobody.lms.test").await;
    assert_eq!(a.code(), "tenant_not_found");
}

#[tokio::test]
async fn stored_settings_out_of_range_or_malformed_read_safely() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let a = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "search_language": "french", "trash_retention_days": 400 }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "trash_retention_days": 0 }),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);

    // Values the API refuses, stored by hand (or by an older version).
    let mut su = app.connect_as_superuser().await;
    let course = acme.create_course("Old").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = acme.delete(&format!("/api/v1/courses/{course}")).await;
    assert!(a.status.is_success(), "{}", a.text);
    let trashed = |age: &'static str| {
        sqlx::query("UPDATE courses SET deleted_at = now() - $2::interval WHERE id = $1::uuid")
            .bind(course.clone())
            .bind(age)
    };
    trashed("12 hours").execute(&mut su).await.unwrap();
    for (retention, shown) in [(json!(1e12), 3650), (json!(-5), 1)] {
        sqlx::query(
            "UPDATE organizations SET settings = settings \
                 || jsonb_build_object('trash_retention_days', $2::jsonb, 'self_signup', 'yes') \
             WHERE id = $1",
        )
        .bind(acme.org_id)
        .bind(&retention)
        .execute(&mut su)
        .await
        .unwrap();
        let a = acme.get("/api/v1/organization").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        // Out of range reads as the nearest bound; a malformed key as its
        // default, without losing the others.
        let settings = &a.json["settings"];
        assert_eq!(settings["trash_retention_days"], shown, "{retention}");
        assert_eq!(settings["self_signup"], false);
        assert_eq!(settings["search_language"], "french");
        // The purge reads it the same way: it neither fails on it nor
        // empties a trash of 12 hours on a negative retention.
        let (purged,): (i64,) =
            sqlx::query_as("SELECT trash_purged FROM steward.sweep_tenant($1, now())")
                .bind(acme.org_id)
                .fetch_one(&mut su)
                .await
                .unwrap();
        assert_eq!(purged, 0, "{retention}");
    }
    // One day it is.
    trashed("25 hours").execute(&mut su).await.unwrap();
    let swept = lms_api::maintenance::sweep(app.ctx()).await.unwrap();
    assert_eq!(swept.trash_purged, 1);
}
