//! The operators' view of the database server.

use chrono::{DateTime, Utc};
use lms_db::queries::monitoring;
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::{PlatformBearer, PlatformTags, authorize};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult, ErrorCode};

/// A statement's statistics.
#[derive(Object, Debug)]
pub struct StatementStats {
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

/// The slowest statements.
#[derive(Object, Debug)]
pub struct StatementList {
    /// Slowest mean first.
    pub items: Vec<StatementStats>,
}

/// A table's size and activity.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct TableStats {
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
    /// Rows inserted since the statistics were reset: its growth.
    pub rows_inserted: i64,
    /// Rows deleted since then.
    pub rows_deleted: i64,
    /// Sequential scans.
    pub seq_scans: i64,
    /// Index scans.
    pub index_scans: i64,
    /// Last vacuum.
    pub last_vacuum: Option<DateTime<Utc>>,
}

/// Every table.
#[derive(Object, Debug)]
pub struct TableStatsList {
    /// Largest first.
    pub items: Vec<TableStats>,
}

/// An index never scanned.
#[derive(Object, Debug)]
pub struct UnusedIndex {
    /// Its table.
    pub table: String,
    /// The index.
    pub index: String,
    /// Its bytes.
    pub bytes: i64,
}

/// Indexes never scanned since the statistics were reset.
#[derive(Object, Debug)]
pub struct UnusedIndexList {
    /// Largest first.
    pub items: Vec<UnusedIndex>,
}

/// Cache hit ratios, 0–1 (absent before any read).
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CacheStats {
    /// Table blocks.
    pub table_hit_ratio: Option<f64>,
    /// Index blocks.
    pub index_hit_ratio: Option<f64>,
    /// Every block of the database.
    pub database_hit_ratio: Option<f64>,
    /// Since when the statistics count.
    pub stats_reset: Option<DateTime<Utc>>,
}

#[derive(ApiResponse)]
enum Statements {
    /// The statements.
    #[oai(status = 200)]
    Ok(Json<StatementList>),
}

#[derive(ApiResponse)]
enum Tables {
    /// The tables.
    #[oai(status = 200)]
    Ok(Json<TableStatsList>),
}

#[derive(ApiResponse)]
enum Indexes {
    /// The indexes.
    #[oai(status = 200)]
    Ok(Json<UnusedIndexList>),
}

#[derive(ApiResponse)]
enum Cache {
    /// The ratios.
    #[oai(status = 200)]
    Ok(Json<CacheStats>),
}

/// The operators' view of the database server.
pub struct MonitoringApi;

#[OpenApi(tag = "PlatformTags::Monitoring")]
impl MonitoringApi {
    /// The slowest statements of the database, by mean time (from
    /// `pg_stat_statements`; 503 `extension_unavailable` when the server
    /// does not load it).
    #[oai(
        path = "/monitoring/statements",
        method = "get",
        operation_id = "listSlowStatements"
    )]
    async fn statements(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        /// Only statements at least this slow on average, milliseconds
        /// (default 0).
        #[oai(validator(minimum(value = "0")))]
        min_mean_ms: Query<Option<f64>>,
        /// How many, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<Statements> {
        let mut tx = ctx.db.platform().await?;
        authorize(&mut tx, auth.0, "listSlowStatements").await?;
        let rows = monitoring::slowest_statements(
            &mut tx,
            min_mean_ms.0.unwrap_or(0.0),
            limit.0.unwrap_or(20),
        )
        .await?;
        tx.commit().await?;
        let rows = rows.ok_or_else(|| {
            ApiError::unavailable_because(
                ErrorCode::ExtensionUnavailable,
                "the database server does not load pg_stat_statements",
            )
        })?;
        Ok(Statements::Ok(Json(StatementList {
            items: rows
                .into_iter()
                .map(|r| StatementStats {
                    query: r.query,
                    calls: r.calls,
                    total_ms: r.total_ms,
                    mean_ms: r.mean_ms,
                    rows: r.rows,
                })
                .collect(),
        })))
    }

    /// Every table: sizes, rows, growth since the statistics were reset,
    /// scans, last vacuum.
    #[oai(
        path = "/monitoring/tables",
        method = "get",
        operation_id = "listTableStats"
    )]
    async fn tables(&self, ctx: Data<&Ctx>, auth: PlatformBearer) -> ApiResult<Tables> {
        let mut tx = ctx.db.platform().await?;
        authorize(&mut tx, auth.0, "listTableStats").await?;
        let rows = monitoring::tables(&mut tx).await?;
        tx.commit().await?;
        Ok(Tables::Ok(Json(TableStatsList {
            items: rows
                .into_iter()
                .map(|r| TableStats {
                    table: r.table,
                    total_bytes: r.total_bytes,
                    table_bytes: r.table_bytes,
                    index_bytes: r.index_bytes,
                    live_rows: r.live_rows,
                    dead_rows: r.dead_rows,
                    rows_inserted: r.rows_inserted,
                    rows_deleted: r.rows_deleted,
                    seq_scans: r.seq_scans,
                    index_scans: r.index_scans,
                    last_vacuum: r.last_vacuum,
                })
                .collect(),
        })))
    }

    /// Indexes no query used since the statistics were reset (unique and
    /// primary keys left out: they enforce rules).
    #[oai(
        path = "/monitoring/unused-indexes",
        method = "get",
        operation_id = "listUnusedIndexes"
    )]
    async fn unused_indexes(&self, ctx: Data<&Ctx>, auth: PlatformBearer) -> ApiResult<Indexes> {
        let mut tx = ctx.db.platform().await?;
        authorize(&mut tx, auth.0, "listUnusedIndexes").await?;
        let rows = monitoring::unused_indexes(&mut tx).await?;
        tx.commit().await?;
        Ok(Indexes::Ok(Json(UnusedIndexList {
            items: rows
                .into_iter()
                .map(|r| UnusedIndex {
                    table: r.table,
                    index: r.index,
                    bytes: r.bytes,
                })
                .collect(),
        })))
    }

    /// Cache hit ratios of the database.
    #[oai(
        path = "/monitoring/cache",
        method = "get",
        operation_id = "getCacheStats"
    )]
    async fn cache(&self, ctx: Data<&Ctx>, auth: PlatformBearer) -> ApiResult<Cache> {
        let mut tx = ctx.db.platform().await?;
        authorize(&mut tx, auth.0, "getCacheStats").await?;
        let r = monitoring::cache(&mut tx).await?;
        tx.commit().await?;
        Ok(Cache::Ok(Json(CacheStats {
            table_hit_ratio: r.table_hit_ratio,
            index_hit_ratio: r.index_hit_ratio,
            database_hit_ratio: r.database_hit_ratio,
            stats_reset: r.stats_reset,
        })))
    }
}
