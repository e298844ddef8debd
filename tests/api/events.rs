//! The event outbox and its feed: what happened in a tenant, written with the
//! change, readable by its auditors only, never by another tenant.

use lms_tests::{Tenant, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

fn sqlstate(e: sqlx::Error) -> String {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
        .unwrap_or_else(|| format!("{e}"))
}

fn types(feed: &Value) -> Vec<String> {
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn publish_a_course(acme: &Tenant<'_>, title: &str) -> (String, String) {
    let id = acme.create_course(title).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = acme
        .post(&format!("/api/v1/courses/{id}/publish"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let rid = a.headers["x-request-id"].to_str().unwrap().to_owned();
    (id, rid)
}

#[tokio::test]
async fn the_feed_shows_what_happened_newest_first_filtered_and_paged() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (course, publish_request) = publish_a_course(&acme, "Eventful").await;
    let a = acme
        .patch(
            &format!("/api/v1/courses/{course}"),
            json!({ "title": "Eventful, renamed" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);

    let feed = acme.get("/api/v1/events").await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
    let t = types(&feed.json);
    // Newest first: the update, the publication, the creation, then the
    // organization's own beginning.
    assert_eq!(
        t[..3],
        ["course.updated", "course.published", "course.created"]
    );
    assert!(t.contains(&"organization.created".to_owned()), "{t:?}");
    assert!(t.contains(&"user.created".to_owned()), "{t:?}");

    // Filtered by type: who, which request, what.
    let published = acme.get("/api/v1/events?type=course.published").await;
    let items = published.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let e = &items[0];
    assert_eq!(e["subject_id"], course.as_str());
    assert_eq!(e["actor_id"], acme.admin_id.to_string());
    assert_eq!(e["request_id"], publish_request.as_str());
    assert_eq!(e["payload"]["is_published"], true);

    // Filtered by subject.
    let about = acme
        .get(&format!("/api/v1/events?subject_id={course}"))
        .await;
    assert_eq!(
        types(&about.json),
        ["course.updated", "course.published", "course.created"]
    );

    // Paged by keyset, without gaps or repeats.
    let mut seen = Vec::new();
    let mut path = format!("/api/v1/events?subject_id={course}&limit=1");
    loop {
        let page = acme.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        seen.extend(types(&page.json));
        match page.json["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/events?subject_id={course}&limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, types(&about.json));

    // Bad filters are the client's mistake.
    for bad in [
        "type=Course",
        "type=course",
        "cursor=nope",
        "limit=0",
        "subject_id=x",
    ] {
        let a = acme.get(&format!("/api/v1/events?{bad}")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}: {}", a.text);
    }

    // Learners do not read the feed.
    let (_, learner) = acme.user_with_role("lea@acme.test", "learner").await;
    let a = acme
        .send_as(&learner, Method::GET, "/api/v1/events", None)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.code(), "permission_denied");
}

#[tokio::test]
async fn tenant_b_never_sees_tenant_a_events() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let (course, _) = publish_a_course(&acme, "Acme Confidential Launch").await;

    // Through the API: B's feed has only B's events, even asked for A's course.
    let feed = globex.get("/api/v1/events?limit=100").await;
    assert_eq!(feed.status, StatusCode::OK);
    assert!(!feed.text.contains("Acme Confidential Launch"));
    assert!(!feed.text.contains(&course));
    assert!(!feed.text.contains(&acme.org_id.to_string()));
    assert!(!feed.text.contains("admin@acme.test"));
    let about = globex
        .get(&format!("/api/v1/events?subject_id={course}"))
        .await;
    assert_eq!(about.json["items"], json!([]));
    let acme_feed = acme.get("/api/v1/events?limit=100").await;
    assert!(acme_feed.text.contains(&course));

    // In SQL as the runtime role, inside B as B's admin (who may read the
    // feed): none of A's events, and none can be written into A.
    let mut conn = app.connect_as_app().await;
    let mut tx = lms_tests::acting_as(&mut conn, globex.org_id, globex.admin_id).await;
    let own: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_events")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(own > 0, "B's admin reads B's events");
    let foreign: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox_events WHERE organization_id <> $1 OR subject_id = $2::uuid",
    )
    .bind(globex.org_id)
    .bind(&course)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(foreign, 0);
    let e = sqlx::query(
        "INSERT INTO outbox_events (organization_id, id, event_type, subject_id, actor_id) \
         VALUES ($1, $2, 'course.smuggled', $2, $3)",
    )
    .bind(acme.org_id)
    .bind(Uuid::now_v7())
    .bind(globex.admin_id)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert_eq!(sqlstate(e), "42501");
}

#[tokio::test]
async fn the_outbox_is_append_only_in_the_actors_name_and_read_by_auditors() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    publish_a_course(&acme, "Recorded").await;
    let (learner, _) = acme.user_with_role("lea@acme.test", "learner").await;
    let mut conn = app.connect_as_app().await;

    // Nothing recorded can be changed or removed by the runtime role.
    for sql in [
        "UPDATE outbox_events SET payload = '{}'",
        "DELETE FROM outbox_events",
        "TRUNCATE outbox_events",
    ] {
        let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, acme.admin_id).await;
        let e = sqlx::query(sql).execute(&mut *tx).await.unwrap_err();
        assert_eq!(sqlstate(e), "42501", "{sql}");
    }

    // An event names its transaction's acting user, no one else.
    let insert = |actor: Option<Uuid>| {
        sqlx::query(
            "INSERT INTO outbox_events (organization_id, id, event_type, subject_id, actor_id) \
             VALUES ($1, $2, 'course.noted', $2, $3)",
        )
        .bind(acme.org_id)
        .bind(Uuid::now_v7())
        .bind(actor)
    };
    let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, learner).await;
    let e = insert(Some(acme.admin_id))
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(e), "42501", "forged actor");
    drop(tx);
    let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, learner).await;
    let e = insert(None).execute(&mut *tx).await.unwrap_err();
    assert_eq!(sqlstate(e), "42501", "hidden actor");
    drop(tx);
    let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, learner).await;
    insert(Some(learner)).execute(&mut *tx).await.unwrap();

    // Reading needs audit:read: the learner sees nothing, not even their own.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_events")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
    tx.rollback().await.unwrap();
    let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, acme.admin_id).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_events")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(n >= 3, "the admin reads the feed");
}
