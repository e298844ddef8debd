//! Sections of a lesson.

use chrono::{DateTime, Utc};
use lms_domain::{LessonId, SectionId, SectionType};
use uuid::Uuid;

use super::ordering::{self, Ordered};
use crate::{DbError, TenantTx};

/// A section as stored.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct SectionRow {
    /// Id.
    pub id: Uuid,
    /// Its lesson.
    pub lesson_id: Uuid,
    /// Title.
    pub title: String,
    /// Rich content.
    pub content: String,
    /// Type label.
    pub r#type: String,
    /// Position in the lesson, from 0, dense.
    pub position: i32,
    /// Duration in minutes.
    pub duration_minutes: i32,
    /// Not needed for completion.
    pub is_optional: bool,
    /// Version, moved by every change (absent from older snapshots).
    #[serde(default = "super::lessons::first_version")]
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl SectionRow {
    /// The type, parsed.
    pub fn section_type(&self) -> SectionType {
        self.r#type.parse().unwrap_or(SectionType::Text)
    }
}

const COLUMNS: &str = "id, lesson_id, title, content, type::text AS type, position, duration_minutes, \
                       is_optional, version, created_at, updated_at";

/// A new section.
#[derive(Debug)]
pub struct NewSection<'a> {
    /// Id to give.
    pub id: SectionId,
    /// Title.
    pub title: &'a str,
    /// Content.
    pub content: &'a str,
    /// Type.
    pub section_type: SectionType,
    /// Minutes.
    pub duration_minutes: i32,
    /// Not needed for completion.
    pub is_optional: bool,
    /// Where to insert (default: at the end).
    pub position: Option<i32>,
}

/// Inserts a section at its position. The caller has locked the lesson.
pub async fn insert(
    tx: &mut TenantTx,
    lesson: LessonId,
    s: &NewSection<'_>,
) -> Result<SectionRow, DbError> {
    let org = tx.org();
    let at = ordering::open_gap(tx, Ordered::Sections, lesson.as_uuid(), s.position).await?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO sections (organization_id, id, lesson_id, title, content, type, position, duration_minutes, is_optional) \
         VALUES ($1, $2, $3, $4, $5, $6::text::section_type, $7, $8, $9) RETURNING {COLUMNS}"
    )))
    .bind(org.as_uuid())
    .bind(s.id.as_uuid())
    .bind(lesson.as_uuid())
    .bind(s.title)
    .bind(s.content)
    .bind(s.section_type.as_str())
    .bind(at)
    .bind(s.duration_minutes)
    .bind(s.is_optional)
    .fetch_one(tx.conn())
    .await?)
}

/// One section of a lesson.
pub async fn get(
    tx: &mut TenantTx,
    lesson: LessonId,
    id: SectionId,
) -> Result<Option<SectionRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM sections WHERE organization_id = $1 AND lesson_id = $2 AND id = $3 \
         AND deleted_at IS NULL"
    )))
    .bind(org.as_uuid())
    .bind(lesson.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// The sections of a lesson, in order.
pub async fn list(tx: &mut TenantTx, lesson: LessonId) -> Result<Vec<SectionRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM sections WHERE organization_id = $1 AND lesson_id = $2 \
         AND deleted_at IS NULL ORDER BY position"
    )))
    .bind(org.as_uuid())
    .bind(lesson.as_uuid())
    .fetch_all(tx.conn())
    .await?)
}

/// Changes to a section; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct SectionPatch<'a> {
    /// Title.
    pub title: Option<&'a str>,
    /// Content.
    pub content: Option<&'a str>,
    /// Type.
    pub section_type: Option<SectionType>,
    /// Minutes.
    pub duration_minutes: Option<i32>,
    /// Optional or not.
    pub is_optional: Option<bool>,
}

/// Changes a section.
pub async fn update(
    tx: &mut TenantTx,
    lesson: LessonId,
    id: SectionId,
    p: &SectionPatch<'_>,
) -> Result<Option<SectionRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE sections SET title = COALESCE($4, title), content = COALESCE($5, content), \
                type = COALESCE($6::text::section_type, type), \
                duration_minutes = COALESCE($7, duration_minutes), \
                is_optional = COALESCE($8, is_optional), updated_at = now() \
          WHERE organization_id = $1 AND lesson_id = $2 AND id = $3 AND deleted_at IS NULL \
          RETURNING {COLUMNS}"
    )))
    .bind(org.as_uuid())
    .bind(lesson.as_uuid())
    .bind(id.as_uuid())
    .bind(p.title)
    .bind(p.content)
    .bind(p.section_type.map(SectionType::as_str))
    .bind(p.duration_minutes)
    .bind(p.is_optional)
    .fetch_optional(tx.conn())
    .await?)
}
