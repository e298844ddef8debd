//! The test harness: a fresh migrated database and a running server per test.
//!
//! Databases are cloned from a template migrated once per cluster (keyed by a
//! hash of the migrations, policies and roles, so a schema change makes a new
//! one). With `DATABASE_URL` set, that server is used (it must allow creating
//! databases and roles); otherwise one throwaway cluster per test process is
//! started from the local PostgreSQL binaries.
//!
//! The server under test connects exactly as in production: tenant work as
//! `lms_app`, platform work as `lms_platform`. The superuser connection here
//! is only for creating databases and for setting up what a test needs.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use lms_db::cluster::{ClusterOptions, LocalCluster};
use lms_server::config::ServeArgs;
use lms_server::startup::{self, RunningServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

mod statements;
pub use statements::{round_trips_of, statements_of};

/// Base domain of tenants in tests.
pub const BASE_DOMAIN: &str = "lms.test";
/// The platform host in tests.
pub const PLATFORM_HOST: &str = "admin.lms.test";
/// The JWT secret the test servers use (tests forge tokens with it).
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret!";
/// The JWT issuer of test servers.
pub const JWT_ISSUER: &str = "tenantry-lms-test";
/// Password of every user the harness makes.
pub const PASSWORD: &str = "correct horse battery staple";

struct Shared {
    /// Keeps the throwaway cluster alive for the whole process.
    _cluster: Option<LocalCluster>,
    /// Superuser URL without a database name.
    server_url: String,
    template: String,
}

static SHARED: OnceLock<Shared> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        // Initialised on its own thread and runtime: tests run on many
        // runtimes, and none of them may block on another's futures.
        std::thread::spawn(init_shared)
            .join()
            .expect("test database setup panicked")
    })
}

fn init_shared() -> Shared {
    statements::install();
    let (cluster, server_url) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let mut u = url::Url::parse(&url).expect("DATABASE_URL is a URL");
            u.set_path("");
            (None, u.to_string().trim_end_matches('/').to_owned())
        }
        _ => {
            let dir = std::env::temp_dir().join(format!(
                "lms-test-pg-{}-{}",
                std::process::id(),
                Uuid::now_v7()
            ));
            let cluster = LocalCluster::start(&ClusterOptions {
                data_dir: dir,
                ephemeral: true,
                bin_dir: None,
            })
            .expect("starting a throwaway PostgreSQL cluster");
            let url = format!("postgres://postgres@127.0.0.1:{}", cluster.port());
            (Some(cluster), url)
        }
    };
    let template = format!("lms_template_{:016x}", schema_hash());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(ensure_template(&server_url, &template));
    Shared {
        _cluster: cluster,
        server_url,
        template,
    }
}

fn schema_hash() -> u64 {
    let mut h = DefaultHasher::new();
    for m in lms_db::migrate::MIGRATOR.iter() {
        m.version.hash(&mut h);
        m.checksum.hash(&mut h);
    }
    lms_db::migrate::POLICIES.hash(&mut h);
    lms_db::migrate::ROLES_SQL.hash(&mut h);
    h.finish()
}

async fn ensure_template(server_url: &str, template: &str) {
    let mut conn = PgConnection::connect(&format!("{server_url}/postgres"))
        .await
        .expect("connect as superuser");
    // Several test processes may start at once: one builds, the others wait.
    sqlx::query("SELECT pg_advisory_lock(7283461)")
        .execute(&mut conn)
        .await
        .unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(template)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    if !exists {
        let building = format!("{template}_building");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {building}"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
            .execute(&mut conn)
            .await
            .unwrap();
        lms_db::migrate::run(&format!("{server_url}/{building}"))
            .await
            .expect("migrating the template");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {building} RENAME TO {template}"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        // Templates of earlier schemas are of no use any more.
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database \
             WHERE datname LIKE 'lms\\_template\\_%' AND datname <> $1",
        )
        .bind(template)
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default();
        for db in stale {
            let drop = format!("DROP DATABASE IF EXISTS {db}");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&mut conn)
                .await;
        }
    }
    sqlx::query("SELECT pg_advisory_unlock(7283461)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// Superuser URL of the test cluster, without a database name.
pub fn server_url() -> String {
    shared().server_url.clone()
}

/// A running server on a fresh database.
pub struct TestApp {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// The test's database.
    pub database: String,
    /// A plain HTTP client (no redirects, no cookies).
    pub http: reqwest::Client,
    server: Option<RunningServer>,
    server_url: String,
    /// Whether dropping this app drops the database (not for replicas).
    owns_database: bool,
}

/// An HTTP answer: status, headers and parsed JSON body (`Null` if empty or
/// not JSON; the raw text is kept).
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body as JSON.
    pub json: Value,
    /// Body as text.
    pub text: String,
}

impl Answer {
    /// The error `code` of an error body.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// A fresh database cloned from the migrated template, and a server on it.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Like [`TestApp::spawn`], with changed server settings.
    pub async fn spawn_with(tweak: impl FnOnce(&mut ServeArgs)) -> TestApp {
        let shared = shared();
        let database = format!(
            "lms_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            &Uuid::now_v7().simple().to_string()[24..]
        );
        let mut conn = PgConnection::connect(&format!("{}/postgres", shared.server_url))
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {database} TEMPLATE {}",
            shared.template
        )))
        .execute(&mut conn)
        .await
        .expect("cloning the template database");
        conn.close().await.unwrap();

        Self::serve(database, shared.server_url.clone(), true, tweak).await
    }

    /// A second server on this app's database, with its own pools, caches
    /// and invalidation listener: another replica behind the same load
    /// balancer.
    pub async fn replica(&self) -> TestApp {
        Self::serve(
            self.database.clone(),
            self.server_url.clone(),
            false,
            |_| {},
        )
        .await
    }

    async fn serve(
        database: String,
        server_url: String,
        owns_database: bool,
        tweak: impl FnOnce(&mut ServeArgs),
    ) -> TestApp {
        let admin = format!("{server_url}/{database}");
        let app_url = startup::role_url(&admin, "lms_app").unwrap();
        let platform_url = startup::role_url(&admin, "lms_platform").unwrap();
        let db = startup::connect(&app_url, &platform_url, 8)
            .await
            .expect("connecting as lms_app");
        let mut args = ServeArgs::from_env();
        args.listen = "127.0.0.1:0".parse().unwrap();
        args.base_domain = BASE_DOMAIN.into();
        args.platform_host = Some(PLATFORM_HOST.into());
        args.jwt_secret = Some(JWT_SECRET.into());
        args.jwt_issuer = JWT_ISSUER.into();
        args.trusted_proxies = vec![];
        tweak(&mut args);
        let listener = startup::listener_options(&db, &args).unwrap();
        let default_listener = args.listener_database_url.is_none();
        let ctx = startup::api_context(db, &args).unwrap();
        let server = startup::start(ctx, args.listen, listener, None)
            .await
            .expect("starting the server");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let app = TestApp {
            addr: server.addr,
            database,
            http,
            server: Some(server),
            server_url,
            owns_database,
        };
        if default_listener {
            app.until_listening().await;
        }
        app
    }

    /// The server's state (caches, counters).
    pub fn ctx(&self) -> &lms_api::Ctx {
        &self.server.as_ref().expect("a running server").ctx
    }

    /// Invalidation notices this server has applied so far.
    pub fn notices(&self) -> u64 {
        self.ctx().freshness.notices()
    }

    /// Waits (at most 10 s) until the server has applied more than `seen`
    /// invalidation notices; panics otherwise.
    pub async fn until_notices_exceed(&self, seen: u64) {
        for _ in 0..1000 {
            if self.notices() > seen {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no invalidation notice arrived");
    }

    /// Waits (at most 10 s) until the invalidation listener is connected
    /// (the caches are trusted).
    pub async fn until_listening(&self) {
        for _ in 0..1000 {
            if self.ctx().freshness.trusted() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Superuser URL of this test's database (setup and inspection only).
    pub fn superuser_url(&self) -> String {
        format!("{}/{}", self.server_url, self.database)
    }

    /// A connection as the runtime tenant role, with no tenant set.
    pub async fn connect_as_app(&self) -> PgConnection {
        let url = startup::role_url(&self.superuser_url(), "lms_app").unwrap();
        PgConnection::connect(&url)
            .await
            .expect("connect as lms_app")
    }

    /// A connection as the platform role, with no tenant set.
    pub async fn connect_as_platform(&self) -> PgConnection {
        let url = startup::role_url(&self.superuser_url(), "lms_platform").unwrap();
        PgConnection::connect(&url)
            .await
            .expect("connect as lms_platform")
    }

    /// A superuser connection (setup and catalog inspection only).
    pub async fn connect_as_superuser(&self) -> PgConnection {
        PgConnection::connect(&self.superuser_url())
            .await
            .expect("connect as superuser")
    }

    /// Sends a request to `host` with an optional bearer token and JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        host: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Body>,
    ) -> Answer {
        self.send_with(method, host, path, token, body, &[]).await
    }

    /// [`TestApp::send`] with extra request headers.
    pub async fn send_with(
        &self,
        method: reqwest::Method,
        host: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Body>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("http://{}{path}", self.addr))
            .header(reqwest::header::HOST, host);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        match body {
            Some(Body::Json(v)) => req = req.json(&v),
            Some(Body::Raw(ct, text)) => {
                req = req.header(reqwest::header::CONTENT_TYPE, ct).body(text);
            }
            None => {}
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            text,
        }
    }

    /// Creates a platform admin directly and logs in through the API.
    pub async fn platform_token(&self) -> String {
        let email = format!("op-{}@platform.test", Uuid::now_v7().simple());
        let hash = lms_api::auth::hash_password_async(PASSWORD.into())
            .await
            .unwrap();
        let ctx = &self.server.as_ref().unwrap().ctx;
        lms_api::provision::create_platform_admin(
            &ctx.db,
            &lms_domain::Email::parse("email", &email).unwrap(),
            "Operator",
            &hash,
        )
        .await
        .unwrap();
        let a = self
            .send(
                reqwest::Method::POST,
                PLATFORM_HOST,
                "/platform/v1/auth/token",
                None,
                Some(Body::Json(json!({ "email": email, "password": PASSWORD }))),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "platform login: {}", a.text);
        a.json["access_token"].as_str().unwrap().to_owned()
    }

    /// A platform admin with the `SUPPORT` role (read only), created by an
    /// operator through the API, logged in.
    pub async fn support_token(&self) -> String {
        let op = self.platform_token().await;
        let email = format!("support-{}@platform.test", Uuid::now_v7().simple());
        let a = self
            .send(
                reqwest::Method::POST,
                PLATFORM_HOST,
                "/platform/v1/admins",
                Some(&op),
                Some(Body::Json(json!({
                    "email": email, "display_name": "Support", "password": PASSWORD,
                    "role": "SUPPORT"
                }))),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        let a = self
            .send(
                reqwest::Method::POST,
                PLATFORM_HOST,
                "/platform/v1/auth/token",
                None,
                Some(Body::Json(json!({ "email": email, "password": PASSWORD }))),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "platform login: {}", a.text);
        a.json["access_token"].as_str().unwrap().to_owned()
    }

    /// Provisions a tenant through the platform API and logs its admin in.
    pub async fn tenant(&self, slug: &str) -> Tenant<'_> {
        let op = self.platform_token().await;
        let email = format!("admin@{slug}.test");
        let a = self
            .send(
                reqwest::Method::POST,
                PLATFORM_HOST,
                "/platform/v1/organizations",
                Some(&op),
                Some(Body::Json(json!({
                    "slug": slug,
                    "name": format!("{slug} academy"),
                    "admin": { "email": email, "first_name": "Ada", "last_name": slug, "password": PASSWORD }
                }))),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "create tenant: {}", a.text);
        let org_id: Uuid = a.json["organization"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let admin_id: Uuid = a.json["admin_user_id"].as_str().unwrap().parse().unwrap();
        let host = format!("{slug}.{BASE_DOMAIN}");
        let mut t = Tenant {
            app: self,
            slug: slug.into(),
            host,
            org_id,
            admin_id,
            token: String::new(),
        };
        t.token = t.login(&email, PASSWORD).await.json["access_token"]
            .as_str()
            .expect("admin login")
            .to_owned();
        t
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let server = self.server.take();
        if !self.owns_database {
            drop(server);
            return;
        }
        let url = format!("{}/postgres", self.server_url);
        let db = self.database.clone();
        // Stop the server and drop the database on a thread of its own: Drop
        // cannot await, and the test's runtime is shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                drop(server);
                if let Ok(mut conn) = PgConnection::connect(&url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

/// A request body.
pub enum Body {
    /// A JSON value.
    Json(Value),
    /// Raw text with a content type.
    Raw(&'static str, String),
}

/// A tenant of a [`TestApp`], with its first admin logged in.
pub struct Tenant<'a> {
    /// The app.
    pub app: &'a TestApp,
    /// Its slug.
    pub slug: String,
    /// Its host.
    pub host: String,
    /// Its organization id.
    pub org_id: Uuid,
    /// Its first admin's id.
    pub admin_id: Uuid,
    /// The admin's access token.
    pub token: String,
}

/// A transaction of `conn` (connected as `lms_app`) inside `org`, acting
/// as `user`, as the service opens one for a request.
pub async fn acting_as(
    conn: &mut PgConnection,
    org: Uuid,
    user: Uuid,
) -> sqlx::Transaction<'_, sqlx::Postgres> {
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true)")
        .bind(org.to_string())
        .bind(user.to_string())
        .execute(&mut *tx)
        .await
        .expect("tenant context");
    tx
}

/// What a statement did, for comparing: `ok, N rows`, or the SQLSTATE it
/// failed with (`42501`: refused by a policy or a grant).
pub fn sql_outcome(r: Result<sqlx::postgres::PgQueryResult, sqlx::Error>) -> String {
    match r {
        Ok(done) => format!("ok, {} rows", done.rows_affected()),
        Err(e) => e
            .as_database_error()
            .and_then(|d| d.code())
            .unwrap_or_default()
            .into_owned(),
    }
}

/// The claims of a JWT, read without checking it (tests only).
pub fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

impl Tenant<'_> {
    /// A second handle on the same tenant (for closures that must own one).
    pub fn clone_ref(&self) -> Self {
        Tenant {
            app: self.app,
            slug: self.slug.clone(),
            host: self.host.clone(),
            org_id: self.org_id,
            admin_id: self.admin_id,
            token: self.token.clone(),
        }
    }

    /// The same tenant and admin, reached through another server (a
    /// replica) of the same database.
    pub fn on<'b>(&self, app: &'b TestApp) -> Tenant<'b> {
        Tenant {
            app,
            slug: self.slug.clone(),
            host: self.host.clone(),
            org_id: self.org_id,
            admin_id: self.admin_id,
            token: self.token.clone(),
        }
    }

    /// Logs in on this tenant's host.
    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.app
            .send(
                reqwest::Method::POST,
                &self.host,
                "/api/v1/auth/token",
                None,
                Some(Body::Json(json!({ "email": email, "password": password }))),
            )
            .await
    }

    /// GET as the admin.
    pub async fn get(&self, path: &str) -> Answer {
        self.app
            .send(
                reqwest::Method::GET,
                &self.host,
                path,
                Some(&self.token),
                None,
            )
            .await
    }

    /// POST JSON as the admin.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.app
            .send(
                reqwest::Method::POST,
                &self.host,
                path,
                Some(&self.token),
                Some(Body::Json(body)),
            )
            .await
    }

    /// PATCH JSON as the admin.
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.app
            .send(
                reqwest::Method::PATCH,
                &self.host,
                path,
                Some(&self.token),
                Some(Body::Json(body)),
            )
            .await
    }

    /// DELETE as the admin.
    pub async fn delete(&self, path: &str) -> Answer {
        self.app
            .send(
                reqwest::Method::DELETE,
                &self.host,
                path,
                Some(&self.token),
                None,
            )
            .await
    }

    /// Sends a request as the holder of `token` on this tenant's host.
    pub async fn send_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        self.app
            .send(method, &self.host, path, Some(token), body.map(Body::Json))
            .await
    }

    /// Creates a user holding the default role `role` (with the harness
    /// password) and logs them in. Returns (user id, access token).
    pub async fn user_with_role(&self, email: &str, role: &str) -> (Uuid, String) {
        let a = self
            .post(
                "/api/v1/users",
                json!({ "email": email, "first_name": "Some", "last_name": "One",
                        "password": PASSWORD, "roles": [role] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "create user: {}", a.text);
        let id: Uuid = a.json["id"].as_str().unwrap().parse().unwrap();
        let login = self.login(email, PASSWORD).await;
        assert_eq!(
            login.status,
            StatusCode::OK,
            "login {email}: {}",
            login.text
        );
        (id, login.json["access_token"].as_str().unwrap().to_owned())
    }

    /// Creates a course and returns its JSON.
    pub async fn create_course(&self, title: &str) -> Value {
        let a = self
            .post(
                "/api/v1/courses",
                json!({ "title": title, "description": format!("{title} in depth") }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "create course: {}", a.text);
        a.json
    }
}

/// Generated datasets (`lms generate`) for tests that need realistic data.
pub mod dataset {
    use super::{Answer, Body, TestApp};
    use chrono::{TimeZone, Utc};
    use lms_db::generate::{self, Scale, Totals};
    use reqwest::StatusCode;
    use serde_json::json;
    use uuid::Uuid;

    /// Every generated user's password.
    pub const PASSWORD: &str = "generated-password";

    /// Generates `scale` into the app's database as organizations
    /// `<prefix>0001`…, at a fixed day so that a seed gives the same rows.
    pub async fn generate(app: &TestApp, seed: u64, scale: &Scale, prefix: &str) -> Totals {
        let hash = lms_api::auth::hash_password_async(PASSWORD.into())
            .await
            .unwrap();
        let as_of = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let mut conn = app.connect_as_superuser().await;
        generate::generate(&mut conn, seed, scale, prefix, &hash, as_of, |_| {})
            .await
            .expect("generating")
    }

    /// A learner of organization `slug` with a section still to do:
    /// (organization, e-mail, course, section).
    pub async fn learner_with_work(app: &TestApp, slug: &str) -> (Uuid, String, Uuid, Uuid) {
        let mut conn = app.connect_as_superuser().await;
        sqlx::query_as(
            "SELECT o.id, u.email, e.course_id, s.id FROM organizations o \
               JOIN users u ON u.organization_id = o.id \
               JOIN enrollments e ON e.organization_id = u.organization_id AND e.user_id = u.id \
                AND e.status = 'ACTIVE' \
               JOIN lessons l ON l.organization_id = e.organization_id AND l.course_id = e.course_id \
               JOIN sections s ON s.organization_id = l.organization_id AND s.lesson_id = l.id \
              WHERE o.slug = $1 AND u.email LIKE 'learner%' \
                AND NOT EXISTS (SELECT 1 FROM progress p WHERE p.organization_id = s.organization_id \
                                   AND p.user_id = u.id AND p.section_id = s.id) \
              ORDER BY u.email, l.position, s.position LIMIT 1",
        )
        .bind(slug)
        .fetch_one(&mut conn)
        .await
        .expect("a learner with a section to do")
    }

    /// Logs `email` in on `host`; the answer must be 200.
    pub async fn login(app: &TestApp, host: &str, email: &str, password: &str) -> Answer {
        let a = app
            .send(
                reqwest::Method::POST,
                host,
                "/api/v1/auth/token",
                None,
                Some(Body::Json(json!({ "email": email, "password": password }))),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "login {email}: {}", a.text);
        a
    }
}

/// Asks `probe` again until `ok` holds, for at most one second after the
/// write it follows; fails with the last answer otherwise.
pub async fn within_a_second<F, Fut>(what: &str, mut probe: F, ok: impl Fn(&Answer) -> bool)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let started = std::time::Instant::now();
    loop {
        let a = probe().await;
        if ok(&a) {
            return;
        }
        if started.elapsed() > Duration::from_secs(1) {
            panic!("{what}: still answers {} {}", a.status, a.text);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
