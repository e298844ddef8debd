//! Pools and the two transaction doors.

use std::time::Duration;

use lms_domain::{OrgId, UserId};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, Transaction};

/// Pool sizing, from configuration.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Connections of the tenant pool (role `lms_app`).
    pub app_max_connections: u32,
    /// Connections of the platform pool (role `lms_platform`).
    pub platform_max_connections: u32,
    /// How long a request waits for a connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            app_max_connections: 16,
            platform_max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The two pools of the service.
#[derive(Clone, Debug)]
pub struct Database {
    app: PgPool,
    platform: PgPool,
}

impl Database {
    /// Connects the tenant pool as `app` and the platform pool as `platform`.
    ///
    /// Connections are not pinged on acquire: a broken connection surfaces as
    /// an error on the request's first statement anyway, and the ping would
    /// add a round trip to every request.
    pub async fn connect(
        app: PgConnectOptions,
        platform: PgConnectOptions,
        settings: &PoolSettings,
    ) -> Result<Self, sqlx::Error> {
        let pool = |max: u32| {
            PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(settings.acquire_timeout)
                .test_before_acquire(false)
        };
        let app = pool(settings.app_max_connections).connect_with(app).await?;
        let platform = pool(settings.platform_max_connections)
            .connect_with(platform)
            .await?;
        Ok(Self { app, platform })
    }

    /// Opens a transaction on the tenant pool with the tenant context set.
    ///
    /// `BEGIN` and both `set_config(…, true)` calls travel in one simple-query
    /// round trip. Only typed UUIDs are formatted into that text: never client
    /// input.
    #[tracing::instrument(level = "debug", name = "db.tenant_tx", skip(self), fields(org_id = %org))]
    pub async fn tenant(&self, org: OrgId, user: Option<UserId>) -> Result<TenantTx, sqlx::Error> {
        let tx = self
            .app
            .begin_with(AssertSqlSafe(begin_tenant_sql(org, user)))
            .await?;
        Ok(TenantTx { tx, org })
    }

    /// Opens a transaction on the platform pool (role `lms_platform`), with no
    /// tenant context: it sees the tenant registry, and no tenant's rows.
    #[tracing::instrument(level = "debug", name = "db.platform_tx", skip(self))]
    pub async fn platform(&self) -> Result<PlatformTx, sqlx::Error> {
        Ok(PlatformTx {
            tx: self.platform.begin().await?,
        })
    }

    /// Opens a read-only transaction on the platform pool that sees one
    /// snapshot throughout (`REPEATABLE READ`): a long read of many
    /// statements, such as an export, sees the data of one moment.
    pub async fn platform_snapshot(&self) -> Result<PlatformTx, sqlx::Error> {
        Ok(PlatformTx {
            tx: self
                .platform
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .await?,
        })
    }

    /// The connection settings of the platform pool (for a session
    /// connection of the same role, such as a `LISTEN`er).
    pub fn platform_options(&self) -> PgConnectOptions {
        (*self.platform.connect_options()).clone()
    }

    /// Sends one notification now, outside any transaction (platform pool).
    pub async fn notify_now(&self, channel: &str, payload: &str) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.platform)
            .await?;
        Ok(())
    }

    /// Checks both pools reach the database.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.app).await?;
        sqlx::query("SELECT 1").execute(&self.platform).await?;
        Ok(())
    }

    /// Closes both pools, waiting for connections to be returned.
    pub async fn close(&self) {
        self.app.close().await;
        self.platform.close().await;
    }
}

fn begin_tenant_sql(org: OrgId, user: Option<UserId>) -> String {
    let user = user.map(|u| u.to_string()).unwrap_or_default();
    let request = crate::request::current_uuid()
        .map(|r| r.to_string())
        .unwrap_or_default();
    format!(
        "BEGIN; SELECT set_config('app.org_id', '{org}', true), set_config('app.user_id', '{user}', true), \
         set_config('app.request_id', '{request}', true)"
    )
}

/// A transaction inside one tenant. Every tenant query takes one.
#[derive(Debug)]
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    org: OrgId,
}

impl TenantTx {
    /// The tenant this transaction is bound to.
    pub fn org(&self) -> OrgId {
        self.org
    }

    /// Queues `payloads` on the notification `channel`. PostgreSQL delivers
    /// them to the listeners when, and only if, this transaction commits.
    pub async fn notify(&mut self, channel: &str, payloads: &[String]) -> Result<(), sqlx::Error> {
        notify(&mut self.tx, channel, payloads).await
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// A transaction of the platform role, outside every tenant.
#[derive(Debug)]
pub struct PlatformTx {
    tx: Transaction<'static, Postgres>,
}

impl PlatformTx {
    /// Queues `payloads` on the notification `channel`, delivered on commit.
    pub async fn notify(&mut self, channel: &str, payloads: &[String]) -> Result<(), sqlx::Error> {
        notify(&mut self.tx, channel, payloads).await
    }

    /// Enters `org` for the rest of this transaction: from here on the
    /// tenant policies apply exactly as for a tenant request. Used to create
    /// an organization and its first rows atomically.
    pub async fn into_tenant(mut self, org: OrgId) -> Result<TenantTx, sqlx::Error> {
        sqlx::query(
            "SELECT set_config('app.org_id', $1::text, true), set_config('app.request_id', $2, true)",
        )
        .bind(org.to_string())
        .bind(crate::request::current())
        .execute(&mut *self.tx)
        .await?;
        Ok(TenantTx { tx: self.tx, org })
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// One `pg_notify` per payload, in one round trip. Identical payloads of one
/// transaction are delivered once (PostgreSQL folds them).
async fn notify(
    conn: &mut PgConnection,
    channel: &str,
    payloads: &[String],
) -> Result<(), sqlx::Error> {
    if payloads.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
        .bind(channel)
        .bind(payloads)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_statement_carries_only_ids() {
        let org = OrgId::new();
        let sql = begin_tenant_sql(org, None);
        assert!(sql.starts_with("BEGIN; SELECT set_config('app.org_id', '"));
        assert!(sql.contains(&org.to_string()));
        assert!(sql.contains("set_config('app.user_id', '', true)"));
        assert!(sql.ends_with("set_config('app.request_id', '', true)"));
    }
}
