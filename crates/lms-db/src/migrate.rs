//! Schema management: roles, versioned migrations, then the policies.
//!
//! 1. `deploy/postgres/roles.sql` (idempotent) makes sure the roles exist and
//!    may do what they must in this database.
//! 2. The versioned migrations of `migrations/` run as `lms_owner`, which so
//!    owns every object; the runtime roles own nothing.
//! 3. Every file of `policies/` is re-applied, each in its own transaction:
//!    like repeatable migrations, a policy change is an edit of one readable
//!    file, not a new migration.
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
    MIGRATOR.run(&mut *conn).await?;
    for &(name, sql) in POLICIES {
        let mut tx = conn.begin().await?;
        tx.execute(sqlx::raw_sql(sql))
            .await
            .map_err(|e| anyhow::anyhow!("applying policies/{name}: {e}"))?;
        tx.commit().await?;
        tracing::debug!(file = name, "policies applied");
    }
    Ok(())
}
