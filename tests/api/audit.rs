//! The audit trail: written by the database, readable by auditors only,
//! unforgeable by the runtime roles.

use lms_tests::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;
use uuid::Uuid;

#[tokio::test]
async fn every_change_is_in_the_trail_with_its_actor_and_request() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let created = acme
        .post("/api/v1/courses", json!({ "title": "Audited" }))
        .await;
    let course = created.json["id"].as_str().unwrap().to_owned();
    let request = created.headers["x-request-id"].to_str().unwrap().to_owned();
    acme.patch(
        &format!("/api/v1/courses/{course}"),
        json!({ "title": "Audited, renamed" }),
    )
    .await;
    let (lea, _) = acme.user_with_role("lea@acme.test", "learner").await;
    acme.patch(
        "/api/v1/organization/settings",
        json!({ "self_signup": true }),
    )
    .await;

    // The course: created then updated, by the admin, in their requests.
    let a = acme
        .get(&format!(
            "/api/v1/audit-logs?table=courses&record_id={course}"
        ))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let items = a.json["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["UPDATE", "CREATE"]);
    assert_eq!(items[1]["request_id"], json!(request));
    assert_eq!(items[0]["actor_id"], json!(acme.admin_id));
    assert_eq!(items[0]["old_values"]["title"], "Audited");
    assert_eq!(items[0]["new_values"]["title"], "Audited, renamed");

    // The user and their role, with no password hash anywhere.
    let a = acme
        .get(&format!("/api/v1/audit-logs?record_id={lea}&action=CREATE"))
        .await;
    let tables: Vec<&str> = a.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["table"].as_str().unwrap())
        .collect();
    assert!(
        tables.contains(&"users") && tables.contains(&"user_roles"),
        "{tables:?}"
    );
    assert!(
        !a.text.contains("password_hash") && !a.text.contains("$argon2"),
        "{}",
        a.text
    );
    // Logging in is not a change of the user.
    let logins = acme
        .get(&format!(
            "/api/v1/audit-logs?table=users&record_id={lea}&action=UPDATE"
        ))
        .await;
    assert_eq!(logins.json["items"], json!([]), "{}", logins.text);
    // A new password leaves a trace, never the hash.
    let (_, lea_token) = (lea, acme.login("lea@acme.test", lms_tests::PASSWORD).await);
    let token = lea_token.json["access_token"].as_str().unwrap().to_owned();
    let a = acme
        .send_as(
            &token,
            Method::POST,
            "/api/v1/me/password",
            Some(json!({ "current_password": lms_tests::PASSWORD, "new_password": "another long password" })),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let a = acme
        .get(&format!(
            "/api/v1/audit-logs?table=users&record_id={lea}&action=UPDATE"
        ))
        .await;
    assert_eq!(
        a.json["items"][0]["new_values"]["password_changed"], true,
        "{}",
        a.text
    );
    assert_eq!(a.json["items"][0]["actor_id"], json!(lea), "{}", a.text);
    assert!(!a.text.contains("$argon2"));
    // The organization's settings.
    let a = acme.get("/api/v1/audit-logs?table=organizations").await;
    assert_eq!(
        a.json["items"][0]["new_values"]["settings"]["self_signup"], true,
        "{}",
        a.text
    );

    // Pages, and a CSV of the same.
    let first = acme.get("/api/v1/audit-logs?limit=2").await;
    let next = first.json["next_cursor"].as_str().unwrap().to_owned();
    let second = acme
        .get(&format!("/api/v1/audit-logs?limit=2&cursor={next}"))
        .await;
    assert!(
        first.json["items"][1]["id"].as_str() > second.json["items"][0]["id"].as_str(),
        "newest first"
    );
    let csv = acme.get("/api/v1/audit-logs.csv?table=courses").await;
    assert_eq!(csv.status, StatusCode::OK);
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(
        lines[0],
        "id,occurred_at,table,record_id,action,actor_id,request_id,old_values,new_values"
    );
    assert_eq!(lines.len(), 3, "{}", csv.text);
    let a = acme
        .get("/api/v1/audit-logs?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z")
        .await;
    assert_eq!(a.code(), "invalid_time_range");

    // A failed write leaves no entry.
    let before = acme.get("/api/v1/audit-logs?limit=100").await.json["items"]
        .as_array()
        .unwrap()
        .len();
    let dup = acme
        .post(
            "/api/v1/users",
            json!({ "email": "lea@acme.test", "first_name": "L", "last_name": "D" }),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.text);
    let after = acme.get("/api/v1/audit-logs?limit=100").await.json["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);

    // Another tenant sees none of it.
    let a = globex
        .get(&format!("/api/v1/audit-logs?record_id={course}"))
        .await;
    assert_eq!(a.json["items"], json!([]), "{}", a.text);
    let a = globex.get("/api/v1/audit-logs?limit=100").await;
    assert!(
        !a.text.contains(&course) && !a.text.contains("Audited"),
        "{}",
        a.text
    );
}

#[tokio::test]
async fn the_runtime_roles_cannot_write_the_trail_and_learners_cannot_read_it() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let course = acme.create_course("Trail").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (lea, token) = acme.user_with_role("lea@acme.test", "learner").await;
    let a = acme
        .send_as(&token, Method::GET, "/api/v1/audit-logs", None)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::FORBIDDEN, "permission_denied")
    );

    let mut conn = app.connect_as_app().await;
    for (who, sees) in [(lea, false), (acme.admin_id, true)] {
        let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, who).await;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n > 0, sees, "{who} reads {n} entries");
        for sql in [
            format!(
                "INSERT INTO audit_logs (organization_id, id, table_name, record_id, action, actor_id) \
                 VALUES ('{}', '{}', 'courses', '{course}', 'DELETE', '{lea}')",
                acme.org_id,
                Uuid::now_v7()
            ),
            "UPDATE audit_logs SET actor_id = NULL".to_owned(),
            "DELETE FROM audit_logs".to_owned(),
        ] {
            let mut sp = tx.begin().await.unwrap();
            let err = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut *sp)
                .await
                .expect_err(&sql);
            assert_eq!(
                err.as_database_error().and_then(|d| d.code()).as_deref(),
                Some("42501"),
                "{sql}: {err}"
            );
            sp.rollback().await.unwrap();
        }
        tx.rollback().await.unwrap();
    }
    // The trigger function is not callable as a function either.
    let mut tx = conn.begin().await.unwrap();
    let err = sqlx::query("SELECT app.audit_trigger()")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.as_database_error().is_some(), "{err}");
    tx.rollback().await.unwrap();
}
