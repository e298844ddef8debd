//! Deleted courses: the trash, restoring, purging.

use lms_tests::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_deleted_course_waits_in_the_trash_comes_back_whole_or_is_purged() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let (_, ian) = acme.user_with_role("ian@acme.test", "instructor").await;
    let (_, ana) = acme.user_with_role("ana@acme.test", "instructor").await;
    let (lea_id, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let a = acme
        .send_as(
            &ian,
            Method::POST,
            "/api/v1/courses",
            Some(json!({ "title": "Binned" })),
        )
        .await;
    let course = a.json["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/courses/{course}");
    acme.send_as(
        &ian,
        Method::POST,
        &format!("{path}/lessons"),
        Some(json!({ "title": "L1" })),
    )
    .await;
    acme.send_as(&ian, Method::POST, &format!("{path}/publish"), None)
        .await;
    let e = acme
        .send_as(&lea, Method::POST, &format!("{path}/enrollment"), None)
        .await;
    assert_eq!(e.status, StatusCode::CREATED, "{}", e.text);

    // Deleted: gone from every read, listed in the trash for admins only.
    assert_eq!(
        acme.send_as(&ana, Method::DELETE, &path, None).await.code(),
        "not_course_staff"
    );
    assert_eq!(
        acme.send_as(&ian, Method::DELETE, &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(acme.get(&path).await.code(), "course_not_found");
    assert!(!acme.get("/api/v1/courses").await.text.contains(&course));
    let trash = acme.get("/api/v1/trash").await;
    assert_eq!(trash.status, StatusCode::OK, "{}", trash.text);
    let item = &trash.json["items"][0];
    assert_eq!(
        (&item["id"], &item["type"]),
        (&json!(course), &json!("course"))
    );
    let days = |a: &serde_json::Value, b: &serde_json::Value| {
        let t = |v: &serde_json::Value| {
            chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap()
        };
        (t(b) - t(a)).num_days()
    };
    assert_eq!(days(&item["deleted_at"], &item["purge_at"]), 30);
    assert_eq!(
        acme.send_as(&ian, Method::GET, "/api/v1/trash", None)
            .await
            .code(),
        "permission_denied"
    );
    assert_eq!(globex.get("/api/v1/trash").await.json["items"], json!([]));
    for bad in ["nonsense", "12~not-a-uuid", "~"] {
        let a = acme.get(&format!("/api/v1/trash?cursor={bad}")).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::BAD_REQUEST, "invalid_cursor"),
            "{bad}"
        );
    }
    let a = acme.get("/api/v1/trash?type=chapter").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);

    // Restored by its staff, whole: content, learners.
    let restore = format!("{path}/restore");
    assert_eq!(
        acme.send_as(&ana, Method::POST, &restore, None)
            .await
            .code(),
        "not_course_staff"
    );
    assert_eq!(
        globex.post(&restore, json!({})).await.code(),
        "course_not_in_trash"
    );
    let a = acme.send_as(&ian, Method::POST, &restore, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["is_published"], true);
    let detail = acme.send_as(&lea, Method::GET, &path, None).await;
    assert_eq!(
        detail.json["lessons"][0]["lesson"]["title"], "L1",
        "{}",
        detail.text
    );
    let mine = acme
        .send_as(&lea, Method::GET, "/api/v1/me/enrollments", None)
        .await;
    assert_eq!(mine.json["items"][0]["course_id"], json!(course));
    assert_eq!(
        acme.send_as(&ian, Method::POST, &restore, None)
            .await
            .code(),
        "course_not_in_trash"
    );

    // Purged: only by an admin, and then for real.
    let purge = format!("{path}?purge=true");
    assert_eq!(
        acme.send_as(&ian, Method::DELETE, &purge, None)
            .await
            .code(),
        "permission_denied"
    );
    assert_eq!(acme.delete(&purge).await.status, StatusCode::NO_CONTENT);
    let mut su = app.connect_as_superuser().await;
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM courses WHERE id = $1::uuid) \
              + (SELECT count(*) FROM enrollments WHERE user_id = $2)",
    )
    .bind(&course)
    .bind(lea_id)
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert_eq!(left, 0);
    assert_eq!(acme.delete(&purge).await.code(), "course_not_found");
}

#[tokio::test]
async fn the_trash_empties_itself_after_the_retention_period() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let a = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "trash_retention_days": 2 }),
        )
        .await;
    assert_eq!(a.json["settings"]["trash_retention_days"], 2, "{}", a.text);
    let bad = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "trash_retention_days": 0 }),
        )
        .await;
    assert!(bad.status.is_client_error(), "{}", bad.text);
    let mut ids = Vec::new();
    for (t, title) in [(&acme, "Old"), (&acme, "Recent"), (&globex, "Globex old")] {
        let id = t.create_course(title).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        t.delete(&format!("/api/v1/courses/{id}")).await;
        ids.push(id);
    }
    // Deleted three days ago: acme's first (past 2 days), globex's (within
    // its default 30).
    let mut su = app.connect_as_superuser().await;
    sqlx::query(
        "UPDATE courses SET deleted_at = now() - interval '3 days' WHERE id = ANY($1::uuid[])",
    )
    .bind(vec![ids[0].clone(), ids[2].clone()])
    .execute(&mut su)
    .await
    .unwrap();
    let swept = lms_api::maintenance::sweep(app.ctx()).await.unwrap();
    assert_eq!(swept.trash_purged, 1);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT title FROM courses WHERE id = ANY($1::uuid[]) ORDER BY title")
            .bind(ids.clone())
            .fetch_all(&mut su)
            .await
            .unwrap();
    assert_eq!(left, ["Globex old", "Recent"]);
    let feed = acme.get("/api/v1/events?type=course.purged").await;
    assert!(feed.text.contains(&ids[0]), "{}", feed.text);
}

#[tokio::test]
async fn a_deleted_category_waits_in_the_trash_and_comes_back_with_its_courses() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let id = |a: lms_tests::Answer| a.json["id"].as_str().unwrap().to_owned();
    let parent = id(acme
        .post(
            "/api/v1/categories",
            json!({ "name": "Science", "slug": "science" }),
        )
        .await);
    let cat = id(acme
        .post(
            "/api/v1/categories",
            json!({ "name": "Physics", "slug": "physics", "parent_id": parent }),
        )
        .await);
    let child = id(acme
        .post(
            "/api/v1/categories",
            json!({ "name": "Optics", "slug": "optics", "parent_id": cat }),
        )
        .await);
    let course = acme.create_course("Waves").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = acme
        .send_as(
            &acme.token,
            reqwest::Method::PUT,
            &format!("/api/v1/courses/{course}/categories/{cat}"),
            None,
        )
        .await;
    assert!(a.status.is_success(), "{}", a.text);

    assert_eq!(
        acme.delete(&format!("/api/v1/categories/{cat}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // Gone from the tree, the course and the catalog filter; its child
    // moved up to its parent; its slug free again.
    let tree = acme.get("/api/v1/categories/tree").await;
    assert_eq!(tree.status, StatusCode::OK, "{}", tree.text);
    assert!(!tree.text.contains("physics"), "{}", tree.text);
    let detail = acme.get(&format!("/api/v1/courses/{course}")).await;
    assert_eq!(detail.json["categories"], json!([]), "{}", detail.text);
    let filtered = acme.get(&format!("/api/v1/courses?category={cat}")).await;
    assert!(!filtered.text.contains(&course), "{}", filtered.text);
    let moved = acme.get("/api/v1/categories/tree").await;
    assert!(moved.text.contains(&child), "{}", moved.text);
    let trash = acme.get("/api/v1/trash?type=category").await;
    assert_eq!(
        (
            &trash.json["items"][0]["id"],
            &trash.json["items"][0]["type"]
        ),
        (&json!(cat), &json!("category")),
        "{}",
        trash.text
    );
    assert_eq!(
        acme.get("/api/v1/trash?type=course").await.json["items"],
        json!([])
    );
    assert_eq!(globex.get("/api/v1/trash").await.json["items"], json!([]));
    let reused = acme
        .post(
            "/api/v1/categories",
            json!({ "name": "Physics 2", "slug": "physics" }),
        )
        .await;
    assert_eq!(reused.status, StatusCode::CREATED, "{}", reused.text);

    // Restoring: refused while the slug is taken, then back with its course.
    let restore = format!("/api/v1/categories/{cat}/restore");
    assert_eq!(acme.post(&restore, json!({})).await.code(), "slug_taken");
    acme.delete(&format!("/api/v1/categories/{}?purge=true", id(reused)))
        .await;
    assert_eq!(
        globex.post(&restore, json!({})).await.code(),
        "category_not_in_trash"
    );
    let a = acme.post(&restore, json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["parent_id"], json!(parent));
    let detail = acme.get(&format!("/api/v1/courses/{course}")).await;
    assert_eq!(
        detail.json["categories"][0]["id"],
        json!(cat),
        "{}",
        detail.text
    );
    assert_eq!(
        acme.post(&restore, json!({})).await.code(),
        "category_not_in_trash"
    );
}

#[tokio::test]
async fn the_housekeeping_purges_deleted_content_learners_do_not_need() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let course = acme.create_course("Kept content").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = format!("/api/v1/courses/{course}");
    let id = |a: lms_tests::Answer| {
        assert!(a.status.is_success(), "{}", a.text);
        a.json["id"].as_str().unwrap().to_owned()
    };
    let one = id(acme
        .post(&format!("{c}/lessons"), json!({ "title": "One" }))
        .await);
    let worked = id(acme
        .post(
            &format!("{c}/lessons/{one}/sections"),
            json!({ "title": "Worked on" }),
        )
        .await);
    let published = id(acme
        .post(
            &format!("{c}/lessons/{one}/sections"),
            json!({ "title": "In the version" }),
        )
        .await);
    acme.post(&format!("{c}/publish"), json!({})).await;
    let (_, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let a = acme
        .send_as(&lea, Method::POST, &format!("{c}/enrollment"), None)
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = acme
        .send_as(
            &lea,
            Method::PUT,
            &format!("{c}/sections/{worked}/progress"),
            Some(json!({ "time_spent_seconds": 5 })),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    // Draft content, never published.
    let draft_section = id(acme
        .post(
            &format!("{c}/lessons/{one}/sections"),
            json!({ "title": "Draft" }),
        )
        .await);
    let draft_lesson = id(acme
        .post(&format!("{c}/lessons"), json!({ "title": "Draft lesson" }))
        .await);
    for path in [
        format!("{c}/lessons/{one}/sections/{worked}"),
        format!("{c}/lessons/{one}/sections/{published}"),
        format!("{c}/lessons/{one}/sections/{draft_section}"),
        format!("{c}/lessons/{draft_lesson}"),
    ] {
        assert_eq!(acme.delete(&path).await.status, StatusCode::NO_CONTENT);
    }
    let mut su = app.connect_as_superuser().await;
    for table in ["sections", "lessons"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET deleted_at = now() - interval '40 days' WHERE deleted_at IS NOT NULL"
        )))
        .execute(&mut su)
        .await
        .unwrap();
    }
    let swept = lms_api::maintenance::sweep(app.ctx()).await.unwrap();
    assert_eq!(swept.trash_purged, 2);
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT id::text FROM sections WHERE deleted_at IS NOT NULL \
         UNION ALL SELECT id::text FROM lessons WHERE deleted_at IS NOT NULL ORDER BY 1",
    )
    .fetch_all(&mut su)
    .await
    .unwrap();
    let mut kept = vec![worked.clone(), published.clone()];
    kept.sort();
    assert_eq!(left, kept);
    let feed = acme.get("/api/v1/events?type=section.purged").await;
    assert!(feed.text.contains(&draft_section), "{}", feed.text);
}

#[tokio::test]
async fn the_database_keeps_the_content_rules_whoever_writes() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let course = acme.create_course("Rules").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lesson = acme
        .post(
            &format!("/api/v1/courses/{course}/lessons"),
            json!({ "title": "L" }),
        )
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    acme.post(&format!("/api/v1/courses/{course}/publish"), json!({}))
        .await;
    let (ana_id, ana) = acme.user_with_role("ana@acme.test", "instructor").await;
    let (lea_id, _) = acme.user_with_role("lea@acme.test", "learner").await;
    let a = acme
        .send_as(
            &acme.token,
            Method::PUT,
            &format!("/api/v1/courses/{course}/staff/{ana_id}"),
            Some(json!({ "role": "INSTRUCTOR" })),
        )
        .await;
    assert!(a.status.is_success(), "{}", a.text);
    drop(ana);
    let mut conn = app.connect_as_app().await;
    let org = acme.org_id;
    for (who, sql, expected) in [
        // Whether content must stay is not the runtime role's to ask.
        (
            acme.admin_id,
            format!("SELECT app.content_kept('{org}', '{course}', '{lesson}', true)"),
            "42501",
        ),
        // Course staff move content to the trash; only course:write:any
        // deletes it for real.
        (
            ana_id,
            format!("DELETE FROM lessons WHERE id = '{lesson}'"),
            "ok, 0 rows",
        ),
        // An enrollment starts on the latest published version.
        (
            lea_id,
            format!(
                "INSERT INTO enrollments (organization_id, id, user_id, course_id, course_version) \
                 VALUES ('{org}', '{}', '{lea_id}', '{course}', 1)",
                uuid::Uuid::now_v7()
            ),
            "42501",
        ),
        (
            acme.admin_id,
            format!("DELETE FROM lessons WHERE id = '{lesson}'"),
            "ok, 1 rows",
        ),
    ] {
        let mut tx = lms_tests::acting_as(&mut conn, org, who).await;
        let got = lms_tests::sql_outcome(
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(got, expected, "{sql}");
        tx.rollback().await.unwrap();
    }
}
