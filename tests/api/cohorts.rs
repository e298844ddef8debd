//! Cohorts: groups of users enrolled in courses as a whole.

use lms_tests::{Answer, Tenant, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

async fn published(acme: &Tenant<'_>, title: &str) -> String {
    let course = acme.create_course(title).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = acme
        .post(&format!("/api/v1/courses/{course}/publish"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    course
}

fn outcomes(a: &Answer) -> Vec<String> {
    a.json["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", a.text))
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_owned())
        .collect()
}

async fn enrolled_in(acme: &Tenant<'_>, token: &str) -> Vec<String> {
    let a = acme
        .send_as(token, Method::GET, "/api/v1/me/enrollments", None)
        .await;
    let mut courses: Vec<String> = a.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["course_id"].as_str().unwrap().to_owned())
        .collect();
    courses.sort();
    courses
}

#[tokio::test]
async fn a_cohort_enrolls_its_members_and_the_ones_who_join_later() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let rust = published(&acme, "Rust").await;
    let draft = acme.create_course("Draft").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let (max_id, max) = acme.user_with_role("max@acme.test", "learner").await;
    let (_, sam) = acme.user_with_role("sam@acme.test", "learner").await;
    let (ann_id, _) = acme.user_with_role("ann@acme.test", "learner").await;

    let a = acme
        .post("/api/v1/cohorts", json!({ "name": "Spring 2027" }))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let cohort = a.json["id"].as_str().unwrap().to_owned();
    for (body, status, code) in [
        (
            json!({ "name": "spring 2027" }),
            StatusCode::CONFLICT,
            "cohort_name_taken",
        ),
        (
            json!({ "name": "  " }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
    ] {
        let a = acme.post("/api/v1/cohorts", body).await;
        assert_eq!((a.status, a.code()), (status, code), "{}", a.text);
    }

    let members = format!("/api/v1/cohorts/{cohort}/members");
    let a = acme
        .post(
            &members,
            json!({ "users": ["lea@acme.test", max_id.to_string(), "LEA@acme.test", "nobody@acme.test"] }),
        )
        .await;
    assert_eq!(
        outcomes(&a),
        ["added", "added", "duplicate", "unknown_user"],
        "{}",
        a.text
    );

    // Linking a course enrolls every member; a draft is refused.
    let courses = format!("/api/v1/cohorts/{cohort}/courses");
    let a = acme.post(&courses, json!({ "course_id": rust })).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(
        (outcomes(&a), &a.json["enrolled"]),
        (vec!["enrolled".to_owned(); 2], &json!(2))
    );
    assert_eq!(enrolled_in(&acme, &lea).await, std::slice::from_ref(&rust));
    let a = acme.post(&courses, json!({ "course_id": draft })).await;
    assert_eq!(a.code(), "course_not_published", "{}", a.text);

    // A member who joins later is enrolled in the cohort's courses.
    acme.post(&format!("/api/v1/users/{ann_id}/deactivate"), json!({}))
        .await;
    let a = acme
        .post(
            &members,
            json!({ "users": ["sam@acme.test", "ann@acme.test", "max@acme.test"] }),
        )
        .await;
    assert_eq!(outcomes(&a), ["added", "inactive_user", "already_member"]);
    assert_eq!(a.json["rows"][0]["enrolled"], 1, "{}", a.text);
    assert_eq!(enrolled_in(&acme, &sam).await, std::slice::from_ref(&rust));

    // Leaving keeps the enrollment; linking again enrolls nobody twice.
    let a = acme.delete(&format!("{members}/{max_id}")).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert_eq!(
        acme.delete(&format!("{members}/{max_id}")).await.code(),
        "member_not_found"
    );
    assert_eq!(enrolled_in(&acme, &max).await, std::slice::from_ref(&rust));
    let a = acme.post(&courses, json!({ "course_id": rust })).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(outcomes(&a), ["already_enrolled", "already_enrolled"]);

    // The cohort, its members (paged) and its courses.
    let c = acme.get(&format!("/api/v1/cohorts/{cohort}")).await;
    assert_eq!(
        (&c.json["member_count"], &c.json["course_count"]),
        (&json!(2), &json!(1))
    );
    let page = acme.get(&format!("{members}?limit=1")).await;
    let next = page.json["next_cursor"].as_str().unwrap().to_owned();
    let rest = acme.get(&format!("{members}?limit=1&cursor={next}")).await;
    assert_ne!(
        page.json["items"][0]["user_id"],
        rest.json["items"][0]["user_id"]
    );
    assert!(rest.json["next_cursor"].is_null(), "{}", rest.text);
    assert_eq!(
        acme.get(&courses).await.json["items"][0]["course_id"],
        json!(rust)
    );

    // Unlinking stops enrolling newcomers; removing the cohort keeps
    // everyone's enrollments.
    let a = acme.delete(&format!("{courses}/{rust}")).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let (_, zoe) = acme.user_with_role("zoe@acme.test", "learner").await;
    let a = acme
        .post(&members, json!({ "users": ["zoe@acme.test"] }))
        .await;
    assert_eq!(a.json["enrolled"], 0, "{}", a.text);
    assert!(enrolled_in(&acme, &zoe).await.is_empty());
    assert_eq!(
        acme.delete(&format!("/api/v1/cohorts/{cohort}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        acme.get(&format!("/api/v1/cohorts/{cohort}")).await.code(),
        "cohort_not_found"
    );
    assert_eq!(enrolled_in(&acme, &lea).await, [rust]);
}

#[tokio::test]
async fn a_member_and_a_course_added_at_once_meet() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    for round in 0..3 {
        let course = published(&acme, &format!("Course {round}")).await;
        let cohort = acme
            .post(
                "/api/v1/cohorts",
                json!({ "name": format!("Race {round}") }),
            )
            .await
            .json["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let email = format!("racer{round}@acme.test");
        let (_, token) = acme.user_with_role(&email, "learner").await;
        let (members, courses) = (
            format!("/api/v1/cohorts/{cohort}/members"),
            format!("/api/v1/cohorts/{cohort}/courses"),
        );
        let (member, link) = tokio::join!(
            acme.post(&members, json!({ "users": [email] })),
            acme.post(&courses, json!({ "course_id": course })),
        );
        assert!(member.status.is_success() && link.status.is_success());
        assert_eq!(enrolled_in(&acme, &token).await, [course], "round {round}");
    }
}

#[tokio::test]
async fn cohorts_are_for_enrollment_managers_and_stay_in_their_tenant() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let (lea_id, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let (max_id, _) = acme.user_with_role("max@acme.test", "learner").await;
    let secret = "Remedial reading, confidential";
    let cohort = acme
        .post("/api/v1/cohorts", json!({ "name": secret }))
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    acme.post(
        &format!("/api/v1/cohorts/{cohort}/members"),
        json!({ "users": [max_id.to_string()] }),
    )
    .await;

    // A learner: refused by the API.
    let a = acme
        .send_as(&lea, Method::GET, "/api/v1/cohorts", None)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::FORBIDDEN, "permission_denied")
    );

    // Another tenant's admin: nothing, not even its existence.
    for path in [
        format!("/api/v1/cohorts/{cohort}"),
        format!("/api/v1/cohorts/{cohort}/members"),
        format!("/api/v1/cohorts/{cohort}/courses"),
    ] {
        let a = globex.get(&path).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::NOT_FOUND, "cohort_not_found"),
            "{path}"
        );
        assert!(!a.text.contains(secret));
    }
    let a = globex.get("/api/v1/cohorts").await;
    assert_eq!(a.json["items"], json!([]), "{}", a.text);
    let a = globex
        .post(
            &format!("/api/v1/cohorts/{cohort}/members"),
            json!({ "users": [lea_id.to_string()] }),
        )
        .await;
    assert_eq!(a.code(), "cohort_not_found", "{}", a.text);

    // The database: a learner neither reads the tenant's cohorts nor joins one.
    let mut conn = app.connect_as_app().await;
    let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, lea_id).await;
    let seen: Vec<(i64,)> = sqlx::query_as(
        "SELECT (SELECT count(*) FROM cohorts) + (SELECT count(*) FROM cohort_members) \
              + (SELECT count(*) FROM cohort_courses)",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(seen, [(0,)]);
    let joined = sqlx::query(
        "INSERT INTO cohort_members (organization_id, cohort_id, user_id) VALUES ($1, $2, $3)",
    )
    .bind(acme.org_id)
    .bind(cohort.parse::<Uuid>().unwrap())
    .bind(lea_id)
    .execute(&mut *tx)
    .await;
    let code = joined
        .unwrap_err()
        .as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned());
    // Either the foreign key (the cohort is invisible) or the policy refuses.
    assert!(
        matches!(code.as_deref(), Some("42501") | Some("23503")),
        "{code:?}"
    );
    tx.rollback().await.unwrap();
    // Their own membership is theirs to read.
    let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, max_id).await;
    let mine: Vec<Value> = sqlx::query_scalar("SELECT to_jsonb(m.user_id) FROM cohort_members m")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(mine, [json!(max_id)]);
    let removed = sqlx::query("DELETE FROM cohort_members")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(removed.rows_affected(), 0, "a member cannot leave by hand");
    tx.rollback().await.unwrap();
}
