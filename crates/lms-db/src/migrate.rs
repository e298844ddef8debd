//! Schema management: roles, versioned migrations, then the policies.
//!
//! 1. `deploy/postgres/roles.sql` (idempotent) makes sure the roles exist and
//!    may do what they must in this database.
//! 2. The versioned migrations of `migrations/` run as `lms_owner`, which so
//!    owns every object; the runtime roles own nothing.
//! 3. Every file of `policies/` is re-applied, each in its own transaction,
//!    when its text changed since it was last applied or a migration ran
//!    in this run (`app.applied_policies` keeps the digests): like
//!    repeatable migrations, a policy change is an edit of one readable
//!    file, not a new migration. A start that changes nothing takes no
//!    table lock, so a replica starting beside running ones never waits on
//!    (or deadlocks with) their traffic.
//!
//! This runs on a dedicated connection, never on a pooled one, which is why
//! the session-level `SET ROLE` below is safe here (and nowhere else).

use sqlx::{Connection, Executor, PgConnection};

include!(concat!(env!("OUT_DIR"), "/policies.rs"));

/// Cluster roles and their database-level rights.
pub static ROLES_SQL: &str = include_str!("../../../deploy/postgres/roles.sql");

/// The versioned migrations, embedded.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Key of the advisory lock that serialises whole runs (roles are
/// cluster-wide, so two databases of one cluster migrating at once would race
/// on them).
const MIGRATE_LOCK: i64 = 0x6c6d_735f_6d69_6772; // "lms_migr"

/// Runs roles, migrations and policies against the database of `admin_url`,
/// a URL whose user may create roles (a superuser, or the operator's admin).
pub async fn run(admin_url: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(admin_url).await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut conn)
        .await?;
    let result = run_locked(&mut conn).await;
    let _ = conn.execute("RESET ROLE").await;
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut conn)
        .await;
    conn.close().await?;
    result
}

async fn run_locked(conn: &mut PgConnection) -> anyhow::Result<()> {
    conn.execute(sqlx::raw_sql(ROLES_SQL)).await?;
    conn.execute("SET ROLE lms_owner").await?;
    let before = migrations_applied(conn).await?;
    MIGRATOR.run(&mut *conn).await?;
    let migrated = migrations_applied(conn).await? != before;
    for &(name, sql) in POLICIES {
        let digest = sha256_hex(sql);
        let current: Option<String> =
            sqlx::query_scalar("SELECT sha256 FROM app.applied_policies WHERE file = $1")
                .bind(name)
                .fetch_optional(&mut *conn)
                .await?;
        if !migrated && current.as_deref() == Some(digest.as_str()) {
            continue;
        }
        let mut tx = conn.begin().await?;
        tx.execute(sqlx::raw_sql(sql))
            .await
            .map_err(|e| anyhow::anyhow!("applying policies/{name}: {e}"))?;
        sqlx::query(
            "INSERT INTO app.applied_policies (file, sha256) VALUES ($1, $2) \
             ON CONFLICT (file) DO UPDATE SET sha256 = EXCLUDED.sha256, applied_at = now()",
        )
        .bind(name)
        .bind(&digest)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::debug!(file = name, "policies applied");
    }
    Ok(())
}

/// How many versioned migrations the database has applied.
async fn migrations_applied(conn: &mut PgConnection) -> anyhow::Result<i64> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(0);
    }
    Ok(sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await?)
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
