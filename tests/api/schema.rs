//! Structural isolation, read from the system catalogs: the rules that make
//! a leak impossible by construction, checked on the real migrated schema.

use lms_tests::TestApp;
use sqlx::PgConnection;

async fn rows(conn: &mut PgConnection, sql: &'static str) -> Vec<String> {
    sqlx::query_scalar(sql).fetch_all(conn).await.unwrap()
}

#[tokio::test]
async fn every_tenant_table_has_rls_enabled_forced_and_checked_both_ways() {
    let app = TestApp::spawn().await;
    let mut su = app.connect_as_superuser().await;
    let not_forced = rows(
        &mut su,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r','p') \
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id') \
           AND NOT (c.relrowsecurity AND c.relforcerowsecurity)",
    )
    .await;
    assert!(
        not_forced.is_empty(),
        "RLS not enabled and forced on {not_forced:?}"
    );

    // Every policy that applies to the runtime role on a tenant table reads
    // the tenant from the setting, in USING and in WITH CHECK.
    let weak = rows(
        &mut su,
        "SELECT p.tablename || '.' || p.policyname FROM pg_policies p \
         WHERE p.schemaname = 'public' AND p.permissive = 'PERMISSIVE' \
           AND ('lms_app' = ANY (p.roles) OR 'public' = ANY (p.roles)) \
           AND EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = 'public' \
                       AND c.table_name = p.tablename AND c.column_name = 'organization_id') \
           AND (p.qual IS NULL OR p.qual NOT LIKE '%current_org_id()%' \
                OR (p.cmd IN ('ALL','INSERT','UPDATE') AND (p.with_check IS NULL OR p.with_check NOT LIKE '%current_org_id()%')))",
    )
    .await;
    assert!(
        weak.is_empty(),
        "policies not bound to the tenant both ways: {weak:?}"
    );

    let unprotected = rows(
        &mut su,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r','p') \
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id') \
           AND NOT EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = 'public' AND p.tablename = c.relname \
                           AND 'lms_app' = ANY (p.roles))",
    )
    .await;
    assert!(
        unprotected.is_empty(),
        "tenant tables without a policy for lms_app: {unprotected:?}"
    );

    // The registry tables are protected too, though they have no organization_id column.
    let registry = rows(
        &mut su,
        "SELECT relname::text FROM pg_class WHERE relname IN ('organizations','platform_admins', \
         'platform_audit_logs','organization_deletions') \
         AND relrowsecurity AND relforcerowsecurity ORDER BY 1",
    )
    .await;
    assert_eq!(
        registry,
        [
            "organization_deletions",
            "organizations",
            "platform_admins",
            "platform_audit_logs"
        ]
    );
}

#[tokio::test]
async fn the_runtime_roles_are_unprivileged_and_own_nothing() {
    let app = TestApp::spawn().await;
    let mut su = app.connect_as_superuser().await;
    let privileged = rows(
        &mut su,
        "SELECT rolname::text FROM pg_roles WHERE rolname IN ('lms_app','lms_platform') \
         AND (rolsuper OR rolbypassrls OR rolcreatedb OR rolcreaterole)",
    )
    .await;
    assert!(privileged.is_empty(), "{privileged:?}");
    let owned = rows(
        &mut su,
        "SELECT c.relname::text FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner \
         WHERE r.rolname IN ('lms_app','lms_platform') \
         UNION ALL SELECT p.proname::text FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner \
         WHERE r.rolname IN ('lms_app','lms_platform') \
         UNION ALL SELECT n.nspname::text FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner \
         WHERE r.rolname IN ('lms_app','lms_platform')",
    )
    .await;
    assert!(owned.is_empty(), "runtime roles own {owned:?}");
    let owner_bypass: bool = sqlx::query_scalar(
        "SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = 'lms_owner'",
    )
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert!(
        !owner_bypass,
        "the schema owner is subject to the forced policies too"
    );
}

#[tokio::test]
async fn every_key_between_tenant_tables_includes_the_tenant() {
    let app = TestApp::spawn().await;
    let mut su = app.connect_as_superuser().await;
    // Foreign keys from a tenant table to a tenant table must carry
    // organization_id on both sides, at the same position.
    let loose_fks = rows(
        &mut su,
        "SELECT con.conname::text FROM pg_constraint con \
         JOIN pg_class src ON src.oid = con.conrelid JOIN pg_class dst ON dst.oid = con.confrelid \
         WHERE con.contype = 'f' \
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = src.oid AND a.attname = 'organization_id') \
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = dst.oid AND a.attname = 'organization_id') \
           AND NOT EXISTS ( \
             SELECT 1 FROM unnest(con.conkey, con.confkey) AS k(src_col, dst_col) \
             JOIN pg_attribute sa ON sa.attrelid = src.oid AND sa.attnum = k.src_col \
             JOIN pg_attribute da ON da.attrelid = dst.oid AND da.attnum = k.dst_col \
             WHERE sa.attname = 'organization_id' AND da.attname = 'organization_id')",
    )
    .await;
    assert!(
        loose_fks.is_empty(),
        "foreign keys that can cross tenants: {loose_fks:?}"
    );

    // Primary keys and unique constraints (and unique indexes) lead with
    // organization_id. The one exception: a custom domain maps to one tenant.
    let global_keys = rows(
        &mut su,
        "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' AND i.indisunique \
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attname = 'organization_id') \
           AND (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attnum = i.indkey[0]) \
               IS DISTINCT FROM 'organization_id' \
           AND i.indexrelid::regclass::text <> 'organization_domains_domain_key'",
    )
    .await;
    assert!(
        global_keys.is_empty(),
        "unique keys not led by the tenant: {global_keys:?}"
    );

    // Every foreign key from a tenant table to a tenant table has an index
    // on its referencing columns led by the tenant (deletes and joins).
    let fk_count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_constraint con JOIN pg_class src ON src.oid = con.conrelid \
         WHERE con.contype = 'f' AND src.relnamespace = 'public'::regnamespace \
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = src.oid AND a.attname = 'organization_id')",
    )
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert!(fk_count >= 20, "composite foreign keys found: {fk_count}");
}

#[tokio::test]
async fn the_seed_constraints_live_in_the_database() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    let course = a.create_course("C").await;
    let course_id: uuid::Uuid = course["id"].as_str().unwrap().parse().unwrap();
    let mut su = app.connect_as_superuser().await;
    let org = a.org_id;
    let user = a.admin_id;
    let lesson = uuid::Uuid::now_v7();
    let section = uuid::Uuid::now_v7();
    sqlx::query("INSERT INTO lessons (organization_id, id, course_id, title, position) VALUES ($1,$2,$3,'L',0)")
        .bind(org).bind(lesson).bind(course_id).execute(&mut su).await.unwrap();
    sqlx::query("INSERT INTO sections (organization_id, id, lesson_id, title, position) VALUES ($1,$2,$3,'S',0)")
        .bind(org).bind(section).bind(lesson).execute(&mut su).await.unwrap();
    // Progress is recorded on an active enrollment only.
    sqlx::query(
        "INSERT INTO enrollments (organization_id, id, user_id, course_id) VALUES ($1,$2,$3,$4)",
    )
    .bind(org)
    .bind(uuid::Uuid::now_v7())
    .bind(user)
    .bind(course_id)
    .execute(&mut su)
    .await
    .unwrap();

    let progress = |score: &str, time: &str| {
        format!(
            "INSERT INTO progress (organization_id, id, user_id, course_id, lesson_id, section_id, score, time_spent_seconds) \
             VALUES ('{org}', '{}', '{user}', '{course_id}', '{lesson}', '{section}', {score}, {time})",
            uuid::Uuid::now_v7()
        )
    };
    let violations = [
        ("score over 100", progress("101", "0"), "23514"),
        ("negative score", progress("-1", "0"), "23514"),
        ("negative time", progress("50", "-5"), "23514"),
        (
            "rating 6",
            format!(
                "INSERT INTO reviews (organization_id, id, course_id, user_id, rating) VALUES ('{org}', '{}', '{course_id}', '{user}', 6)",
                uuid::Uuid::now_v7()
            ),
            "23514",
        ),
        (
            // Completion is stamped by the database, never written (the
            // guard refuses before the check constraint would).
            "enrolled already completed",
            format!(
                "INSERT INTO enrollments (organization_id, id, user_id, course_id, enrolled_at, completed_at) VALUES ('{org}', '{}', '{user}', '{course_id}', now(), now() - interval '1 day')",
                uuid::Uuid::now_v7()
            ),
            "42501",
        ),
        (
            "duplicate lesson position",
            format!(
                "INSERT INTO lessons (organization_id, id, course_id, title, position) VALUES ('{org}', '{}', '{course_id}', 'L2', 0)",
                uuid::Uuid::now_v7()
            ),
            "23505",
        ),
        (
            "progress whose section is in another lesson",
            format!(
                "INSERT INTO progress (organization_id, id, user_id, course_id, lesson_id, section_id) VALUES ('{org}', '{}', '{user}', '{course_id}', '{}', '{section}')",
                uuid::Uuid::now_v7(),
                uuid::Uuid::now_v7()
            ),
            "23503",
        ),
    ];
    for (why, sql, code) in violations {
        let err = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut su)
            .await
            .expect_err(why);
        assert_eq!(
            err.as_database_error().unwrap().code().unwrap(),
            code,
            "{why}: {err}"
        );
    }
    // One progress row per user and section.
    sqlx::query(sqlx::AssertSqlSafe(progress("100", "30")))
        .execute(&mut su)
        .await
        .unwrap();
    let err = sqlx::query(sqlx::AssertSqlSafe(progress("90", "30")))
        .execute(&mut su)
        .await
        .unwrap_err();
    assert_eq!(err.as_database_error().unwrap().code().unwrap(), "23505");

    // Order is unique but deferrable: a swap inside one transaction works.
    let second = uuid::Uuid::now_v7();
    sqlx::query("INSERT INTO lessons (organization_id, id, course_id, title, position) VALUES ($1,$2,$3,'L2',1)")
        .bind(org).bind(second).bind(course_id).execute(&mut su).await.unwrap();
    let mut tx = sqlx::Connection::begin(&mut su).await.unwrap();
    sqlx::query("SET CONSTRAINTS ALL DEFERRED")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE lessons SET position = 1 - position WHERE course_id = $1")
        .bind(course_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Ratings keep the course's aggregate.
    sqlx::query("INSERT INTO reviews (organization_id, id, course_id, user_id, rating) VALUES ($1,$2,$3,$4,4)")
        .bind(org).bind(uuid::Uuid::now_v7()).bind(course_id).bind(user).execute(&mut su).await.unwrap();
    let got = a.get(&format!("/api/v1/courses/{course_id}")).await;
    assert_eq!(got.json["course"]["rating_count"], 1);
    assert_eq!(got.json["course"]["average_rating"], 4.0);
}

#[tokio::test]
async fn an_organization_with_content_can_be_deleted_whole() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    let b = app.tenant("globex").await;
    for t in [&a, &b] {
        let c = t.create_course("Course").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let l = t
            .post(
                &format!("/api/v1/courses/{c}/lessons"),
                serde_json::json!({ "title": "L" }),
            )
            .await;
        let l = l.json["id"].as_str().unwrap().to_owned();
        t.post(
            &format!("/api/v1/courses/{c}/lessons/{l}/sections"),
            serde_json::json!({ "title": "S" }),
        )
        .await;
    }
    let mut su = app.connect_as_superuser().await;
    sqlx::query("DELETE FROM organizations WHERE id = $1")
        .bind(a.org_id)
        .execute(&mut su)
        .await
        .expect("the cascade (and the audit trigger it fires) lets the tenant go");
    for table in ["courses", "lessons", "sections", "users", "audit_logs"] {
        let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE organization_id = $1"
        )))
        .bind(a.org_id)
        .fetch_one(&mut su)
        .await
        .unwrap();
        assert_eq!(left, 0, "{table} keeps rows of a deleted tenant");
    }
    assert_eq!(
        b.get("/api/v1/courses").await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// A service start that changes nothing re-applies no policy file, so it
/// takes no table lock: a replica starts while another holds a long
/// transaction on a table (here, a lock on `courses`). Once the files or
/// the migrations differ from what was recorded, every file is re-applied
/// (they depend on each other), and `lms migrate` always re-applies them.
#[tokio::test]
async fn a_start_reapplies_the_policies_only_when_they_changed() {
    let app = lms_tests::TestApp::spawn().await;
    let url = app.superuser_url();
    let mut su = app.connect_as_superuser().await;
    let stamp = "SELECT applied_at FROM app.policy_state";
    let first: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar(stamp).fetch_one(&mut su).await.unwrap();

    let mut holder = app.connect_as_superuser().await;
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("LOCK TABLE courses IN ACCESS SHARE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        lms_db::migrate::run_on_start(&url),
    )
    .await
    .expect("a start does not wait on a running transaction")
    .unwrap();
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let unchanged: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar(stamp).fetch_one(&mut su).await.unwrap();
    assert_eq!(first, unchanged, "nothing re-applied");

    // A policy dropped by hand and a recorded state that no longer matches:
    // the next start re-applies everything, the dropped policy included.
    sqlx::query("DROP POLICY courses_changed ON courses")
        .execute(&mut su)
        .await
        .unwrap();
    sqlx::query("UPDATE app.policy_state SET digest = 'old'")
        .execute(&mut su)
        .await
        .unwrap();
    lms_db::migrate::run_on_start(&url).await.unwrap();
    let policy = "SELECT count(*) FROM pg_policy WHERE polname = 'courses_changed'";
    let restored: i64 = sqlx::query_scalar(policy).fetch_one(&mut su).await.unwrap();
    assert_eq!(restored, 1, "re-applied in full");
    let moved: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar(stamp).fetch_one(&mut su).await.unwrap();
    assert!(moved > first);

    // `lms migrate` repairs a hand-made change even when nothing differs.
    sqlx::query("DROP POLICY courses_changed ON courses")
        .execute(&mut su)
        .await
        .unwrap();
    lms_db::migrate::run(&url).await.unwrap();
    let repaired: i64 = sqlx::query_scalar(policy).fetch_one(&mut su).await.unwrap();
    assert_eq!(repaired, 1, "lms migrate re-applies every time");
}
