//! Schema management: roles, versioned migrations, then the policies.
//!
//! 1. `deploy/postgres/roles.sql` (idempotent) makes sure the roles exist and
//!    may do what they must in this database.
//! 2. The versioned migrations of `migrations/` run as `lms_owner`, which so
//!    owns every object; the runtime roles own nothing.
//! 3. Every file of `policies/` is re-applied, in order, each in its own
//!    transaction: like repeatable migrations, a policy change is an edit
//!    of one readable file, not a new migration. `lms migrate` ([`run`])
//!    always does it, which also repairs a policy changed by hand. A service
//!    start ([`run_on_start`]) does it only when the files (one digest over
//!    all of them, since they depend on each other) or the latest migration
//!    differ from what `app.policy_state` recorded after the last complete
//!    application: a start that changes nothing takes no table lock, so a
//!    replica starting beside running ones never waits on (or deadlocks
//!    with) their traffic.
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

/// When the policies are re-applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policies {
    /// Every run.
    Always,
    /// When the files or the latest migration changed since the last
    /// complete application.
    WhenChanged,
}

/// Runs roles, migrations and policies against the database of `admin_url`,
/// a URL whose user may create roles (a superuser, or the operator's admin),
/// re-applying every policy file.
pub async fn run(admin_url: &str) -> anyhow::Result<()> {
    run_with(admin_url, Policies::Always).await
}

/// [`run`] as a service start does it: the policies are re-applied only when
/// they or the migrations changed.
pub async fn run_on_start(admin_url: &str) -> anyhow::Result<()> {
    run_with(admin_url, Policies::WhenChanged).await
}

async fn run_with(admin_url: &str, policies: Policies) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(admin_url).await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut conn)
        .await?;
    let result = run_locked(&mut conn, policies).await;
    let _ = conn.execute("RESET ROLE").await;
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut conn)
        .await;
    conn.close().await?;
    result
}

async fn run_locked(conn: &mut PgConnection, policies: Policies) -> anyhow::Result<()> {
    conn.execute(sqlx::raw_sql(ROLES_SQL)).await?;
    conn.execute("SET ROLE lms_owner").await?;
    MIGRATOR.run(&mut *conn).await?;
    let digest = sha256_hex(
        &POLICIES
            .iter()
            .map(|(name, sql)| format!("{name}\n{sql}\n"))
            .collect::<String>(),
    );
    let migration = latest_migration(conn).await?;
    let recorded: Option<(String, i64)> =
        sqlx::query_as("SELECT digest, migration FROM app.policy_state")
            .fetch_optional(&mut *conn)
            .await?;
    if policies == Policies::WhenChanged && recorded == Some((digest.clone(), migration)) {
        tracing::debug!("policies unchanged");
        return Ok(());
    }
    for &(name, sql) in POLICIES {
        let mut tx = conn.begin().await?;
        tx.execute(sqlx::raw_sql(sql))
            .await
            .map_err(|e| anyhow::anyhow!("applying policies/{name}: {e}"))?;
        tx.commit().await?;
        tracing::debug!(file = name, "policies applied");
    }
    // Only after the last file: a run cut short is redone in full.
    sqlx::query(
        "INSERT INTO app.policy_state (digest, migration) VALUES ($1, $2) \
         ON CONFLICT (id) DO UPDATE SET digest = EXCLUDED.digest, \
             migration = EXCLUDED.migration, applied_at = now()",
    )
    .bind(&digest)
    .bind(migration)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The version of the latest migration applied.
async fn latest_migration(conn: &mut PgConnection) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM _sqlx_migrations")
            .fetch_one(&mut *conn)
            .await?,
    )
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
