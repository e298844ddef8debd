//! Dense, unique ordering of children under a parent: lessons of a course,
//! sections of a lesson. Positions run 0..n with no gaps. The position keys
//! are DEFERRABLE INITIALLY IMMEDIATE, so they are checked at the end of
//! each statement: a shift or a full reorder is one UPDATE. Callers lock the
//! parent row first so concurrent reorders queue instead of colliding.

use sqlx::AssertSqlSafe;
use uuid::Uuid;

use lms_domain::UserId;

use crate::{DbError, TenantTx};

/// An ordered child table and the column naming its parent. Only these two
/// exist; their names are compile-time constants, never input.
#[derive(Debug, Clone, Copy)]
pub enum Ordered {
    /// `lessons` under `course_id`.
    Lessons,
    /// `sections` under `lesson_id`.
    Sections,
}

impl Ordered {
    fn table(self) -> &'static str {
        match self {
            Ordered::Lessons => "lessons",
            Ordered::Sections => "sections",
        }
    }

    fn parent(self) -> &'static str {
        match self {
            Ordered::Lessons => "course_id",
            Ordered::Sections => "lesson_id",
        }
    }
}

/// The children's ids in order.
pub async fn ids(tx: &mut TenantTx, kind: Ordered, parent: Uuid) -> Result<Vec<Uuid>, DbError> {
    let org = tx.org();
    let sql = format!(
        "SELECT id FROM {t} WHERE organization_id = $1 AND {p} = $2 AND deleted_at IS NULL \
         ORDER BY position",
        t = kind.table(),
        p = kind.parent()
    );
    Ok(sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(org.as_uuid())
        .bind(parent)
        .fetch_all(tx.conn())
        .await?)
}

/// Makes room at `position` (clamped to 0..=n) and returns it: the children
/// at or after it move one down.
pub async fn open_gap(
    tx: &mut TenantTx,
    kind: Ordered,
    parent: Uuid,
    position: Option<i32>,
) -> Result<i32, DbError> {
    let org = tx.org();
    let count_sql = format!(
        "SELECT count(*)::int FROM {t} WHERE organization_id = $1 AND {p} = $2 AND deleted_at IS NULL",
        t = kind.table(),
        p = kind.parent()
    );
    let n: i32 = sqlx::query_scalar(AssertSqlSafe(count_sql))
        .bind(org.as_uuid())
        .bind(parent)
        .fetch_one(tx.conn())
        .await?;
    let at = position.map_or(n, |p| p.clamp(0, n));
    if at < n {
        let shift = format!(
            "UPDATE {t} SET position = position + 1, updated_at = now() \
             WHERE organization_id = $1 AND {p} = $2 AND position >= $3",
            t = kind.table(),
            p = kind.parent()
        );
        sqlx::query(AssertSqlSafe(shift))
            .bind(org.as_uuid())
            .bind(parent)
            .bind(at)
            .execute(tx.conn())
            .await?;
    }
    Ok(at)
}

/// Closes the gap a removed child left at `position`.
pub async fn close_gap(
    tx: &mut TenantTx,
    kind: Ordered,
    parent: Uuid,
    position: i32,
) -> Result<(), DbError> {
    let org = tx.org();
    let sql = format!(
        "UPDATE {t} SET position = position - 1, updated_at = now() \
         WHERE organization_id = $1 AND {p} = $2 AND position > $3",
        t = kind.table(),
        p = kind.parent()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(org.as_uuid())
        .bind(parent)
        .bind(position)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Stores `order` (exactly the current children, checked by the caller) as
/// positions 0..n in one statement.
pub async fn reorder(
    tx: &mut TenantTx,
    kind: Ordered,
    parent: Uuid,
    order: &[Uuid],
) -> Result<(), DbError> {
    let org = tx.org();
    let sql = format!(
        "UPDATE {t} AS c SET position = o.ord - 1, updated_at = now() \
           FROM unnest($3::uuid[]) WITH ORDINALITY AS o(id, ord) \
          WHERE c.organization_id = $1 AND c.{p} = $2 AND c.id = o.id AND c.position <> o.ord - 1",
        t = kind.table(),
        p = kind.parent()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(org.as_uuid())
        .bind(parent)
        .bind(order)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Moves a live child to the trash (it keeps its row and every learner's
/// record of it, but no place in the order) and closes the gap it leaves.
/// The caller has locked the parent. `false` when there was no such live
/// child.
pub async fn trash(
    tx: &mut TenantTx,
    kind: Ordered,
    parent: Uuid,
    id: Uuid,
    by: UserId,
) -> Result<bool, DbError> {
    let org = tx.org();
    let sql = format!(
        "UPDATE {t} AS c SET deleted_at = now(), deleted_by = $4, position = NULL, updated_at = now() \
           FROM {t} AS o \
          WHERE o.organization_id = $1 AND o.{p} = $2 AND o.id = $3 AND o.deleted_at IS NULL \
            AND c.organization_id = o.organization_id AND c.id = o.id \
         RETURNING o.position",
        t = kind.table(),
        p = kind.parent()
    );
    let position: Option<i32> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(org.as_uuid())
        .bind(parent)
        .bind(id)
        .bind(by.as_uuid())
        .fetch_optional(tx.conn())
        .await?;
    match position {
        Some(p) => {
            close_gap(tx, kind, parent, p).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Deletes a child for real, live or from the trash, closing the gap a
/// live one leaves; the database refuses while learners still need it
/// (`content_has_progress`). The caller has locked the parent. `false` when
/// there was no such child.
pub async fn purge(
    tx: &mut TenantTx,
    kind: Ordered,
    parent: Uuid,
    id: Uuid,
) -> Result<bool, DbError> {
    let org = tx.org();
    let sql = format!(
        "DELETE FROM {t} WHERE organization_id = $1 AND {p} = $2 AND id = $3 RETURNING position",
        t = kind.table(),
        p = kind.parent()
    );
    let position: Option<Option<i32>> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(org.as_uuid())
        .bind(parent)
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    match position {
        Some(Some(p)) => close_gap(tx, kind, parent, p).await.map(|()| true),
        Some(None) => Ok(true),
        None => Ok(false),
    }
}

/// Brings a child back from the trash, at the end of its parent's order.
/// The caller has locked the parent. `false` when there is no such deleted
/// child.
pub async fn restore(
    tx: &mut TenantTx,
    kind: Ordered,
    parent: Uuid,
    id: Uuid,
) -> Result<bool, DbError> {
    let org = tx.org();
    let sql = format!(
        "UPDATE {t} SET deleted_at = NULL, deleted_by = NULL, updated_at = now(), \
                position = (SELECT count(*)::int FROM {t} o WHERE o.organization_id = $1 \
                               AND o.{p} = $2 AND o.deleted_at IS NULL) \
          WHERE organization_id = $1 AND {p} = $2 AND id = $3 AND deleted_at IS NOT NULL",
        t = kind.table(),
        p = kind.parent()
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(org.as_uuid())
        .bind(parent)
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected()
        == 1)
}
