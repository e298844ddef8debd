//! Query plans of the hot endpoints, on a mid-size generated dataset: the
//! statements each endpoint really sends (captured from the running
//! server), planned as `lms_app` with the tenant set, must reach every
//! tenant table through an index that starts with `organization_id`,
//! never by a sequential scan.

use lms_db::generate::Scale;
use lms_tests::{Body, TestApp, dataset, statements_of};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;
use uuid::Uuid;

/// Walks a plan and lists what is wrong with it.
fn faults(
    node: &Value,
    tenant_tables: &[String],
    leading: &dyn Fn(&str) -> bool,
    out: &mut Vec<String>,
) {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    let relation = node["Relation Name"].as_str().unwrap_or_default();
    let tenant = tenant_tables.iter().any(|t| t == relation);
    if tenant && kind == "Seq Scan" {
        out.push(format!("sequential scan of {relation}"));
    }
    if let Some(index) = node["Index Name"].as_str()
        && !leading(index)
    {
        out.push(format!(
            "{kind} on {index}, which does not start with organization_id"
        ));
    }
    if let Some(children) = node["Plans"].as_array() {
        for c in children {
            faults(c, tenant_tables, leading, out);
        }
    }
}

#[tokio::test]
async fn hot_endpoints_reach_tenant_rows_through_tenant_leading_indexes() {
    let app = TestApp::spawn().await;
    let scale = Scale {
        tenants: 150,
        users: 12_000,
        courses: 2_400,
        progress: 150_000,
    };
    dataset::generate(&app, 2, &scale, "p").await;
    let mut su = app.connect_as_superuser().await;
    sqlx::query("ANALYZE").execute(&mut su).await.unwrap();

    // A learner of the largest tenant, a course they take, one they do not,
    // a section still to do, a category and a tag in use.
    let host = format!("p0001.{}", lms_tests::BASE_DOMAIN);
    let (org, learner, course, section) = dataset::learner_with_work(&app, "p0001").await;
    let (other, category, tag): (Uuid, Uuid, Uuid) = sqlx::query_as(
        "SELECT c.id, (SELECT category_id FROM course_categories WHERE organization_id = $1 LIMIT 1), \
                (SELECT tag_id FROM course_tags WHERE organization_id = $1 LIMIT 1) \
           FROM courses c JOIN users u ON u.organization_id = c.organization_id AND u.email = $2 \
          WHERE c.organization_id = $1 AND c.is_published \
            AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.organization_id = c.organization_id \
                               AND e.user_id = u.id AND e.course_id = c.id) LIMIT 1",
    )
    .bind(org)
    .bind(&learner)
    .fetch_one(&mut su)
    .await
    .unwrap();

    let login = |email: String| {
        let (app, host) = (&app, host.clone());
        async move { dataset::login(app, &host, &email, dataset::PASSWORD).await }
    };
    let mut captured: Vec<(String, Vec<String>)> = Vec::new();
    let first = login(learner.clone()).await;
    let rid = |a: &lms_tests::Answer| a.headers["x-request-id"].to_str().unwrap().to_owned();
    captured.push(("login".into(), statements_of(&rid(&first))));
    let learner_token = first.json["access_token"].as_str().unwrap().to_owned();
    let admin = login("admin@p0001.example.com".into()).await;
    let admin_token = admin.json["access_token"].as_str().unwrap().to_owned();

    let reads = [
        (
            &learner_token,
            Method::GET,
            "/api/v1/courses".to_owned(),
            None,
        ),
        (
            &learner_token,
            Method::GET,
            "/api/v1/courses?q=data%20skills".to_owned(),
            None,
        ),
        (
            &learner_token,
            Method::GET,
            "/api/v1/courses?sort=rating".to_owned(),
            None,
        ),
        (
            &learner_token,
            Method::GET,
            format!("/api/v1/courses?category={category}"),
            None,
        ),
        (
            &learner_token,
            Method::GET,
            format!("/api/v1/courses?tag={tag}"),
            None,
        ),
        (
            &learner_token,
            Method::GET,
            format!("/api/v1/courses/{course}"),
            None,
        ),
        (
            &learner_token,
            Method::GET,
            format!("/api/v1/courses/{course}/my-progress"),
            None,
        ),
        (
            &learner_token,
            Method::GET,
            format!("/api/v1/courses/{course}/reviews"),
            None,
        ),
        (
            &learner_token,
            Method::GET,
            "/api/v1/me/dashboard".to_owned(),
            None,
        ),
        (
            &learner_token,
            Method::GET,
            "/api/v1/me/enrollments".to_owned(),
            None,
        ),
        (
            &learner_token,
            Method::GET,
            "/api/v1/categories/tree".to_owned(),
            None,
        ),
        (
            &learner_token,
            Method::PUT,
            format!("/api/v1/courses/{course}/sections/{section}/progress"),
            Some(json!({ "time_spent_seconds": 60 })),
        ),
        (
            &learner_token,
            Method::POST,
            format!("/api/v1/courses/{other}/enrollment"),
            None,
        ),
        (
            &admin_token,
            Method::GET,
            "/api/v1/courses?published=false".to_owned(),
            None,
        ),
        (
            &admin_token,
            Method::GET,
            format!("/api/v1/courses/{course}/learners"),
            None,
        ),
        (&admin_token, Method::GET, "/api/v1/users".to_owned(), None),
    ];
    for (token, method, path, body) in reads {
        let a = app
            .send(
                method.clone(),
                &host,
                &path,
                Some(token),
                body.map(Body::Json),
            )
            .await;
        assert!(
            a.status.is_success(),
            "{method} {path}: {} {}",
            a.status,
            a.text
        );
        captured.push((format!("{method} {path}"), statements_of(&rid(&a))));
    }

    // Plan every statement as the runtime role, in the tenant.
    let mut conn = app.connect_as_app().await;
    let tenant_tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE n.nspname = 'public' AND c.relkind = 'r' AND EXISTS ( \
                SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let leading: Vec<(String, bool)> = sqlx::query_as(
        "SELECT ic.relname::text, a.attname = 'organization_id' \
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
           JOIN pg_namespace n ON n.oid = ic.relnamespace AND n.nspname = 'public' \
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let starts_with_tenant = |index: &str| leading.iter().any(|(n, ok)| n == index && *ok);
    let user: Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE organization_id = $1 AND email = $2")
            .bind(org)
            .bind(&learner)
            .fetch_one(&mut su)
            .await
            .unwrap();
    sqlx::query("SELECT set_config('app.org_id', $1, false), set_config('app.user_id', $2, false)")
        .bind(org.to_string())
        .bind(user.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .await
        .unwrap();

    let mut planned = 0;
    let mut problems = Vec::new();
    for (endpoint, statements) in &captured {
        assert!(!statements.is_empty(), "{endpoint}: no statement captured");
        for (i, sql) in statements.iter().enumerate() {
            let head = sql.trim_start().to_ascii_uppercase();
            if [
                "BEGIN",
                "COMMIT",
                "ROLLBACK",
                "SAVEPOINT",
                "RELEASE",
                "SELECT SET_CONFIG",
            ]
            .iter()
            .any(|k| head.starts_with(k))
            {
                continue;
            }
            let mut tx = conn.begin().await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("PREPARE planned AS {sql}")))
                .execute(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{endpoint}: preparing {sql}: {e}"));
            let params: i64 = sqlx::query_scalar(
                "SELECT cardinality(parameter_types)::int8 FROM pg_prepared_statements WHERE name = 'planned'",
            )
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            let nulls = vec!["NULL"; params as usize].join(", ");
            let explain = if params > 0 {
                format!("EXPLAIN (FORMAT JSON) EXECUTE planned({nulls})")
            } else {
                "EXPLAIN (FORMAT JSON) EXECUTE planned".to_owned()
            };
            let plan: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(explain))
                .fetch_one(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{endpoint}: planning {sql}: {e}"));
            sqlx::query("DEALLOCATE planned")
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.rollback().await.unwrap();
            let mut found = Vec::new();
            faults(
                &plan[0]["Plan"],
                &tenant_tables,
                &starts_with_tenant,
                &mut found,
            );
            for f in found {
                problems.push(format!("{endpoint} (statement {i}): {f}\n    {sql}"));
            }
            planned += 1;
        }
    }
    assert!(planned >= 20, "{planned} statements planned");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let _ = &mut su.close().await;
}
