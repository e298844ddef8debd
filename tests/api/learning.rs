//! The learning loop: enrolling, progress, completion, certificates, and the
//! learner's limits at SQL level.

use futures::future::join_all;
use lms_tests::{Answer, Tenant, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// A published course: lesson 1 (a text, a quiz), lesson 2 (an assignment,
/// an optional text), and an optional lesson 3 (a quiz). Returns the course
/// id and the section ids in that order.
async fn published_course(acme: &Tenant<'_>, title: &str) -> (String, Vec<String>) {
    let course = acme.create_course(title).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = |a: Answer| {
        assert!(a.status.is_success(), "{}", a.text);
        a.json["id"].as_str().unwrap().to_owned()
    };
    let mut sections = Vec::new();
    for (lesson, required, parts) in [
        (
            "One",
            true,
            vec![("Read", "TEXT", false), ("Quiz", "QUIZ", false)],
        ),
        (
            "Two",
            true,
            vec![("Essay", "ASSIGNMENT", false), ("Extra", "TEXT", true)],
        ),
        ("Bonus", false, vec![("Bonus quiz", "QUIZ", false)]),
    ] {
        let l = id(acme
            .post(
                &format!("/api/v1/courses/{course}/lessons"),
                json!({ "title": lesson, "is_required": required }),
            )
            .await);
        for (t, kind, optional) in parts {
            sections.push(id(acme
                .post(
                    &format!("/api/v1/courses/{course}/lessons/{l}/sections"),
                    json!({ "title": t, "type": kind, "is_optional": optional }),
                )
                .await));
        }
    }
    let a = acme
        .post(&format!("/api/v1/courses/{course}/publish"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    (course, sections)
}

async fn record(t: &Tenant<'_>, token: &str, course: &str, section: &str, body: Value) -> Answer {
    t.send_as(
        token,
        Method::PUT,
        &format!("/api/v1/courses/{course}/sections/{section}/progress"),
        Some(body),
    )
    .await
}

/// Publishes the draft and moves every learner to it (learners see lesson
/// changes from the version they are on).
async fn republish(t: &Tenant<'_>, course: &str) {
    let a = t
        .post(&format!("/api/v1/courses/{course}/publish"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = t
        .post(
            &format!("/api/v1/courses/{course}/enrollments/move-to-latest"),
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

async fn enroll(t: &Tenant<'_>, token: &str, course: &str) -> Answer {
    t.send_as(
        token,
        Method::POST,
        &format!("/api/v1/courses/{course}/enrollment"),
        None,
    )
    .await
}

#[tokio::test]
async fn a_learner_finishes_a_course_with_a_grade_and_a_certificate_anyone_can_verify() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let (course, s) = published_course(&acme, "Rust from zero").await;
    let (_, lea) = acme.user_with_role("lea@acme.test", "learner").await;

    let a = enroll(&acme, &lea, &course).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["status"], "ACTIVE");
    // Pinned to the version published last.
    let published = acme.get(&format!("/api/v1/courses/{course}")).await;
    assert_eq!(
        a.json["course_version"],
        published.json["course"]["version"]
    );
    assert_eq!(a.json["sections_required"], 3);
    let enrollment = a.json["id"].as_str().unwrap().to_owned();
    let again = enroll(&acme, &lea, &course).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "already_enrolled");

    // The text, then the quiz twice: time adds up, the best score stays.
    let a = record(
        &acme,
        &lea,
        &course,
        &s[0],
        json!({ "time_spent_seconds": 60 }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["enrollment"]["progress_percent"], 33);
    record(
        &acme,
        &lea,
        &course,
        &s[1],
        json!({ "time_spent_seconds": 30, "score": 90 }),
    )
    .await;
    let a = record(
        &acme,
        &lea,
        &course,
        &s[1],
        json!({ "time_spent_seconds": 45, "score": 70 }),
    )
    .await;
    assert_eq!(a.json["progress"]["time_spent_seconds"], 75);
    assert_eq!(a.json["progress"]["attempts_count"], 2);
    assert_eq!(a.json["progress"]["score"], 90.0);
    assert!(a.json["certificate"].is_null());

    // The assignment is the last required section: completed, graded over
    // the graded sections (the unattempted bonus quiz counts 0).
    let a = record(
        &acme,
        &lea,
        &course,
        &s[2],
        json!({ "time_spent_seconds": 600, "score": 81 }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["enrollment"]["status"], "COMPLETED");
    assert_eq!(a.json["enrollment"]["final_grade"], 57.0);
    assert!(a.json["enrollment"]["completed_at"].is_string());
    let cert = &a.json["certificate"];
    assert_eq!(cert["course_title"], "Rust from zero");
    assert_eq!(cert["learner_name"], "Some One");
    let code = cert["code"].as_str().unwrap().to_owned();
    assert!(code.len() >= 22);

    // Anyone verifies it on the organization's host, without logging in.
    let v = app
        .send(
            Method::GET,
            &acme.host,
            &format!("/api/v1/certificates/{code}"),
            None,
            None,
        )
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(
        v.json,
        json!({ "issued_by": "acme academy", "learner_name": "Some One",
                "course_title": "Rust from zero",
                "completed_at": cert["completed_at"], "final_grade": 57.0 })
    );
    // Printable, with nothing that runs.
    let page = |host: String, code: String| {
        let app = &app;
        async move {
            app.send(
                Method::GET,
                &host,
                &format!("/api/v1/certificates/{code}/html"),
                None,
                None,
            )
            .await
        }
    };
    let html = page(acme.host.clone(), code.clone()).await;
    assert_eq!(html.status, StatusCode::OK, "{}", html.text);
    assert!(
        html.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        html.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    for shown in [
        "acme academy",
        "Some One",
        "Rust from zero",
        "57%",
        code.as_str(),
    ] {
        assert!(html.text.contains(shown), "{shown} on the page");
    }
    // An organization that hides grades hides them everywhere public.
    acme.patch(
        "/api/v1/organization/settings",
        json!({ "certificate_shows_grade": false }),
    )
    .await;
    let v = app
        .send(
            Method::GET,
            &acme.host,
            &format!("/api/v1/certificates/{code}"),
            None,
            None,
        )
        .await;
    assert!(
        v.json.get("final_grade").is_none_or(Value::is_null),
        "{}",
        v.text
    );
    // (Not a bare "57": the random verification code may hold those digits.)
    assert!(
        !page(acme.host.clone(), code.clone())
            .await
            .text
            .contains("final grade")
    );
    assert_eq!(
        page(globex.host.clone(), code.clone()).await.code(),
        "certificate_not_found"
    );
    for (host, c) in [
        (&acme.host, "AAAAAAAAAAAAAAAAAAAAAAAA".to_owned()),
        (&globex.host, code.clone()),
    ] {
        let v = app
            .send(
                Method::GET,
                host,
                &format!("/api/v1/certificates/{c}"),
                None,
                None,
            )
            .await;
        assert_eq!(v.status, StatusCode::NOT_FOUND, "{}", v.text);
        assert_eq!(v.code(), "certificate_not_found");
    }
    let mine = acme
        .send_as(&lea, Method::GET, "/api/v1/me/certificates", None)
        .await;
    assert_eq!(mine.json["items"][0]["code"], code.as_str());

    // Done is done.
    let a = record(
        &acme,
        &lea,
        &course,
        &s[3],
        json!({ "time_spent_seconds": 5 }),
    )
    .await;
    assert_eq!(a.code(), "enrollment_not_active");
    assert_eq!(
        enroll(&acme, &lea, &course).await.code(),
        "already_completed"
    );
    let a = acme
        .send_as(
            &lea,
            Method::POST,
            &format!("/api/v1/enrollments/{enrollment}/drop"),
            None,
        )
        .await;
    assert_eq!(a.code(), "invalid_transition");

    // The feed tells the story.
    let feed = acme.get("/api/v1/events?limit=100").await;
    let types: Vec<&str> = feed.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in [
        "enrollment.created",
        "progress.recorded",
        "enrollment.completed",
        "certificate.issued",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    assert!(
        !feed.text.contains(&code),
        "the feed does not reveal certificate codes"
    );
}

#[tokio::test]
async fn enrollment_rules_and_their_codes() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (course, s) = published_course(&acme, "Rules").await;
    let draft = acme.create_course("Draft").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let (_, ian) = acme.user_with_role("ian@acme.test", "instructor").await;
    let (sam, _) = acme.user_with_role("sam@acme.test", "learner").await;

    // Drafts: invisible to learners, not enrollable for staff.
    assert_eq!(enroll(&acme, &lea, &draft).await.code(), "course_not_found");
    assert_eq!(
        enroll(&acme, &ian, &draft).await.code(),
        "course_not_published"
    );
    // Progress needs an enrollment.
    let a = record(
        &acme,
        &lea,
        &course,
        &s[0],
        json!({ "time_spent_seconds": 1 }),
    )
    .await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "not_enrolled"));
    // What a learner cannot see is not found, not "not enrolled".
    let lesson = acme
        .post(
            &format!("/api/v1/courses/{draft}/lessons"),
            json!({ "title": "L" }),
        )
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hidden = acme
        .post(
            &format!("/api/v1/courses/{draft}/lessons/{lesson}/sections"),
            json!({ "title": "S" }),
        )
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = record(
        &acme,
        &lea,
        &draft,
        &hidden,
        json!({ "time_spent_seconds": 1 }),
    )
    .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::NOT_FOUND, "section_not_found")
    );
    for c in [draft.clone(), Uuid::now_v7().to_string()] {
        let a = acme
            .send_as(
                &lea,
                Method::POST,
                &format!("/api/v1/courses/{c}/sessions"),
                None,
            )
            .await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::NOT_FOUND, "course_not_found")
        );
    }
    // A bulk entry longer than any e-mail address.
    let a = acme
        .post(
            &format!("/api/v1/courses/{course}/enrollments/bulk"),
            json!({ "users": ["x".repeat(321)] }),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_user")
    );

    let e = enroll(&acme, &lea, &course).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, code) in [
        (json!({ "time_spent_seconds": -1 }), "validation_failed"),
        (json!({ "time_spent_seconds": 86_401 }), "validation_failed"),
        (
            json!({ "time_spent_seconds": 1, "score": 100.5 }),
            "validation_failed",
        ),
        (
            json!({ "time_spent_seconds": 1, "score": -1 }),
            "validation_failed",
        ),
    ] {
        let a = record(&acme, &lea, &course, &s[0], body).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code)
        );
    }
    let a = record(
        &acme,
        &lea,
        &course,
        &Uuid::now_v7().to_string(),
        json!({ "time_spent_seconds": 1 }),
    )
    .await;
    assert_eq!(a.code(), "section_not_found");
    record(
        &acme,
        &lea,
        &course,
        &s[0],
        json!({ "time_spent_seconds": 10 }),
    )
    .await;

    // The lifecycle.
    let act = |what: &'static str| {
        let path = format!("/api/v1/enrollments/{e}/{what}");
        let (acme, lea) = (&acme, &lea);
        async move { acme.send_as(lea, Method::POST, &path, None).await }
    };
    assert_eq!(act("pause").await.json["status"], "PAUSED");
    assert_eq!(act("pause").await.code(), "invalid_transition");
    let a = record(
        &acme,
        &lea,
        &course,
        &s[1],
        json!({ "time_spent_seconds": 1 }),
    )
    .await;
    assert_eq!(a.code(), "enrollment_not_active");
    assert_eq!(act("resume").await.json["status"], "ACTIVE");
    assert_eq!(act("resume").await.code(), "invalid_transition");
    assert_eq!(act("drop").await.json["status"], "DROPPED");
    let a = record(
        &acme,
        &lea,
        &course,
        &s[1],
        json!({ "time_spent_seconds": 1 }),
    )
    .await;
    assert_eq!(a.code(), "enrollment_not_active");
    // Enrolling again restarts it, progress kept.
    let a = enroll(&acme, &lea, &course).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        (a.json["id"].as_str().unwrap(), &a.json["status"]),
        (e.as_str(), &json!("ACTIVE"))
    );
    assert_eq!(a.json["sections_done"], 1);

    // Managers: others, end dates; learners may not.
    let path = format!("/api/v1/courses/{course}/enrollments");
    let a = acme.post(&path, json!({ "user_id": Uuid::now_v7() })).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_user")
    );
    let a = acme
        .post(
            &path,
            json!({ "user_id": sam, "access_ends_at": "2001-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(a.code(), "access_end_in_past");
    acme.post(&format!("/api/v1/users/{sam}/deactivate"), json!({}))
        .await;
    let a = acme.post(&path, json!({ "user_id": sam })).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::CONFLICT, "inactive_user")
    );
    let a = acme
        .send_as(
            &lea,
            Method::PATCH,
            &format!("/api/v1/enrollments/{e}"),
            Some(json!({ "access_ends_at": null })),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    // Access that ended reads EXPIRED and takes no progress.
    let a = acme
        .patch(
            &format!("/api/v1/enrollments/{e}"),
            json!({ "access_ends_at": "2001-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(a.json["status"], "EXPIRED", "{}", a.text);
    let a = record(
        &acme,
        &lea,
        &course,
        &s[1],
        json!({ "time_spent_seconds": 1 }),
    )
    .await;
    assert_eq!(a.code(), "enrollment_not_active");
    assert_eq!(enroll(&acme, &lea, &course).await.code(), "access_ended");
    assert_eq!(act("resume").await.code(), "invalid_transition");
    let mine = acme
        .send_as(
            &lea,
            Method::GET,
            "/api/v1/me/enrollments?status=EXPIRED",
            None,
        )
        .await;
    assert_eq!(mine.json["items"][0]["id"], e.as_str());
}

#[tokio::test]
async fn concurrent_enrollments_and_progress_count_exactly() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (course, s) = published_course(&acme, "Busy").await;
    let (lea_id, lea) = acme.user_with_role("lea@acme.test", "learner").await;

    let answers = join_all((0..20).map(|_| enroll(&acme, &lea, &course))).await;
    let created = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    for a in &answers {
        assert!(
            a.status == StatusCode::CREATED || a.code() == "already_enrolled",
            "{} {}",
            a.status,
            a.text
        );
    }

    let answers = join_all((0..50).map(|_| {
        record(
            &acme,
            &lea,
            &course,
            &s[0],
            json!({ "time_spent_seconds": 10 }),
        )
    }))
    .await;
    assert!(answers.iter().all(|a| a.status == StatusCode::OK));
    let mut su = app.connect_as_superuser().await;
    let (time, attempts, rows): (i64, i64, i64) = sqlx::query_as(
        "SELECT sum(time_spent_seconds), sum(attempts_count), count(*) FROM progress WHERE user_id = $1",
    )
    .bind(lea_id)
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert_eq!((time, attempts, rows), (500, 50, 1));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollments WHERE user_id = $1")
        .bind(lea_id)
        .fetch_one(&mut su)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn another_learner_sees_nothing_of_the_first() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (course, s) = published_course(&acme, "Private").await;
    let (_, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let (_, max) = acme.user_with_role("max@acme.test", "learner").await;
    let e = enroll(&acme, &lea, &course).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    record(
        &acme,
        &lea,
        &course,
        &s[0],
        json!({ "time_spent_seconds": 10 }),
    )
    .await;

    let unknown = acme
        .send_as(
            &max,
            Method::GET,
            &format!("/api/v1/enrollments/{}", Uuid::now_v7()),
            None,
        )
        .await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/enrollments/{e}")),
        (Method::POST, format!("/api/v1/enrollments/{e}/pause")),
        (Method::POST, format!("/api/v1/enrollments/{e}/drop")),
    ] {
        let a = acme.send_as(&max, method, &path, None).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {}", a.text);
        assert_eq!(
            (a.code(), &a.json["message"]),
            (unknown.code(), &unknown.json["message"])
        );
    }
    let mine = acme
        .send_as(&max, Method::GET, "/api/v1/me/enrollments", None)
        .await;
    assert_eq!(mine.json["items"], json!([]));
    // The admin (enrollment:manage) sees it; the learner's own stays intact.
    assert_eq!(
        acme.get(&format!("/api/v1/enrollments/{e}")).await.json["status"],
        "ACTIVE"
    );
}

/// Runs `sql` as `lms_app` inside `org`, acting as `user`, and rolls back.
async fn attempt(
    conn: &mut sqlx::PgConnection,
    org: Uuid,
    sql: String,
    user: Uuid,
) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    let mut tx = lms_tests::acting_as(conn, org, user).await;
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *tx)
        .await;
    tx.rollback().await.unwrap();
    r
}

#[tokio::test]
async fn the_database_refuses_what_the_api_refuses_to_learners() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (course, s) = published_course(&acme, "Guarded").await;
    let (lea_id, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let (max_id, _) = acme.user_with_role("max@acme.test", "learner").await;
    let e = enroll(&acme, &lea, &course).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    record(
        &acme,
        &lea,
        &course,
        &s[0],
        json!({ "time_spent_seconds": 10 }),
    )
    .await;

    let mut conn = app.connect_as_app().await;
    let org = acme.org_id;
    let state = lms_tests::sql_outcome;
    for (why, sql) in [
        (
            "own grade",
            format!("UPDATE enrollments SET final_grade = 100 WHERE id = '{e}'"),
        ),
        (
            "own completion",
            format!("UPDATE enrollments SET status = 'COMPLETED' WHERE id = '{e}'"),
        ),
        (
            "own completion date",
            format!("UPDATE enrollments SET completed_at = now() WHERE id = '{e}'"),
        ),
        (
            "own certificate",
            format!("UPDATE enrollments SET certificate_url = 'https://x' WHERE id = '{e}'"),
        ),
        (
            "own end of access",
            format!(
                "UPDATE enrollments SET access_ends_at = now() + interval '1 year' WHERE id = '{e}'"
            ),
        ),
        (
            "a certificate for an unfinished course",
            format!(
                "INSERT INTO certificates (organization_id, id, code, enrollment_id, user_id, course_id, learner_name, course_title, completed_at) \
             VALUES ('{}', '{}', 'AAAAAAAAAAAAAAAAAAAAAAAAAA', '{e}', '{lea_id}', '{course}', 'x', 'x', now())",
                acme.org_id,
                Uuid::now_v7()
            ),
        ),
        (
            "a review in another's name",
            format!(
                "INSERT INTO reviews (organization_id, id, course_id, user_id, rating) VALUES ('{}', '{}', '{course}', '{max_id}', 5)",
                acme.org_id,
                Uuid::now_v7()
            ),
        ),
    ] {
        assert_eq!(
            state(attempt(&mut conn, org, sql, lea_id).await),
            "42501",
            "{why}"
        );
    }
    // Progress is written by the learner only (already so), and another's
    // review cannot be changed or removed.
    let mut su = app.connect_as_superuser().await;
    let review = Uuid::now_v7();
    sqlx::query("INSERT INTO reviews (organization_id, id, course_id, user_id, rating) VALUES ($1, $2, $3::uuid, $4, 4)")
        .bind(acme.org_id)
        .bind(review)
        .bind(&course)
        .bind(max_id)
        .execute(&mut su)
        .await
        .unwrap();
    for sql in [
        format!("UPDATE reviews SET rating = 1 WHERE id = '{review}'"),
        format!("DELETE FROM reviews WHERE id = '{review}'"),
    ] {
        assert_eq!(
            state(attempt(&mut conn, org, sql, lea_id).await),
            "ok, 0 rows"
        );
    }
    assert_eq!(
        state(
            attempt(
                &mut conn,
                org,
                format!("UPDATE reviews SET rating = 1 WHERE id = '{review}'"),
                max_id
            )
            .await
        ),
        "ok, 1 rows"
    );
    // An enrollment stays with its course; learners cannot remove theirs;
    // progress needs an active enrollment; instructors read progress but
    // neither change nor remove it.
    let (other, _) = published_course(&acme, "Elsewhere").await;
    let (ins_id, _) = acme.user_with_role("ins@acme.test", "instructor").await;
    assert_eq!(
        state(
            attempt(
                &mut conn,
                org,
                format!("UPDATE enrollments SET course_id = '{other}' WHERE id = '{e}'"),
                lea_id
            )
            .await
        ),
        "42501"
    );
    assert_eq!(
        state(
            attempt(
                &mut conn,
                org,
                format!("DELETE FROM enrollments WHERE id = '{e}'"),
                lea_id
            )
            .await
        ),
        "ok, 0 rows"
    );
    let lesson_of_other: String = sqlx::query_scalar(
        "SELECT id::text FROM lessons WHERE course_id = $1::uuid ORDER BY position LIMIT 1",
    )
    .bind(&other)
    .fetch_one(&mut su)
    .await
    .unwrap();
    let section_of_other: String = sqlx::query_scalar(
        "SELECT id::text FROM sections WHERE lesson_id = $1::uuid ORDER BY position LIMIT 1",
    )
    .bind(&lesson_of_other)
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert_eq!(
        state(attempt(&mut conn, org, format!(
            "INSERT INTO progress (organization_id, id, user_id, course_id, lesson_id, section_id, score) \
             VALUES ('{org}', '{}', '{lea_id}', '{other}', '{lesson_of_other}', '{section_of_other}', 100)", Uuid::now_v7()), lea_id).await),
        "42501",
        "progress without an enrollment"
    );
    for sql in [
        format!("DELETE FROM progress WHERE user_id = '{lea_id}'"),
        format!("UPDATE progress SET user_id = '{ins_id}' WHERE user_id = '{lea_id}'"),
        format!("DELETE FROM learning_sessions WHERE user_id = '{lea_id}'"),
    ] {
        assert_eq!(
            state(attempt(&mut conn, org, sql.clone(), ins_id).await),
            "ok, 0 rows",
            "{sql}"
        );
    }

    // What learners may do still works: pausing their own.
    assert_eq!(
        state(
            attempt(
                &mut conn,
                org,
                format!("UPDATE enrollments SET status = 'PAUSED' WHERE id = '{e}'"),
                lea_id
            )
            .await
        ),
        "ok, 1 rows"
    );
}

#[tokio::test]
async fn enrolled_learners_review_and_the_average_stays_exact() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (course, _) = published_course(&acme, "Rated").await;
    let (_, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let (_, max) = acme.user_with_role("max@acme.test", "learner").await;
    let reviews = format!("/api/v1/courses/{course}/reviews");
    let write = |token: String, body: Value| {
        let (acme, reviews) = (&acme, &reviews);
        async move {
            acme.send_as(&token, Method::POST, reviews, Some(body))
                .await
        }
    };

    let a = write(lea.clone(), json!({ "rating": 5 })).await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "not_enrolled"));
    enroll(&acme, &lea, &course).await;
    let a = write(lea.clone(), json!({ "rating": 6 })).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    let a = write(
        lea.clone(),
        json!({ "rating": 4, "body": "é".repeat(10_001) }),
    )
    .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        "{}",
        a.text
    );
    let a = write(
        lea.clone(),
        json!({ "rating": 4, "body": "Clear and useful." }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["author_name"], "Some One");
    let review = a.json["id"].as_str().unwrap().to_owned();
    let a = write(lea.clone(), json!({ "rating": 3 })).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::CONFLICT, "already_reviewed")
    );
    let detail = acme.get(&format!("/api/v1/courses/{course}")).await;
    assert_eq!(
        (
            &detail.json["course"]["rating_count"],
            &detail.json["course"]["average_rating"]
        ),
        (&json!(1), &json!(4.0))
    );

    // Only the author changes or removes it.
    let path = format!("/api/v1/reviews/{review}");
    let a = acme
        .send_as(&max, Method::PATCH, &path, Some(json!({ "rating": 1 })))
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::NOT_FOUND, "review_not_found")
    );
    let a = acme.send_as(&max, Method::DELETE, &path, None).await;
    assert_eq!(a.code(), "review_not_found");
    let a = acme
        .send_as(
            &lea,
            Method::PATCH,
            &path,
            Some(json!({ "rating": 2, "body": null })),
        )
        .await;
    assert_eq!(
        (a.json["rating"].as_i64(), &a.json["body"]),
        (Some(2), &Value::Null)
    );
    let detail = acme.get(&format!("/api/v1/courses/{course}")).await;
    assert_eq!(detail.json["course"]["average_rating"], 2.0);
    let list = acme.send_as(&max, Method::GET, &reviews, None).await;
    assert_eq!(list.json["items"][0]["id"], review.as_str());
    let a = acme.send_as(&lea, Method::DELETE, &path, None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let detail = acme.get(&format!("/api/v1/courses/{course}")).await;
    assert_eq!(detail.json["course"]["rating_count"], 0);

    // Ten learners at once: the count and the average are exact.
    let mut learners = Vec::new();
    for i in 0..10 {
        let (_, t) = acme
            .user_with_role(&format!("l{i}@acme.test"), "learner")
            .await;
        enroll(&acme, &t, &course).await;
        learners.push(t);
    }
    let answers = join_all(
        learners
            .iter()
            .enumerate()
            .map(|(i, t)| write(t.clone(), json!({ "rating": i % 5 + 1 }))),
    )
    .await;
    assert!(answers.iter().all(|a| a.status == StatusCode::CREATED));
    let detail = acme.get(&format!("/api/v1/courses/{course}")).await;
    assert_eq!(
        (
            &detail.json["course"]["rating_count"],
            &detail.json["course"]["average_rating"]
        ),
        (&json!(10), &json!(3.0))
    );
}

#[tokio::test]
async fn the_course_with_my_progress_is_one_statement_and_instructors_follow_their_learners() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (course, s) = published_course(&acme, "Followed").await;
    let (_, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let (_, max) = acme.user_with_role("max@acme.test", "learner").await;
    let (ian_id, ian) = acme.user_with_role("ian@acme.test", "instructor").await;
    for t in [&lea, &max] {
        enroll(&acme, t, &course).await;
    }
    record(
        &acme,
        &lea,
        &course,
        &s[0],
        json!({ "time_spent_seconds": 60 }),
    )
    .await;
    record(
        &acme,
        &lea,
        &course,
        &s[1],
        json!({ "time_spent_seconds": 30, "score": 80 }),
    )
    .await;
    for (i, section) in s[..3].iter().enumerate() {
        record(
            &acme,
            &max,
            &course,
            section,
            json!({ "time_spent_seconds": 10 * i, "score": 100 }),
        )
        .await;
    }

    // The learner's view: per section, per lesson, overall.
    let path = format!("/api/v1/courses/{course}/my-progress");
    acme.send_as(&lea, Method::GET, "/api/v1/me", None).await;
    let a = acme.send_as(&lea, Method::GET, &path, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let rid = a.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(
        lms_tests::round_trips_of(&rid),
        3,
        "BEGIN, the view, COMMIT"
    );
    let v = &a.json;
    assert_eq!(v["enrollment"]["status"], "ACTIVE");
    assert_eq!(
        (
            &v["sections_done"],
            &v["sections_required"],
            &v["progress_percent"]
        ),
        (&json!(2), &json!(3), &json!(66))
    );
    assert_eq!(v["time_spent_seconds"], 90);
    assert_eq!(v["lessons"][0]["progress_percent"], 100);
    assert_eq!(v["lessons"][1]["progress_percent"], 0);
    assert_eq!(v["lessons"][0]["sections"][1]["score"], 80.0);
    assert_eq!(v["lessons"][0]["sections"][1]["done"], true);
    assert_eq!(v["lessons"][1]["sections"][0]["done"], false);
    // Someone not enrolled sees the tree without an enrollment.
    let a = acme.send_as(&ian, Method::GET, &path, None).await;
    assert!(a.json["enrollment"].is_null());
    assert_eq!(a.json["sections_done"], 0);

    // The instructor's view.
    let learners = format!("/api/v1/courses/{course}/learners");
    let a = acme.send_as(&lea, Method::GET, &learners, None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // Instructors follow the learners of the courses they teach.
    let a = acme.send_as(&ian, Method::GET, &learners, None).await;
    assert_eq!(a.code(), "not_course_staff", "{}", a.text);
    acme.send_as(
        &acme.token,
        Method::PUT,
        &format!("/api/v1/courses/{course}/staff/{ian_id}"),
        Some(json!({ "role": "ASSISTANT" })),
    )
    .await;
    let a = acme.send_as(&ian, Method::GET, &learners, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        (
            &a.json["enrolled"],
            &a.json["completed"],
            &a.json["completion_rate"]
        ),
        (&json!(2), &json!(1), &json!(50.0))
    );
    let items = a.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let done = acme
        .send_as(
            &ian,
            Method::GET,
            &format!("{learners}?status=COMPLETED"),
            None,
        )
        .await;
    assert_eq!(done.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(done.json["items"][0]["email"], "max@acme.test");
    assert_eq!(done.json["items"][0]["progress_percent"], 100);
    let page = acme
        .send_as(&ian, Method::GET, &format!("{learners}?limit=1"), None)
        .await;
    let next = page.json["next_cursor"].as_str().unwrap().to_owned();
    let rest = acme
        .send_as(
            &ian,
            Method::GET,
            &format!("{learners}?limit=1&cursor={next}"),
            None,
        )
        .await;
    assert_ne!(
        page.json["items"][0]["user_id"],
        rest.json["items"][0]["user_id"]
    );

    // The same as CSV, formula-safe.
    acme.patch(
        &format!("/api/v1/users/{}", items[0]["user_id"].as_str().unwrap()),
        json!({ "first_name": "=HYPERLINK(1)" }),
    )
    .await;
    let csv = acme
        .send_as(&ian, Method::GET, &format!("{learners}.csv"), None)
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines.len(), 3, "{}", csv.text);
    assert!(lines[0].starts_with("enrollment_id,user_id,name,email,status"));
    assert!(csv.text.contains("'=HYPERLINK(1) One"), "{}", csv.text);
    assert!(csv.text.contains("max@acme.test"));
}

#[tokio::test]
async fn learning_sessions_are_timed_by_the_server_and_closed_when_abandoned() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (course, _) = published_course(&acme, "Timed").await;
    let (lea_id, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let (_, max) = acme.user_with_role("max@acme.test", "learner").await;
    let start = format!("/api/v1/courses/{course}/sessions");
    let a = acme.send_as(&lea, Method::POST, &start, None).await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "not_enrolled"));
    let e = enroll(&acme, &lea, &course).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let a = acme.send_as(&lea, Method::POST, &start, None).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let first = a.json["id"].as_str().unwrap().to_owned();
    let beat = |id: &str| format!("/api/v1/sessions/{id}/heartbeat");
    let a = acme
        .send_as(&lea, Method::POST, &beat(&first), Some(json!({ "events": [{ "kind": "video.play" }, { "kind": "video.pause", "at": 31 }] })))
        .await;
    assert_eq!(a.json["activity_count"], 2, "{}", a.text);
    let a = acme
        .send_as(&max, Method::POST, &beat(&first), Some(json!({})))
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::NOT_FOUND, "session_not_found")
    );
    let too_many: Vec<Value> = (0..101).map(|i| json!({ "i": i })).collect();
    let a = acme
        .send_as(
            &lea,
            Method::POST,
            &beat(&first),
            Some(json!({ "events": too_many })),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "activity_too_large")
    );
    let big: Vec<Value> = (0..100)
        .map(|_| json!({ "note": "x".repeat(400) }))
        .collect();
    let mut full = None;
    for _ in 0..3 {
        let a = acme
            .send_as(
                &lea,
                Method::POST,
                &beat(&first),
                Some(json!({ "events": big })),
            )
            .await;
        if a.status != StatusCode::OK {
            full = Some(a);
            break;
        }
    }
    let full = full.expect("the activity log is bounded");
    assert_eq!(
        (full.status, full.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "activity_too_large")
    );

    // A second start ends the first; an ended session takes no heartbeat.
    let a = acme.send_as(&lea, Method::POST, &start, None).await;
    let second = a.json["id"].as_str().unwrap().to_owned();
    let a = acme
        .send_as(&lea, Method::POST, &beat(&first), Some(json!({})))
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::CONFLICT, "session_ended")
    );
    let a = acme
        .send_as(
            &lea,
            Method::POST,
            &format!("/api/v1/sessions/{second}/end"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.json["ended_at"].is_string());
    assert!(a.json["duration_seconds"].as_i64().unwrap() >= 0);

    // Abandoned for two hours: it ends at its last heartbeat.
    let third = acme.send_as(&lea, Method::POST, &start, None).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut su = app.connect_as_superuser().await;
    sqlx::query(
        "UPDATE learning_sessions SET started_at = now() - interval '3 hours', \
                last_seen_at = now() - interval '2 hours' WHERE id = $1::uuid",
    )
    .bind(&third)
    .execute(&mut su)
    .await
    .unwrap();
    let a = acme
        .send_as(&lea, Method::POST, &beat(&third), Some(json!({})))
        .await;
    assert_eq!(a.code(), "session_ended");
    let (duration,): (i32,) = sqlx::query_as(
        "SELECT duration_seconds FROM learning_sessions WHERE id = $1::uuid AND ended_at = last_seen_at",
    )
    .bind(&third)
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert_eq!(duration, 3600);

    // The periodic sweep does the same for sessions nobody comes back to,
    // and marks enrollments whose access ended.
    let fourth = acme.send_as(&lea, Method::POST, &start, None).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sqlx::query(
        "UPDATE learning_sessions SET started_at = now() - interval '2 hours', \
                last_seen_at = now() - interval '1 hour' WHERE id = $1::uuid",
    )
    .bind(&fourth)
    .execute(&mut su)
    .await
    .unwrap();
    acme.patch(
        &format!("/api/v1/enrollments/{e}"),
        json!({ "access_ends_at": "2001-01-01T00:00:00Z" }),
    )
    .await;
    let swept = lms_api::maintenance::sweep(app.ctx()).await.unwrap();
    assert_eq!((swept.sessions_closed, swept.enrollments_expired), (1, 1));
    let status: String =
        sqlx::query_scalar("SELECT status::text FROM enrollments WHERE user_id = $1")
            .bind(lea_id)
            .fetch_one(&mut su)
            .await
            .unwrap();
    assert_eq!(status, "EXPIRED");
    let feed = acme
        .get(&format!(
            "/api/v1/events?type=enrollment.status_changed&subject_id={e}"
        ))
        .await;
    assert_eq!(
        feed.json["items"][0]["payload"]["to"], "EXPIRED",
        "{}",
        feed.text
    );
    assert!(feed.json["items"][0]["actor_id"].is_null());
    let a = acme.send_as(&lea, Method::POST, &start, None).await;
    assert_eq!(a.code(), "enrollment_not_active");
}

#[tokio::test]
async fn the_dashboard_is_one_statement_whatever_the_number_of_courses() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (lea_id, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    acme.send_as(&lea, Method::GET, "/api/v1/me", None).await;
    let dashboard = |n: usize| {
        let (acme, lea) = (&acme, &lea);
        async move {
            let a = acme
                .send_as(lea, Method::GET, "/api/v1/me/dashboard", None)
                .await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
            assert_eq!(a.json["active"].as_array().unwrap().len(), n);
            let rid = a.headers["x-request-id"].to_str().unwrap().to_owned();
            assert_eq!(
                lms_tests::round_trips_of(&rid),
                3,
                "BEGIN, the dashboard, COMMIT"
            );
            a.json
        }
    };
    dashboard(0).await;
    let mut courses = Vec::new();
    for i in 0..3 {
        let (c, s) = published_course(&acme, &format!("Course {i}")).await;
        enroll(&acme, &lea, &c).await;
        courses.push((c, s));
    }
    let (c0, s0) = &courses[0];
    record(
        &acme,
        &lea,
        c0,
        &s0[0],
        json!({ "time_spent_seconds": 100 }),
    )
    .await;
    record(
        &acme,
        &lea,
        c0,
        &s0[1],
        json!({ "time_spent_seconds": 50, "score": 60 }),
    )
    .await;
    let session = acme
        .send_as(
            &lea,
            Method::POST,
            &format!("/api/v1/courses/{c0}/sessions"),
            None,
        )
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    acme.send_as(
        &lea,
        Method::POST,
        &format!("/api/v1/sessions/{session}/end"),
        None,
    )
    .await;
    let d = dashboard(3).await;
    assert_eq!(d["time_spent_seconds"], 150);
    assert_eq!(d["streak_days"], 1);
    assert_eq!(d["recent_sessions"][0]["id"], session.as_str());
    let first = d["active"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["course_id"] == c0.as_str())
        .unwrap();
    assert_eq!(
        (&first["progress_percent"], &first["average_score"]),
        (&json!(66), &json!(60.0))
    );

    // Yesterday and the day before count too; a gap ends the streak.
    let mut su = app.connect_as_superuser().await;
    for days in [1, 2, 4] {
        sqlx::query(
            "INSERT INTO learning_sessions (organization_id, id, user_id, course_id, started_at, last_seen_at, ended_at, duration_seconds) \
             VALUES ($1, $2, $3, $4::uuid, now() - make_interval(days => $5), now() - make_interval(days => $5), now() - make_interval(days => $5), 0)",
        )
        .bind(acme.org_id)
        .bind(Uuid::now_v7())
        .bind(lea_id)
        .bind(c0)
        .bind(days)
        .execute(&mut su)
        .await
        .unwrap();
    }
    assert_eq!(dashboard(3).await["streak_days"], 3);
}

#[tokio::test]
async fn bulk_enrollment_reports_every_entry_and_a_malformed_file_changes_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (course, _) = published_course(&acme, "Cohort").await;
    let (lea, _) = acme.user_with_role("lea@acme.test", "learner").await;
    let (max, max_token) = acme.user_with_role("max@acme.test", "learner").await;
    let (sam, _) = acme.user_with_role("sam@acme.test", "learner").await;
    acme.post(&format!("/api/v1/users/{sam}/deactivate"), json!({}))
        .await;
    enroll(&acme, &max_token, &course).await;

    let a = acme
        .post(
            &format!("/api/v1/courses/{course}/enrollments/bulk"),
            json!({ "users": [" LEA@acme.test ", max.to_string(), "nobody@acme.test", "sam@acme.test", lea.to_string()] }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let outcomes: Vec<&str> = a.json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "enrolled",
            "already_enrolled",
            "unknown_user",
            "inactive_user",
            "duplicate"
        ]
    );
    assert_eq!(a.json["enrolled"], 1);

    // From a file.
    let (ada, _) = acme.user_with_role("ada@acme.test", "learner").await;
    let csv_path = format!("/api/v1/courses/{course}/enrollments/bulk.csv");
    let upload = |text: &str| {
        app.send(
            Method::POST,
            &acme.host,
            &csv_path,
            Some(&acme.token),
            Some(lms_tests::Body::Raw("text/csv", text.to_owned())),
        )
    };
    for bad in [
        "name\nAda\n",
        "email,name\n\"ada@acme.test,Ada\n",
        "email\n",
    ] {
        let a = upload(bad).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "malformed_csv"),
            "{bad}: {}",
            a.text
        );
    }
    let mut su = app.connect_as_superuser().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollments WHERE user_id = $1")
        .bind(ada)
        .fetch_one(&mut su)
        .await
        .unwrap();
    assert_eq!(n, 0, "a malformed file enrolls nobody");
    let a = upload("email,note\nada@acme.test,first\n\"lea@acme.test\",\"again, quoted\"\n").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["rows"][0]["outcome"], "enrolled");
    assert_eq!(a.json["rows"][1]["outcome"], "already_enrolled");
    assert_eq!(a.json["rows"][0]["user_id"], ada.to_string());

    // The same file as the `file` part of a form.
    let (ida, _) = acme.user_with_role("ida@acme.test", "learner").await;
    let form = |part: &str, text: &str| {
        format!(
            "--XBOUNDARY\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"l.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n{text}\r\n--XBOUNDARY--\r\n"
        )
    };
    let post_form = |body: String| {
        app.send(
            Method::POST,
            &acme.host,
            &csv_path,
            Some(&acme.token),
            Some(lms_tests::Body::Raw(
                "multipart/form-data; boundary=XBOUNDARY",
                body,
            )),
        )
    };
    let a = post_form(form("file", "user_id\nnobody\nida@acme.test\n")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        (&a.json["rows"][1]["outcome"], &a.json["rows"][1]["user_id"]),
        (&json!("enrolled"), &json!(ida))
    );
    let a = post_form(form("attachment", "email\nida@acme.test\n")).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::BAD_REQUEST, "invalid_body"),
        "{}",
        a.text
    );
    let a = post_form(form("file", "name\nIda\n")).await;
    assert_eq!(a.code(), "malformed_csv", "{}", a.text);
}

#[tokio::test]
async fn pacing_locks_lessons_and_the_score_rule_decides_the_score() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (course, s) = published_course(&acme, "Paced").await;
    let a = acme
        .patch(
            &format!("/api/v1/courses/{course}"),
            json!({ "pacing": "SEQUENTIAL", "score_rule": "LATEST" }),
        )
        .await;
    assert_eq!(
        (a.json["pacing"].as_str(), a.json["score_rule"].as_str()),
        (Some("SEQUENTIAL"), Some("LATEST")),
        "{}",
        a.text
    );
    let (lea_id, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    assert_eq!(
        enroll(&acme, &lea, &course).await.status,
        StatusCode::CREATED
    );
    let view = |token: String| {
        let (acme, course) = (&acme, &course);
        async move {
            acme.send_as(
                &token,
                Method::GET,
                &format!("/api/v1/courses/{course}/my-progress"),
                None,
            )
            .await
            .json
        }
    };
    let v = view(lea.clone()).await;
    let lessons = v["lessons"].as_array().unwrap();
    let one = lessons[0]["id"].as_str().unwrap().to_owned();
    let two = lessons[1]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["pacing"], "SEQUENTIAL");
    assert_eq!(
        lessons
            .iter()
            .map(|l| (
                l["locked"].as_bool().unwrap(),
                l["waits_for_lesson_id"].as_str()
            ))
            .collect::<Vec<_>>(),
        vec![
            (false, None),
            (true, Some(one.as_str())),
            (true, Some(one.as_str()))
        ]
    );

    // Lesson two waits for lesson one, in the API and in the database.
    let a = record(
        &acme,
        &lea,
        &course,
        &s[2],
        json!({ "time_spent_seconds": 5 }),
    )
    .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::CONFLICT, "section_locked"),
        "{}",
        a.text
    );
    assert!(a.json.get("unlocks_at").is_none(), "{}", a.text);
    let mut conn = app.connect_as_app().await;
    let lesson_two_row = format!(
        "INSERT INTO progress (organization_id, id, user_id, course_id, lesson_id, section_id, time_spent_seconds) \
         VALUES ('{}', '{}', '{lea_id}', '{course}', '{two}', '{}', 1) \
         ON CONFLICT (organization_id, user_id, section_id) \
         DO UPDATE SET time_spent_seconds = progress.time_spent_seconds + 1",
        acme.org_id,
        Uuid::now_v7(),
        s[2]
    );
    let refused = attempt(&mut conn, acme.org_id, lesson_two_row.clone(), lea_id).await;
    assert_eq!(
        refused
            .unwrap_err()
            .as_database_error()
            .and_then(|d| d.code())
            .as_deref(),
        Some("42501")
    );

    // The latest score counts; an attempt without a score keeps it.
    for (score, kept) in [(json!(90), 90.0), (json!(40), 40.0), (Value::Null, 40.0)] {
        let a = record(
            &acme,
            &lea,
            &course,
            &s[1],
            json!({ "time_spent_seconds": 5, "score": score }),
        )
        .await;
        assert_eq!(
            a.json["progress"]["score"].as_f64(),
            Some(kept),
            "{}",
            a.text
        );
    }
    record(
        &acme,
        &lea,
        &course,
        &s[0],
        json!({ "time_spent_seconds": 5 }),
    )
    .await;
    let v = view(lea.clone()).await;
    assert_eq!(v["lessons"][1]["locked"], false, "{v}");
    assert_eq!(v["lessons"][2]["waits_for_lesson_id"], json!(two), "{v}");

    // Drip: a date in the future locks, and says when.
    let at = chrono::Utc::now() + chrono::Duration::days(2);
    acme.patch(
        &format!("/api/v1/courses/{course}"),
        json!({ "pacing": "DRIP" }),
    )
    .await;
    let a = acme
        .patch(
            &format!("/api/v1/courses/{course}/lessons/{two}"),
            json!({ "unlock_at": at.to_rfc3339() }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    republish(&acme, &course).await;
    let a = record(
        &acme,
        &lea,
        &course,
        &s[2],
        json!({ "time_spent_seconds": 5 }),
    )
    .await;
    assert_eq!(a.code(), "section_locked", "{}", a.text);
    let when = |v: &Value| {
        v.as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
    };
    assert_eq!(when(&a.json["unlocks_at"]), Some(at.timestamp()));
    assert!(
        attempt(&mut conn, acme.org_id, lesson_two_row.clone(), lea_id)
            .await
            .is_err()
    );
    // Days after enrollment: 0 opens it at once, 3 from the enrollment.
    acme.patch(
        &format!("/api/v1/courses/{course}/lessons/{two}"),
        json!({ "unlock_at": null, "unlock_after_days": 0 }),
    )
    .await;
    republish(&acme, &course).await;
    let opened = attempt(&mut conn, acme.org_id, lesson_two_row, lea_id).await;
    assert!(opened.is_ok(), "{opened:?}");
    let a = record(
        &acme,
        &lea,
        &course,
        &s[2],
        json!({ "time_spent_seconds": 5 }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    acme.patch(
        &format!("/api/v1/courses/{course}/lessons/{two}"),
        json!({ "unlock_after_days": 3 }),
    )
    .await;
    republish(&acme, &course).await;
    // (A completed enrollment stays on its version: a newcomer gets it.)
    let (_, max) = acme.user_with_role("max@acme.test", "learner").await;
    enroll(&acme, &max, &course).await;
    let v = view(max).await;
    let enrolled = when(&v["enrollment"]["enrolled_at"]).unwrap();
    assert_eq!(v["lessons"][1]["locked"], true, "{v}");
    assert_eq!(
        when(&v["lessons"][1]["unlocks_at"]),
        Some(enrolled + 3 * 86_400)
    );
    // Free again: everything opens.
    acme.patch(
        &format!("/api/v1/courses/{course}"),
        json!({ "pacing": "FREE" }),
    )
    .await;
    let v = view(lea).await;
    assert!(
        v["lessons"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["locked"] == false),
        "{v}"
    );
}

#[tokio::test]
async fn a_learner_cannot_give_themselves_a_role_or_an_earlier_start() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (course, _) = published_course(&acme, "Dripping").await;
    let (lea_id, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let (max_id, _) = acme.user_with_role("max@acme.test", "learner").await;
    let (ann_id, _) = acme.user_with_role("ann@acme.test", "instructor").await;
    let e = enroll(&acme, &lea, &course).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut su = app.connect_as_superuser().await;
    let mut role = async |name: &str| -> Uuid {
        sqlx::query_scalar("SELECT id FROM roles WHERE organization_id = $1 AND name = $2")
            .bind(acme.org_id)
            .bind(name)
            .fetch_one(&mut su)
            .await
            .unwrap()
    };
    let (admin, learner) = (role("admin").await, role("learner").await);
    let mut conn = app.connect_as_app().await;
    let org = acme.org_id;
    let outcome = lms_tests::sql_outcome;
    let give = |user: Uuid, role: Uuid| {
        format!(
            "INSERT INTO user_roles (organization_id, user_id, role_id) VALUES ('{org}', '{user}', '{role}')"
        )
    };
    for (who, sql, expected) in [
        (lea_id, give(lea_id, admin), "42501"),
        (ann_id, give(max_id, admin), "42501"),
        (
            lea_id,
            format!("UPDATE roles SET permissions = '[\"role:manage\"]' WHERE id = '{learner}'"),
            "ok, 0 rows",
        ),
        (
            lea_id,
            format!(
                "INSERT INTO roles (organization_id, id, name, permissions) VALUES ('{org}', '{}', 'mine', '[\"role:manage\"]')",
                Uuid::now_v7()
            ),
            "42501",
        ),
        (
            lea_id,
            format!("DELETE FROM user_roles WHERE user_id = '{max_id}'"),
            "ok, 0 rows",
        ),
        // An admin still does all of it.
        (acme.admin_id, give(max_id, admin), "ok, 1 rows"),
    ] {
        assert_eq!(
            outcome(attempt(&mut conn, org, sql.clone(), who).await),
            expected,
            "{sql} as {who}"
        );
    }

    // The start of an enrollment is the database's clock, also when the
    // learner restarts it by hand.
    let mut tx = lms_tests::acting_as(&mut conn, org, lea_id).await;
    sqlx::query("UPDATE enrollments SET status = 'DROPPED' WHERE id = $1::uuid")
        .bind(&e)
        .execute(&mut *tx)
        .await
        .unwrap();
    let year: f64 = sqlx::query_scalar(
        "UPDATE enrollments SET status = 'ACTIVE', enrolled_at = '2000-01-01' WHERE id = $1::uuid \
         RETURNING extract(year FROM enrolled_at)::float8",
    )
    .bind(&e)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert!(year >= 2026.0, "the restart starts now, not in {year}");
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn deleted_lessons_and_sections_wait_in_the_trash_and_learners_keep_them() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let (course, s) = published_course(&acme, "Kept").await;
    let (_, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    enroll(&acme, &lea, &course).await;
    let a = record(
        &acme,
        &lea,
        &course,
        &s[0],
        json!({ "time_spent_seconds": 30 }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let c = format!("/api/v1/courses/{course}");
    let tree = acme.get(&c).await;
    let lesson = |i: usize| {
        tree.json["lessons"][i]["lesson"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (one, two) = (lesson(0), lesson(1));

    // Deleting sends to the trash, whatever learners did there.
    for path in [
        format!("{c}/lessons/{one}/sections/{}", s[0]),
        format!("{c}/lessons/{one}"),
    ] {
        let a = acme.delete(&path).await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "{path}: {}", a.text);
    }
    // Gone from every read of the course; the order stays dense.
    let tree = acme.get(&c).await;
    let lessons = tree.json["lessons"].as_array().unwrap();
    assert_eq!(lessons.len(), 2, "{}", tree.text);
    assert_eq!(lessons[0]["lesson"]["id"], json!(two));
    assert_eq!(lessons[0]["lesson"]["position"], 0);
    assert_eq!(
        acme.get(&format!("{c}/lessons/{one}")).await.code(),
        "lesson_not_found"
    );
    assert_eq!(
        acme.get(&format!("{c}/lessons")).await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The learner, on the version they enrolled in, keeps it: their record
    // stays and they go on with it.
    let mine = acme
        .send_as(&lea, Method::GET, &format!("{c}/my-progress"), None)
        .await;
    assert_eq!(mine.json["lessons"][0]["id"], json!(one), "{}", mine.text);
    assert_eq!(
        mine.json["lessons"][0]["sections"][0]["time_spent_seconds"],
        30
    );
    let a = record(
        &acme,
        &lea,
        &course,
        &s[1],
        json!({ "time_spent_seconds": 5, "score": 80 }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);

    // The trash shows the lesson, with where it belongs, to its tenant only.
    let t = acme.get("/api/v1/trash?type=lesson").await;
    assert_eq!(t.json["items"][0]["id"], json!(one), "{}", t.text);
    assert_eq!(t.json["items"][0]["course_id"], json!(course));
    assert_eq!(
        globex.get("/api/v1/trash?type=lesson").await.json["items"],
        json!([])
    );
    assert_eq!(
        globex
            .post(&format!("{c}/lessons/{one}/restore"), json!({}))
            .await
            .code(),
        "course_not_found"
    );

    // Nothing learners still need is purged: not what they worked on, not
    // what their version holds. The database says the same to anyone.
    for path in [
        format!("{c}/lessons/{one}?purge=true"),
        format!("{c}/lessons/{two}/sections/{}?purge=true", s[3]),
    ] {
        let a = acme.delete(&path).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::CONFLICT, "content_in_use"),
            "{path}"
        );
    }
    let mut su = app.connect_as_superuser().await;
    let err = sqlx::query("DELETE FROM sections WHERE id = $1::uuid")
        .bind(&s[0])
        .execute(&mut su)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("23001")
    );

    // Restored: the lesson at the end with the sections it left with; the
    // section deleted on its own before comes back on its own.
    let a = acme
        .post(&format!("{c}/lessons/{one}/restore"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["position"], 2);
    assert_eq!(
        acme.post(&format!("{c}/lessons/{one}/restore"), json!({}))
            .await
            .code(),
        "lesson_not_in_trash"
    );
    let ids = |a: Answer| -> Vec<String> {
        a.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let listed = acme.get(&format!("{c}/lessons/{one}/sections")).await;
    assert_eq!(ids(listed), [s[1].clone()]);
    assert_eq!(
        ids(acme.get("/api/v1/trash?type=section").await),
        [s[0].clone()]
    );
    let a = acme
        .post(
            &format!("{c}/lessons/{one}/sections/{}/restore", s[0]),
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["position"], 1);

    // Draft content nobody needs is purged for real, and the whole course
    // still can be.
    let fresh = acme
        .post(
            &format!("{c}/lessons/{two}/sections"),
            json!({ "title": "Draft only" }),
        )
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = acme
        .delete(&format!("{c}/lessons/{two}/sections/{fresh}?purge=true"))
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert_eq!(
        acme.get(&format!("{c}/lessons/{two}/sections/{fresh}"))
            .await
            .code(),
        "section_not_found"
    );
    assert_eq!(
        acme.delete(&format!("{c}?purge=true")).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn learners_stay_on_their_version_while_the_course_changes() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let (course, s) = published_course(&acme, "Versions").await;
    let c = format!("/api/v1/courses/{course}");
    let (_, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let (_, max) = acme.user_with_role("max@acme.test", "learner").await;
    let e = enroll(&acme, &lea, &course).await;
    let first = e.json["course_version"].as_i64().unwrap();
    let lea_enrollment = e.json["id"].as_str().unwrap().to_owned();
    let one = acme.get(&c).await.json["lessons"][0]["lesson"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Edited after publishing: a section renamed, one deleted, one added;
    // then published again.
    let a = acme
        .patch(
            &format!("{c}/lessons/{one}/sections/{}", s[0]),
            json!({ "title": "Read again" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = acme
        .delete(&format!("{c}/lessons/{one}/sections/{}", s[1]))
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let fresh = acme
        .post(
            &format!("{c}/lessons/{one}/sections"),
            json!({ "title": "Fresh", "type": "QUIZ" }),
        )
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Before the next publish, nobody learns from the draft.
    let a = record(
        &acme,
        &lea,
        &course,
        &fresh,
        json!({ "time_spent_seconds": 5 }),
    )
    .await;
    assert_eq!(a.code(), "section_not_found", "{}", a.text);
    let a = acme.post(&format!("{c}/publish"), json!({})).await;
    let second = a.json["version"].as_i64().unwrap();
    let e = enroll(&acme, &max, &course).await;
    assert_eq!(e.json["course_version"], second, "{}", e.text);
    let max_enrollment = e.json["id"].as_str().unwrap().to_owned();

    // A learner on the first version and one on the second see different
    // trees, in the course view and in their progress.
    let titles = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let view = |token: String, what: &'static str| {
        let (acme, c) = (&acme, &c);
        async move {
            acme.send_as(&token, Method::GET, &format!("{c}/{what}"), None)
                .await
        }
    };
    let v = view(lea.clone(), "my-version").await;
    assert_eq!(v.json["version"], first, "{}", v.text);
    assert_eq!(
        titles(&v.json["tree"]["lessons"][0]["sections"]),
        ["Read", "Quiz"]
    );
    let v = view(max.clone(), "my-version").await;
    assert_eq!(v.json["version"], second, "{}", v.text);
    assert_eq!(
        titles(&v.json["tree"]["lessons"][0]["sections"]),
        ["Read again", "Fresh"]
    );
    let p = view(lea.clone(), "my-progress").await;
    assert_eq!(titles(&p.json["lessons"][0]["sections"]), ["Read", "Quiz"]);
    assert_eq!(p.json["sections_required"], 3, "{}", p.text);
    let p = view(max.clone(), "my-progress").await;
    assert_eq!(
        titles(&p.json["lessons"][0]["sections"]),
        ["Read again", "Fresh"]
    );

    // Each records progress on their own version only.
    for (who, section, expected) in [
        (&lea, &s[1], "ok"),
        (&lea, &s[0], "ok"),
        (&lea, &fresh, "section_not_found"),
        (&max, &s[1], "section_not_found"),
        (&max, &fresh, "ok"),
    ] {
        let a = record(
            &acme,
            who,
            &course,
            section,
            json!({ "time_spent_seconds": 5, "score": 50 }),
        )
        .await;
        let got = if a.status.is_success() {
            "ok"
        } else {
            a.code()
        };
        assert_eq!(got, expected, "{section}: {}", a.text);
    }
    let e = acme
        .send_as(
            &lea,
            Method::GET,
            &format!("/api/v1/enrollments/{lea_enrollment}"),
            None,
        )
        .await;
    assert_eq!(
        (
            e.json["sections_done"].as_i64(),
            e.json["sections_required"].as_i64()
        ),
        (Some(2), Some(3)),
        "{}",
        e.text
    );

    // Moving to the latest version carries over what exists in both (the
    // renamed section), not what the new version dropped.
    let a = acme
        .send_as(
            &lea,
            Method::POST,
            &format!("/api/v1/enrollments/{lea_enrollment}/move-to-latest"),
            None,
        )
        .await;
    assert_eq!(a.json["course_version"], second, "{}", a.text);
    assert_eq!(
        (
            a.json["sections_done"].as_i64(),
            a.json["sections_required"].as_i64()
        ),
        (Some(1), Some(3)),
        "{}",
        a.text
    );
    let p = view(lea.clone(), "my-progress").await;
    let first = &p.json["lessons"][0]["sections"];
    assert_eq!(titles(first), ["Read again", "Fresh"]);
    assert_eq!(first[0]["done"], true, "{}", p.text);
    assert_eq!(first[1]["done"], false, "{}", p.text);
    // And the learner finishes on the new version's terms.
    for section in [&fresh, &s[2]] {
        let a = record(
            &acme,
            &lea,
            &course,
            section,
            json!({ "time_spent_seconds": 5, "score": 90 }),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    let e = acme
        .send_as(
            &lea,
            Method::GET,
            &format!("/api/v1/enrollments/{lea_enrollment}"),
            None,
        )
        .await;
    assert_eq!(e.json["status"], "COMPLETED", "{}", e.text);

    // Dropped, not enrolled, or another tenant: no version to read.
    let a = acme
        .send_as(
            &max,
            Method::POST,
            &format!("/api/v1/enrollments/{max_enrollment}/drop"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        view(max.clone(), "my-version").await.code(),
        "enrollment_not_active"
    );
    let (_, ned) = acme.user_with_role("ned@acme.test", "learner").await;
    assert_eq!(view(ned, "my-version").await.code(), "enrollment_not_found");
    assert_eq!(
        globex.get(&format!("{c}/my-version")).await.code(),
        "course_not_found"
    );
}

/// Round trips of the hot learning writes and of a login, counted (the
/// README lists them): each a fixed number, whatever the data.
#[tokio::test]
async fn login_enrollment_and_progress_take_a_fixed_number_of_round_trips() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (course, sections) = published_course(&acme, "Counted").await;
    acme.user_with_role("counted@acme.test", "learner").await;
    let trips = |a: &Answer| lms_tests::round_trips_of(a.headers["x-request-id"].to_str().unwrap());

    let login = acme.login("counted@acme.test", lms_tests::PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK);
    let token = login.json["access_token"].as_str().unwrap().to_owned();
    let enroll = acme
        .send_as(
            &token,
            Method::POST,
            &format!("/api/v1/courses/{course}/enrollment"),
            None,
        )
        .await;
    assert!(enroll.status.is_success(), "{}", enroll.text);
    let mut progress = Vec::new();
    for _ in 0..2 {
        let a = acme
            .send_as(
                &token,
                Method::PUT,
                &format!("/api/v1/courses/{course}/sections/{}/progress", sections[0]),
                Some(json!({ "time_spent_seconds": 30 })),
            )
            .await;
        assert!(a.status.is_success(), "{}", a.text);
        progress.push(a);
    }
    let (first, again) = (&progress[0], &progress[1]);
    assert_eq!(
        [trips(&login), trips(&enroll), trips(first), trips(again)],
        [6, 7, 9, 9],
        "login, enrollment, first progress, repeated progress"
    );
}
