//! A tenant's complete data, out of one installation and into another:
//! every row of every tenant table, as JSON, one line per row.

use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use uuid::Uuid;

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
        "SELECT c.relname::text, \
                COALESCE(array_agg(g.attname::text ORDER BY g.attname) FILTER (WHERE g.attname IS NOT NULL), '{}') \
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           LEFT JOIN pg_attribute g ON g.attrelid = c.oid AND g.attgenerated <> '' AND NOT g.attisdropped \
          WHERE n.nspname = 'public' AND c.relkind = 'r' \
            AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
                           AND a.attname = 'organization_id' AND NOT a.attisdropped) \
          GROUP BY c.relname ORDER BY c.relname",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(t, _)| !NOT_CARRIED.contains(&t.as_str()))
        .collect())
}

/// Every row of tenant `org`: its registry row, then each carried table.
/// `None` when there is no such organization.
pub async fn export(
    tx: &mut PlatformTx,
    org: Uuid,
) -> Result<Option<(Value, Vec<TableData>)>, DbError> {
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
    let mut out = Vec::new();
    for (table, generated) in carried_tables(conn).await? {
        let lines: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT (to_jsonb(t) - $2::text[])::text AS line FROM public.{table} t \
              WHERE t.organization_id = $1 ORDER BY 1"
        )))
        .bind(org)
        .bind(&generated)
        .fetch_all(&mut *conn)
        .await?;
        let mut ndjson = Vec::new();
        for l in &lines {
            ndjson.extend_from_slice(l.as_bytes());
            ndjson.push(b'\n');
        }
        out.push(TableData {
            table,
            rows: lines.len() as u64,
            ndjson,
        });
    }
    sqlx::query("SELECT set_config('app.org_id', '', true)")
        .execute(&mut *conn)
        .await?;
    Ok(Some((registry, out)))
}

/// Loads an exported tenant into this installation, ids kept, as one
/// transaction: the registry row (under `slug` when given), then every
/// table. Runs on an administrative connection (a superuser): the rows are
/// written as they were, without the triggers that would judge them as new
/// writes (audit entries, completion rules), and the foreign keys hold
/// because the export carries every row they name.
pub async fn import(
    conn: &mut PgConnection,
    registry: &Value,
    slug: Option<&str>,
    tables: &[TableData],
) -> Result<Uuid, DbError> {
    let mut tx = conn.begin().await?;
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await?;
    let mut registry = registry.clone();
    if let (Some(slug), Some(obj)) = (slug, registry.as_object_mut()) {
        obj.insert("slug".into(), Value::String(slug.to_owned()));
    }
    let org: Uuid = sqlx::query_scalar(
        "INSERT INTO organizations SELECT * FROM jsonb_populate_record(NULL::organizations, $1) \
         RETURNING id",
    )
    .bind(&registry)
    .fetch_one(&mut *tx)
    .await?;
    let known = carried_tables(&mut tx).await?;
    for t in tables {
        if !known.iter().any(|(name, _)| *name == t.table) {
            return Err(DbError::Other(sqlx::Error::Protocol(format!(
                "the archive names a table this installation does not have: {}",
                t.table
            ))));
        }
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT quote_ident(a.attname) FROM pg_attribute a \
              WHERE a.attrelid = ('public.' || quote_ident($1))::regclass AND a.attnum > 0 \
                AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum",
        )
        .bind(&t.table)
        .fetch_all(&mut *tx)
        .await?;
        let cols = columns.join(", ");
        let rows: Vec<Value> = t
            .ndjson
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(serde_json::from_slice)
            .collect::<Result<_, _>>()
            .map_err(|e| DbError::Other(sqlx::Error::Decode(Box::new(e))))?;
        // Every row is the organization's own: an archive cannot write into
        // another tenant.
        let own = org.to_string();
        if rows
            .iter()
            .any(|r| r["organization_id"].as_str() != Some(own.as_str()))
        {
            return Err(DbError::Other(sqlx::Error::Protocol(format!(
                "a row of {} belongs to another organization than the archive's",
                t.table
            ))));
        }
        for chunk in rows.chunks(1000) {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO public.{table} ({cols}) SELECT {cols} \
                   FROM jsonb_populate_recordset(NULL::public.{table}, $1)",
                table = t.table
            )))
            .bind(Value::Array(chunk.to_vec()))
            .execute(&mut *tx)
            .await?;
        }
    }
    // Its usage counters (the triggers that count were off).
    sqlx::query("SELECT usage.recount(ARRAY[$1::uuid])")
        .bind(org)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(org)
}
