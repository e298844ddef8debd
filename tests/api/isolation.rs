//! Behavioural isolation: tenant B, knowing A's ids, gets nothing of A.

use lms_tests::{Answer, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

/// Asserts `a` is a plain 404 whose body carries none of `secrets`.
fn assert_hidden(a: &Answer, secrets: &[&str], what: &str) {
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{what}: {}", a.text);
    for s in secrets {
        assert!(!a.text.contains(s), "{what}: the body leaks {s}");
        for (name, value) in &a.headers {
            assert!(
                !value.to_str().unwrap_or("").contains(s),
                "{what}: header {name} leaks {s}"
            );
        }
    }
}

#[tokio::test]
async fn tenant_b_cannot_touch_tenant_a_course_by_id() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    let b = app.tenant("globex").await;
    let course = a.create_course("Acme Secret Strategy").await;
    let id = course["id"].as_str().unwrap();
    a.post(
        &format!("/api/v1/courses/{id}/lessons"),
        json!({ "title": "Acme Hidden Lesson" }),
    )
    .await;
    let secrets = ["Acme Secret Strategy", "Acme Hidden Lesson", "acme"];

    assert_hidden(
        &b.get(&format!("/api/v1/courses/{id}")).await,
        &secrets,
        "read",
    );
    assert_hidden(
        &b.patch(
            &format!("/api/v1/courses/{id}"),
            json!({ "title": "pwned" }),
        )
        .await,
        &secrets,
        "update",
    );
    assert_hidden(
        &b.delete(&format!("/api/v1/courses/{id}")).await,
        &secrets,
        "delete",
    );
    assert_hidden(
        &b.post(
            &format!("/api/v1/courses/{id}/lessons"),
            json!({ "title": "intruder" }),
        )
        .await,
        &secrets,
        "attach",
    );
    assert_hidden(
        &b.get(&format!("/api/v1/courses/{id}/lessons")).await,
        &secrets,
        "list children",
    );

    // The 404 for A's id is byte-for-byte the 404 for an id that exists nowhere.
    let nowhere = b
        .get(&format!("/api/v1/courses/{}", uuid::Uuid::now_v7()))
        .await;
    let foreign = b.get(&format!("/api/v1/courses/{id}")).await;
    assert_eq!(nowhere.json["code"], foreign.json["code"]);
    assert_eq!(nowhere.json["message"], foreign.json["message"]);

    // Lists and their counts show nothing of A.
    let list = b.get("/api/v1/courses").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["items"], json!([]));
    assert!(!list.text.contains("Acme"));
    // A cursor taken from A's listing lists nothing of A either.
    a.create_course("Acme Second Secret").await;
    let cursor = a.get("/api/v1/courses?limit=1").await.json["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = b
        .get(&format!("/api/v1/courses?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["items"], json!([]));

    // And A's course is untouched.
    let mine = a.get(&format!("/api/v1/courses/{id}")).await;
    assert_eq!(mine.json["course"]["title"], "Acme Secret Strategy");
    assert_eq!(mine.json["course"]["version"], 2, "one lesson added");
    assert_eq!(
        a.get(&format!("/api/v1/courses/{id}/lessons")).await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Every table that holds tenant rows.
async fn tenant_tables(app: &TestApp) -> Vec<String> {
    let mut su = app.connect_as_superuser().await;
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped) \
         ORDER BY 1",
    )
    .fetch_all(&mut su)
    .await
    .unwrap()
}

#[tokio::test]
async fn without_a_tenant_the_app_role_sees_zero_rows_everywhere() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    let id = a.create_course("Visible only inside acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    a.post(
        &format!("/api/v1/courses/{id}/lessons"),
        json!({ "title": "L" }),
    )
    .await;
    let tables = tenant_tables(&app).await;
    assert!(tables.len() >= 15, "tenant tables found: {tables:?}");

    let mut conn = app.connect_as_app().await;
    let mut tables_with_rows = 0;
    for t in tables.iter().chain(["organizations".to_owned()].iter()) {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(n, 0, "{t} shows rows with no tenant set");
        // Checked as superuser: the table does have rows to hide.
        let mut su = app.connect_as_superuser().await;
        let real: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
                .fetch_one(&mut su)
                .await
                .unwrap();
        if real > 0 {
            tables_with_rows += 1;
        }
    }
    assert!(tables_with_rows >= 5, "the check saw real rows hidden");
    // Platform admins: not even granted.
    assert!(
        sqlx::query("SELECT 1 FROM platform_admins")
            .fetch_all(&mut conn)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn another_tenants_context_sees_none_of_a_and_cannot_write_into_a() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    let b = app.tenant("globex").await;
    let course = a.create_course("Acme only").await;
    let course_id: uuid::Uuid = course["id"].as_str().unwrap().parse().unwrap();

    let mut conn = app.connect_as_app().await;
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(b.org_id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    for t in tenant_tables(&app).await {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {t} WHERE organization_id <> '{}'",
            b.org_id
        )))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(n, 0, "{t}: B's context sees another tenant's rows");
    }
    let orgs: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM organizations")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        orgs,
        [b.org_id],
        "a tenant sees only its own organization row"
    );

    // Writing a row labelled with A's organization is refused by the policy.
    let err =
        sqlx::query("INSERT INTO courses (organization_id, id, title) VALUES ($1, $2, 'smuggled')")
            .bind(a.org_id)
            .bind(uuid::Uuid::now_v7())
            .execute(&mut *tx)
            .await
            .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().unwrap(),
        "42501",
        "{err}"
    );
    tx.rollback().await.unwrap();

    // A row of B pointing at A's course is refused by the composite key,
    // even for B's admin, whom the policies let write any course of B.
    let mut tx = lms_tests::acting_as(&mut conn, b.org_id, b.admin_id).await;
    let err = sqlx::query(
        "INSERT INTO lessons (organization_id, id, course_id, title, position) VALUES ($1, $2, $3, 'x', 0)",
    )
    .bind(b.org_id)
    .bind(uuid::Uuid::now_v7())
    .bind(course_id)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().unwrap(),
        "23503",
        "{err}"
    );
    tx.rollback().await.unwrap();

    // Updates and deletes aimed at A's rows touch nothing.
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(b.org_id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let r = sqlx::query("UPDATE courses SET title = 'pwned' WHERE id = $1")
        .bind(course_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), 0);
    let r = sqlx::query("DELETE FROM courses WHERE id = $1")
        .bind(course_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), 0);
    tx.commit().await.unwrap();
    let mut su = app.connect_as_superuser().await;
    let row = sqlx::query("SELECT title FROM courses WHERE id = $1")
        .bind(course_id)
        .fetch_one(&mut su)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("title"), "Acme only");
}

#[tokio::test]
async fn the_tenant_context_does_not_outlive_its_transaction() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    a.create_course("Mine").await;
    let mut conn = app.connect_as_app().await;
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(a.org_id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM courses")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 1);
    tx.commit().await.unwrap();
    // Same connection, next transaction: the setting is '' now, not NULL,
    // and still means "no tenant".
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM courses")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // Garbage in the setting is refused loudly rather than widening access.
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query("SELECT set_config('app.org_id', 'not-a-uuid', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM courses")
            .fetch_one(&mut *tx)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn one_tenants_branding_is_shown_on_its_host_only() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    let b = app.tenant("globex").await;
    let secret = "https://cdn.acme.test/acme-unreleased-logo.png";
    let set = a
        .patch(
            "/api/v1/organization/settings",
            json!({ "branding": { "logo_url": secret, "primary_color": "#abcdef" } }),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    for answer in [
        app.send(
            reqwest::Method::GET,
            &b.host,
            "/api/v1/branding",
            None,
            None,
        )
        .await,
        b.get("/api/v1/organization").await,
        // A's token on B's host is refused without a word of A.
        app.send(
            reqwest::Method::GET,
            &b.host,
            "/api/v1/organization",
            Some(&a.token),
            None,
        )
        .await,
    ] {
        for leak in [secret, "#abcdef", "acme"] {
            assert!(!answer.text.contains(leak), "{leak}: {}", answer.text);
        }
    }
    let own = app
        .send(
            reqwest::Method::GET,
            &a.host,
            "/api/v1/branding",
            None,
            None,
        )
        .await;
    assert_eq!(own.json["branding"]["logo_url"], secret);
}
