//! Course staff: instructors change the courses they teach, and only those,
//! in the API and in the database.

use lms_tests::{Answer, Tenant, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

async fn as_user(
    t: &Tenant<'_>,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    t.send_as(token, method, path, body).await
}

#[tokio::test]
async fn instructors_change_the_courses_they_teach_and_owners_staff_them() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let (ian_id, ian) = acme.user_with_role("ian@acme.test", "instructor").await;
    let (ana_id, ana) = acme.user_with_role("ana@acme.test", "instructor").await;
    let (tess_id, tess) = acme.user_with_role("tess@acme.test", "instructor").await;
    let (lea_id, _) = acme.user_with_role("lea@acme.test", "learner").await;

    let a = as_user(
        &acme,
        &ian,
        Method::POST,
        "/api/v1/courses",
        Some(json!({ "title": "Ian's" })),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let course = a.json["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/courses/{course}");
    let staff = format!("{path}/staff");
    let list = acme.get(&staff).await;
    assert_eq!(list.json["items"][0]["user_id"], json!(ian_id));
    assert_eq!(list.json["items"][0]["role"], "OWNER");

    // Another instructor: refused, whatever the write.
    let rename = Some(json!({ "title": "Taken over" }));
    assert_eq!(
        as_user(&acme, &ian, Method::PATCH, &path, rename.clone())
            .await
            .status,
        StatusCode::OK
    );
    for (method, p, body) in [
        (Method::PATCH, path.clone(), rename.clone()),
        (
            Method::POST,
            format!("{path}/lessons"),
            Some(json!({ "title": "L" })),
        ),
        (Method::POST, format!("{path}/publish"), None),
        (Method::DELETE, path.clone(), None),
    ] {
        let a = as_user(&acme, &ana, method, &p, body).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::FORBIDDEN, "not_course_staff"),
            "{p}"
        );
    }

    // The owner staffs it: an instructor changes it, an assistant follows
    // its learners, neither staffs it.
    for (who, role) in [(ana_id, "INSTRUCTOR"), (tess_id, "ASSISTANT")] {
        let a = as_user(
            &acme,
            &ian,
            Method::PUT,
            &format!("{staff}/{who}"),
            Some(json!({ "role": role })),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    assert_eq!(
        as_user(&acme, &ana, Method::PATCH, &path, rename.clone())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        as_user(&acme, &tess, Method::PATCH, &path, rename.clone())
            .await
            .code(),
        "not_course_staff"
    );
    assert_eq!(
        as_user(&acme, &tess, Method::GET, &format!("{path}/learners"), None)
            .await
            .status,
        StatusCode::OK
    );
    let a = as_user(
        &acme,
        &ana,
        Method::PUT,
        &format!("{staff}/{lea_id}"),
        Some(json!({ "role": "OWNER" })),
    )
    .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::FORBIDDEN, "not_course_owner")
    );
    let a = as_user(
        &acme,
        &ian,
        Method::DELETE,
        &format!("{staff}/{ian_id}"),
        None,
    )
    .await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "last_owner"));
    let a = as_user(
        &acme,
        &ian,
        Method::PUT,
        &format!("{staff}/{}", Uuid::now_v7()),
        Some(json!({ "role": "ASSISTANT" })),
    )
    .await;
    assert_eq!(a.code(), "user_not_found");
    // An admin changes and staffs every course.
    assert_eq!(
        acme.patch(&path, json!({ "description": "by the admin" }))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        acme.delete(&format!("{staff}/{ana_id}")).await.status,
        StatusCode::NO_CONTENT
    );

    // A role that holds only `course:write:any` changes every course too.
    let r = acme
        .post(
            "/api/v1/roles",
            json!({ "name": "curator", "permissions": ["course:read", "course:write:any"] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (_, cura) = acme.user_with_role("cura@acme.test", "curator").await;
    let a = as_user(
        &acme,
        &cura,
        Method::PATCH,
        &path,
        Some(json!({ "description": "curated" })),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);

    // The database says the same to each of them.
    let mut conn = app.connect_as_app().await;
    let lesson_insert = format!(
        "INSERT INTO lessons (organization_id, id, course_id, title, position) VALUES ('{}', '{}', '{course}', 'x', 99)",
        acme.org_id,
        Uuid::now_v7()
    );
    for (who, sql, expected) in [
        (
            ana_id,
            format!("UPDATE courses SET title = 'x' WHERE id = '{course}'"),
            "ok, 0 rows",
        ),
        (ana_id, lesson_insert.clone(), "42501"),
        (
            tess_id,
            format!(
                "UPDATE sections SET title = 'x' WHERE lesson_id IN (SELECT id FROM lessons WHERE course_id = '{course}')"
            ),
            "ok, 0 rows",
        ),
        (
            lea_id,
            format!("UPDATE courses SET pacing = 'FREE' WHERE id = '{course}'"),
            "ok, 0 rows",
        ),
        (
            lea_id,
            format!(
                "INSERT INTO course_staff (organization_id, course_id, user_id, role) VALUES ('{}', '{course}', '{lea_id}', 'OWNER')",
                acme.org_id
            ),
            "42501",
        ),
        (
            ana_id,
            format!(
                "INSERT INTO course_staff (organization_id, course_id, user_id, role) VALUES ('{}', '{course}', '{ana_id}', 'OWNER')",
                acme.org_id
            ),
            "42501",
        ),
        (
            lea_id,
            "SELECT app.apply_rating(organization_id, id, 100, 500) FROM courses".to_owned(),
            "42501",
        ),
        (
            ian_id,
            format!("UPDATE courses SET title = 'x' WHERE id = '{course}'"),
            "ok, 1 rows",
        ),
        // Not even its staff write its rating.
        (
            ian_id,
            format!(
                "UPDATE courses SET rating_count = 999, rating_sum = 4995, average_rating = 5 WHERE id = '{course}'"
            ),
            "42501",
        ),
        (ian_id, lesson_insert, "ok, 1 rows"),
    ] {
        let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, who).await;
        let got = lms_tests::sql_outcome(
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(got, expected, "{sql} as {who}");
        tx.rollback().await.unwrap();
    }

    // Another tenant sees no staff list.
    let a = globex.get(&staff).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::NOT_FOUND, "course_not_found")
    );
    assert!(!a.text.contains("ian@acme.test"));
}
