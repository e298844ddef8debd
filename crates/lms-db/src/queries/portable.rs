//! A tenant's complete data, out of one installation and into another:
//! every row of every tenant table, as JSON, one line per row.

use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use uuid::Uuid;

use crate::error::Violation;
use crate::{DbError, PlatformTx};

/// Tenant tables that are not carried: login sessions and refresh tokens
/// only mean something where they were issued (the tenant's users log in
/// again after a move).
pub const NOT_CARRIED: &[&str] = &["auth_sessions", "refresh_tokens"];

/// One table of a tenant: its rows as JSON lines, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableData {
    /// The table.
    pub table: String,
    /// Its rows.
    pub rows: u64,
    /// One JSON object per line, each ending with a newline.
    pub ndjson: Vec<u8>,
}

/// The tenant tables carried, by name, each with its generated columns
/// (derived, so neither exported nor imported).
async fn carried_tables(conn: &mut PgConnection) -> Result<Vec<(String, Vec<String>)>, DbError> {
    let rows: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT t.name, \
                COALESCE(array_agg(g.attname::text ORDER BY g.attname) FILTER (WHERE g.attname IS NOT NULL), '{}') \
           FROM app.tenant_tables() AS t(name) \
           LEFT JOIN pg_attribute g ON g.attrelid = ('public.' || quote_ident(t.name))::regclass \
                AND g.attgenerated <> '' AND NOT g.attisdropped \
          GROUP BY t.name ORDER BY t.name",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(t, _)| !NOT_CARRIED.contains(&t.as_str()))
        .collect())
}

/// One page of an export: rows of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The table.
    pub table: String,
    /// Its rows, one JSON object each, in the table's export order.
    pub lines: Vec<String>,
    /// Whether this is the table's last page.
    pub last: bool,
}

/// Reads every row of one tenant, table after table, a page at a time,
/// through a cursor in one snapshot transaction: an export of any size
/// holds one page in memory, and sees the tenant as it was at one moment.
pub struct Exporter {
    tx: PlatformTx,
    org: Uuid,
    tables: std::collections::VecDeque<(String, Vec<String>)>,
    /// The table the cursor is open on.
    open: Option<String>,
}

impl Exporter {
    /// Starts the export of `org` in `tx` (opened with
    /// [`crate::Database::platform_snapshot`]): its registry row and the
    /// exporter of its tables, or `None` when there is no such organization.
    pub async fn open(mut tx: PlatformTx, org: Uuid) -> Result<Option<(Value, Self)>, DbError> {
        let conn = tx.conn();
        let Some(registry): Option<Value> =
            sqlx::query_scalar("SELECT to_jsonb(o) FROM organizations o WHERE o.id = $1")
                .bind(org)
                .fetch_optional(&mut *conn)
                .await?
        else {
            return Ok(None);
        };
        sqlx::query("SELECT set_config('app.org_id', $1::text, true)")
            .bind(org.to_string())
            .execute(&mut *conn)
            .await?;
        let tables = carried_tables(conn).await?.into();
        Ok(Some((
            registry,
            Self {
                tx,
                org,
                tables,
                open: None,
            },
        )))
    }

    /// The next page of at most `rows` rows; every table has at least one
    /// (empty when the tenant has no row there). `None` after the last.
    pub async fn next_page(&mut self, rows: i64) -> Result<Option<Page>, DbError> {
        let conn = self.tx.conn();
        let table = match &self.open {
            Some(t) => t.clone(),
            None => {
                let Some((table, generated)) = self.tables.pop_front() else {
                    return Ok(None);
                };
                // Rows in the order of their text: the same data exports to
                // the same bytes.
                sqlx::query(AssertSqlSafe(format!(
                    "DECLARE export_rows NO SCROLL CURSOR FOR \
                     SELECT (to_jsonb(t) - $2::text[])::text AS line FROM public.{table} t \
                      WHERE t.organization_id = $1 ORDER BY 1"
                )))
                .bind(self.org)
                .bind(&generated)
                .execute(&mut *conn)
                .await?;
                self.open = Some(table.clone());
                table
            }
        };
        let lines: Vec<String> =
            sqlx::query_scalar(AssertSqlSafe(format!("FETCH {rows} FROM export_rows")))
                .fetch_all(&mut *conn)
                .await?;
        let last = (lines.len() as i64) < rows;
        if last {
            sqlx::query("CLOSE export_rows").execute(&mut *conn).await?;
            self.open = None;
        }
        Ok(Some(Page { table, lines, last }))
    }
}

/// Why an import was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// An organization with the archive's id, or the slug, or one of its
    /// custom domains, exists here (the constraint).
    #[error("an organization with this id, slug or domain exists here ({0})")]
    Exists(String),
    /// The archive breaks a rule of this schema (a foreign key, a check, a
    /// row of another organization, a table this installation does not
    /// carry, a malformed row).
    #[error("the archive cannot be loaded: {0}")]
    Invalid(String),
    /// This installation's roles cannot write rows as they were (see
    /// deploy/postgres/roles.sql).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else.
    #[error(transparent)]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        let Some(db) = e.as_database_error() else {
            return Self::Db(e);
        };
        let message = db.message().to_owned();
        if db.code().as_deref() == Some("55000") {
            return Self::Unavailable(message);
        }
        match crate::error::classify(&e) {
            Some(Violation::Unique(constraint)) => Self::Exists(constraint),
            Some(
                Violation::ForeignKey(_)
                | Violation::Check(_)
                | Violation::NotNull(_)
                | Violation::RowSecurity
                | Violation::InvalidValue,
            ) => Self::Invalid(message),
            _ => Self::Db(e),
        }
    }
}

/// Loads an exported tenant into this installation as a new organization,
/// ids kept, as one transaction of `conn` (an administrator's connection,
/// or the platform role's): the registry row (under `slug` when given),
/// then every table, then every foreign key checked. Through the functions
/// of schema `import`, which write only into an organization the same
/// transaction registered, and only its rows.
pub async fn import(
    conn: &mut PgConnection,
    registry: &Value,
    slug: Option<&str>,
    tables: &[TableData],
) -> Result<Uuid, ImportError> {
    let mut tx = conn.begin().await?;
    let org = load(&mut tx, registry, slug, tables).await?;
    tx.commit().await?;
    Ok(org)
}

/// [`import`] inside the platform transaction `tx`, which the caller
/// commits.
pub async fn import_in(
    tx: &mut PlatformTx,
    registry: &Value,
    slug: Option<&str>,
    tables: &[TableData],
) -> Result<Uuid, ImportError> {
    load(tx.conn(), registry, slug, tables).await
}

async fn load(
    conn: &mut PgConnection,
    registry: &Value,
    slug: Option<&str>,
    tables: &[TableData],
) -> Result<Uuid, ImportError> {
    let org: Uuid = sqlx::query_scalar("SELECT import.register($1, $2)")
        .bind(registry)
        .bind(slug)
        .fetch_one(&mut *conn)
        .await?;
    let own = org.to_string();
    for t in tables {
        let mut rows = Vec::new();
        for line in t.ndjson.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let row: Value = serde_json::from_slice(line)
                .map_err(|e| ImportError::Invalid(format!("a row of {}: {e}", t.table)))?;
            // The database refuses it too; this says which table.
            if row["organization_id"].as_str() != Some(own.as_str()) {
                return Err(ImportError::Invalid(format!(
                    "a row of {} belongs to another organization than the archive's",
                    t.table
                )));
            }
            rows.push(row);
        }
        for chunk in rows.chunks(1000) {
            sqlx::query("SELECT import.load_rows($1, $2, $3)")
                .bind(org)
                .bind(&t.table)
                .bind(Value::Array(chunk.to_vec()))
                .execute(&mut *conn)
                .await?;
        }
    }
    sqlx::query("SELECT import.finish($1)")
        .bind(org)
        .execute(&mut *conn)
        .await?;
    Ok(org)
}
