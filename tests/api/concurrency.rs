//! Optimistic concurrency: entity tags on reads, If-Match or `version` on
//! writes, and no lost update between two writers.

use lms_tests::{Answer, Body, Tenant, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn patch_if(t: &Tenant<'_>, path: &str, tag: Option<&str>, body: Value) -> Answer {
    let headers: Vec<(&str, &str)> = tag.map(|v| ("if-match", v)).into_iter().collect();
    t.app
        .send_with(
            Method::PATCH,
            &t.host,
            path,
            Some(&t.token),
            Some(Body::Json(body)),
            &headers,
        )
        .await
}

fn etag(a: &Answer) -> String {
    a.headers["etag"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_stale_change_is_refused_and_two_writers_never_lose_an_update() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let course = acme.create_course("Edited").await["id"]
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
    let section = format!(
        "/api/v1/courses/{course}/lessons/{lesson}/sections/{}",
        acme.post(
            &format!("/api/v1/courses/{course}/lessons/{lesson}/sections"),
            json!({ "title": "S" })
        )
        .await
        .json["id"]
            .as_str()
            .unwrap()
    );

    // The entity tag is the version; a change moves it.
    let read = acme.get(&section).await;
    assert_eq!(etag(&read), "\"1\"");
    let a = patch_if(&acme, &section, Some("\"1\""), json!({ "title": "S1" })).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        (etag(&a), &a.json["version"]),
        ("\"2\"".to_owned(), &json!(2))
    );
    // Stale: 412 through If-Match, 409 through the body; nothing written.
    let a = patch_if(&acme, &section, Some("\"1\""), json!({ "title": "lost" })).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::PRECONDITION_FAILED, "precondition_failed")
    );
    let a = patch_if(
        &acme,
        &section,
        None,
        json!({ "title": "lost", "version": 1 }),
    )
    .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::CONFLICT, "version_conflict")
    );
    assert_eq!(acme.get(&section).await.json["title"], "S1");
    // An unquoted tag is not one this API sent: it never matches.
    let a = patch_if(&acme, &section, Some("2"), json!({ "title": "x" })).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::PRECONDITION_FAILED, "precondition_failed")
    );
    let a = patch_if(&acme, &section, Some("*"), json!({ "title": "S2" })).await;
    assert_eq!(a.status, StatusCode::OK);
    // A change of nothing keeps the version.
    let same = patch_if(&acme, &section, None, json!({ "title": "S2" })).await;
    assert_eq!(same.json["version"], 3);

    // Two writers from the same read: one wins, the other is told.
    let lesson_path = format!("/api/v1/courses/{course}/lessons/{lesson}");
    for round in 0..5 {
        let tag = etag(&acme.get(&lesson_path).await);
        let (a, b) = tokio::join!(
            patch_if(
                &acme,
                &lesson_path,
                Some(&tag),
                json!({ "title": format!("A{round}") })
            ),
            patch_if(
                &acme,
                &lesson_path,
                Some(&tag),
                json!({ "title": format!("B{round}") })
            ),
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 412], "{} / {}", a.text, b.text);
        let winner = if a.status == StatusCode::OK { &a } else { &b };
        assert_eq!(
            acme.get(&lesson_path).await.json["title"],
            winner.json["title"]
        );
    }

    // Courses take If-Match too.
    let course_path = format!("/api/v1/courses/{course}");
    let v = acme.get(&course_path).await.json["course"]["version"]
        .as_i64()
        .unwrap();
    let stale = format!("\"{}\"", v - 1);
    let a = patch_if(
        &acme,
        &course_path,
        Some(&stale),
        json!({ "title": "Late" }),
    )
    .await;
    assert_eq!(a.code(), "precondition_failed", "{}", a.text);

    // Users, roles and categories too; a login does not move a user's version.
    let (lea, _) = acme.user_with_role("lea@acme.test", "learner").await;
    let user = format!("/api/v1/users/{lea}");
    let read = acme.get(&user).await;
    let v = read.json["version"].as_i64().unwrap();
    assert_eq!(etag(&read), format!("\"{v}\""));
    acme.login("lea@acme.test", lms_tests::PASSWORD).await;
    let a = patch_if(
        &acme,
        &user,
        Some(&format!("\"{v}\"")),
        json!({ "first_name": "Lea" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = patch_if(
        &acme,
        &user,
        Some(&format!("\"{v}\"")),
        json!({ "first_name": "Late" }),
    )
    .await;
    assert_eq!(a.code(), "precondition_failed", "{}", a.text);
    let role = acme
        .post(
            "/api/v1/roles",
            json!({ "name": "editor", "permissions": [] }),
        )
        .await;
    let role_path = format!("/api/v1/roles/{}", role.json["id"].as_str().unwrap());
    let v = role.json["version"].as_i64().unwrap();
    acme.patch(&role_path, json!({ "description": "first" }))
        .await;
    let a = patch_if(
        &acme,
        &role_path,
        None,
        json!({ "description": "second", "version": v }),
    )
    .await;
    assert_eq!(a.code(), "version_conflict", "{}", a.text);
    let cat = acme
        .post(
            "/api/v1/categories",
            json!({ "name": "Cat", "slug": "cat" }),
        )
        .await;
    let cat_path = format!("/api/v1/categories/{}", cat.json["id"].as_str().unwrap());
    let a = patch_if(
        &acme,
        &cat_path,
        Some("\"1\""),
        json!({ "description": "d" }),
    )
    .await;
    assert_eq!(a.json["version"], 2, "{}", a.text);
    let a = patch_if(
        &acme,
        &cat_path,
        Some("\"1\""),
        json!({ "description": "e" }),
    )
    .await;
    assert_eq!(a.code(), "precondition_failed", "{}", a.text);
}

#[tokio::test]
async fn a_course_read_from_the_cache_carries_its_version_and_answers_304_when_unchanged() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let course = acme.create_course("Tagged").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/courses/{course}");
    let get_if = |tag: String| {
        let (acme, path) = (&acme, &path);
        async move {
            acme.app
                .send_with(
                    Method::GET,
                    &acme.host,
                    path,
                    Some(&acme.token),
                    None,
                    &[("if-none-match", tag.as_str())],
                )
                .await
        }
    };
    // Read twice: from the database, then from the cache; same tag.
    let first = acme.get(&path).await;
    let tag = etag(&first);
    assert!(
        tag.starts_with(&format!("\"{}-", first.json["course"]["version"])),
        "{tag}"
    );
    let hits = app.ctx().catalog.hits();
    let second = acme.get(&path).await;
    assert_eq!(app.ctx().catalog.hits(), hits + 1, "served from the cache");
    assert_eq!(etag(&second), tag);
    // The client's copy is current: no body.
    let a = get_if(tag.clone()).await;
    assert_eq!(a.status, StatusCode::NOT_MODIFIED);
    assert!(a.text.is_empty());
    assert_eq!(etag(&a), tag);
    assert_eq!(
        get_if(format!("W/{tag}")).await.status,
        StatusCode::NOT_MODIFIED
    );
    // The tag serves a conditional write; the change moves it.
    let a = patch_if(&acme, &path, Some(&tag), json!({ "title": "Tagged 2" })).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = get_if(tag.clone()).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_ne!(etag(&a), tag);
    assert_eq!(a.json["course"]["title"], "Tagged 2");
    let a = patch_if(&acme, &path, Some(&tag), json!({ "title": "Lost" })).await;
    assert_eq!(a.status, StatusCode::PRECONDITION_FAILED, "{}", a.text);
}
