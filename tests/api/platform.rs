//! Platform operations: the tenant lifecycle, custom domains, platform
//! roles and the platform's own audit trail.

use lms_tests::{Answer, Body, PLATFORM_HOST, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn platform(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    app.send(
        method,
        PLATFORM_HOST,
        &format!("/platform/v1{path}"),
        Some(token),
        body.map(Body::Json),
    )
    .await
}

#[tokio::test]
async fn a_custom_domain_serves_once_proven_and_stops_when_removed() {
    let app = TestApp::spawn().await;
    let op = app.platform_token().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let domains = format!("/organizations/{}/domains", acme.org_id);
    let on = |host: &'static str| {
        let (app, token) = (&app, acme.token.clone());
        async move {
            app.send(Method::GET, host, "/api/v1/courses", Some(&token), None)
                .await
        }
    };

    // Not a domain a tenant can have: IP literals, the platform's names.
    for bad in [
        "127.0.0.1",
        "10.1.2.3",
        "lms.test",
        "x.lms.test",
        "admin.lms.test",
        "localhost",
        "[::1]",
    ] {
        let a = platform(
            &app,
            &op,
            Method::POST,
            &domains,
            Some(json!({ "domain": bad })),
        )
        .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            a.text
        );
    }
    // Registered, pending: serves nothing yet.
    let a = platform(
        &app,
        &op,
        Method::POST,
        &domains,
        Some(json!({ "domain": "Learn.Acme.COM" })),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["status"], "PENDING");
    assert_eq!(
        a.json["record_name"],
        "_tenantry-verification.learn.acme.com"
    );
    let text = a.json["record_text"].as_str().unwrap().to_owned();
    assert_eq!(on("learn.acme.com").await.code(), "tenant_not_found");
    // One organization per domain.
    let a = platform(
        &app,
        &op,
        Method::POST,
        &format!("/organizations/{}/domains", globex.org_id),
        Some(json!({ "domain": "learn.acme.com" })),
    )
    .await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "domain_taken"));

    // DNS proves it once the record is published.
    let verify = format!("{domains}/learn.acme.com/verify");
    app.ctx().domain_records.use_fixed();
    let a = platform(&app, &op, Method::POST, &verify, Some(json!({}))).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::CONFLICT, "domain_not_proven"),
        "{}",
        a.text
    );
    app.ctx().domain_records.publish(
        "_tenantry-verification.learn.acme.com",
        "tenantry-verification=not-it",
    );
    let a = platform(
        &app,
        &op,
        Method::POST,
        &verify,
        Some(json!({ "method": "DNS" })),
    )
    .await;
    assert_eq!(a.code(), "domain_not_proven");
    app.ctx()
        .domain_records
        .publish("_tenantry-verification.learn.acme.com", &text);
    let a = platform(
        &app,
        &op,
        Method::POST,
        &verify,
        Some(json!({ "method": "DNS" })),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["status"], "VERIFIED");
    assert_eq!(on("learn.acme.com").await.status, StatusCode::OK);
    // The tenant's own token is good on its domain only.
    let a = app
        .send(
            Method::GET,
            "learn.acme.com",
            "/api/v1/courses",
            Some(&globex.token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);

    // An operator may vouch for a domain by hand.
    platform(
        &app,
        &op,
        Method::POST,
        &domains,
        Some(json!({ "domain": "www.acme.org" })),
    )
    .await;
    let a = platform(
        &app,
        &op,
        Method::POST,
        &format!("{domains}/www.acme.org/verify"),
        Some(json!({ "method": "OPERATOR" })),
    )
    .await;
    assert_eq!(a.json["status"], "VERIFIED", "{}", a.text);
    let listed = platform(&app, &op, Method::GET, &domains, None).await;
    let names: Vec<&str> = listed.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["learn.acme.com", "www.acme.org"]);

    // Removed: it stops serving at once.
    let a = platform(
        &app,
        &op,
        Method::DELETE,
        &format!("{domains}/learn.acme.com"),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert_eq!(on("learn.acme.com").await.code(), "tenant_not_found");
    let a = platform(
        &app,
        &op,
        Method::DELETE,
        &format!("{domains}/learn.acme.com"),
        None,
    )
    .await;
    assert_eq!(a.code(), "domain_not_found");

    // Every step is in the platform audit trail.
    let trail = platform(
        &app,
        &op,
        Method::GET,
        &format!("/audit-logs?organization_id={}", acme.org_id),
        None,
    )
    .await;
    let actions: Vec<&str> = trail.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for want in [
        "domain.added",
        "domain.verified",
        "domain.removed",
        "organization.created",
    ] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
}

#[tokio::test]
async fn an_organization_is_renamed_and_reconfigured_by_an_operator() {
    let app = TestApp::spawn().await;
    let op = app.platform_token().await;
    let acme = app.tenant("acme").await;
    app.tenant("globex").await;
    let path = format!("/organizations/{}", acme.org_id);
    for (slug, code) in [
        ("www", StatusCode::UNPROCESSABLE_ENTITY),
        ("admin", StatusCode::UNPROCESSABLE_ENTITY),
        ("globex", StatusCode::CONFLICT),
        ("Bad Slug", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let a = platform(
            &app,
            &op,
            Method::PATCH,
            &path,
            Some(json!({ "slug": slug })),
        )
        .await;
        assert_eq!(a.status, code, "{slug}: {}", a.text);
    }
    let a = platform(
        &app,
        &op,
        Method::PATCH,
        &path,
        Some(json!({ "name": "Acme Academy", "slug": "acme-academy",
                     "settings": { "self_signup": true, "trash_retention_days": 7 } })),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["slug"], "acme-academy");
    let a = platform(
        &app,
        &op,
        Method::PATCH,
        &path,
        Some(json!({ "settings": { "search_language": "klingon" } })),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    // The old host stops resolving; the new one serves, and the tokens
    // issued before stay good (they name the organization by id).
    let a = app
        .send(
            Method::GET,
            &acme.host,
            "/api/v1/organization",
            Some(&acme.token),
            None,
        )
        .await;
    assert_eq!(a.code(), "tenant_not_found");
    let a = app
        .send(
            Method::GET,
            "acme-academy.lms.test",
            "/api/v1/organization",
            Some(&acme.token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["name"], "Acme Academy");
    assert_eq!(a.json["settings"]["self_signup"], true);
    assert_eq!(a.json["settings"]["trash_retention_days"], 7);
    // The old slug is free again.
    let a = platform(
        &app,
        &op,
        Method::GET,
        "/audit-logs?action=organization.updated",
        None,
    )
    .await;
    assert_eq!(
        a.json["items"][0]["details"]["slug"]["from"], "acme",
        "{}",
        a.text
    );
}

/// Rows per table of the three tenants, and of nobody.
async fn counts(app: &TestApp, orgs: &[uuid::Uuid]) -> Vec<(String, Vec<i64>)> {
    let mut su = app.connect_as_superuser().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind = 'r' \
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
                       AND a.attname = 'organization_id' AND NOT a.attisdropped) ORDER BY 1",
    )
    .fetch_all(&mut su)
    .await
    .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let mut per = Vec::new();
        for org in orgs {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {t} WHERE organization_id = $1"
            )))
            .bind(org)
            .fetch_one(&mut su)
            .await
            .unwrap();
            per.push(n);
        }
        out.push((t, per));
    }
    out
}

/// What the usage counters say of `orgs`, table by table, in the shape of
/// [`counts`].
async fn counters(app: &TestApp, op: &str, orgs: &[uuid::Uuid]) -> Vec<(String, Vec<i64>)> {
    let mut per_org = Vec::new();
    for org in orgs {
        let a = platform(
            app,
            op,
            Method::GET,
            &format!("/organizations/{org}/usage"),
            None,
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let mut tables: Vec<(String, i64)> = a.json["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["table"].as_str().unwrap().to_owned(),
                    t["rows"].as_i64().unwrap(),
                )
            })
            .collect();
        tables.sort();
        per_org.push(tables);
    }
    per_org[0]
        .iter()
        .enumerate()
        .map(|(i, (table, _))| (table.clone(), per_org.iter().map(|t| t[i].1).collect()))
        .collect()
}

/// acme, globex and initech, each with a row in every table `populate`
/// writes.
async fn three_populated_tenants(app: &TestApp) -> [lms_tests::Tenant<'_>; 3] {
    let tenants = [
        app.tenant("acme").await,
        app.tenant("globex").await,
        app.tenant("initech").await,
    ];
    for t in &tenants {
        populate(t).await;
    }
    tenants
}

#[tokio::test]
async fn usage_counters_follow_every_write_and_deletion() {
    let app = TestApp::spawn().await;
    let op = app.platform_token().await;
    let tenants = three_populated_tenants(&app).await;
    // acme also empties a course out of its trash: rows deleted, cascading
    // through lessons, sections, enrollments, progress and reviews.
    let course = tenants[0].create_course("Short-lived").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    tenants[0]
        .post(
            &format!("/api/v1/courses/{course}/lessons"),
            json!({ "title": "L" }),
        )
        .await;
    let a = tenants[0]
        .delete(&format!("/api/v1/courses/{course}"))
        .await;
    assert!(a.status.is_success(), "{}", a.text);
    let mut su = app.connect_as_superuser().await;
    sqlx::query("UPDATE courses SET deleted_at = now() - interval '1 year' WHERE id = $1::uuid")
        .bind(&course)
        .execute(&mut su)
        .await
        .unwrap();
    let swept = lms_api::maintenance::sweep(app.ctx()).await.unwrap();
    assert_eq!(swept.trash_purged, 1);

    let orgs: Vec<uuid::Uuid> = tenants.iter().map(|t| t.org_id).collect();
    let rows = counts(&app, &orgs).await;
    assert!(
        rows.iter().any(|(t, n)| t == "progress" && n == &[1, 1, 1]),
        "{rows:?}"
    );
    assert_eq!(counters(&app, &op, &orgs).await, rows);

    // globex goes; the others' counters stay right, and its own are dropped
    // at the next sweep, which also folds every counter into one row.
    let path = format!("/organizations/{}", tenants[1].org_id);
    let a = platform(&app, &op, Method::DELETE, &path, None).await;
    let token = a.json["confirmation_token"].as_str().unwrap().to_owned();
    let a = platform(
        &app,
        &op,
        Method::DELETE,
        &format!("{path}?confirmation_token={token}"),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let left = [orgs[0], orgs[2]];
    assert_eq!(counters(&app, &op, &left).await, counts(&app, &left).await);
    lms_api::maintenance::sweep(app.ctx()).await.unwrap();
    assert_eq!(counters(&app, &op, &left).await, counts(&app, &left).await);
    let (of_globex, most): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE organization_id = $1), \
                COALESCE(max(n), 0) FROM usage.row_deltas, \
                LATERAL (SELECT count(*) AS n FROM usage.row_deltas d \
                          WHERE d.organization_id = row_deltas.organization_id \
                            AND d.table_name = row_deltas.table_name) x",
    )
    .bind(orgs[1])
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert_eq!((of_globex, most), (0, 1));

    // The counters are nobody's to read or write but the usage functions'.
    let mut conn = app.connect_as_app().await;
    for statement in [
        "INSERT INTO usage.row_deltas (organization_id, table_name, delta) \
         VALUES (current_setting('app.org_id')::uuid, 'users', -1)",
        "SELECT usage.recount(ARRAY[current_setting('app.org_id')::uuid])",
        "SELECT usage.compact()",
        "SELECT count(*) FROM usage.row_deltas",
    ] {
        let mut tx = lms_tests::acting_as(&mut conn, orgs[0], tenants[0].admin_id).await;
        let err = sqlx::query(statement).execute(&mut *tx).await.unwrap_err();
        assert_eq!(
            err.as_database_error().and_then(|d| d.code()).as_deref(),
            Some("42501"),
            "{statement}"
        );
    }
    // Even granted by mistake, the counters show the runtime role nothing:
    // row-level security keeps them for the usage functions.
    sqlx::query("GRANT USAGE ON SCHEMA usage TO lms_app")
        .execute(&mut su)
        .await
        .unwrap();
    sqlx::query("GRANT SELECT ON usage.row_deltas, usage.last_active TO lms_app")
        .execute(&mut su)
        .await
        .unwrap();
    for table in ["usage.row_deltas", "usage.last_active"] {
        let seen: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(seen, 0, "{table}");
    }
}

#[tokio::test]
async fn deleting_an_organization_takes_every_row_of_it_and_nothing_else() {
    let app = TestApp::spawn().await;
    let op = app.platform_token().await;
    let tenants = three_populated_tenants(&app).await;
    let orgs: Vec<uuid::Uuid> = tenants.iter().map(|t| t.org_id).collect();
    let before = counts(&app, &orgs).await;
    assert!(
        before.iter().any(|(t, n)| t == "progress" && n[1] == 1),
        "{before:?}"
    );

    let path = format!("/organizations/{}", tenants[1].org_id);
    // A support admin may not; a wrong token does nothing.
    let support = app.support_token().await;
    let a = platform(&app, &support, Method::DELETE, &path, None).await;
    assert_eq!(a.code(), "platform_role_required");
    let a = platform(
        &app,
        &op,
        Method::DELETE,
        &format!("{path}?confirmation_token=guess"),
        None,
    )
    .await;
    assert_eq!(a.code(), "deletion_not_confirmed");
    let a = platform(&app, &op, Method::DELETE, &path, None).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let token = a.json["confirmation_token"].as_str().unwrap().to_owned();
    assert_eq!(
        counts(&app, &orgs).await,
        before,
        "the first step deletes nothing"
    );
    let a = platform(
        &app,
        &op,
        Method::DELETE,
        &format!("{path}?confirmation_token={token}"),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);

    // Every row of the deleted tenant is gone; the others keep every row.
    let after = counts(&app, &orgs).await;
    for ((table, b), (_, a)) in before.iter().zip(&after) {
        assert_eq!(a[1], 0, "{table}: rows of the deleted tenant left");
        assert_eq!(
            (a[0], a[2]),
            (b[0], b[2]),
            "{table}: another tenant's rows changed"
        );
    }
    let a = app
        .send(
            Method::GET,
            &tenants[1].host,
            "/api/v1/organization",
            Some(&tenants[1].token),
            None,
        )
        .await;
    assert_eq!(a.code(), "tenant_not_found");
    assert_eq!(
        platform(&app, &op, Method::GET, &path, None).await.code(),
        "organization_not_found"
    );
    // The platform's record outlives it.
    let trail = platform(
        &app,
        &op,
        Method::GET,
        &format!("/audit-logs?organization_id={}", tenants[1].org_id),
        None,
    )
    .await;
    assert_eq!(
        trail.json["items"][0]["action"], "organization.deleted",
        "{}",
        trail.text
    );
    assert_eq!(
        trail.json["items"][1]["action"],
        "organization.deletion_requested"
    );
}

#[tokio::test]
async fn support_admins_read_and_operators_change() {
    let app = TestApp::spawn().await;
    let support = app.support_token().await;
    let acme = app.tenant("acme").await;
    let spec: Value = serde_json::from_str(&lms_api::platform_spec()).unwrap();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            let Some(access) = lms_api::access::platform_access(id) else {
                panic!("{id}: no rule");
            };
            if access == lms_api::access::Access::Public || id == "platformLogout" {
                continue;
            }
            let path = path
                .replace("{organization_id}", &acme.org_id.to_string())
                .replace("{admin_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{domain}", "nowhere.example.com");
            let method: Method = method.to_uppercase().parse().unwrap();
            // Valid bodies: the body is read before the caller's role.
            let body = match id {
                "createPlatformAdmin" => Some(json!({
                    "email": "new@platform.test", "display_name": "New",
                    "password": lms_tests::PASSWORD })),
                "createOrganization" => Some(json!({
                    "slug": "newco", "name": "New Co",
                    "admin": { "email": "a@newco.test", "first_name": "A", "last_name": "B",
                               "password": lms_tests::PASSWORD } })),
                "addOrganizationDomain" => Some(json!({ "domain": "learn.newco.com" })),
                _ if method == Method::POST || method == Method::PATCH => Some(json!({})),
                _ => None,
            };
            // An archive, not JSON; the caller is checked before it is read.
            let a = if id == "importOrganization" {
                import(&app, &support, "", "not an archive".into()).await
            } else {
                platform(&app, &support, method, &path, body).await
            };
            let refused = a.code() == "platform_role_required";
            assert_eq!(
                refused,
                access == lms_api::access::Access::Operator,
                "{id}: {} {}",
                a.status,
                a.text
            );
            if refused {
                assert_eq!(a.status, StatusCode::FORBIDDEN);
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked}");
    // Tenant admins' tokens are no platform tokens.
    let a = platform(&app, &acme.token, Method::GET, "/organizations", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn usage_counts_each_tenant_on_its_own() {
    let app = TestApp::spawn().await;
    let op = app.platform_token().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    // acme: two courses, a learner with progress; globex: one course.
    let course = acme.create_course("One").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    acme.create_course("Two").await;
    globex.create_course("Theirs").await;
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
    let section = acme
        .post(
            &format!("/api/v1/courses/{course}/lessons/{lesson}/sections"),
            json!({ "title": "S" }),
        )
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    acme.post(&format!("/api/v1/courses/{course}/publish"), json!({}))
        .await;
    let (_, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    acme.send_as(
        &lea,
        Method::POST,
        &format!("/api/v1/courses/{course}/enrollment"),
        None,
    )
    .await;
    let a = acme
        .send_as(
            &lea,
            Method::PUT,
            &format!("/api/v1/courses/{course}/sections/{section}/progress"),
            Some(json!({ "time_spent_seconds": 5 })),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);

    let a = platform(
        &app,
        &op,
        Method::GET,
        &format!("/organizations/{}/usage", acme.org_id),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let got = |v: &Value| {
        (
            v["users"].as_i64().unwrap(),
            v["courses"].as_i64().unwrap(),
            v["enrollments"].as_i64().unwrap(),
            v["progress_rows"].as_i64().unwrap(),
            v["active_learners_30d"].as_i64().unwrap(),
        )
    };
    assert_eq!(got(&a.json), (2, 2, 1, 1, 1), "{}", a.text);
    assert!(a.json["storage_bytes"].as_i64().unwrap() > 0);
    let list = platform(&app, &op, Method::GET, "/usage?limit=100", None).await;
    let items = list.json["items"].as_array().unwrap();
    let of = |org: uuid::Uuid| {
        items
            .iter()
            .find(|i| i["organization_id"] == json!(org))
            .unwrap_or_else(|| panic!("{org} missing: {}", list.text))
    };
    assert_eq!(got(of(acme.org_id)), (2, 2, 1, 1, 1));
    assert_eq!(got(of(globex.org_id)), (1, 1, 0, 0, 0));
    // Only the platform asks: not a tenant's token, not the runtime role.
    let a = platform(&app, &acme.token, Method::GET, "/usage", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let mut conn = app.connect_as_app().await;
    let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, acme.admin_id).await;
    let err = sqlx::query("SELECT * FROM usage.tenant_usage(ARRAY[$1::uuid])")
        .bind(globex.org_id)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("42501")
    );
}

#[tokio::test]
async fn operators_see_the_database_servers_statistics() {
    let app = TestApp::spawn().await;
    let support = app.support_token().await;
    let acme = app.tenant("acme").await;
    acme.create_course("Counted").await;
    let tables = platform(&app, &support, Method::GET, "/monitoring/tables", None).await;
    assert_eq!(tables.status, StatusCode::OK, "{}", tables.text);
    let courses = tables.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "courses")
        .unwrap_or_else(|| panic!("{}", tables.text));
    assert!(courses["total_bytes"].as_i64().unwrap() > 0);
    for path in ["/monitoring/unused-indexes", "/monitoring/cache"] {
        let a = platform(&app, &support, Method::GET, path, None).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
    }
    // Statement statistics where the server loads them; a clear 503 where
    // it does not.
    let mut su = app.connect_as_superuser().await;
    let preload: String = sqlx::query_scalar("SELECT current_setting('shared_preload_libraries')")
        .fetch_one(&mut su)
        .await
        .unwrap();
    let a = platform(
        &app,
        &support,
        Method::GET,
        "/monitoring/statements?limit=100",
        None,
    )
    .await;
    if preload.contains("pg_stat_statements") {
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert!(
            a.json["items"].as_array().is_some_and(|i| !i.is_empty()),
            "{}",
            a.text
        );
    } else {
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "extension_unavailable")
        );
    }
    // Not for tenants.
    let a = platform(&app, &acme.token, Method::GET, "/monitoring/tables", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

/// Some of everything in a tenant: a published course with content (one
/// section in the trash), a learner with an enrollment, progress and a
/// review.
async fn populate(t: &lms_tests::Tenant<'_>) {
    let id = |a: Answer| {
        assert!(a.status.is_success(), "{}", a.text);
        a.json["id"].as_str().unwrap().to_owned()
    };
    let course = t.create_course("Everything").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lesson = id(t
        .post(
            &format!("/api/v1/courses/{course}/lessons"),
            json!({ "title": "L" }),
        )
        .await);
    let mut sections = Vec::new();
    for title in ["S", "Gone"] {
        sections.push(id(t
            .post(
                &format!("/api/v1/courses/{course}/lessons/{lesson}/sections"),
                json!({ "title": title }),
            )
            .await));
    }
    t.post(&format!("/api/v1/courses/{course}/publish"), json!({}))
        .await;
    let (_, lea) = t
        .user_with_role(&format!("lea@{}.test", t.slug), "learner")
        .await;
    let a = t
        .send_as(
            &lea,
            Method::POST,
            &format!("/api/v1/courses/{course}/enrollment"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = t
        .send_as(
            &lea,
            Method::PUT,
            &format!("/api/v1/courses/{course}/sections/{}/progress", sections[0]),
            Some(json!({ "time_spent_seconds": 5 })),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    t.send_as(
        &lea,
        Method::POST,
        &format!("/api/v1/courses/{course}/reviews"),
        Some(json!({ "rating": 5 })),
    )
    .await;
    t.delete(&format!(
        "/api/v1/courses/{course}/lessons/{lesson}/sections/{}",
        sections[1]
    ))
    .await;
}

/// An organization's export archive, read and checked.
async fn export(app: &TestApp, op: &str, org: uuid::Uuid) -> lms_api::portable::Archive {
    let a = platform(
        app,
        op,
        Method::GET,
        &format!("/organizations/{org}/export"),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    lms_api::portable::read(a.text.as_bytes()).unwrap()
}

#[tokio::test]
async fn an_exported_organization_arrives_elsewhere_whole() {
    let app = TestApp::spawn().await;
    let op = app.platform_token().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    populate(&acme).await;
    populate(&globex).await;
    let archive = export(&app, &op, acme.org_id).await;
    assert_eq!(archive.manifest.slug, "acme");
    // Nothing of another organization, and the tables that hold acme's data
    // are all there.
    for t in &archive.tables {
        for line in t.ndjson.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let row: Value = serde_json::from_slice(line).unwrap();
            assert_eq!(row["organization_id"], json!(acme.org_id), "{}", t.table);
        }
    }
    for table in [
        "users",
        "courses",
        "sections",
        "progress",
        "reviews",
        "audit_logs",
    ] {
        let t = archive.tables.iter().find(|t| t.table == table).unwrap();
        assert!(t.rows > 0, "{table} is empty");
    }
    assert!(archive.tables.iter().all(|t| t.table != "refresh_tokens"));
    // Streamed in parts (here of one row each): the same archive.
    let snapshot = app.ctx().db.platform_snapshot().await.unwrap();
    let (registry, exporter) = lms_db::queries::portable::Exporter::open(snapshot, acme.org_id)
        .await
        .unwrap()
        .unwrap();
    let bytes = lms_api::portable::stream_in_parts(registry, exporter, 1)
        .into_vec()
        .await
        .unwrap();
    let parts = lms_api::portable::read(&bytes).unwrap();
    assert!(parts.manifest.tables["audit_logs"].parts > 2);
    let digests = |a: &lms_api::portable::Archive| -> Vec<(String, u64, String)> {
        a.manifest
            .tables
            .iter()
            .map(|(t, e)| (t.clone(), e.rows, e.sha256.clone()))
            .collect()
    };
    assert_eq!(digests(&parts), digests(&archive));
    let support = app.support_token().await;
    let a = platform(
        &app,
        &support,
        Method::GET,
        &format!("/organizations/{}/export", acme.org_id),
        None,
    )
    .await;
    assert_eq!(a.code(), "platform_role_required");

    // Into another installation, ids kept; exported again there, every
    // table is the same, byte for byte.
    let other = TestApp::spawn().await;
    let mut su = other.connect_as_superuser().await;
    let org =
        lms_db::queries::portable::import(&mut su, &archive.organization, None, &archive.tables)
            .await
            .unwrap();
    assert_eq!(org, acme.org_id);
    let again = export(&other, &other.platform_token().await, acme.org_id).await;
    assert_eq!(again.organization, archive.organization);
    assert_eq!(digests(&again), digests(&archive));
    // And it serves: its admin logs in there with the same password.
    let a = other
        .send(
            Method::POST,
            &acme.host,
            "/api/v1/auth/token",
            None,
            Some(Body::Json(
                json!({ "email": "admin@acme.test", "password": lms_tests::PASSWORD }),
            )),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    // A damaged archive is refused before anything is written.
    let raw = platform(
        &app,
        &op,
        Method::GET,
        &format!("/organizations/{}/export", acme.org_id),
        None,
    )
    .await
    .text;
    let damaged = raw.replacen("\"Everything\"", "\"Everythinx\"", 1);
    assert_ne!(raw, damaged);
    let err = lms_api::portable::read(damaged.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
}

/// `archive` with `table`'s rows changed by `edit` (checksums recomputed:
/// a well-formed archive whose rows break a rule).
fn altered(
    archive: &lms_api::portable::Archive,
    table: &str,
    edit: impl Fn(Vec<Value>) -> Vec<Value>,
) -> String {
    let tables: Vec<lms_db::queries::portable::TableData> = archive
        .tables
        .iter()
        .map(|t| {
            if t.table != table {
                return t.clone();
            }
            let rows: Vec<Value> = t
                .ndjson
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect();
            let rows = edit(rows);
            let mut ndjson = Vec::new();
            for r in &rows {
                ndjson.extend(serde_json::to_vec(r).unwrap());
                ndjson.push(b'\n');
            }
            lms_db::queries::portable::TableData {
                table: t.table.clone(),
                rows: rows.len() as u64,
                ndjson,
            }
        })
        .collect();
    String::from_utf8(lms_api::portable::write(&archive.organization, &tables).unwrap()).unwrap()
}

async fn import(app: &TestApp, token: &str, query: &str, archive: String) -> Answer {
    app.send(
        Method::POST,
        PLATFORM_HOST,
        &format!("/platform/v1/organizations/import{query}"),
        Some(token),
        Some(Body::Raw("application/x-tar", archive)),
    )
    .await
}

#[tokio::test]
async fn an_operator_imports_an_archive_whole_or_not_at_all() {
    let app = TestApp::spawn().await;
    let op = app.platform_token().await;
    let acme = app.tenant("acme").await;
    populate(&acme).await;
    let raw = platform(
        &app,
        &op,
        Method::GET,
        &format!("/organizations/{}/export", acme.org_id),
        None,
    )
    .await
    .text;
    let archive = lms_api::portable::read(raw.as_bytes()).unwrap();

    let other = TestApp::spawn().await;
    let op2 = other.platform_token().await;
    let organizations = || async {
        let a = platform(&other, &op2, Method::GET, "/organizations?limit=100", None).await;
        a.json["items"].as_array().unwrap().len()
    };
    let before = organizations().await;
    // Support admins read; they do not load tenants.
    let a = import(&other, &other.support_token().await, "", raw.clone()).await;
    assert_eq!(a.code(), "platform_role_required", "{}", a.text);
    // Refused whole, with nothing written: a damaged archive, a row of
    // another organization, a row naming one the archive does not carry,
    // a reserved slug.
    let damaged = raw.replacen("\"Everything\"", "\"Everythinx\"", 1);
    let intruder = altered(&archive, "courses", |mut rows| {
        rows[0]["organization_id"] = json!(uuid::Uuid::now_v7());
        rows
    });
    let orphan = altered(&archive, "courses", |_| Vec::new());
    for (what, body, query) in [
        ("damaged", damaged, ""),
        ("another organization's row", intruder, ""),
        ("a missing parent", orphan, ""),
    ] {
        let a = import(&other, &op2, query, body).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            a.text
        );
        assert_eq!(a.code(), "invalid_archive", "{what}");
    }
    let a = import(&other, &op2, "?slug=admin", raw.clone()).await;
    assert_eq!(a.code(), "validation_failed", "{}", a.text);
    assert_eq!(organizations().await, before, "nothing was written");

    // Loaded under another slug: exported again it is the same, table by
    // table; it is served there, its admin logs in, its usage is counted.
    let a = import(&other, &op2, "?slug=acme-moved", raw.clone()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["id"], json!(acme.org_id));
    assert_eq!(a.json["slug"], "acme-moved");
    let again = export(&other, &op2, acme.org_id).await;
    assert_eq!(again.manifest.tables, archive.manifest.tables);
    let login = other
        .send(
            Method::POST,
            &format!("acme-moved.{}", lms_tests::BASE_DOMAIN),
            "/api/v1/auth/token",
            None,
            Some(Body::Json(
                json!({ "email": "admin@acme.test", "password": lms_tests::PASSWORD }),
            )),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert_eq!(
        counters(&other, &op2, &[acme.org_id]).await,
        counts(&other, &[acme.org_id]).await
    );
    // Once only: the id is taken now.
    let a = import(&other, &op2, "?slug=acme-twice", raw).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(a.code(), "organization_exists");
    let trail = platform(
        &other,
        &op2,
        Method::GET,
        &format!("/audit-logs?organization_id={}", acme.org_id),
        None,
    )
    .await;
    assert_eq!(
        trail.json["items"][1]["action"], "organization.imported",
        "{}",
        trail.text
    );
}

/// The import functions write only into an organization the same
/// transaction registered, only its rows; the runtime roles cannot call
/// them otherwise.
#[tokio::test]
async fn the_import_functions_reach_no_existing_tenant() {
    use lms_tests::sql_outcome;
    use sqlx::Connection;

    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let mut platform_conn = app.connect_as_platform().await;
    let row = json!([{ "organization_id": acme.org_id, "id": uuid::Uuid::now_v7(),
                        "email": "mallory@acme.test", "password_hash": "x",
                        "first_name": "M", "last_name": "M" }]);
    // Into an existing tenant: refused.
    let mut tx = platform_conn.begin().await.unwrap();
    let outcome = sql_outcome(
        sqlx::query("SELECT import.load_rows($1, 'users', $2)")
            .bind(acme.org_id)
            .bind(&row)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(outcome, "42501", "load_rows into an existing tenant");
    drop(tx);
    // A new organization's import cannot carry rows of another.
    let mut tx = platform_conn.begin().await.unwrap();
    let new_org = uuid::Uuid::now_v7();
    // The new organization's registry entry, as an archive carries it.
    let newco = json!({ "id": new_org, "slug": "newco", "name": "New Co",
                        "status": "ACTIVE", "settings": {},
                        "created_at": "2026-01-01T00:00:00Z",
                        "updated_at": "2026-01-01T00:00:00Z" });
    sqlx::query("SELECT import.register($1, 'newco')")
        .bind(&newco)
        .execute(&mut *tx)
        .await
        .unwrap();
    let outcome = sql_outcome(
        sqlx::query("SELECT import.load_rows($1, 'users', $2)")
            .bind(new_org)
            .bind(&row)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(outcome, "42501", "a row of acme in newco's import");
    drop(tx);
    // A custom domain arrives unproven, whatever the archive says; and an
    // import not finished (its foreign keys unchecked) cannot be committed.
    let mut tx = platform_conn.begin().await.unwrap();
    sqlx::query("SELECT import.register($1, 'newco')")
        .bind(&newco)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT import.load_rows($1, 'organization_domains', $2)")
        .bind(new_org)
        .bind(
            json!([{ "organization_id": new_org, "domain": "learn.newco.example",
                       "created_at": "2026-01-01T00:00:00Z",
                       "verification_token": "t0k3n",
                       "verified_at": "2026-01-01T00:00:00Z", "verified_by": "DNS" }]),
        )
        .execute(&mut *tx)
        .await
        .unwrap();
    let proven: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT verified_at FROM organization_domains WHERE domain = 'learn.newco.example'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(proven, None);
    let err = tx.commit().await.unwrap_err();
    assert_eq!(
        err.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("55000"),
        "{err}"
    );
    // The tenant role has no reach at all.
    let mut conn = app.connect_as_app().await;
    let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, acme.admin_id).await;
    let outcome = sql_outcome(
        sqlx::query("SELECT import.load_rows($1, 'users', $2)")
            .bind(acme.org_id)
            .bind(&row)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(outcome, "42501", "the tenant role");
}

/// The platform role reads every tenant table inside a tenant context but
/// writes none of them: seeding a new organization, the housekeeping and
/// re-indexing go through the steward functions, each doing one thing for
/// one organization.
#[tokio::test]
async fn the_platform_role_reads_tenants_and_writes_them_only_through_the_steward() {
    use lms_tests::sql_outcome;
    use sqlx::Connection;

    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    populate(&acme).await;
    let globex = app.tenant("globex").await;
    let mut conn = app.connect_as_platform().await;
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(acme.org_id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();

    // Reads, inside the tenant only.
    for table in [
        "users",
        "courses",
        "sections",
        "enrollments",
        "progress",
        "reviews",
    ] {
        let (mine, foreign): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FILTER (WHERE organization_id = $1), \
                    count(*) FILTER (WHERE organization_id <> $1) FROM {table}"
        )))
        .bind(acme.org_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert!(
            mine > 0,
            "{table}: the platform role reads the tenant's rows"
        );
        assert_eq!(foreign, 0, "{table}: and no other tenant's");
    }

    // No write on a tenant table, and no reading of login secrets.
    let a = acme.org_id;
    for (what, sql) in [
        (
            "update a course",
            format!("UPDATE courses SET title = 'x' WHERE organization_id = '{a}'"),
        ),
        (
            "delete a course",
            format!("DELETE FROM courses WHERE organization_id = '{a}'"),
        ),
        (
            "add a user",
            format!(
                "INSERT INTO users (organization_id, id, email, first_name, last_name) \
             VALUES ('{a}', gen_random_uuid(), 'x@y.test', 'X', 'Y')"
            ),
        ),
        (
            "widen a role",
            format!("UPDATE roles SET permissions = '[]' WHERE organization_id = '{a}'"),
        ),
        (
            "grant a role",
            format!(
                "INSERT INTO user_roles (organization_id, user_id, role_id) \
             SELECT organization_id, user_id, role_id FROM user_roles WHERE organization_id = '{a}'"
            ),
        ),
        (
            "set a grade",
            format!("UPDATE enrollments SET final_grade = 100 WHERE organization_id = '{a}'"),
        ),
        (
            "drop progress",
            format!("DELETE FROM progress WHERE organization_id = '{a}'"),
        ),
        (
            "edit a review",
            format!("UPDATE reviews SET rating = 1 WHERE organization_id = '{a}'"),
        ),
        (
            "write the audit trail",
            format!(
                "INSERT INTO audit_logs (organization_id, id, table_name, record_id, action) \
             VALUES ('{a}', gen_random_uuid(), 'users', gen_random_uuid(), 'CREATE')"
            ),
        ),
        ("read sessions", "SELECT 1 FROM auth_sessions".to_owned()),
        (
            "read refresh tokens",
            "SELECT 1 FROM refresh_tokens".to_owned(),
        ),
        ("empty a table", "TRUNCATE sections".to_owned()),
    ] {
        sqlx::query("SAVEPOINT s").execute(&mut *tx).await.unwrap();
        let outcome = sql_outcome(
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(outcome, "42501", "{what}: {sql}");
        sqlx::query("ROLLBACK TO SAVEPOINT s")
            .execute(&mut *tx)
            .await
            .unwrap();
    }

    // The seeding function refuses a living organization, so it cannot add
    // an admin to one.
    sqlx::query("SAVEPOINT s").execute(&mut *tx).await.unwrap();
    let outcome = sql_outcome(
        sqlx::query("SELECT steward.seed_organization($1, '[]', $2, 'admin')")
            .bind(globex.org_id)
            .bind(
                json!({ "id": uuid::Uuid::new_v4(), "email": "mole@globex.test",
                          "first_name": "M", "last_name": "M", "password_hash": null }),
            )
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(outcome, "55000");
    sqlx::query("ROLLBACK TO SAVEPOINT s")
        .execute(&mut *tx)
        .await
        .unwrap();

    // The housekeeping of another tenant leaves the caller's context as it was.
    sqlx::query("SELECT * FROM steward.sweep_tenant($1, now())")
        .bind(globex.org_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let current: String = sqlx::query_scalar("SELECT current_setting('app.org_id')")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(current, acme.org_id.to_string());
    tx.rollback().await.unwrap();

    // Only the platform role may call the steward.
    let mut su = app.connect_as_superuser().await;
    for role in ["lms_app", "public"] {
        let callable: Vec<String> = sqlx::query_scalar(
            "SELECT p.oid::regprocedure::text FROM pg_proc p \
               JOIN pg_namespace n ON n.oid = p.pronamespace \
              WHERE n.nspname = 'steward' \
                AND has_function_privilege($1, p.oid, 'EXECUTE')",
        )
        .bind(role)
        .fetch_all(&mut su)
        .await
        .unwrap();
        assert!(callable.is_empty(), "{role} may call {callable:?}");
    }

    // The tenant role cannot call the steward at all.
    let mut tenant = app.connect_as_app().await;
    let outcome = sql_outcome(
        sqlx::query("SELECT * FROM steward.sweep_tenant($1, now())")
            .bind(acme.org_id)
            .execute(&mut tenant)
            .await,
    );
    assert_eq!(outcome, "42501");

    // The steward is an unprivileged role that nobody logs in as, and its
    // functions pin their search_path, temporary tables last.
    let (login, privileged): (bool, bool) = sqlx::query_as(
        "SELECT rolcanlogin, rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb \
           FROM pg_roles WHERE rolname = 'lms_steward'",
    )
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert!(!login && !privileged);
    let loose: Vec<String> = sqlx::query_scalar(
        "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
          WHERE n.nspname = 'steward' \
            AND (p.proowner <> 'lms_steward'::regrole OR NOT p.prosecdef \
                 OR NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c \
                                 WHERE c LIKE 'search_path=%' AND c LIKE '%, pg_temp'))",
    )
    .fetch_all(&mut su)
    .await
    .unwrap();
    assert!(loose.is_empty(), "{loose:?}");
}

/// An organization's `api_url` is where clients really reach it: the
/// scheme and port of the configured public base URL, or plain http on the
/// listening port.
#[tokio::test]
async fn an_organizations_api_url_is_where_clients_reach_it() {
    let app = TestApp::spawn_with(|a| {
        a.public_base_url = Some("https://lms.test:8443".parse().unwrap());
    })
    .await;
    let acme = app.tenant("acme").await;
    let op = app.platform_token().await;
    let a = platform(
        &app,
        &op,
        Method::GET,
        &format!("/organizations/{}", acme.org_id),
        None,
    )
    .await;
    assert_eq!(a.json["api_url"], "https://acme.lms.test:8443/api/v1");

    let mut args = lms_server::config::ServeArgs::from_env();
    args.listen = "127.0.0.1:8080".parse().unwrap();
    args.public_base_url = None;
    assert_eq!(
        args.public_scheme_and_port(),
        ("http".to_owned(), Some(8080))
    );
}

/// A support admin learns that an operation is for operators, not the
/// rules of its input.
#[tokio::test]
async fn the_platform_role_comes_before_the_rules_of_the_input() {
    let app = TestApp::spawn().await;
    let op = app.platform_token().await;
    let support = app.support_token().await;
    for body in [
        json!({ "slug": "", "name": "X", "admin": { "email": "x", "first_name": "a", "last_name": "b", "password": "short" } }),
        json!({ "surprise": true }),
    ] {
        let a = platform(
            &app,
            &support,
            Method::POST,
            "/organizations",
            Some(body.clone()),
        )
        .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{body}: {}", a.text);
        assert_eq!(a.code(), "platform_role_required");
        let a = platform(
            &app,
            &op,
            Method::POST,
            "/organizations",
            Some(body.clone()),
        )
        .await;
        assert!(matches!(a.status.as_u16(), 400 | 422), "{body}: {}", a.text);
    }
}
