//! Courses: authoring, the catalog list, the whole-tree detail.

use chrono::{DateTime, Utc};
use lms_domain::{CategoryId, CourseId, Difficulty, Pacing, ScoreRule, TagId, UserId};
use serde::Deserialize;
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::lessons::LessonRow;
use super::sections::SectionRow;
use crate::{DbError, TenantTx};

/// A course as the API shows it.
#[derive(Debug, Clone, sqlx::FromRow, Deserialize)]
pub struct CourseRow {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Difficulty label.
    pub difficulty: String,
    /// Estimated hours: as set, or derived from section durations.
    pub estimated_hours: i32,
    /// Whether `estimated_hours` was derived (nobody set it).
    pub hours_derived: bool,
    /// Cover image.
    pub image_url: Option<String>,
    /// Visible to learners.
    pub is_published: bool,
    /// Free-form metadata.
    pub metadata: Option<Value>,
    /// Pacing label: how lessons open (absent from snapshots taken before
    /// pacing existed).
    #[serde(default)]
    pub pacing: String,
    /// Score rule label: which attempt's score counts.
    #[serde(default)]
    pub score_rule: String,
    /// Mean rating, 0 when unrated.
    pub average_rating: f64,
    /// Number of ratings.
    pub rating_count: i32,
    /// Content version, bumped on every change.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl CourseRow {
    /// The difficulty, parsed.
    pub fn difficulty(&self) -> Difficulty {
        self.difficulty.parse().unwrap_or(Difficulty::Beginner)
    }
}

/// The columns of [`CourseRow`] for a course aliased `c`. An unset estimate
/// is the sections' total duration rounded up to whole hours.
macro_rules! course_columns {
    () => {
        "c.id, c.title, c.description, c.difficulty::text AS difficulty, \
         COALESCE(c.estimated_hours, \
                  (SELECT ceil(COALESCE(sum(s.duration_minutes), 0) / 60.0)::int \
                     FROM lessons l JOIN sections s ON s.organization_id = l.organization_id AND s.lesson_id = l.id \
                    WHERE l.organization_id = c.organization_id AND l.course_id = c.id \
                      AND l.deleted_at IS NULL AND s.deleted_at IS NULL)) AS estimated_hours, \
         c.estimated_hours IS NULL AS hours_derived, \
         c.image_url, c.is_published, c.metadata, c.pacing::text AS pacing, c.score_rule::text AS score_rule, \
         c.average_rating::float8 AS average_rating, c.rating_count, \
         c.version, c.created_at, c.updated_at"
    };
}

/// A new course.
#[derive(Debug)]
pub struct NewCourse<'a> {
    /// Id to give.
    pub id: CourseId,
    /// Validated title.
    pub title: &'a str,
    /// Description.
    pub description: &'a str,
    /// Difficulty.
    pub difficulty: Difficulty,
    /// Estimated hours; `None` derives them from section durations.
    pub estimated_hours: Option<i32>,
    /// Cover image.
    pub image_url: Option<&'a str>,
    /// Metadata object.
    pub metadata: Option<&'a Value>,
    /// How lessons open.
    pub pacing: Pacing,
    /// Which attempt's score counts.
    pub score_rule: ScoreRule,
    /// Author.
    pub created_by: UserId,
}

/// Creates a course (as a draft), searchable in the organization's language.
pub async fn create(tx: &mut TenantTx, c: &NewCourse<'_>) -> Result<CourseRow, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(concat!(
        "INSERT INTO courses AS c (organization_id, id, title, description, difficulty, estimated_hours, \
                                   image_url, metadata, created_by, updated_by, pacing, score_rule, \
                                   search_language) \
         VALUES ($1, $2, $3, $4, $5::text::difficulty, $6, $7, $8, $9, $9, \
                 $10::text::course_pacing, $11::text::score_rule, \
                 (SELECT COALESCE(o.settings ->> 'search_language', 'english')::regconfig \
                    FROM organizations o WHERE o.id = $1)) \
         RETURNING ",
        course_columns!()
    ))
    .bind(org.as_uuid())
    .bind(c.id.as_uuid())
    .bind(c.title)
    .bind(c.description)
    .bind(c.difficulty.as_str())
    .bind(c.estimated_hours)
    .bind(c.image_url)
    .bind(c.metadata)
    .bind(c.created_by.as_uuid())
    .bind(c.pacing.as_str())
    .bind(c.score_rule.as_str())
    .fetch_one(tx.conn())
    .await?)
}

/// A live course; drafts only when `drafts` is true.
pub async fn get(
    tx: &mut TenantTx,
    id: CourseId,
    drafts: bool,
) -> Result<Option<CourseRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        course_columns!(),
        " FROM courses c WHERE c.organization_id = $1 AND c.id = $2 AND c.deleted_at IS NULL \
           AND ($3 OR c.is_published)"
    ))
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(drafts)
    .fetch_optional(tx.conn())
    .await?)
}

/// Sort orders of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Newest first (ids are UUIDv7, so by id).
    Newest,
    /// By title, A to Z.
    Title,
    /// Best rated first.
    Rating,
    /// Best match first (needs a search).
    Relevance,
}

/// Where the previous page ended, in the terms of its sort.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    /// Newest: the last id.
    Newest(Uuid),
    /// Title: the last lower-cased title and id.
    Title(String, Uuid),
    /// Rating: the last rating (exact decimal text) and id.
    Rating(String, Uuid),
    /// Relevance: the last rank and id.
    Relevance(f32, Uuid),
}

/// A catalog query.
#[derive(Debug)]
pub struct CatalogQuery<'a> {
    /// Include drafts (instructors and admins).
    pub drafts: bool,
    /// Only published (`true`) or only drafts (`false`).
    pub published: Option<bool>,
    /// Only this difficulty.
    pub difficulty: Option<Difficulty>,
    /// Only courses filed under this category or any of its descendants.
    pub category: Option<CategoryId>,
    /// Only courses with this tag.
    pub tag: Option<TagId>,
    /// Full-text search (web-search syntax) in the organization's language.
    pub search: Option<&'a str>,
    /// Order.
    pub sort: Sort,
    /// Keyset cursor.
    pub after: Option<After>,
    /// Page size (fetch one more to know whether there is a next page).
    pub limit: i64,
}

/// A course of a catalog page, with its sort keys.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CatalogRow {
    /// The course.
    #[sqlx(flatten)]
    pub course: CourseRow,
    /// lower(title).
    pub title_key: String,
    /// average_rating as exact text.
    pub rating_key: String,
    /// Search rank (0 without a search).
    pub rank: f32,
}

/// One page of the catalog. The statement is assembled from fixed fragments;
/// every value is a bind parameter.
pub async fn catalog(tx: &mut TenantTx, q: &CatalogQuery<'_>) -> Result<Vec<CatalogRow>, DbError> {
    let org = tx.org();
    let mut b = QueryBuilder::<Postgres>::new("WITH params AS (SELECT ");
    // The organization's search configuration, evaluated once: a constant
    // for the planner, so the (organization_id, search_vector) GIN index
    // applies.
    b.push("(SELECT COALESCE(o.settings ->> 'search_language', 'english')::regconfig FROM organizations o WHERE o.id = ")
        .push_bind(org.as_uuid())
        .push(") AS lang) SELECT ")
        .push(course_columns!())
        .push(", lower(c.title) AS title_key, c.average_rating::text AS rating_key, ");
    match q.search {
        Some(s) => {
            b.push("ts_rank(c.search_vector, websearch_to_tsquery(p.lang, ")
                .push_bind(s.to_owned())
                .push("))::real AS rank");
        }
        None => {
            b.push("0::real AS rank");
        }
    }
    b.push(" FROM courses c CROSS JOIN params p WHERE c.organization_id = ")
        .push_bind(org.as_uuid())
        .push(" AND c.deleted_at IS NULL");
    if !q.drafts {
        b.push(" AND c.is_published");
    }
    if let Some(p) = q.published {
        b.push(" AND c.is_published = ").push_bind(p);
    }
    if let Some(d) = q.difficulty {
        b.push(" AND c.difficulty = ")
            .push_bind(d.as_str())
            .push("::text::difficulty");
    }
    if let Some(s) = q.search {
        b.push(" AND c.search_vector @@ websearch_to_tsquery(p.lang, ")
            .push_bind(s.to_owned())
            .push(")");
    }
    if let Some(cat) = q.category {
        b.push(
            " AND EXISTS (SELECT 1 FROM course_categories cc WHERE cc.organization_id = c.organization_id \
               AND cc.course_id = c.id AND cc.category_id IN ( \
                 WITH RECURSIVE sub AS ( \
                   SELECT id FROM categories WHERE organization_id = c.organization_id AND deleted_at IS NULL AND id = ",
        )
        .push_bind(cat.as_uuid())
        .push(
            " UNION SELECT ch.id FROM categories ch JOIN sub ON ch.parent_id = sub.id \
               WHERE ch.organization_id = c.organization_id AND ch.deleted_at IS NULL) SELECT id FROM sub))",
        );
    }
    if let Some(tag) = q.tag {
        b.push(
            " AND EXISTS (SELECT 1 FROM course_tags ct WHERE ct.organization_id = c.organization_id \
               AND ct.course_id = c.id AND ct.tag_id = ",
        )
        .push_bind(tag.as_uuid())
        .push(")");
    }
    match &q.after {
        None => {}
        Some(After::Newest(id)) => {
            b.push(" AND c.id < ").push_bind(*id);
        }
        Some(After::Title(t, id)) => {
            b.push(" AND (lower(c.title), c.id) > (")
                .push_bind(t.clone())
                .push(", ")
                .push_bind(*id)
                .push(")");
        }
        Some(After::Rating(r, id)) => {
            b.push(" AND (c.average_rating, c.id) < (")
                .push_bind(r.clone())
                .push("::numeric, ")
                .push_bind(*id)
                .push(")");
        }
        Some(After::Relevance(rank, id)) => {
            if let Some(s) = q.search {
                b.push(" AND (ts_rank(c.search_vector, websearch_to_tsquery(p.lang, ")
                    .push_bind(s.to_owned())
                    .push("))::real, c.id) < (")
                    .push_bind(*rank)
                    .push("::real, ")
                    .push_bind(*id)
                    .push(")");
            }
        }
    }
    b.push(match q.sort {
        Sort::Newest => " ORDER BY c.id DESC",
        Sort::Title => " ORDER BY lower(c.title), c.id",
        Sort::Rating => " ORDER BY c.average_rating DESC, c.id DESC",
        Sort::Relevance => " ORDER BY rank DESC, c.id DESC",
    });
    b.push(" LIMIT ").push_bind(q.limit);
    Ok(b.build_query_as().fetch_all(tx.conn()).await?)
}

/// A partial update: `None` leaves a field as it is; for the nullable
/// fields, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct CoursePatch<'a> {
    /// New title.
    pub title: Option<&'a str>,
    /// New description.
    pub description: Option<&'a str>,
    /// New difficulty.
    pub difficulty: Option<Difficulty>,
    /// New estimate, or cleared (derive it again).
    pub estimated_hours: Option<Option<i32>>,
    /// New cover image, or cleared.
    pub image_url: Option<Option<&'a str>>,
    /// New metadata, or cleared.
    pub metadata: Option<Option<&'a Value>>,
    /// New pacing.
    pub pacing: Option<Pacing>,
    /// New score rule.
    pub score_rule: Option<ScoreRule>,
}

/// Updates a course the caller has locked ([`lock`]) and moves it to
/// `version`, the version its lock announced. `None` when there is no such
/// live course.
pub async fn update(
    tx: &mut TenantTx,
    id: CourseId,
    by: UserId,
    version: i32,
    p: &CoursePatch<'_>,
) -> Result<Option<CourseRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(concat!(
        "UPDATE courses AS c SET \
            title = COALESCE($4, c.title), \
            description = COALESCE($5, c.description), \
            difficulty = COALESCE($6::text::difficulty, c.difficulty), \
            estimated_hours = CASE WHEN $7 THEN $8 ELSE c.estimated_hours END, \
            image_url = CASE WHEN $9 THEN $10 ELSE c.image_url END, \
            metadata = CASE WHEN $11 THEN $12 ELSE c.metadata END, \
            pacing = COALESCE($14::text::course_pacing, c.pacing), \
            score_rule = COALESCE($15::text::score_rule, c.score_rule), \
            version = $13, updated_at = now(), updated_by = $3 \
         WHERE c.organization_id = $1 AND c.id = $2 AND c.deleted_at IS NULL \
         RETURNING ",
        course_columns!()
    ))
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(by.as_uuid())
    .bind(p.title)
    .bind(p.description)
    .bind(p.difficulty.map(Difficulty::as_str))
    .bind(p.estimated_hours.is_some())
    .bind(p.estimated_hours.flatten())
    .bind(p.image_url.is_some())
    .bind(p.image_url.flatten())
    .bind(p.metadata.is_some())
    .bind(p.metadata.flatten())
    .bind(version)
    .bind(p.pacing.map(Pacing::as_str))
    .bind(p.score_rule.map(ScoreRule::as_str))
    .fetch_optional(tx.conn())
    .await?)
}

/// Publishes or unpublishes a course the caller has locked ([`lock`]),
/// moving it to `version`. Publishing snapshots the whole tree into
/// `course_versions` under that version number, so what learners enrolled in
/// can be kept while authors go on editing. `None` when there is no such
/// live course.
pub async fn set_published(
    tx: &mut TenantTx,
    id: CourseId,
    by: UserId,
    version: i32,
    published: bool,
) -> Result<Option<CourseRow>, DbError> {
    let org = tx.org();
    let row: Option<CourseRow> = sqlx::query_as(concat!(
        "UPDATE courses AS c SET is_published = $4, version = $5, updated_at = now(), updated_by = $3 \
         WHERE c.organization_id = $1 AND c.id = $2 AND c.deleted_at IS NULL RETURNING ",
        course_columns!()
    ))
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(by.as_uuid())
    .bind(published)
    .bind(version)
    .fetch_optional(tx.conn())
    .await?;
    if let (Some(row), true) = (&row, published) {
        let mut tree = detail_json(tx, id, true).await?.unwrap_or(Value::Null);
        if let Some(t) = tree.as_object_mut() {
            t.insert("schema_version".into(), SNAPSHOT_SCHEMA_VERSION.into());
        }
        sqlx::query(
            "INSERT INTO course_versions (organization_id, id, course_id, version, title, description, content, \
                                          published_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8)",
        )
        .bind(org.as_uuid())
        .bind(Uuid::now_v7())
        .bind(id.as_uuid())
        .bind(row.version)
        .bind(&row.title)
        .bind(&row.description)
        .bind(&tree)
        .bind(by.as_uuid())
        .execute(tx.conn())
        .await?;
    }
    Ok(row)
}

/// Soft-deletes a course. `false` when there was no such (live) course.
pub async fn soft_delete(
    tx: &mut TenantTx,
    id: CourseId,
    by: UserId,
    version: i32,
) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "UPDATE courses SET deleted_at = now(), deleted_by = $3, updated_at = now(), version = $4 \
         WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(by.as_uuid())
    .bind(version)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Something deleted, in the trash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TrashRow {
    /// `course`, `lesson`, `section` or `category`.
    pub kind: String,
    /// Id.
    pub id: Uuid,
    /// The course of a lesson or section.
    pub course_id: Option<Uuid>,
    /// The lesson of a section.
    pub lesson_id: Option<Uuid>,
    /// Title or name.
    pub title: String,
    /// Deleted at.
    pub deleted_at: DateTime<Utc>,
    /// By whom.
    pub deleted_by: Option<Uuid>,
    /// When the housekeeping purges it.
    pub purge_at: DateTime<Utc>,
}

/// The trash, most recently deleted first (keyset on `(deleted_at, id)`):
/// deleted courses, lessons of live courses, sections of live lessons and
/// categories, or one `kind` of them.
pub async fn trash(
    tx: &mut TenantTx,
    kind: Option<&str>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<TrashRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "WITH keep AS (SELECT app.trash_retention($1) AS days), \
         t AS ( \
           SELECT 'course' AS kind, c.id, NULL::uuid AS course_id, NULL::uuid AS lesson_id, c.title, \
                  c.deleted_at, c.deleted_by FROM courses c \
            WHERE c.organization_id = $1 AND c.deleted_at IS NOT NULL AND ($2::text IS NULL OR $2 = 'course') \
           UNION ALL \
           SELECT 'lesson', l.id, l.course_id, NULL, l.title, l.deleted_at, l.deleted_by FROM lessons l \
             JOIN courses c ON c.organization_id = l.organization_id AND c.id = l.course_id \
            WHERE l.organization_id = $1 AND l.deleted_at IS NOT NULL AND c.deleted_at IS NULL \
              AND ($2::text IS NULL OR $2 = 'lesson') \
           UNION ALL \
           SELECT 'section', s.id, l.course_id, s.lesson_id, s.title, s.deleted_at, s.deleted_by FROM sections s \
             JOIN lessons l ON l.organization_id = s.organization_id AND l.id = s.lesson_id \
             JOIN courses c ON c.organization_id = l.organization_id AND c.id = l.course_id \
            WHERE s.organization_id = $1 AND s.deleted_at IS NOT NULL AND l.deleted_at IS NULL \
              AND c.deleted_at IS NULL AND ($2::text IS NULL OR $2 = 'section') \
           UNION ALL \
           SELECT 'category', k.id, NULL, NULL, k.name, k.deleted_at, k.deleted_by FROM categories k \
            WHERE k.organization_id = $1 AND k.deleted_at IS NOT NULL AND ($2::text IS NULL OR $2 = 'category')) \
         SELECT t.kind, t.id, t.course_id, t.lesson_id, t.title, t.deleted_at, t.deleted_by, \
                t.deleted_at + keep.days AS purge_at \
           FROM t, keep \
          WHERE ($3::timestamptz IS NULL OR (t.deleted_at, t.id) < ($3, $4)) \
          ORDER BY t.deleted_at DESC, t.id DESC LIMIT $5",
    )
    .bind(org.as_uuid())
    .bind(kind)
    .bind(before.map(|b| b.0))
    .bind(before.map(|b| b.1))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// Brings a deleted course back as it was, at its next version. `None` when
/// there is no such deleted course the caller may change.
pub async fn restore(
    tx: &mut TenantTx,
    id: CourseId,
    by: UserId,
) -> Result<Option<CourseRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(concat!(
        "UPDATE courses AS c SET deleted_at = NULL, deleted_by = NULL, \
                version = c.version + 1, updated_at = now(), updated_by = $3 \
          WHERE c.organization_id = $1 AND c.id = $2 AND c.deleted_at IS NOT NULL RETURNING ",
        course_columns!()
    ))
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(by.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// Deletes a course for real, with everything under it and every learner's
/// record of it. `false` when there was none the caller may remove.
pub async fn purge(tx: &mut TenantTx, id: CourseId) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query("DELETE FROM courses WHERE organization_id = $1 AND id = $2")
        .bind(org.as_uuid())
        .bind(id.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether a deleted course exists (for the caller to read).
pub async fn in_trash(tx: &mut TenantTx, id: CourseId) -> Result<bool, DbError> {
    let org = tx.org();
    Ok(sqlx::query(
        "SELECT 1 FROM courses WHERE organization_id = $1 AND id = $2 AND deleted_at IS NOT NULL",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?
    .is_some())
}

/// Whether a live course exists (for the caller to read).
pub async fn exists(tx: &mut TenantTx, id: CourseId) -> Result<bool, DbError> {
    let org = tx.org();
    Ok(sqlx::query(
        "SELECT 1 FROM courses WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?
    .is_some())
}

/// Locks a live course for a change of it or its content, and reads its
/// version. `None` when there is no such live course, or the caller may not
/// change it (its policies do not let them lock it).
pub async fn lock(tx: &mut TenantTx, id: CourseId) -> Result<Option<i32>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar(
        "SELECT version FROM courses WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// Moves each course of `to` to its version (and records who changed it
/// when), unless a statement of the same transaction already did: the
/// target versions were read under the courses' locks, so applying them is
/// idempotent and each course moves exactly once per transaction.
pub async fn bump_versions(
    tx: &mut TenantTx,
    to: &[(CourseId, i32)],
    by: Option<UserId>,
) -> Result<(), DbError> {
    let org = tx.org();
    let ids: Vec<Uuid> = to.iter().map(|(c, _)| c.as_uuid()).collect();
    let versions: Vec<i32> = to.iter().map(|(_, v)| *v).collect();
    sqlx::query(
        "UPDATE courses AS c SET version = t.version, updated_at = now(), \
                updated_by = COALESCE($2, c.updated_by) \
           FROM unnest($3::uuid[], $4::int[]) AS t(id, version) \
          WHERE c.organization_id = $1 AND c.id = t.id AND c.version <> t.version",
    )
    .bind(org.as_uuid())
    .bind(by.map(|u| u.as_uuid()))
    .bind(&ids)
    .bind(&versions)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The shape of a published snapshot's JSON (`schema_version` in it): a
/// [`CourseTree`]. Snapshots without the key are of version 1.
pub const SNAPSHOT_SCHEMA_VERSION: i64 = 1;

/// A published version, as listed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    /// Its number.
    pub version: i32,
    /// The course's title then.
    pub title: String,
    /// Published at.
    pub published_at: Option<DateTime<Utc>>,
    /// By whom.
    pub created_by: Option<Uuid>,
    /// Learners pinned to it.
    pub learners: i64,
}

/// The published versions of a course, newest first.
pub async fn versions(tx: &mut TenantTx, course: CourseId) -> Result<Vec<VersionRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT v.version, v.title, v.published_at, v.created_by, \
                (SELECT count(*) FROM enrollments e WHERE e.organization_id = v.organization_id \
                    AND e.course_id = v.course_id AND e.course_version = v.version) AS learners \
           FROM course_versions v WHERE v.organization_id = $1 AND v.course_id = $2 \
          ORDER BY v.version DESC",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .fetch_all(tx.conn())
    .await?)
}

/// One published version with its tree.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The listing.
    pub version: i32,
    /// Published at.
    pub published_at: Option<DateTime<Utc>>,
    /// The JSON shape it was written in.
    pub schema_version: i64,
    /// The tree.
    pub tree: CourseTree,
}

/// A published version of a course.
pub async fn snapshot(
    tx: &mut TenantTx,
    course: CourseId,
    version: i32,
) -> Result<Option<Snapshot>, DbError> {
    let org = tx.org();
    let row: Option<(i32, Option<DateTime<Utc>>, Value)> = sqlx::query_as(
        "SELECT version, published_at, content FROM course_versions \
          WHERE organization_id = $1 AND course_id = $2 AND version = $3",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(version)
    .fetch_optional(tx.conn())
    .await?;
    let Some((version, published_at, content)) = row else {
        return Ok(None);
    };
    let schema_version = content
        .get("schema_version")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let tree = serde_json::from_value(content)
        .map_err(|e| DbError::Other(sqlx::Error::Decode(Box::new(e))))?;
    Ok(Some(Snapshot {
        version,
        published_at,
        schema_version,
        tree,
    }))
}

/// Makes version `version` of a course its draft again, the caller holding
/// the course's lock: the course's fields, its lessons and sections (ids
/// kept: content that exists in both is updated in place, so learners'
/// progress on it stays; content of the version in the trash comes back;
/// content added since goes to the trash, a lesson with its sections), and
/// its category and tag links (to those that still exist). `false` when
/// there is no such version.
pub async fn restore_version(
    tx: &mut TenantTx,
    id: CourseId,
    version: i32,
    by: UserId,
    next_version: i32,
) -> Result<bool, DbError> {
    let org = tx.org();
    let Some(snap) = snapshot(tx, id, version).await? else {
        return Ok(false);
    };
    sqlx::query("SET CONSTRAINTS lessons_position_key, sections_position_key DEFERRED")
        .execute(tx.conn())
        .await?;
    // Every statement reads the tree from the stored snapshot itself.
    const SNAPSHOT: &str = "WITH v AS (SELECT content FROM course_versions \
                             WHERE organization_id = $1 AND course_id = $2 AND version = $3), \
         ls AS (SELECT x.* FROM v, jsonb_to_recordset(v.content -> 'lessons') AS x( \
                    id uuid, title text, description text, position int, is_required boolean, \
                    unlock_after_days int, unlock_at timestamptz)), \
         ss AS (SELECT x.* FROM v, jsonb_array_elements(v.content -> 'lessons') AS le, \
                    jsonb_to_recordset(le -> 'sections') AS x( \
                    id uuid, lesson_id uuid, title text, content text, type text, position int, \
                    duration_minutes int, is_optional boolean)) ";
    for statement in [
        "UPDATE sections s SET deleted_at = now(), deleted_by = app.current_user_id(), position = NULL, \
                updated_at = now() \
           FROM lessons l \
          WHERE l.organization_id = $1 AND l.course_id = $2 \
            AND s.organization_id = l.organization_id AND s.lesson_id = l.id \
            AND l.id IN (SELECT id FROM ls) AND s.deleted_at IS NULL AND s.id NOT IN (SELECT id FROM ss)",
        "UPDATE lessons l SET deleted_at = now(), deleted_by = app.current_user_id(), position = NULL, \
                updated_at = now() \
          WHERE l.organization_id = $1 AND l.course_id = $2 \
            AND l.deleted_at IS NULL AND l.id NOT IN (SELECT id FROM ls)",
        "INSERT INTO lessons (organization_id, id, course_id, title, description, position, is_required, \
                              unlock_after_days, unlock_at) \
         SELECT $1, ls.id, $2, ls.title, ls.description, ls.position, COALESCE(ls.is_required, true), \
                ls.unlock_after_days, ls.unlock_at FROM ls \
         ON CONFLICT (organization_id, id) DO UPDATE SET title = EXCLUDED.title, \
                description = EXCLUDED.description, position = EXCLUDED.position, \
                is_required = EXCLUDED.is_required, unlock_after_days = EXCLUDED.unlock_after_days, \
                unlock_at = EXCLUDED.unlock_at, deleted_at = NULL, deleted_by = NULL, updated_at = now() \
          WHERE lessons.course_id = $2",
        "INSERT INTO sections (organization_id, id, lesson_id, title, content, type, position, \
                               duration_minutes, is_optional) \
         SELECT $1, ss.id, ss.lesson_id, ss.title, COALESCE(ss.content, ''), ss.type::section_type, \
                ss.position, COALESCE(ss.duration_minutes, 0), COALESCE(ss.is_optional, false) FROM ss \
         ON CONFLICT (organization_id, id) DO UPDATE SET lesson_id = EXCLUDED.lesson_id, \
                title = EXCLUDED.title, content = EXCLUDED.content, type = EXCLUDED.type, \
                position = EXCLUDED.position, duration_minutes = EXCLUDED.duration_minutes, \
                is_optional = EXCLUDED.is_optional, deleted_at = NULL, deleted_by = NULL, updated_at = now() \
          WHERE sections.lesson_id IN (SELECT l.id FROM lessons l \
                                        WHERE l.organization_id = $1 AND l.course_id = $2)",
        "DELETE FROM course_categories cc WHERE cc.organization_id = $1 AND cc.course_id = $2 \
            AND cc.category_id NOT IN (SELECT (k ->> 'id')::uuid FROM v, jsonb_array_elements(v.content -> 'categories') k)",
        "INSERT INTO course_categories (organization_id, course_id, category_id) \
         SELECT $1, $2, (k ->> 'id')::uuid FROM v, jsonb_array_elements(v.content -> 'categories') k \
          WHERE EXISTS (SELECT 1 FROM categories c WHERE c.organization_id = $1 AND c.id = (k ->> 'id')::uuid) \
         ON CONFLICT DO NOTHING",
        "DELETE FROM course_tags ct WHERE ct.organization_id = $1 AND ct.course_id = $2 \
            AND ct.tag_id NOT IN (SELECT (k ->> 'id')::uuid FROM v, jsonb_array_elements(v.content -> 'tags') k)",
        "INSERT INTO course_tags (organization_id, course_id, tag_id) \
         SELECT $1, $2, (k ->> 'id')::uuid FROM v, jsonb_array_elements(v.content -> 'tags') k \
          WHERE EXISTS (SELECT 1 FROM tags t WHERE t.organization_id = $1 AND t.id = (k ->> 'id')::uuid) \
         ON CONFLICT DO NOTHING",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("{SNAPSHOT}{statement}")))
            .bind(org.as_uuid())
            .bind(id.as_uuid())
            .bind(version)
            .execute(tx.conn())
            .await?;
    }
    let c = &snap.tree.course;
    let metadata = c.metadata.as_ref();
    update(
        tx,
        id,
        by,
        next_version,
        &CoursePatch {
            title: Some(&c.title),
            description: Some(&c.description),
            difficulty: Some(c.difficulty()),
            estimated_hours: Some((!c.hours_derived).then_some(c.estimated_hours)),
            image_url: Some(c.image_url.as_deref()),
            metadata: Some(metadata),
            pacing: c.pacing.parse().ok(),
            score_rule: c.score_rule.parse().ok(),
        },
    )
    .await?;
    Ok(true)
}

/// A lesson in a course tree, with its sections.
#[derive(Debug, Clone, Deserialize)]
pub struct LessonTree {
    /// The lesson.
    #[serde(flatten)]
    pub lesson: LessonRow,
    /// Its sections, in order.
    pub sections: Vec<SectionRow>,
}

/// A category or tag named in a course tree.
#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Slug (categories).
    #[serde(default)]
    pub slug: Option<String>,
    /// Colour (tags).
    #[serde(default)]
    pub color: Option<String>,
}

/// The whole tree of a course.
#[derive(Debug, Clone, Deserialize)]
pub struct CourseTree {
    /// The course.
    pub course: CourseRow,
    /// Its lessons with their sections.
    pub lessons: Vec<LessonTree>,
    /// Its categories.
    pub categories: Vec<Label>,
    /// Its tags.
    pub tags: Vec<Label>,
}

/// [`detail_json`], parsed.
pub async fn detail(
    tx: &mut TenantTx,
    id: CourseId,
    drafts: bool,
) -> Result<Option<CourseTree>, DbError> {
    match detail_json(tx, id, drafts).await? {
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| DbError::Other(sqlx::Error::Decode(Box::new(e)))),
        None => Ok(None),
    }
}

/// The whole tree of course `c` as one JSONB document: course, lessons with
/// their sections, categories, tags. What the published snapshots hold.
macro_rules! course_tree {
    () => {
        concat!(
            "jsonb_build_object( \
                'course', (SELECT to_jsonb(x) FROM (SELECT ", course_columns!(), ") x), \
                'lessons', COALESCE((SELECT jsonb_agg(jsonb_build_object( \
                        'id', l.id, 'course_id', l.course_id, 'title', l.title, 'description', l.description, \
                        'position', l.position, 'is_required', l.is_required, \
                        'unlock_after_days', l.unlock_after_days, 'unlock_at', l.unlock_at, \
                        'version', l.version, 'created_at', l.created_at, 'updated_at', l.updated_at, \
                        'sections', COALESCE((SELECT jsonb_agg(jsonb_build_object( \
                                'id', s.id, 'lesson_id', s.lesson_id, 'title', s.title, 'content', s.content, \
                                'type', s.type, 'position', s.position, 'duration_minutes', s.duration_minutes, \
                                'is_optional', s.is_optional, 'version', s.version, \
                                'created_at', s.created_at, 'updated_at', s.updated_at) \
                              ORDER BY s.position) \
                            FROM sections s WHERE s.organization_id = l.organization_id AND s.lesson_id = l.id \
                             AND s.deleted_at IS NULL), '[]')) \
                      ORDER BY l.position) \
                    FROM lessons l WHERE l.organization_id = c.organization_id AND l.course_id = c.id \
                     AND l.deleted_at IS NULL), '[]'), \
                'categories', COALESCE((SELECT jsonb_agg(jsonb_build_object('id', k.id, 'name', k.name, 'slug', k.slug) \
                      ORDER BY lower(k.name)) \
                    FROM course_categories cc JOIN categories k ON k.organization_id = cc.organization_id AND k.id = cc.category_id \
                     AND k.deleted_at IS NULL \
                    WHERE cc.organization_id = c.organization_id AND cc.course_id = c.id), '[]'), \
                'tags', COALESCE((SELECT jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name, 'color', t.color) \
                      ORDER BY lower(t.name)) \
                    FROM course_tags ct JOIN tags t ON t.organization_id = ct.organization_id AND t.id = ct.tag_id \
                    WHERE ct.organization_id = c.organization_id AND ct.course_id = c.id), '[]'))"
        )
    };
}

/// [`course_tree!`] as a constant, for statements written elsewhere.
pub(crate) const COURSE_TREE: &str = course_tree!();

/// The whole tree of a live course as one JSON document — course, lessons
/// with their sections, categories, tags — built by PostgreSQL in a single
/// statement (one round trip, no N+1). Drafts only when `drafts` is true.
pub async fn detail_json(
    tx: &mut TenantTx,
    id: CourseId,
    drafts: bool,
) -> Result<Option<Value>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar(concat!(
        "SELECT ",
        course_tree!(),
        " \
         FROM courses c WHERE c.organization_id = $1 AND c.id = $2 AND c.deleted_at IS NULL \
           AND ($3 OR c.is_published)"
    ))
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(drafts)
    .fetch_optional(tx.conn())
    .await?)
}

/// The response document of a live course (the API's `CourseDetail`):
/// built by PostgreSQL as JSON text and sent as it is, never parsed and
/// serialized again. One statement: the lessons joined with their sections
/// and aggregated once (no correlated subquery per lesson), with the
/// `json` forms, which build text without the `jsonb` conversions. Drafts
/// only when `drafts` is true. With the course's version.
pub async fn detail_document(
    tx: &mut TenantTx,
    id: CourseId,
    drafts: bool,
) -> Result<Option<(i32, String)>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "WITH c AS ( \
             SELECT * FROM courses \
              WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL AND ($3 OR is_published)), \
         l AS ( \
             SELECT l.position, COALESCE(sum(s.duration_minutes), 0) AS minutes, \
                    json_build_object( \
                        'lesson', json_strip_nulls(json_build_object( \
                            'id', l.id, 'course_id', l.course_id, 'title', l.title, \
                            'description', l.description, 'position', l.position, \
                            'is_required', l.is_required, 'unlock_after_days', l.unlock_after_days, \
                            'unlock_at', l.unlock_at, 'version', l.version, \
                            'created_at', l.created_at, 'updated_at', l.updated_at)), \
                        'sections', COALESCE(json_agg(json_build_object( \
                            'id', s.id, 'lesson_id', s.lesson_id, 'title', s.title, 'content', s.content, \
                            'type', s.type, 'position', s.position, 'duration_minutes', s.duration_minutes, \
                            'is_optional', s.is_optional, 'version', s.version, \
                            'created_at', s.created_at, 'updated_at', s.updated_at) \
                          ORDER BY s.position) FILTER (WHERE s.id IS NOT NULL), '[]')) AS doc \
               FROM c JOIN lessons l ON l.organization_id = c.organization_id AND l.course_id = c.id \
                                    AND l.deleted_at IS NULL \
               LEFT JOIN sections s ON s.organization_id = l.organization_id AND s.lesson_id = l.id \
                                   AND s.deleted_at IS NULL \
              GROUP BY l.organization_id, l.id) \
         SELECT c.version, json_build_object( \
                    'course', (SELECT CASE WHEN c.metadata IS NULL THEN o::text \
                                      ELSE left(o::text, -1) || ', \"metadata\" : ' || c.metadata::text || '}' END::json \
                                 FROM json_strip_nulls(json_build_object( \
                        'id', c.id, 'title', c.title, 'description', c.description, \
                        'difficulty', c.difficulty, \
                        'estimated_hours', COALESCE(c.estimated_hours, \
                            (SELECT ceil(COALESCE(sum(l.minutes), 0) / 60.0)::int FROM l)), \
                        'estimated_hours_derived', c.estimated_hours IS NULL, \
                        'image_url', c.image_url, 'is_published', c.is_published, \
                        'pacing', c.pacing, 'score_rule', c.score_rule, \
                        'average_rating', CASE WHEN c.average_rating = trunc(c.average_rating) \
                                               THEN (trunc(c.average_rating)::int || '.0')::json \
                                               ELSE to_json(c.average_rating::float8) END, \
                        'rating_count', c.rating_count, \
                        'version', c.version, 'created_at', c.created_at, 'updated_at', c.updated_at)) o), \
                    'lessons', COALESCE((SELECT json_agg(l.doc ORDER BY l.position) FROM l), '[]'), \
                    'categories', COALESCE((SELECT json_agg(json_build_object('id', k.id, 'name', k.name, 'slug', k.slug) \
                            ORDER BY lower(k.name)) \
                          FROM course_categories cc JOIN categories k \
                            ON k.organization_id = cc.organization_id AND k.id = cc.category_id \
                           AND k.deleted_at IS NULL \
                         WHERE cc.organization_id = c.organization_id AND cc.course_id = c.id), '[]'), \
                    'tags', COALESCE((SELECT json_agg(json_strip_nulls(json_build_object('id', t.id, 'name', t.name, 'color', t.color)) \
                            ORDER BY lower(t.name)) \
                          FROM course_tags ct JOIN tags t ON t.organization_id = ct.organization_id AND t.id = ct.tag_id \
                         WHERE ct.organization_id = c.organization_id AND ct.course_id = c.id), '[]'))::text \
           FROM c",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(drafts)
    .fetch_optional(tx.conn())
    .await?)
}

/// Sets the search language of every course of the tenant (after the
/// organization changed its setting).
pub async fn set_search_language(tx: &mut TenantTx, language: &str) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query("UPDATE courses SET search_language = $2::regconfig WHERE organization_id = $1")
        .bind(org.as_uuid())
        .bind(language)
        .execute(tx.conn())
        .await?;
    Ok(())
}
