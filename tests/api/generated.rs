//! The data generator: what it writes holds every rule of the schema, the
//! values triggers would have derived, is the same for the same seed, and
//! is a dataset the service works on.

use lms_db::generate::{self, Scale};
use lms_tests::{TestApp, dataset};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::{Connection, PgConnection};

const SMALL: Scale = Scale {
    tenants: 12,
    users: 400,
    courses: 60,
    progress: 4_000,
};
async fn generated(app: &TestApp, seed: u64) -> generate::Totals {
    dataset::generate(app, seed, &SMALL, "g").await
}

/// Every foreign key, re-checked over the whole data: each constraint is
/// dropped and added again (which validates every row), then rolled back.
async fn foreign_keys_hold(conn: &mut PgConnection) {
    let fks: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid) \
           FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
          WHERE c.contype = 'f' AND n.nspname = 'public' ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(fks.len() > 30, "{}", fks.len());
    let mut tx = conn.begin().await.unwrap();
    for (table, name, def) in fks {
        let sql = format!(
            "ALTER TABLE {table} DROP CONSTRAINT {name}, ADD CONSTRAINT {name} {def}",
            name = format!("\"{name}\"")
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{table}.{name} does not hold: {e}"));
    }
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_generated_dataset_keeps_every_rule_of_the_schema() {
    let app = TestApp::spawn().await;
    let totals = generated(&app, 11).await;
    assert_eq!(totals.tenants, 12);
    assert!(totals.progress > 1_000 && totals.reviews > 0, "{totals:?}");
    let mut conn = app.connect_as_superuser().await;
    foreign_keys_hold(&mut conn).await;

    // What the triggers derive when the API writes, the generator wrote.
    let off: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM courses c \
           JOIN LATERAL (SELECT count(*)::int AS n, COALESCE(sum(r.rating), 0)::bigint AS total \
                           FROM reviews r \
                          WHERE r.organization_id = c.organization_id AND r.course_id = c.id) r ON true \
          WHERE (c.rating_count, c.rating_sum) IS DISTINCT FROM (r.n, r.total)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(off, 0, "ratings agree with the reviews");
    let unpinned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM enrollments e WHERE e.course_version IS DISTINCT FROM \
           (SELECT max(v.version) FROM course_versions v \
             WHERE v.organization_id = e.organization_id AND v.course_id = e.course_id)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(unpinned, 0, "enrollments pin the published version");
    let outside: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM progress p WHERE NOT EXISTS ( \
           SELECT 1 FROM enrollments e WHERE e.organization_id = p.organization_id \
              AND e.user_id = p.user_id AND e.course_id = p.course_id)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(outside, 0, "progress only in enrolled courses");
    let (certified, wrong): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE e.status <> 'COMPLETED' \
                OR e.completed_at IS DISTINCT FROM c.completed_at \
                OR e.final_grade IS DISTINCT FROM c.final_grade) \
           FROM certificates c JOIN enrollments e \
             ON e.organization_id = c.organization_id AND e.id = c.enrollment_id",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(certified > 0);
    assert_eq!(wrong, 0, "certificates belong to completed enrollments");

    // Sizes are skewed: the largest tenant is many times the smallest.
    let (large, small): (i64, i64) = sqlx::query_as(
        "SELECT max(n), min(n) FROM (SELECT count(*) AS n FROM users GROUP BY organization_id) x",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(large >= 10 * small, "{large} vs {small}");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_rows_and_another_seed_other_rows() {
    let digest = "SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM \
                  (SELECT id, organization_id, title, description FROM courses UNION ALL \
                   SELECT id, organization_id, section_id::text, completed_at::text FROM progress) x";
    let mut seen = Vec::new();
    for seed in [5, 5, 6] {
        let app = TestApp::spawn().await;
        generated(&app, seed).await;
        let mut conn = app.connect_as_superuser().await;
        let d: String = sqlx::query_scalar(digest)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        seen.push(d);
    }
    assert_eq!(seen[0], seen[1], "same seed");
    assert_ne!(seen[0], seen[2], "another seed");
}

#[tokio::test]
async fn a_generated_learner_logs_in_reads_and_makes_progress() {
    let app = TestApp::spawn().await;
    generated(&app, 3).await;
    let host = format!("g0001.{}", lms_tests::BASE_DOMAIN);
    // A learner of the largest tenant with a section still to do.
    let (_, email, course, section) = dataset::learner_with_work(&app, "g0001").await;
    let login = dataset::login(&app, &host, &email, dataset::PASSWORD).await;
    let token = login.json["access_token"].as_str().unwrap().to_owned();
    let get = |path: String| {
        let (app, host, token) = (&app, host.clone(), token.clone());
        async move {
            app.send(Method::GET, &host, &path, Some(&token), None)
                .await
        }
    };
    let catalog = get("/api/v1/courses".into()).await;
    assert_eq!(catalog.status, StatusCode::OK);
    assert!(!catalog.json["items"].as_array().unwrap().is_empty());
    let detail = get(format!("/api/v1/courses/{course}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text);
    assert!(!detail.json["lessons"].as_array().unwrap().is_empty());
    let dashboard = get("/api/v1/me/dashboard".into()).await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.text);
    let mine = get(format!("/api/v1/courses/{course}/my-progress")).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);

    let done = app
        .send(
            Method::PUT,
            &host,
            &format!("/api/v1/courses/{course}/sections/{section}/progress"),
            Some(&token),
            Some(lms_tests::Body::Json(json!({ "time_spent_seconds": 90 }))),
        )
        .await;
    assert!(done.status.is_success(), "{}: {}", done.status, done.text);
}

#[tokio::test]
async fn the_demo_tenant_starts_with_courses_learners_and_their_progress() {
    use lms_server::embedded::{DEMO_LEARNER_EMAIL, DEMO_PASSWORD, DEMO_SLUG, ensure_demo};
    let app = TestApp::spawn().await;
    ensure_demo(&app.ctx().db, &app.superuser_url())
        .await
        .unwrap();
    // A second start changes nothing.
    ensure_demo(&app.ctx().db, &app.superuser_url())
        .await
        .unwrap();
    let host = format!("{DEMO_SLUG}.{}", lms_tests::BASE_DOMAIN);
    let login = dataset::login(&app, &host, DEMO_LEARNER_EMAIL, DEMO_PASSWORD).await;
    let token = login.json["access_token"].as_str().unwrap();
    let catalog = app
        .send(Method::GET, &host, "/api/v1/courses", Some(token), None)
        .await;
    let courses = catalog.json["items"].as_array().unwrap();
    assert!(courses.len() >= 3, "{}", catalog.text);
    assert!(courses.iter().all(|c| c["is_published"] == json!(true)));
    let mut conn = app.connect_as_superuser().await;
    let (learners, progress, reviews): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(DISTINCT user_id) FROM enrollments e WHERE e.organization_id = o.id), \
                (SELECT count(*) FROM progress p WHERE p.organization_id = o.id), \
                (SELECT count(*) FROM reviews r WHERE r.organization_id = o.id) \
           FROM organizations o WHERE o.slug = $1",
    )
    .bind(DEMO_SLUG)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(
        learners >= 10 && progress >= 50 && reviews >= 1,
        "{learners} {progress} {reviews}"
    );
}
