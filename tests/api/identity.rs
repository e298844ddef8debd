//! Identity: sessions and refresh tokens, users, roles, the caller's own
//! account, sign-up, login limits, platform admins.

use lms_tests::{Body, PASSWORD, PLATFORM_HOST, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_whole_session() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let login = acme.login("admin@acme.test", PASSWORD).await;
    let first_refresh = login.json["refresh_token"].as_str().unwrap().to_owned();
    assert!(login.json["refresh_expires_in"].as_u64().unwrap() > 0);

    let refresh = |token: String| {
        let app = &app;
        let host = acme.host.clone();
        async move {
            app.send(
                Method::POST,
                &host,
                "/api/v1/auth/refresh",
                None,
                Some(Body::Json(json!({ "refresh_token": token }))),
            )
            .await
        }
    };
    let second = refresh(first_refresh.clone()).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let access2 = second.json["access_token"].as_str().unwrap().to_owned();
    let refresh2 = second.json["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, first_refresh);
    assert_eq!(
        acme.send_as(&access2, Method::GET, "/api/v1/me", None)
            .await
            .status,
        StatusCode::OK
    );
    // Same session.
    assert_eq!(
        lms_tests::claims(&access2)["sid"],
        lms_tests::claims(login.json["access_token"].as_str().unwrap())["sid"]
    );

    // The spent token presented again: refused, and the whole family ends.
    let reused = refresh(first_refresh).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reused.code(), "unauthorized");
    assert_eq!(
        acme.send_as(&access2, Method::GET, "/api/v1/me", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(refresh(refresh2).await.status, StatusCode::UNAUTHORIZED);
    // Other sessions of the same user are not affected.
    assert_eq!(acme.get("/api/v1/me").await.status, StatusCode::OK);

    // Garbage and another tenant's refresh token are just invalid.
    assert_eq!(
        refresh("garbage".into()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let globex = app.tenant("globex").await;
    let g = globex.login("admin@globex.test", PASSWORD).await;
    let theirs = g.json["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        refresh(theirs.clone()).await.status,
        StatusCode::UNAUTHORIZED
    );
    // ...and presenting it on the wrong host did not spend or revoke it.
    let ok = app
        .send(
            Method::POST,
            &globex.host,
            "/api/v1/auth/refresh",
            None,
            Some(Body::Json(json!({ "refresh_token": theirs }))),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let login = acme.login("admin@acme.test", PASSWORD).await;
    let access = login.json["access_token"].as_str().unwrap().to_owned();
    let refresh = login.json["refresh_token"].as_str().unwrap().to_owned();
    let out = acme
        .send_as(&access, Method::POST, "/api/v1/auth/logout", None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        acme.send_as(&access, Method::GET, "/api/v1/me", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .send(
            Method::POST,
            &acme.host,
            "/api/v1/auth/refresh",
            None,
            Some(Body::Json(json!({ "refresh_token": refresh }))),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        acme.get("/api/v1/me").await.status,
        StatusCode::OK,
        "the harness's own session lives on"
    );
}

#[tokio::test]
async fn password_change_ends_other_sessions_and_keeps_this_one() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = acme.login("admin@acme.test", PASSWORD).await;
    let other_access = other.json["access_token"].as_str().unwrap().to_owned();
    let other_refresh = other.json["refresh_token"].as_str().unwrap().to_owned();

    let wrong = acme
        .post(
            "/api/v1/me/password",
            json!({ "current_password": "not it at all", "new_password": "a brand new password" }),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.code(), "wrong_password");
    let short = acme
        .post(
            "/api/v1/me/password",
            json!({ "current_password": PASSWORD, "new_password": "short" }),
        )
        .await;
    assert_eq!(short.code(), "validation_failed");

    let ok = acme
        .post(
            "/api/v1/me/password",
            json!({ "current_password": PASSWORD, "new_password": "a brand new password" }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text);
    assert_eq!(
        acme.get("/api/v1/me").await.status,
        StatusCode::OK,
        "this session goes on"
    );
    assert_eq!(
        acme.send_as(&other_access, Method::GET, "/api/v1/me", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .send(
            Method::POST,
            &acme.host,
            "/api/v1/auth/refresh",
            None,
            Some(Body::Json(json!({ "refresh_token": other_refresh }))),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        acme.login("admin@acme.test", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        acme.login("admin@acme.test", "a brand new password")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn deactivation_stops_a_user_and_reactivation_lets_them_log_in_again() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (id, token) = acme.user_with_role("lea@acme.test", "learner").await;
    assert_eq!(
        acme.send_as(&token, Method::GET, "/api/v1/me", None)
            .await
            .status,
        StatusCode::OK
    );
    let d = acme
        .post(&format!("/api/v1/users/{id}/deactivate"), json!(null))
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(d.json["is_active"], false);
    assert_eq!(
        acme.send_as(&token, Method::GET, "/api/v1/me", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        acme.login("lea@acme.test", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = acme
        .post(&format!("/api/v1/users/{id}/reactivate"), json!(null))
        .await;
    assert_eq!(r.json["is_active"], true);
    assert_eq!(
        acme.send_as(&token, Method::GET, "/api/v1/me", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "old sessions stay ended"
    );
    assert_eq!(
        acme.login("lea@acme.test", PASSWORD).await.status,
        StatusCode::OK
    );

    let me = acme
        .post(
            &format!("/api/v1/users/{}/deactivate", acme.admin_id),
            json!(null),
        )
        .await;
    assert_eq!(me.status, StatusCode::CONFLICT);
    assert_eq!(me.code(), "cannot_deactivate_self");
}

#[tokio::test]
async fn users_are_unique_per_organization_and_listed_with_filters() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let a = acme
        .post("/api/v1/users", json!({ "email": "  Ann@Example.ORG ", "first_name": "Ann", "last_name": "Lee", "username": "Ann.Lee" }))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["email"], "ann@example.org");
    assert_eq!(a.json["username"], "ann.lee");
    assert_eq!(a.json["roles"], json!(["learner"]));
    let dup = acme
        .post(
            "/api/v1/users",
            json!({ "email": "ANN@example.org", "first_name": "A", "last_name": "B" }),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.code(), "email_taken");
    let dup = acme.post("/api/v1/users", json!({ "email": "x@example.org", "first_name": "A", "last_name": "B", "username": "ann.lee" })).await;
    assert_eq!(dup.code(), "username_taken");
    // The same person may belong to another tenant as another user.
    let other = globex
        .post(
            "/api/v1/users",
            json!({ "email": "ann@example.org", "first_name": "Ann", "last_name": "Lee" }),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED);

    acme.post("/api/v1/users", json!({ "email": "bob@example.org", "first_name": "Bob", "last_name": "Stone", "roles": ["instructor"] })).await;
    acme.post(
        "/api/v1/users",
        json!({ "email": "cy@example.org", "first_name": "Cy", "last_name": "Stone" }),
    )
    .await;
    let names = |a: &lms_tests::Answer| -> Vec<String> {
        a.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&acme.get("/api/v1/users?role=instructor").await),
        ["bob@example.org"]
    );
    assert_eq!(
        names(&acme.get("/api/v1/users?q=stone").await),
        ["cy@example.org", "bob@example.org"]
    );
    assert_eq!(
        names(&acme.get("/api/v1/users?q=%25").await),
        Vec::<String>::new(),
        "LIKE wildcards are literal"
    );
    let page = acme.get("/api/v1/users?limit=2").await;
    assert_eq!(page.json["items"].as_array().unwrap().len(), 2);
    let next = acme
        .get(&format!(
            "/api/v1/users?limit=2&cursor={}",
            page.json["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        next.json["items"].as_array().unwrap().len(),
        2,
        "4 users in all"
    );
    let id = a.json["id"].as_str().unwrap();
    acme.post(&format!("/api/v1/users/{id}/deactivate"), json!(null))
        .await;
    assert_eq!(
        names(&acme.get("/api/v1/users?active=false").await),
        ["ann@example.org"]
    );

    let up = acme
        .patch(
            &format!("/api/v1/users/{id}"),
            json!({ "last_name": "Leigh", "username": null }),
        )
        .await;
    assert_eq!(up.json["last_name"], "Leigh");
    assert_eq!(up.json["username"], serde_json::Value::Null);
    // globex cannot see or touch acme's user.
    let g = globex.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    assert!(
        !g.text.contains("ann@example.org")
            || g.text.contains("user_not_found") && !g.text.contains("Leigh")
    );
    assert_eq!(
        globex
            .patch(&format!("/api/v1/users/{id}"), json!({ "last_name": "X" }))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        globex
            .post(&format!("/api/v1/users/{id}/deactivate"), json!(null))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        names(&globex.get("/api/v1/users?q=stone").await),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn roles_grant_permissions_and_guard_against_lockout() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let roles = acme.get("/api/v1/roles").await;
    let names: Vec<&str> = roles.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "instructor", "learner"]);
    assert!(
        roles.json["known_permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("course:write"))
    );

    let bad = acme
        .post(
            "/api/v1/roles",
            json!({ "name": "editor", "permissions": ["course:fly"] }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.code(), "validation_failed");
    assert_eq!(bad.json["details"][0]["field"], "permissions.0");
    let editor = acme
        .post(
            "/api/v1/roles",
            json!({ "name": "editor", "permissions": ["course:write", "course:write"] }),
        )
        .await;
    assert_eq!(editor.status, StatusCode::CREATED, "{}", editor.text);
    assert_eq!(editor.json["permissions"], json!(["course:write"]));
    let dup = acme
        .post(
            "/api/v1/roles",
            json!({ "name": "editor", "permissions": [] }),
        )
        .await;
    assert_eq!(dup.code(), "role_name_taken");
    let editor_id = editor.json["id"].as_str().unwrap();

    let (lea, token) = acme.user_with_role("lea@acme.test", "learner").await;
    let create = || {
        acme.send_as(
            &token,
            Method::POST,
            "/api/v1/courses",
            Some(json!({ "title": "By Lea" })),
        )
    };
    assert_eq!(create().await.status, StatusCode::FORBIDDEN);
    let given = acme
        .send_as(
            &acme.token,
            Method::PUT,
            &format!("/api/v1/users/{lea}/roles/{editor_id}"),
            None,
        )
        .await;
    assert_eq!(given.json["roles"], json!(["editor", "learner"]));
    assert_eq!(
        create().await.status,
        StatusCode::CREATED,
        "the new permission applies at once"
    );
    acme.delete(&format!("/api/v1/users/{lea}/roles/{editor_id}"))
        .await;
    assert_eq!(
        create().await.status,
        StatusCode::FORBIDDEN,
        "and is gone at once"
    );

    let by_name = |n: &str| {
        roles.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let admin_role = by_name("admin");
    let r = acme
        .patch(
            &format!("/api/v1/roles/{admin_role}"),
            json!({ "permissions": [] }),
        )
        .await;
    assert_eq!(r.code(), "system_role_locked");
    let r = acme
        .patch(
            &format!("/api/v1/roles/{}", by_name("learner")),
            json!({ "name": "student" }),
        )
        .await;
    assert_eq!(r.code(), "system_role_locked");
    let r = acme
        .delete(&format!("/api/v1/roles/{}", by_name("instructor")))
        .await;
    assert_eq!(r.code(), "system_role_locked");
    // The only admin cannot lose the admin role: nobody could manage roles.
    let r = acme
        .delete(&format!(
            "/api/v1/users/{}/roles/{admin_role}",
            acme.admin_id
        ))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "last_role_manager");
    assert_eq!(
        acme.get("/api/v1/roles").await.status,
        StatusCode::OK,
        "still an admin"
    );
    // A custom role can be deleted; its holders lose it.
    acme.send_as(
        &acme.token,
        Method::PUT,
        &format!("/api/v1/users/{lea}/roles/{editor_id}"),
        None,
    )
    .await;
    assert_eq!(
        acme.delete(&format!("/api/v1/roles/{editor_id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        acme.get(&format!("/api/v1/users/{lea}")).await.json["roles"],
        json!(["learner"])
    );

    // Another tenant cannot use acme's role ids.
    let globex = app.tenant("globex").await;
    let (g_user, _) = globex.user_with_role("g@globex.test", "learner").await;
    let r = globex
        .send_as(
            &globex.token,
            Method::PUT,
            &format!("/api/v1/users/{g_user}/roles/{admin_role}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "role_not_found");
}

#[tokio::test]
async fn the_caller_edits_their_own_profile_within_limits() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let me = acme.get("/api/v1/me").await;
    assert_eq!(me.json["user"]["email"], "admin@acme.test");
    assert_eq!(me.json["organization"]["slug"], "acme");
    assert!(
        me.json["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("role:manage"))
    );

    let up = acme
        .patch(
            "/api/v1/me",
            json!({ "first_name": "Grace", "profile": { "bio": "Teaches things", "website": "https://grace.example",
                    "social_links": { "mastodon": "https://social.example/@grace" },
                    "preferences": { "notifications": { "email": true }, "theme": "dark" } } }),
        )
        .await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.text);
    assert_eq!(up.json["user"]["first_name"], "Grace");
    assert_eq!(up.json["profile"]["preferences"]["theme"], "dark");
    // Absent fields stay, null clears.
    let up = acme
        .patch("/api/v1/me", json!({ "profile": { "bio": null } }))
        .await;
    assert_eq!(up.json["profile"]["bio"], serde_json::Value::Null);
    assert_eq!(up.json["profile"]["website"], "https://grace.example");

    // A wrong type is a malformed body.
    let a = acme
        .patch("/api/v1/me", json!({ "profile": { "preferences": [1] } }))
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::BAD_REQUEST, "invalid_body")
    );
    for (why, body) in [
        (
            "preferences too deep",
            json!({ "profile": { "preferences": { "a": { "b": { "c": { "d": { "e": 1 } } } } } } }),
        ),
        (
            "preferences too big",
            json!({ "profile": { "preferences": { "x": "y".repeat(9000) } } }),
        ),
        (
            "social link not a URL",
            json!({ "profile": { "social_links": { "x": "javascript:alert(1)" } } }),
        ),
        (
            "website not http",
            json!({ "profile": { "website": "ftp://x.example" } }),
        ),
    ] {
        let a = acme.patch("/api/v1/me", body).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {}",
            a.text
        );
        assert_eq!(a.code(), "validation_failed", "{why}");
    }
    let a = acme
        .patch("/api/v1/me", json!({ "email": "new@acme.test" }))
        .await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "the caller cannot change their own e-mail here"
    );
}

#[tokio::test]
async fn self_signup_is_off_until_the_organization_turns_it_on() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let signup = || {
        app.send(
            Method::POST,
            &acme.host,
            "/api/v1/auth/signup",
            None,
            Some(Body::Json(json!({ "email": "new@acme.test", "password": PASSWORD, "first_name": "New", "last_name": "Comer" }))),
        )
    };
    let off = signup().await;
    assert_eq!(off.status, StatusCode::FORBIDDEN);
    assert_eq!(off.code(), "signup_disabled");
    let s = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "self_signup": true }),
        )
        .await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    assert_eq!(s.json["settings"]["self_signup"], true);
    let bad = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "search_language": "klingon" }),
        )
        .await;
    assert_eq!(bad.code(), "validation_failed");

    let on = signup().await;
    assert_eq!(on.status, StatusCode::CREATED, "{}", on.text);
    let token = on.json["access_token"].as_str().unwrap();
    let me = acme.send_as(token, Method::GET, "/api/v1/me", None).await;
    assert_eq!(me.json["user"]["roles"], json!(["learner"]));
    assert_eq!(
        acme.send_as(token, Method::GET, "/api/v1/users", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(signup().await.code(), "email_taken");

    // The tenant can change its settings but not its slug or its status.
    let mut conn = app.connect_as_app().await;
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(acme.org_id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query("UPDATE organizations SET status = 'ACTIVE'")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(err.as_database_error().unwrap().code().unwrap(), "42501");
}

#[tokio::test]
async fn repeated_login_failures_are_limited_with_retry_after() {
    let app = TestApp::spawn_with(|a| a.login_failures_per_address = 3).await;
    let acme = app.tenant("acme").await;
    for _ in 0..3 {
        assert_eq!(
            acme.login("admin@acme.test", "wrong wrong wrong")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    let blocked = acme.login("admin@acme.test", PASSWORD).await;
    assert_eq!(
        blocked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert_eq!(blocked.code(), "too_many_attempts");
    let retry: u64 = blocked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry));
    // An unknown account is limited the same way: no hint it does not exist.
    for _ in 0..3 {
        acme.login("ghost@acme.test", "wrong wrong wrong").await;
    }
    assert_eq!(
        acme.login("ghost@acme.test", "wrong").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other accounts and other tenants are not affected.
    let (_, _) = acme.user_with_role("other@acme.test", "learner").await;
    let globex = app.tenant("globex").await;
    assert_eq!(
        globex.login("admin@globex.test", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn login_attempts_per_client_are_limited() {
    let app = TestApp::spawn_with(|a| a.login_attempts_per_client = 4).await;
    let acme = app.tenant("acme").await; // one login
    for i in 0..3 {
        acme.login(&format!("spray{i}@acme.test"), "whatever pass")
            .await;
    }
    let a = acme.login("admin@acme.test", PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn platform_admins_are_managed_and_their_sessions_revocable() {
    let app = TestApp::spawn().await;
    let op = app.platform_token().await;
    let created = app
        .send(
            Method::POST,
            PLATFORM_HOST,
            "/platform/v1/admins",
            Some(&op),
            Some(Body::Json(json!({ "email": "Second@Platform.test", "display_name": "Second", "password": PASSWORD }))),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json["email"], "second@platform.test");
    let second_id = created.json["id"].as_str().unwrap().to_owned();
    let dup = app
        .send(Method::POST, PLATFORM_HOST, "/platform/v1/admins", Some(&op),
              Some(Body::Json(json!({ "email": "second@platform.test", "display_name": "Again", "password": PASSWORD }))))
        .await;
    assert_eq!(dup.code(), "email_taken");

    let login = app
        .send(
            Method::POST,
            PLATFORM_HOST,
            "/platform/v1/auth/token",
            None,
            Some(Body::Json(
                json!({ "email": "second@platform.test", "password": PASSWORD }),
            )),
        )
        .await;
    let second = login.json["access_token"].as_str().unwrap().to_owned();
    let second_refresh = login.json["refresh_token"].as_str().unwrap().to_owned();
    // Refresh rotates for platform admins too.
    let r = app
        .send(
            Method::POST,
            PLATFORM_HOST,
            "/platform/v1/auth/refresh",
            None,
            Some(Body::Json(json!({ "refresh_token": second_refresh }))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let reuse = app
        .send(
            Method::POST,
            PLATFORM_HOST,
            "/platform/v1/auth/refresh",
            None,
            Some(Body::Json(json!({ "refresh_token": second_refresh }))),
        )
        .await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.send(
            Method::GET,
            PLATFORM_HOST,
            "/platform/v1/admins",
            Some(r.json["access_token"].as_str().unwrap()),
            None
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED,
        "reuse ended the family"
    );

    let list = app
        .send(
            Method::GET,
            PLATFORM_HOST,
            "/platform/v1/admins",
            Some(&second),
            None,
        )
        .await;
    assert_eq!(
        list.status,
        StatusCode::UNAUTHORIZED,
        "that login's session was the revoked family"
    );
    let list = app
        .send(
            Method::GET,
            PLATFORM_HOST,
            "/platform/v1/admins",
            Some(&op),
            None,
        )
        .await;
    assert_eq!(list.json["items"].as_array().unwrap().len(), 2);

    let login = app
        .send(
            Method::POST,
            PLATFORM_HOST,
            "/platform/v1/auth/token",
            None,
            Some(Body::Json(
                json!({ "email": "second@platform.test", "password": PASSWORD }),
            )),
        )
        .await;
    let second = login.json["access_token"].as_str().unwrap().to_owned();
    let d = app
        .send(
            Method::POST,
            PLATFORM_HOST,
            &format!("/platform/v1/admins/{second_id}/deactivate"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.json["is_active"], false);
    assert_eq!(
        app.send(
            Method::GET,
            PLATFORM_HOST,
            "/platform/v1/admins",
            Some(&second),
            None
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );

    let out = app
        .send(
            Method::POST,
            PLATFORM_HOST,
            "/platform/v1/auth/logout",
            Some(&op),
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.send(
            Method::GET,
            PLATFORM_HOST,
            "/platform/v1/admins",
            Some(&op),
            None
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn learners_see_only_their_own_learning_rows_in_the_database() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let course: uuid::Uuid = acme.create_course("C").await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (lea, _) = acme.user_with_role("lea@acme.test", "learner").await;
    let (max, _) = acme.user_with_role("max@acme.test", "learner").await;
    let (ins, _) = acme.user_with_role("ins@acme.test", "instructor").await;
    let mut su = app.connect_as_superuser().await;
    for u in [lea, max] {
        sqlx::query("INSERT INTO enrollments (organization_id, id, user_id, course_id) VALUES ($1, $2, $3, $4)")
            .bind(acme.org_id).bind(uuid::Uuid::now_v7()).bind(u).bind(course).execute(&mut su).await.unwrap();
    }
    let mut conn = app.connect_as_app().await;
    let org = acme.org_id;
    assert_eq!(visible_enrollments(&mut conn, org, lea).await, [lea]);
    assert_eq!(visible_enrollments(&mut conn, org, max).await, [max]);
    assert_eq!(
        visible_enrollments(&mut conn, org, ins).await.len(),
        2,
        "instructors read their learners' enrollments (progress:read:any)"
    );
    assert_eq!(
        visible_enrollments(&mut conn, org, acme.admin_id)
            .await
            .len(),
        2,
        "admins hold enrollment:manage"
    );

    // A learner cannot enroll somebody else.
    let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, lea).await;
    let err = sqlx::query("UPDATE enrollments SET user_id = $1")
        .bind(max)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(err.as_database_error().unwrap().code().unwrap(), "42501");
    tx.rollback().await.unwrap();

    // An instructor reads enrollments, and changes none (no
    // enrollment:manage).
    let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, ins).await;
    for sql in [
        "UPDATE enrollments SET status = 'DROPPED'",
        "DELETE FROM enrollments",
    ] {
        let done = sqlx::query(sql).execute(&mut *tx).await.unwrap();
        assert_eq!(done.rows_affected(), 0, "{sql}");
    }
}

/// The user ids of the enrollments `user` of `org` can see, as lms_app.
async fn visible_enrollments(
    conn: &mut sqlx::PgConnection,
    org: uuid::Uuid,
    user: uuid::Uuid,
) -> Vec<uuid::Uuid> {
    let mut tx = sqlx::Connection::begin(conn).await.unwrap();
    sqlx::query("SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true)")
        .bind(org.to_string())
        .bind(user.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let ids = sqlx::query_scalar("SELECT user_id FROM enrollments ORDER BY user_id")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    ids
}

#[tokio::test]
async fn nobody_grants_more_than_they_hold() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let hr = acme
        .post(
            "/api/v1/roles",
            json!({ "name": "hr", "permissions": ["user:manage"] }),
        )
        .await;
    let hr_role = hr.json["id"].as_str().unwrap().to_owned();
    let (hr_user, hr_token) = acme.user_with_role("hr@acme.test", "learner").await;
    acme.send_as(
        &acme.token,
        Method::PUT,
        &format!("/api/v1/users/{hr_user}/roles/{hr_role}"),
        None,
    )
    .await;

    // user:manage alone invites learners, but cannot hand out roles...
    let a = acme
        .send_as(&hr_token, Method::POST, "/api/v1/users", Some(json!({ "email": "new@acme.test", "first_name": "N", "last_name": "U", "password": PASSWORD, "roles": ["admin"] })))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    let a = acme
        .send_as(
            &hr_token,
            Method::POST,
            "/api/v1/users",
            Some(json!({ "email": "new@acme.test", "first_name": "N", "last_name": "U" })),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    // ...nor act on someone who holds more than they do.
    let a = acme
        .send_as(
            &hr_token,
            Method::POST,
            &format!("/api/v1/users/{}/deactivate", acme.admin_id),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.code(), "permission_escalation");
    let a = acme
        .send_as(
            &hr_token,
            Method::PATCH,
            &format!("/api/v1/users/{}", acme.admin_id),
            Some(json!({ "email": "mine@acme.test" })),
        )
        .await;
    assert_eq!(a.code(), "permission_escalation");
    assert_eq!(
        acme.get("/api/v1/me").await.json["user"]["email"],
        "admin@acme.test"
    );

    // role:manage alone cannot make anyone (itself included) an admin, nor
    // write a role with permissions it lacks.
    let rm = acme
        .post(
            "/api/v1/roles",
            json!({ "name": "rm", "permissions": ["role:manage"] }),
        )
        .await;
    let rm_role = rm.json["id"].as_str().unwrap().to_owned();
    let (rm_user, rm_token) = acme.user_with_role("rm@acme.test", "learner").await;
    acme.send_as(
        &acme.token,
        Method::PUT,
        &format!("/api/v1/users/{rm_user}/roles/{rm_role}"),
        None,
    )
    .await;
    let roles = acme.get("/api/v1/roles").await;
    let admin_role = roles.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = acme
        .send_as(
            &rm_token,
            Method::PUT,
            &format!("/api/v1/users/{rm_user}/roles/{admin_role}"),
            None,
        )
        .await;
    assert_eq!(a.code(), "permission_escalation");
    let a = acme
        .send_as(
            &rm_token,
            Method::POST,
            "/api/v1/roles",
            Some(json!({ "name": "sneaky", "permissions": ["audit:read"] })),
        )
        .await;
    assert_eq!(a.code(), "permission_escalation");
    let a = acme
        .send_as(
            &rm_token,
            Method::PATCH,
            &format!("/api/v1/roles/{rm_role}"),
            Some(json!({ "permissions": ["role:manage", "user:manage"] })),
        )
        .await;
    assert_eq!(a.code(), "permission_escalation");
    assert_eq!(
        acme.get(&format!("/api/v1/users/{rm_user}")).await.json["roles"],
        json!(["learner", "rm"])
    );
}

#[tokio::test]
async fn a_role_manager_who_cannot_log_in_does_not_count() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    // An invited admin without a password cannot rescue the tenant.
    let ghost = acme.post("/api/v1/users", json!({ "email": "ghost@acme.test", "first_name": "G", "last_name": "H", "roles": ["admin"] })).await;
    assert_eq!(ghost.status, StatusCode::CREATED, "{}", ghost.text);
    let roles = acme.get("/api/v1/roles").await;
    let admin_role = roles.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = acme
        .delete(&format!(
            "/api/v1/users/{}/roles/{admin_role}",
            acme.admin_id
        ))
        .await;
    assert_eq!(a.code(), "last_role_manager");
}

#[tokio::test]
async fn a_parallel_burst_of_logins_is_limited_too() {
    let app = TestApp::spawn_with(|a| a.login_failures_per_address = 5).await;
    let acme = app.tenant("acme").await;
    let attempts = (0..20).map(|_| acme.login("admin@acme.test", "wrong wrong wrong"));
    let answers = futures::future::join_all(attempts).await;
    let checked = answers
        .iter()
        .filter(|a| a.status == StatusCode::UNAUTHORIZED)
        .count();
    let limited = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        checked <= 5,
        "{checked} passwords were checked in a burst of 20"
    );
    assert_eq!(checked + limited, 20);
}

/// A login to acme's admin from `address` (behind the trusted proxy).
async fn login_from(app: &TestApp, host: &str, address: &str, password: &str) -> StatusCode {
    app.http
        .post(format!("http://{}/api/v1/auth/token", app.addr))
        .header("host", host)
        .header("x-forwarded-for", address)
        .json(&json!({ "email": "admin@acme.test", "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_stranger_cannot_lock_a_user_out() {
    let app = TestApp::spawn_with(|a| {
        a.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        a.login_failures_per_address = 3;
        a.login_failures_per_account = 6;
    })
    .await;
    let acme = app.tenant("acme").await;
    let host = acme.host.clone();
    let home = "198.51.100.7";
    assert_eq!(
        login_from(&app, &host, home, PASSWORD).await,
        StatusCode::OK
    );

    // The stranger's guesses lock the stranger's address...
    for _ in 0..3 {
        assert_eq!(
            login_from(&app, &host, "203.0.113.1", "wrong wrong wrong").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, &host, "203.0.113.1", "wrong wrong wrong").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...not the user, who still gets in from home.
    assert_eq!(
        login_from(&app, &host, home, PASSWORD).await,
        StatusCode::OK
    );

    // From many addresses, the stranger meets the account's ceiling (after
    // growing delays): new addresses are refused for the window...
    for _ in 0..3 {
        assert_eq!(
            login_from(&app, &host, "203.0.113.2", "wrong wrong wrong").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, &host, "203.0.113.3", "wrong wrong wrong").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...the user's own address is not.
    assert_eq!(
        login_from(&app, &host, home, PASSWORD).await,
        StatusCode::OK
    );
    // A user's mistakes from home lock home like anyone's.
    for _ in 0..3 {
        login_from(&app, &host, home, "wrong wrong wrong").await;
    }
    assert_eq!(
        login_from(&app, &host, home, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn behind_a_proxy_the_client_is_the_rightmost_untrusted_hop() {
    let app = TestApp::spawn_with(|a| {
        a.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        a.login_attempts_per_client = 4;
    })
    .await;
    let acme = app.tenant("acme").await; // one attempt, from 127.0.0.1 itself
    let attempt = |spoof: String| {
        let app = &app;
        let host = acme.host.clone();
        async move {
            app.http
                .post(format!("http://{}/api/v1/auth/token", app.addr))
                .header("host", host)
                // The client wrote the left part; our proxy appended the real address.
                .header("x-forwarded-for", format!("{spoof}, 203.0.113.9"))
                .json(&json!({ "email": "admin@acme.test", "password": "wrong wrong wrong" }))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for i in 0..4 {
        assert_eq!(
            attempt(format!("10.9.9.{i}")).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt("10.9.9.200".into()).await,
        StatusCode::TOO_MANY_REQUESTS,
        "a new left-hand address changes nothing"
    );
}

#[tokio::test]
async fn metrics_are_only_for_allowed_peers() {
    let app = TestApp::spawn_with(|a| a.metrics_allow = vec![]).await;
    let a = app
        .send(Method::GET, PLATFORM_HOST, "/metrics", None, None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}
