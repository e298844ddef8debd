//! Course create/read/update/delete/list and lessons, as a tenant admin.

use lms_tests::TestApp;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn course_lifecycle() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let c = acme
        .post(
            "/api/v1/courses",
            json!({ "title": "  Rust for Learners ", "difficulty": "INTERMEDIATE", "estimated_hours": 12,
                    "image_url": "https://img.example/rust.png", "metadata": { "level": 2 } }),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    assert_eq!(c.json["title"], "Rust for Learners");
    assert_eq!(c.json["difficulty"], "INTERMEDIATE");
    assert_eq!(c.json["is_published"], false);
    assert_eq!(c.json["version"], 1);
    let id = c.json["id"].as_str().unwrap().to_owned();

    let got = acme.get(&format!("/api/v1/courses/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json["course"]["estimated_hours"], 12);
    assert_eq!(got.json["course"]["metadata"]["level"], 2);

    let up = acme
        .patch(
            &format!("/api/v1/courses/{id}"),
            json!({ "title": "Rust, Properly", "image_url": null, "version": 1 }),
        )
        .await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.text);
    assert_eq!(up.json["title"], "Rust, Properly");
    assert_eq!(up.json["image_url"], serde_json::Value::Null);
    assert_eq!(up.json["version"], 2);
    assert_eq!(
        up.json["difficulty"], "INTERMEDIATE",
        "untouched fields stay"
    );

    // A stale version is refused.
    let stale = acme
        .patch(
            &format!("/api/v1/courses/{id}"),
            json!({ "title": "Lost update", "version": 1 }),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.code(), "version_conflict");
    assert_eq!(
        acme.get(&format!("/api/v1/courses/{id}")).await.json["course"]["title"],
        "Rust, Properly"
    );

    let del = acme.delete(&format!("/api/v1/courses/{id}")).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let gone = acme.get(&format!("/api/v1/courses/{id}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.code(), "course_not_found");
    assert_eq!(
        acme.delete(&format!("/api/v1/courses/{id}")).await.status,
        StatusCode::NOT_FOUND
    );

    // Soft delete: the row is still there, marked, with who deleted it, and
    // the audit trail recorded the life of the course.
    let mut su = app.connect_as_superuser().await;
    let (deleted_by,): (Option<uuid::Uuid>,) =
        sqlx::query_as("SELECT deleted_by FROM courses WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&mut su)
            .await
            .unwrap();
    assert_eq!(deleted_by, Some(acme.admin_id));
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action::text FROM audit_logs WHERE record_id = $1::uuid ORDER BY occurred_at, id",
    )
    .bind(&id)
    .fetch_all(&mut su)
    .await
    .unwrap();
    assert_eq!(actions, ["CREATE", "UPDATE", "DELETE"]);
}

#[tokio::test]
async fn list_filters_and_paginates_by_keyset() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            acme.create_course(&format!("Course {i}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let up = acme
        .patch(
            &format!("/api/v1/courses/{}", ids[1]),
            json!({ "difficulty": "EXPERT" }),
        )
        .await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.text);
    let publish = acme
        .post(&format!("/api/v1/courses/{}/publish", ids[1]), json!(null))
        .await;
    assert_eq!(publish.status, StatusCode::OK, "{}", publish.text);

    let p1 = acme.get("/api/v1/courses?limit=2").await;
    assert_eq!(p1.status, StatusCode::OK);
    let titles: Vec<&str> = p1.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Course 4", "Course 3"]);
    let cursor = p1.json["next_cursor"].as_str().unwrap();
    let p2 = acme
        .get(&format!("/api/v1/courses?limit=2&cursor={cursor}"))
        .await;
    let titles: Vec<&str> = p2.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Course 2", "Course 1"]);
    let p3 = acme
        .get(&format!(
            "/api/v1/courses?limit=2&cursor={}",
            p2.json["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(p3.json["items"].as_array().unwrap().len(), 1);
    assert!(p3.json.get("next_cursor").is_none_or(|c| c.is_null()));

    let expert = acme.get("/api/v1/courses?difficulty=EXPERT").await;
    assert_eq!(expert.json["items"].as_array().unwrap().len(), 1);
    let published = acme.get("/api/v1/courses?published=true").await;
    assert_eq!(published.json["items"][0]["id"], ids[1].as_str());
    let drafts = acme.get("/api/v1/courses?published=false").await;
    assert_eq!(drafts.json["items"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn lessons_are_appended_in_order() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let id = acme.create_course("Databases").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for t in ["Relations", "Keys", "Indexes"] {
        let a = acme
            .post(
                &format!("/api/v1/courses/{id}/lessons"),
                json!({ "title": t }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    }
    let l = acme.get(&format!("/api/v1/courses/{id}/lessons")).await;
    let got: Vec<(i64, &str)> = l.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["position"].as_i64().unwrap(),
                x["title"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(0, "Relations"), (1, "Keys"), (2, "Indexes")]);
}

#[tokio::test]
async fn a_learner_cannot_write_courses() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    // A learner made directly in the database: user management comes with
    // the identity API.
    let mut su = app.connect_as_superuser().await;
    let user = uuid::Uuid::now_v7();
    let hash = lms_api::auth::hash_password_async(lms_tests::PASSWORD.into())
        .await
        .unwrap();
    sqlx::query("INSERT INTO users (organization_id, id, email, first_name, last_name, password_hash) VALUES ($1, $2, 'learner@acme.test', 'Lea', 'Rner', $3)")
        .bind(acme.org_id).bind(user).bind(&hash).execute(&mut su).await.unwrap();
    sqlx::query("INSERT INTO user_roles (organization_id, user_id, role_id) SELECT $1, $2, id FROM roles WHERE organization_id = $1 AND name = 'learner'")
        .bind(acme.org_id).bind(user).execute(&mut su).await.unwrap();
    let token = acme
        .login("learner@acme.test", lms_tests::PASSWORD)
        .await
        .json["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = app
        .send(
            reqwest::Method::POST,
            &acme.host,
            "/api/v1/courses",
            Some(&token),
            Some(lms_tests::Body::Json(json!({ "title": "Nope" }))),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.code(), "permission_denied");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM courses")
        .fetch_one(&mut su)
        .await
        .unwrap();
    assert_eq!(count, 0);
}
