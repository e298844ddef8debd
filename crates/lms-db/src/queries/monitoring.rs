//! The operators' view of the database server: slowest statements, table
//! and index sizes, unused indexes, cache hit ratios. Statistics only, no
//! tenant row.

use chrono::{DateTime, Utc};

use crate::{DbError, PlatformTx};

/// A statement's statistics (`pg_stat_statements`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatementRow {
    /// The normalised text (parameters as `$n`).
    pub query: String,
    /// Times run.
    pub calls: i64,
    /// Total execution time, milliseconds.
    pub total_ms: f64,
    /// Mean execution time, milliseconds.
    pub mean_ms: f64,
    /// Rows returned or affected, all calls.
    pub rows: i64,
}

/// The slowest statements of this database by mean time, at least
/// `min_mean_ms` each; `None` when the server does not load
/// `pg_stat_statements`.
pub async fn slowest_statements(
    tx: &mut PlatformTx,
    min_mean_ms: f64,
    limit: i64,
) -> Result<Option<Vec<StatementRow>>, DbError> {
    let loaded: bool = sqlx::query_scalar("SELECT monitor.statements_available()")
        .fetch_one(tx.conn())
        .await?;
    if !loaded {
        return Ok(None);
    }
    Ok(Some(
        sqlx::query_as(
            "SELECT query, calls, total_ms, mean_ms, rows FROM monitor.slowest_statements($1, $2::int)",
        )
        .bind(min_mean_ms)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?,
    ))
}

/// A table's size and activity.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TableStatsRow {
    /// The table.
    pub table: String,
    /// Bytes, indexes and TOAST included.
    pub total_bytes: i64,
    /// Bytes of the table itself.
    pub table_bytes: i64,
    /// Bytes of its indexes.
    pub index_bytes: i64,
    /// Live rows (estimate).
    pub live_rows: i64,
    /// Dead rows waiting for vacuum (estimate).
    pub dead_rows: i64,
    /// Rows inserted since the statistics were reset (its growth).
    pub rows_inserted: i64,
    /// Rows deleted since then.
    pub rows_deleted: i64,
    /// Sequential scans.
    pub seq_scans: i64,
    /// Index scans.
    pub index_scans: i64,
    /// Last vacuum, by hand or automatic.
    pub last_vacuum: Option<DateTime<Utc>>,
}

/// Every table of the schema, largest first.
pub async fn tables(tx: &mut PlatformTx) -> Result<Vec<TableStatsRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT s.relname::text AS table, pg_total_relation_size(s.relid) AS total_bytes, \
                pg_relation_size(s.relid) AS table_bytes, pg_indexes_size(s.relid) AS index_bytes, \
                s.n_live_tup AS live_rows, s.n_dead_tup AS dead_rows, s.n_tup_ins AS rows_inserted, \
                s.n_tup_del AS rows_deleted, s.seq_scan AS seq_scans, COALESCE(s.idx_scan, 0) AS index_scans, \
                GREATEST(s.last_vacuum, s.last_autovacuum) AS last_vacuum \
           FROM pg_stat_user_tables s WHERE s.schemaname = 'public' \
          ORDER BY pg_total_relation_size(s.relid) DESC, s.relname",
    )
    .fetch_all(tx.conn())
    .await?)
}

/// An index no query has used since the statistics were reset.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnusedIndexRow {
    /// Its table.
    pub table: String,
    /// The index.
    pub index: String,
    /// Its bytes.
    pub bytes: i64,
}

/// Indexes never scanned, largest first; unique and primary keys are left
/// out (they enforce rules, whether scanned or not).
pub async fn unused_indexes(tx: &mut PlatformTx) -> Result<Vec<UnusedIndexRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT s.relname::text AS table, s.indexrelname::text AS index, \
                pg_relation_size(s.indexrelid) AS bytes \
           FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid \
          WHERE s.schemaname = 'public' AND s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary \
          ORDER BY pg_relation_size(s.indexrelid) DESC, s.indexrelname",
    )
    .fetch_all(tx.conn())
    .await?)
}

/// How often reads were served from shared buffers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CacheRow {
    /// Table blocks (0–1; `None` before any read).
    pub table_hit_ratio: Option<f64>,
    /// Index blocks.
    pub index_hit_ratio: Option<f64>,
    /// Every block of this database.
    pub database_hit_ratio: Option<f64>,
    /// Since when the statistics count.
    pub stats_reset: Option<DateTime<Utc>>,
}

/// The cache hit ratios of this database.
pub async fn cache(tx: &mut PlatformTx) -> Result<CacheRow, DbError> {
    Ok(sqlx::query_as(
        "SELECT (SELECT sum(heap_blks_hit)::float8 / NULLIF(sum(heap_blks_hit + heap_blks_read), 0) \
                   FROM pg_statio_user_tables WHERE schemaname = 'public') AS table_hit_ratio, \
                (SELECT sum(idx_blks_hit)::float8 / NULLIF(sum(idx_blks_hit + idx_blks_read), 0) \
                   FROM pg_statio_user_indexes WHERE schemaname = 'public') AS index_hit_ratio, \
                (SELECT blks_hit::float8 / NULLIF(blks_hit + blks_read, 0) FROM pg_stat_database \
                  WHERE datname = current_database()) AS database_hit_ratio, \
                (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) AS stats_reset",
    )
    .fetch_one(tx.conn())
    .await?)
}
