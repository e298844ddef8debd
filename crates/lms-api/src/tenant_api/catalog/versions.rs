//! Published versions of a course: the snapshots taken at each publish,
//! listed, read whole, and compared.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lms_db::queries::courses::{self, CourseTree};
use lms_db::queries::learning;
use lms_domain::CourseId;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::courses::CourseDetail;
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::tenancy::Tenant;
use crate::tenant_api::{TenantBearer, TenantTags};
use crate::unit::course_not_found;

/// A published version, as listed.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CourseVersion {
    /// Its number (the course's version when it was published).
    pub version: i32,
    /// The course's title then.
    pub title: String,
    /// Published at.
    pub published_at: Option<DateTime<Utc>>,
    /// Who published it.
    pub published_by: Option<Uuid>,
    /// Learners whose enrollment is pinned to it.
    pub learners: i64,
}

/// The published versions of a course.
#[derive(Object, Debug)]
pub struct CourseVersionList {
    /// Newest first.
    pub items: Vec<CourseVersion>,
}

/// One published version, whole.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CourseSnapshot {
    /// Its number.
    pub version: i32,
    /// Published at.
    pub published_at: Option<DateTime<Utc>>,
    /// The shape the snapshot was stored in.
    pub schema_version: i64,
    /// The course as it was published.
    pub tree: CourseDetail,
}

/// Something that differs between two versions.
#[derive(Object, Debug, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct DiffItem {
    /// The lesson or section.
    pub id: Uuid,
    /// Its title (in the newer version when it is in both).
    pub title: String,
    /// For a change: the fields that differ.
    pub fields: Vec<String>,
    /// For a move: where it was (a position; for a section, in `from_lesson_id`).
    pub from_position: Option<i32>,
    /// For a move: where it is.
    pub to_position: Option<i32>,
    /// For a section that moved to another lesson: the lesson it was in.
    pub from_lesson_id: Option<Uuid>,
    /// For a section that moved to another lesson: the lesson it is in.
    pub to_lesson_id: Option<Uuid>,
}

/// How a kind of item differs.
#[derive(Object, Debug, Default)]
pub struct ChangeSet {
    /// In the newer version only.
    pub added: Vec<DiffItem>,
    /// In the older version only.
    pub removed: Vec<DiffItem>,
    /// In both, with different content.
    pub changed: Vec<DiffItem>,
    /// In both, at another place.
    pub moved: Vec<DiffItem>,
}

/// How two versions of a course differ.
#[derive(Object, Debug)]
pub struct VersionDiff {
    /// The older version compared.
    pub from: i32,
    /// The newer version compared.
    pub to: i32,
    /// Course fields that differ.
    pub course: Vec<String>,
    /// Lessons.
    pub lessons: ChangeSet,
    /// Sections.
    pub sections: ChangeSet,
}

#[derive(ApiResponse)]
enum VersionsListed {
    /// The versions.
    #[oai(status = 200)]
    Ok(Json<CourseVersionList>),
}

#[derive(ApiResponse)]
enum VersionFound {
    /// The version.
    #[oai(status = 200)]
    Ok(Json<CourseSnapshot>),
}

#[derive(ApiResponse)]
enum VersionRestored {
    /// The draft, now as the version was.
    #[oai(status = 200)]
    Ok(Json<CourseDetail>),
}

#[derive(ApiResponse)]
enum VersionsCompared {
    /// The differences.
    #[oai(status = 200)]
    Ok(Json<VersionDiff>),
}

fn version_not_found() -> ApiError {
    ApiError::not_found(
        ErrorCode::VersionNotFound,
        "no such published version of this course",
    )
}

fn item(id: Uuid, title: &str) -> DiffItem {
    DiffItem {
        id,
        title: title.to_owned(),
        fields: Vec::new(),
        from_position: None,
        to_position: None,
        from_lesson_id: None,
        to_lesson_id: None,
    }
}

/// The names of the fields whose values differ.
fn differing(pairs: &[(&str, bool)]) -> Vec<String> {
    pairs
        .iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| (*name).to_owned())
        .collect()
}

/// How `b` differs from `a`.
fn diff(a: &CourseTree, b: &CourseTree) -> (Vec<String>, ChangeSet, ChangeSet) {
    let (ca, cb) = (&a.course, &b.course);
    let course = differing(&[
        ("title", ca.title == cb.title),
        ("description", ca.description == cb.description),
        ("difficulty", ca.difficulty == cb.difficulty),
        ("image_url", ca.image_url == cb.image_url),
        ("metadata", ca.metadata == cb.metadata),
        ("pacing", ca.pacing == cb.pacing),
        ("score_rule", ca.score_rule == cb.score_rule),
    ]);
    let mut lessons = ChangeSet::default();
    let old: HashMap<Uuid, _> = a.lessons.iter().map(|l| (l.lesson.id, &l.lesson)).collect();
    let new: HashMap<Uuid, _> = b.lessons.iter().map(|l| (l.lesson.id, &l.lesson)).collect();
    for l in b.lessons.iter().map(|l| &l.lesson) {
        match old.get(&l.id) {
            None => lessons.added.push(item(l.id, &l.title)),
            Some(o) => {
                let fields = differing(&[
                    ("title", o.title == l.title),
                    ("description", o.description == l.description),
                    ("is_required", o.is_required == l.is_required),
                    (
                        "unlock_after_days",
                        o.unlock_after_days == l.unlock_after_days,
                    ),
                    ("unlock_at", o.unlock_at == l.unlock_at),
                ]);
                if !fields.is_empty() {
                    lessons.changed.push(DiffItem {
                        fields,
                        ..item(l.id, &l.title)
                    });
                }
                if o.position != l.position {
                    lessons.moved.push(DiffItem {
                        from_position: Some(o.position),
                        to_position: Some(l.position),
                        ..item(l.id, &l.title)
                    });
                }
            }
        }
    }
    for l in a.lessons.iter().map(|l| &l.lesson) {
        if !new.contains_key(&l.id) {
            lessons.removed.push(item(l.id, &l.title));
        }
    }
    let mut sections = ChangeSet::default();
    let all = |t: &CourseTree| -> Vec<lms_db::queries::sections::SectionRow> {
        t.lessons
            .iter()
            .flat_map(|l| l.sections.iter().cloned())
            .collect()
    };
    let (sa, sb) = (all(a), all(b));
    let old: HashMap<Uuid, _> = sa.iter().map(|s| (s.id, s)).collect();
    let new: HashMap<Uuid, _> = sb.iter().map(|s| (s.id, s)).collect();
    for s in &sb {
        match old.get(&s.id) {
            None => sections.added.push(item(s.id, &s.title)),
            Some(o) => {
                let fields = differing(&[
                    ("title", o.title == s.title),
                    ("content", o.content == s.content),
                    ("type", o.r#type == s.r#type),
                    ("duration_minutes", o.duration_minutes == s.duration_minutes),
                    ("is_optional", o.is_optional == s.is_optional),
                ]);
                if !fields.is_empty() {
                    sections.changed.push(DiffItem {
                        fields,
                        ..item(s.id, &s.title)
                    });
                }
                if o.position != s.position || o.lesson_id != s.lesson_id {
                    sections.moved.push(DiffItem {
                        from_position: Some(o.position),
                        to_position: Some(s.position),
                        from_lesson_id: (o.lesson_id != s.lesson_id).then_some(o.lesson_id),
                        to_lesson_id: (o.lesson_id != s.lesson_id).then_some(s.lesson_id),
                        ..item(s.id, &s.title)
                    });
                }
            }
        }
    }
    for s in &sa {
        if !new.contains_key(&s.id) {
            sections.removed.push(item(s.id, &s.title));
        }
    }
    (course, lessons, sections)
}

/// A course's published versions.
pub struct VersionsApi;

#[OpenApi(tag = "TenantTags::Courses")]
impl VersionsApi {
    /// The published versions of a course, newest first, with how many
    /// learners each holds (`course:read`).
    #[oai(
        path = "/courses/:course_id/versions",
        method = "get",
        operation_id = "listCourseVersions"
    )]
    async fn list(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<VersionsListed> {
        let course = CourseId::from_uuid(course_id.0);
        let mut read = ctx.reader(&tenant, auth.0, "listCourseVersions").await?;
        let tx = read.tx().await?;
        if !courses::exists(tx, course).await? {
            return Err(course_not_found());
        }
        let rows = courses::versions(tx, course).await?;
        read.finish().await?;
        Ok(VersionsListed::Ok(Json(CourseVersionList {
            items: rows
                .into_iter()
                .map(|r| CourseVersion {
                    version: r.version,
                    title: r.title,
                    published_at: r.published_at,
                    published_by: r.created_by,
                    learners: r.learners,
                })
                .collect(),
        })))
    }

    /// One published version, whole, as learners pinned to it were given
    /// it (`course:read`).
    #[oai(
        path = "/courses/:course_id/versions/:version",
        method = "get",
        operation_id = "getCourseVersion"
    )]
    async fn get(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        version: Path<i32>,
    ) -> ApiResult<VersionFound> {
        let course = CourseId::from_uuid(course_id.0);
        let mut read = ctx.reader(&tenant, auth.0, "getCourseVersion").await?;
        let tx = read.tx().await?;
        if !courses::exists(tx, course).await? {
            return Err(course_not_found());
        }
        let snap = courses::snapshot(tx, course, version.0)
            .await?
            .ok_or_else(version_not_found)?;
        read.finish().await?;
        Ok(VersionFound::Ok(Json(CourseSnapshot {
            version: snap.version,
            published_at: snap.published_at,
            schema_version: snap.schema_version,
            tree: snap.tree.into(),
        })))
    }

    /// The course as you learn it: the version your enrollment is pinned
    /// to, while its authors edit the draft and publish newer ones (move
    /// with `moveEnrollmentToLatest`). An enrollment from before versions
    /// were kept gets the published course. 404 `enrollment_not_found` when
    /// you are not enrolled, 403 `enrollment_not_active` once your
    /// enrollment was dropped or expired.
    #[oai(
        path = "/courses/:course_id/my-version",
        method = "get",
        operation_id = "getMyCourseVersion"
    )]
    async fn mine(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<VersionFound> {
        let course = CourseId::from_uuid(course_id.0);
        let mut read = ctx.reader(&tenant, auth.0, "getMyCourseVersion").await?;
        let (user, drafts) = (read.actor().user, super::sees_drafts(read.actor()));
        let tx = read.tx().await?;
        if courses::get(tx, course, drafts).await?.is_none() {
            return Err(course_not_found());
        }
        let (pinned, open) = learning::pinned_version(tx, user, course)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(
                    ErrorCode::EnrollmentNotFound,
                    "you are not enrolled in this course",
                )
            })?;
        if !open {
            return Err(ApiError::forbidden(
                ErrorCode::EnrollmentNotActive,
                "your enrollment in this course has ended",
            ));
        }
        let snap = match pinned {
            Some(v) => courses::snapshot(tx, course, v).await?,
            None => None,
        };
        let found = match snap {
            Some(snap) => CourseSnapshot {
                version: snap.version,
                published_at: snap.published_at,
                schema_version: snap.schema_version,
                tree: snap.tree.into(),
            },
            None => {
                let tree = courses::detail(tx, course, false)
                    .await?
                    .ok_or_else(course_not_found)?;
                CourseSnapshot {
                    version: tree.course.version,
                    published_at: None,
                    schema_version: courses::SNAPSHOT_SCHEMA_VERSION,
                    tree: tree.into(),
                }
            }
        };
        read.finish().await?;
        Ok(VersionFound::Ok(Json(found)))
    }

    /// Make a published version the draft again (the course's staff, or
    /// `course:write:any`): its fields, lessons, sections and links come
    /// back as they were; content that exists in both keeps its id, so
    /// learners' progress on it stays; content added since goes to the
    /// trash. A section learners worked on cannot move to another lesson
    /// (409 `content_in_use`). Publishing it again makes it a new version.
    #[oai(
        path = "/courses/:course_id/versions/:version/restore",
        method = "post",
        operation_id = "restoreCourseVersion"
    )]
    async fn restore(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        version: Path<i32>,
    ) -> ApiResult<VersionRestored> {
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "restoreCourseVersion").await?;
        let lock = unit.course(CourseId::from_uuid(course_id.0)).await?;
        let restored = courses::restore_version(
            unit.tx(),
            lock.id,
            version.0,
            actor.user,
            lock.next_version(),
        )
        .await
        .map_err(|e| match e {
            // A section learners worked on would move to another lesson.
            lms_db::DbError::Violation(lms_db::Violation::ForeignKey(name))
                if name == "progress_section_fkey" =>
            {
                ApiError::conflict(
                    ErrorCode::ContentInUse,
                    "learners have progress on a section this would move to another lesson",
                )
            }
            other => other.into(),
        })?;
        if !restored {
            return Err(version_not_found());
        }
        let tree = courses::detail(unit.tx(), lock.id, true)
            .await?
            .ok_or_else(course_not_found)?;
        unit.emit(
            "course.version_restored",
            lock.id,
            serde_json::json!({ "course_id": lock.id, "from_version": version.0,
                                "version": lock.next_version() }),
        );
        unit.commit().await?;
        Ok(VersionRestored::Ok(Json(tree.into())))
    }

    /// How version `to` differs from version `from`: course fields, and
    /// lessons and sections added, removed, changed (which fields) and
    /// moved (`course:read`).
    #[oai(
        path = "/courses/:course_id/versions/:from/diff/:to",
        method = "get",
        operation_id = "diffCourseVersions"
    )]
    async fn compare(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        from: Path<i32>,
        to: Path<i32>,
    ) -> ApiResult<VersionsCompared> {
        let course = CourseId::from_uuid(course_id.0);
        let mut read = ctx.reader(&tenant, auth.0, "diffCourseVersions").await?;
        let tx = read.tx().await?;
        if !courses::exists(tx, course).await? {
            return Err(course_not_found());
        }
        let a = courses::snapshot(tx, course, from.0)
            .await?
            .ok_or_else(version_not_found)?;
        let b = courses::snapshot(tx, course, to.0)
            .await?
            .ok_or_else(version_not_found)?;
        read.finish().await?;
        let (course, lessons, sections) = diff(&a.tree, &b.tree);
        Ok(VersionsCompared::Ok(Json(VersionDiff {
            from: a.version,
            to: b.version,
            course,
            lessons,
            sections,
        })))
    }
}
