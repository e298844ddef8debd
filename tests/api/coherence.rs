//! Replicas: two servers on one database stay coherent. What one of them
//! changes, the other stops serving from its caches as soon as the change
//! commits, also after its listener connection was killed.

use std::time::Duration;

use lms_tests::{PLATFORM_HOST, TestApp, within_a_second};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_change_through_one_replica_is_served_by_the_other_at_once() {
    let one = TestApp::spawn().await;
    let acme1 = one.tenant("acme").await;
    let two = one.replica().await;
    let acme2 = acme1.on(&two);
    let op = one.platform_token().await;
    let (learner_id, learner) = acme1.user_with_role("lea@acme.test", "learner").await;
    let course = acme1.create_course("Replicated").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/courses/{course}");
    assert_eq!(
        acme1
            .post(&format!("{path}/publish"), json!({}))
            .await
            .status,
        StatusCode::OK
    );

    // Replica 2 has everything cached: the tenant, the callers, the course.
    let hits = two.ctx().catalog.hits();
    for _ in 0..2 {
        let a = acme2.send_as(&learner, Method::GET, &path, None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(acme2.get(&path).await.status, StatusCode::OK);
    }
    assert!(
        two.ctx().catalog.hits() > hits,
        "replica 2 answers from its cache"
    );

    // A title change.
    let a = acme1
        .patch(&path, json!({ "title": "Replicated, renamed" }))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    within_a_second(
        "changed title",
        || acme2.send_as(&learner, Method::GET, &path, None),
        |a| a.json["course"]["title"] == "Replicated, renamed",
    )
    .await;

    // An unpublished course: learners no longer see it.
    let a = acme1.post(&format!("{path}/unpublish"), json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    within_a_second(
        "unpublished course",
        || acme2.send_as(&learner, Method::GET, &path, None),
        |a| a.status == StatusCode::NOT_FOUND && a.code() == "course_not_found",
    )
    .await;

    // A suspension: every request refused, tokens no longer issued.
    let suspend = format!("/platform/v1/organizations/{}/suspend", acme1.org_id);
    let a = one
        .send(Method::POST, PLATFORM_HOST, &suspend, Some(&op), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    within_a_second(
        "suspension",
        || acme2.get("/api/v1/courses"),
        |a| a.status == StatusCode::FORBIDDEN && a.code() == "tenant_suspended",
    )
    .await;
    let a = acme2.login("admin@acme.test", lms_tests::PASSWORD).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.code(), "tenant_suspended");
    let a = acme2.get(&path).await;
    assert_eq!(a.code(), "tenant_suspended");

    // A reactivation.
    let reactivate = format!("/platform/v1/organizations/{}/reactivate", acme1.org_id);
    let a = one
        .send(Method::POST, PLATFORM_HOST, &reactivate, Some(&op), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    within_a_second(
        "reactivation",
        || acme2.get("/api/v1/courses"),
        |a| a.status == StatusCode::OK,
    )
    .await;
    assert_eq!(
        acme2
            .login("admin@acme.test", lms_tests::PASSWORD)
            .await
            .status,
        StatusCode::OK
    );

    // A deactivated user's token stops working.
    let a = acme2
        .send_as(&learner, Method::GET, "/api/v1/me", None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = acme1
        .post(&format!("/api/v1/users/{learner_id}/deactivate"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    within_a_second(
        "deactivated user",
        || acme2.send_as(&learner, Method::GET, "/api/v1/courses", None),
        |a| a.status == StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn a_replica_whose_listener_was_killed_forgets_its_caches_and_listens_again() {
    let one = TestApp::spawn().await;
    let acme1 = one.tenant("acme").await;
    let two = one.replica().await;
    let acme2 = acme1.on(&two);
    let course = acme1.create_course("Survivor").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/courses/{course}");
    assert_eq!(acme2.get(&path).await.status, StatusCode::OK);

    // A change no notice announces (SQL on the catalog, out of band): the
    // cached answer stays (unless the listener happened to reconnect
    // meanwhile, as it may on a loaded machine: that forgets the caches too).
    let mut su = one.connect_as_superuser().await;
    let undisturbed = two.ctx().freshness.reconnects();
    sqlx::query("UPDATE courses SET title = 'Changed in SQL' WHERE id = $1::uuid")
        .bind(&course)
        .execute(&mut su)
        .await
        .unwrap();
    let title = acme2.get(&path).await.json["course"]["title"].clone();
    if two.ctx().freshness.reconnects() == undisturbed && two.ctx().freshness.trusted() {
        assert_eq!(title, "Survivor");
    }

    // Kill the listening backends of both replicas.
    let reconnects = two.ctx().freshness.reconnects();
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
          WHERE datname = current_database() AND application_name = $1) t",
    )
    .bind(lms_api::coherence::LISTENER_APPLICATION_NAME)
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert_eq!(killed, 2, "one listener per replica");
    for _ in 0..500 {
        if two.ctx().freshness.reconnects() > reconnects && two.ctx().freshness.trusted() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        two.ctx().freshness.reconnects() > reconnects,
        "listener back"
    );
    // Notices may have been missed meanwhile: everything cached was dropped.
    assert_eq!(
        acme2.get(&path).await.json["course"]["title"],
        "Changed in SQL"
    );

    // Cached again, then changed through replica 1: replica 2 follows.
    assert_eq!(acme2.get(&path).await.status, StatusCode::OK);
    assert_eq!(acme2.get(&path).await.status, StatusCode::OK);
    let a = acme1
        .patch(&path, json!({ "title": "Survivor, renamed" }))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    within_a_second(
        "title change after the listener came back",
        || acme2.get(&path),
        |a| a.json["course"]["title"] == "Survivor, renamed",
    )
    .await;
}

async fn assert_not_ready_and_uncached(app: &TestApp) {
    let a = app
        .send(Method::GET, PLATFORM_HOST, "/readyz", None, None)
        .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text);
    // It still answers, from the database.
    let acme = app.tenant("acme").await;
    let course = acme.create_course("Uncached").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/courses/{course}");
    for _ in 0..3 {
        assert_eq!(acme.get(&path).await.status, StatusCode::OK);
    }
    assert_eq!(
        app.ctx().catalog.hits(),
        0,
        "no answer from an untrusted cache"
    );
    let m = app
        .send(Method::GET, PLATFORM_HOST, "/metrics", None, None)
        .await;
    assert!(
        m.text.contains("lms_invalidation_listener_up 0"),
        "{}",
        m.text
    );
}

#[tokio::test]
async fn a_replica_that_cannot_listen_is_not_ready_and_serves_nothing_from_its_caches() {
    let app = TestApp::spawn_with(|a| {
        a.listener_database_url = Some("postgres://lms_platform@127.0.0.1:1/nowhere".into());
        a.listener_grace_secs = 0;
    })
    .await;
    assert_not_ready_and_uncached(&app).await;
}

#[tokio::test]
async fn a_replica_whose_listener_hears_nothing_is_not_trusted() {
    // The listener connects and LISTENs, but on another database: like a
    // LISTEN through a transaction pooler, it hears nothing, not even the
    // replica's own heartbeat.
    let app = TestApp::spawn_with(|a| {
        a.listener_database_url = Some(format!("{}/postgres", lms_tests::server_url()));
        a.listener_grace_secs = 0;
    })
    .await;
    assert_not_ready_and_uncached(&app).await;
}

#[tokio::test]
async fn a_listening_replica_is_ready() {
    let app = TestApp::spawn().await;
    let a = app
        .send(Method::GET, PLATFORM_HOST, "/readyz", None, None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let m = app
        .send(Method::GET, PLATFORM_HOST, "/metrics", None, None)
        .await;
    assert!(
        m.text.contains("lms_invalidation_listener_up 1"),
        "{}",
        m.text
    );
}
