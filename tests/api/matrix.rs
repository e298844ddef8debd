//! Every operation of the tenant API, tried by every default role and with
//! another tenant's token. Expectations come from the access table, not
//! from the test: a new operation without an access rule fails here.

use lms_api::access::{Access, tenant_access};
use lms_domain::{DEFAULT_ROLES, Permission};
use lms_tests::{Tenant, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Every operation of the tenant spec: (method, path template, operationId, has body).
pub(crate) fn operations() -> Vec<(Method, String, String, bool)> {
    let spec: Value = serde_json::from_str(&lms_api::tenant_spec()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((
                method.to_uppercase().parse().unwrap(),
                path.clone(),
                op["operationId"].as_str().unwrap().to_owned(),
                op.get("requestBody").is_some(),
            ));
        }
    }
    ops
}

/// A minimal valid body for each operation that takes one.
pub(crate) fn body_for(op: &str, n: usize) -> Value {
    match op {
        "createToken" => json!({ "email": "nobody@x.test", "password": "wrong password" }),
        "refreshToken" => json!({ "refresh_token": "not-a-token" }),
        "signUp" => {
            json!({ "email": format!("s{n}@x.test"), "password": lms_tests::PASSWORD, "first_name": "S", "last_name": "U" })
        }
        "updateMe" => json!({ "first_name": "Me" }),
        "changePassword" => {
            json!({ "current_password": "not the password", "new_password": "another password 123" })
        }
        "updateOrganizationSettings" => json!({ "self_signup": false }),
        "createUser" => {
            json!({ "email": format!("matrix{n}@acme.test"), "first_name": "M", "last_name": "X" })
        }
        "updateUser" => json!({ "first_name": "Renamed" }),
        "createRole" => json!({ "name": format!("role{n}"), "permissions": [] }),
        "updateRole" => json!({ "description": "changed" }),
        "createCourse" => json!({ "title": "Matrix course" }),
        "updateCourse" => json!({ "title": "Matrix course, renamed" }),
        "createLesson" => json!({ "title": "Matrix lesson" }),
        "updateLesson" => json!({ "title": "Matrix lesson, renamed" }),
        "reorderLessons" | "reorderSections" => json!({ "ids": [] }),
        "createSection" => json!({ "title": "Matrix section", "duration_minutes": 5 }),
        "updateSection" => json!({ "duration_minutes": 7 }),
        "createCategory" => json!({ "name": "Matrix", "slug": format!("matrix-{n}") }),
        "updateCategory" => json!({ "description": "changed" }),
        "createTag" => json!({ "name": format!("tag{n}") }),
        "enrollUser" => json!({ "user_id": uuid::Uuid::nil() }),
        "updateEnrollment" => json!({ "access_ends_at": null }),
        "recordProgress" => json!({ "time_spent_seconds": 10 }),
        "createReview" => json!({ "rating": 5 }),
        "heartbeatLearningSession" => json!({ "events": [] }),
        "bulkEnroll" => json!({ "users": ["nobody@acme.test"] }),
        // Sent as CSV (see `request_body`).
        "bulkEnrollCsv" => json!("email\nnobody@acme.test\n"),
        "updateReview" => json!({ "rating": 4 }),
        "createCohort" => json!({ "name": format!("Cohort {n}") }),
        "updateCohort" => json!({ "description": "changed" }),
        "addCohortMembers" => json!({ "users": ["target@acme.test", "nobody@acme.test"] }),
        "addCohortCourse" => json!({ "course_id": uuid::Uuid::nil() }),
        "setCourseStaff" => json!({ "role": "ASSISTANT" }),
        other => panic!("the matrix needs a request body for {other}: add one to body_for"),
    }
}

/// The request body of an operation, in its content type.
pub(crate) fn request_body(op: &str, n: usize) -> lms_tests::Body {
    match body_for(op, n) {
        Value::String(csv) if op == "bulkEnrollCsv" => lms_tests::Body::Raw("text/csv", csv),
        v => lms_tests::Body::Json(v),
    }
}

pub(crate) struct Fixture {
    pub(crate) course: String,
    lesson: String,
    section: String,
    category: String,
    tag: String,
    user: String,
    role: String,
    cohort: String,
}

pub(crate) async fn fixture(acme: &Tenant<'_>) -> Fixture {
    let id = |a: lms_tests::Answer| a.json["id"].as_str().unwrap().to_owned();
    let course = acme.create_course("Fixture").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lesson = id(acme
        .post(
            &format!("/api/v1/courses/{course}/lessons"),
            json!({ "title": "L" }),
        )
        .await);
    let section = id(acme
        .post(
            &format!("/api/v1/courses/{course}/lessons/{lesson}/sections"),
            json!({ "title": "S" }),
        )
        .await);
    let category = id(acme
        .post(
            "/api/v1/categories",
            json!({ "name": "Cat", "slug": "cat" }),
        )
        .await);
    let tag = id(acme
        .post("/api/v1/tags", json!({ "name": "fixture" }))
        .await);
    let (user, _) = acme.user_with_role("target@acme.test", "learner").await;
    let role = id(acme
        .post(
            "/api/v1/roles",
            json!({ "name": "fixture-role", "permissions": [] }),
        )
        .await);
    let cohort = id(acme
        .post("/api/v1/cohorts", json!({ "name": "Fixture cohort" }))
        .await);
    Fixture {
        cohort,
        course,
        lesson,
        section,
        category,
        tag,
        user: user.to_string(),
        role,
    }
}

pub(crate) fn fill(path: &str, f: &Fixture) -> String {
    format!("/api/v1{}", path)
        .replace("{course_id}", &f.course)
        .replace("{lesson_id}", &f.lesson)
        .replace("{section_id}", &f.section)
        .replace("{category_id}", &f.category)
        .replace("{tag_id}", &f.tag)
        .replace("{user_id}", &f.user)
        .replace("{role_id}", &f.role)
        .replace("{cohort_id}", &f.cohort)
        .replace("{version}", "1")
        .replace("{from}", "1")
        .replace("{to}", "2")
        .replace("{enrollment_id}", &uuid::Uuid::now_v7().to_string())
        .replace("{code}", "not-a-certificate-code")
        .replace("{review_id}", &uuid::Uuid::now_v7().to_string())
        .replace("{session_id}", &uuid::Uuid::now_v7().to_string())
}

#[tokio::test]
async fn every_default_role_on_every_operation_matches_the_access_table() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let f = fixture(&acme).await;
    let mut n = 0;
    for role in DEFAULT_ROLES {
        let (_, token) = acme
            .user_with_role(&format!("matrix-{}@acme.test", role.name), role.name)
            .await;
        for (method, path, op, has_body) in operations() {
            // Logging out ends the session the rest of the matrix uses; it
            // has a test of its own.
            if op == "logout" {
                continue;
            }
            n += 1;
            let access = tenant_access(&op).unwrap_or_else(|| panic!("{op}: no access rule"));
            let body = has_body.then(|| request_body(&op, n));
            let a = acme
                .app
                .send(
                    method.clone(),
                    &acme.host,
                    &fill(&path, &f),
                    Some(&token),
                    body,
                )
                .await;
            let allowed = match access {
                Access::Public | Access::Authenticated => true,
                Access::Requires(p) => role.permissions.contains(&p),
                Access::RequiresEither(p, q) => {
                    role.permissions.contains(&p) || role.permissions.contains(&q)
                }
                Access::Operator => unreachable!("{op}: a platform rule in the tenant table"),
            };
            if access == Access::Public {
                // Public operations judge the credentials in the body.
                assert_ne!(a.code(), "permission_denied", "{op}");
                assert!(a.status.as_u16() < 500, "{op} as {}: {}", role.name, a.text);
            } else if allowed {
                // Course-scoped operations: a user who is not the course's
                // staff (the fixture course is the admin's) is told so.
                let not_staff = matches!(a.code(), "not_course_staff" | "not_course_owner")
                    && !role.permissions.contains(&Permission::CourseWriteAny);
                assert!(
                    not_staff
                        || (a.status != StatusCode::FORBIDDEN
                            && a.status != StatusCode::UNAUTHORIZED),
                    "{} should be allowed {op}: {} {}",
                    role.name,
                    a.status,
                    a.text
                );
                assert!(a.status.as_u16() < 500, "{op} as {}: {}", role.name, a.text);
            } else {
                assert_eq!(
                    a.status,
                    StatusCode::FORBIDDEN,
                    "{} should be denied {op}: {}",
                    role.name,
                    a.text
                );
                assert_eq!(a.code(), "permission_denied", "{op}");
            }
        }
    }
}

#[tokio::test]
async fn another_tenants_token_is_refused_on_every_operation() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let f = fixture(&acme).await;
    let mut checked = 0;
    for (n, (method, path, op, has_body)) in operations().into_iter().enumerate() {
        if tenant_access(&op) == Some(Access::Public) {
            continue;
        }
        let body = has_body.then(|| request_body(&op, n));
        let a = app
            .send(
                method,
                &acme.host,
                &fill(&path, &f),
                Some(&globex.token),
                body,
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "{op} with globex's token on acme: {}",
            a.text
        );
        assert_eq!(a.code(), "unauthorized", "{op}");
        checked += 1;
    }
    assert!(checked >= 20, "operations checked: {checked}");
    // acme's fixture is untouched.
    assert_eq!(
        acme.get(&format!("/api/v1/courses/{}", f.course))
            .await
            .json["course"]["title"],
        "Fixture"
    );
}
