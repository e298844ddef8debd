//! The write path: every write of the API goes through one unit of work,
//! whose effects (course versions, events, invalidation notices) happen
//! together with the change or not at all, and the caches stay coherent.

use std::time::Duration;

use lms_api::access::{Access, changes_catalog, tenant_access};
use lms_tests::{Tenant, TestApp, round_trips_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::postgres::PgListener;

use crate::matrix::{body_for, fill, fixture, operations};

/// The cached catalog reads, plus the tag list, as the admin sees them.
async fn catalog_reads(acme: &Tenant<'_>, course: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/v1/courses".to_owned(),
        "/api/v1/courses?q=depths".to_owned(),
        format!("/api/v1/courses/{course}"),
        "/api/v1/categories/tree".to_owned(),
        "/api/v1/tags".to_owned(),
    ] {
        let mut a = acme.get(&path).await;
        // An error names its request; the rest must be equal.
        if let Some(body) = a.json.as_object_mut() {
            body.remove("request_id");
        }
        out.push(json!({ "path": path, "status": a.status.as_u16(), "body": a.json }));
    }
    out
}

/// What a write leaves besides its own rows: events, and course versions.
async fn effects(app: &TestApp) -> (i64, i64) {
    let mut su = app.connect_as_superuser().await;
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM outbox_events), \
                (SELECT coalesce(sum(version), 0) FROM courses)",
    )
    .fetch_one(&mut su)
    .await
    .unwrap()
}

/// Invalidation notices heard since the last call (not the replicas'
/// heartbeats).
async fn drain(listener: &mut PgListener) -> usize {
    let mut n = 0;
    while let Ok(Ok(Some(m))) =
        tokio::time::timeout(Duration::from_millis(150), listener.try_recv()).await
    {
        if !matches!(
            lms_api::coherence::Notice::decode(m.payload()),
            Some(lms_api::coherence::Notice::Ping { .. })
        ) {
            n += 1;
        }
    }
    n
}

#[tokio::test]
async fn every_write_keeps_the_caches_true_and_a_failed_write_leaves_no_effect() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let f = fixture(&acme).await;
    let mut listener = PgListener::connect(&app.superuser_url()).await.unwrap();
    listener.listen(lms_api::coherence::CHANNEL).await.unwrap();

    // Deletions last, so that the other writes find their rows.
    let mut ops: Vec<_> = operations()
        .into_iter()
        .filter(|(m, _, op, _)| *m != Method::GET && op != "logout")
        .collect();
    ops.sort_by_key(|(m, _, _, _)| *m == Method::DELETE);

    let (mut succeeded, mut failed) = (0, 0);
    for (n, (method, path, op, has_body)) in ops.into_iter().enumerate() {
        let body = match op.as_str() {
            // A change the catalog reads show: search is re-indexed.
            "updateOrganizationSettings" => json!({ "search_language": "simple" }),
            _ if has_body => body_for(&op, n),
            _ => json!({}),
        };
        let before = catalog_reads(&acme, &f.course).await;
        let (events_before, versions_before) = effects(&app).await;
        drain(&mut listener).await;

        let a = acme
            .send_as(&acme.token, method.clone(), &fill(&path, &f), Some(body))
            .await;
        assert!(a.status.as_u16() < 500, "{op}: {}", a.text);

        // The caches answer what the database holds, whatever the write.
        let cached = catalog_reads(&acme, &f.course).await;
        app.ctx().invalidate_everything();
        let fresh = catalog_reads(&acme, &f.course).await;
        assert_eq!(cached, fresh, "{op}: a cached read is stale");

        let (events_after, versions_after) = effects(&app).await;
        if a.status.is_success() {
            succeeded += 1;
            if changes_catalog(&op) {
                assert_ne!(before, fresh, "{op} is listed as changing the catalog");
            }
            if tenant_access(&op) != Some(Access::Public) {
                assert!(events_after > events_before, "{op} emitted no event");
            }
        } else {
            failed += 1;
            assert_eq!(
                before, fresh,
                "{op} failed ({}) yet changed the catalog",
                a.status
            );
            assert_eq!(events_after, events_before, "{op} failed yet left an event");
            assert_eq!(
                versions_after, versions_before,
                "{op} failed yet moved a course version"
            );
            assert_eq!(
                drain(&mut listener).await,
                0,
                "{op} failed yet sent an invalidation notice"
            );
        }
    }
    assert!(succeeded >= 25, "writes that succeeded: {succeeded}");
    assert!(failed >= 3, "writes that failed: {failed}");
}

#[tokio::test]
async fn a_write_that_fails_after_emitting_leaves_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (events, _) = effects(&app).await;
    // The only role manager cannot lose the role that makes them one: the
    // unit has emitted `user.role_removed` when the check refuses.
    let admin_role: String = {
        let mut su = app.connect_as_superuser().await;
        sqlx::query_scalar(
            "SELECT id::text FROM roles WHERE organization_id = $1 AND name = 'admin'",
        )
        .bind(acme.org_id)
        .fetch_one(&mut su)
        .await
        .unwrap()
    };
    let a = acme
        .delete(&format!(
            "/api/v1/users/{}/roles/{admin_role}",
            acme.admin_id
        ))
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(effects(&app).await.0, events);

    // Reordering a course with the wrong ids, after the course was locked.
    let course = acme.create_course("Orderly").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (events, versions) = effects(&app).await;
    let a = acme
        .send_as(
            &acme.token,
            Method::PUT,
            &format!("/api/v1/courses/{course}/lessons/order"),
            Some(json!({ "ids": [uuid::Uuid::now_v7()] })),
        )
        .await;
    assert!(a.status.is_client_error(), "{}", a.text);
    assert_eq!(effects(&app).await, (events, versions));
}

#[tokio::test]
async fn deleting_a_category_or_a_tag_moves_the_versions_of_its_courses() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let course = acme.create_course("Filed").await;
    let id = course["id"].as_str().unwrap();
    let cat = acme
        .post(
            "/api/v1/categories",
            json!({ "name": "Cat", "slug": "cat" }),
        )
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tag = acme.post("/api/v1/tags", json!({ "name": "t" })).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for link in [
        format!("/api/v1/courses/{id}/categories/{cat}"),
        format!("/api/v1/courses/{id}/tags/{tag}"),
    ] {
        let a = acme.send_as(&acme.token, Method::PUT, &link, None).await;
        assert!(a.status.is_success(), "{link}: {}", a.text);
    }
    let version = |a: lms_tests::Answer| a.json["course"]["version"].as_i64().unwrap();
    let v0 = version(acme.get(&format!("/api/v1/courses/{id}")).await);

    assert_eq!(
        acme.delete(&format!("/api/v1/categories/{cat}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let d = acme.get(&format!("/api/v1/courses/{id}")).await;
    assert_eq!(d.json["categories"], json!([]));
    assert_eq!(version(d), v0 + 1);

    assert_eq!(
        acme.delete(&format!("/api/v1/tags/{tag}")).await.status,
        StatusCode::NO_CONTENT
    );
    let d = acme.get(&format!("/api/v1/courses/{id}")).await;
    assert_eq!(d.json["tags"], json!([]));
    assert_eq!(version(d), v0 + 2);

    // Both deletions are in the feed, naming the course.
    let feed = acme.get("/api/v1/events?type=category.deleted").await;
    assert_eq!(feed.json["items"][0]["payload"]["courses"], json!([id]));
}

/// Sends a GET as the admin and returns (status, statements it ran).
async fn counted(acme: &Tenant<'_>, path: &str) -> (StatusCode, u32) {
    let a = acme.get(path).await;
    let rid = a.headers["x-request-id"].to_str().unwrap().to_owned();
    (a.status, round_trips_of(&rid))
}

#[tokio::test]
async fn a_cached_read_runs_no_statement() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let id = acme.create_course("Counted").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The caller's first read: BEGIN with the tenant set, the caller's
    // authorization (then cached), the tag list (never cached), COMMIT.
    let (status, first) = counted(&acme, "/api/v1/tags").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first, 4, "the first read of a caller");
    for path in [
        format!("/api/v1/courses/{id}"),
        "/api/v1/courses".to_owned(),
        "/api/v1/categories/tree".to_owned(),
    ] {
        // Uncached, by a cached caller: BEGIN, the read, COMMIT.
        let (status, first) = counted(&acme, &path).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(first, 3, "{path}: an uncached read of a cached caller");
        // Cached: nothing at all.
        let (status, again) = counted(&acme, &path).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again, 0, "{path}: a cached read");
    }

    // A write: BEGIN, the caller (always from the database), the course
    // lock, the change, the version bump, the outbox, the notice, COMMIT.
    let a = acme
        .patch(
            &format!("/api/v1/courses/{id}"),
            json!({ "title": "Counted again" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let rid = a.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(round_trips_of(&rid), 8, "a course update");
}
