//! Courses: authoring, publishing, the catalog, the whole-tree detail.

use crate::contract::Body;
use chrono::{DateTime, Utc};
use lms_db::queries::categories;
use lms_db::queries::courses::{
    self, After, CatalogQuery, CatalogRow, CoursePatch, CourseRow, CourseTree, NewCourse, Sort,
};
use lms_domain::{CategoryId, CourseId, InputError, TagId, Title};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Lesson, Section, category_not_found, check_description, sees_drafts, tag_not_found};
use crate::catalog_cache::{Cached, Entry};
use crate::concurrency::{none_match, representation_etag};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::paging::{self, DEFAULT_LIMIT, maybe};
use crate::payload::JsonBody;
use crate::tenancy::Tenant;
use crate::tenant_api::{TenantBearer, TenantTags};
use crate::unit::{Unit, course_not_found};

/// Largest metadata object accepted, serialised, in bytes.
const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Longest search accepted.
const MAX_SEARCH_CHARS: usize = 200;

/// How hard a course is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Difficulty {
    /// No prerequisites.
    Beginner,
    /// Some experience expected.
    Intermediate,
    /// Solid experience expected.
    Advanced,
    /// For specialists.
    Expert,
}

impl From<Difficulty> for lms_domain::Difficulty {
    fn from(d: Difficulty) -> Self {
        match d {
            Difficulty::Beginner => Self::Beginner,
            Difficulty::Intermediate => Self::Intermediate,
            Difficulty::Advanced => Self::Advanced,
            Difficulty::Expert => Self::Expert,
        }
    }
}

impl From<lms_domain::Difficulty> for Difficulty {
    fn from(d: lms_domain::Difficulty) -> Self {
        match d {
            lms_domain::Difficulty::Beginner => Self::Beginner,
            lms_domain::Difficulty::Intermediate => Self::Intermediate,
            lms_domain::Difficulty::Advanced => Self::Advanced,
            lms_domain::Difficulty::Expert => Self::Expert,
        }
    }
}

/// How a course's lessons open.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Pacing {
    /// Every lesson is open from the start.
    Free,
    /// A lesson opens when every required lesson before it is complete.
    Sequential,
    /// A lesson opens on its date (`unlock_at`) or a number of days after
    /// the learner enrolled (`unlock_after_days`), the later of the two.
    Drip,
}

impl From<Pacing> for lms_domain::Pacing {
    fn from(p: Pacing) -> Self {
        match p {
            Pacing::Free => Self::Free,
            Pacing::Sequential => Self::Sequential,
            Pacing::Drip => Self::Drip,
        }
    }
}

impl Pacing {
    pub(crate) fn of(label: &str) -> Self {
        match label.parse() {
            Ok(lms_domain::Pacing::Sequential) => Self::Sequential,
            Ok(lms_domain::Pacing::Drip) => Self::Drip,
            _ => Self::Free,
        }
    }
}

/// Which of a section's scored attempts counts towards the grade.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScoreRule {
    /// The best score of all attempts.
    Best,
    /// The score of the latest attempt that came with one.
    Latest,
}

impl From<ScoreRule> for lms_domain::ScoreRule {
    fn from(r: ScoreRule) -> Self {
        match r {
            ScoreRule::Best => Self::Best,
            ScoreRule::Latest => Self::Latest,
        }
    }
}

impl ScoreRule {
    pub(crate) fn of(label: &str) -> Self {
        match label.parse() {
            Ok(lms_domain::ScoreRule::Latest) => Self::Latest,
            _ => Self::Best,
        }
    }
}

/// Catalog orders.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum CourseSort {
    /// Newest first (the default without a search).
    Newest,
    /// By title, A to Z.
    Title,
    /// Best rated first.
    Rating,
    /// Best match first (the default with a search; needs `q`).
    Relevance,
}

/// A course.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Course {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Difficulty.
    pub difficulty: Difficulty,
    /// Estimated hours of work: as set, or derived from the sections'
    /// durations (rounded up) when nobody set it.
    pub estimated_hours: i32,
    /// Whether `estimated_hours` is derived.
    pub estimated_hours_derived: bool,
    /// Cover image URL.
    pub image_url: Option<String>,
    /// Whether learners can see it.
    pub is_published: bool,
    /// Free-form metadata object.
    pub metadata: Option<Value>,
    /// How lessons open.
    pub pacing: Pacing,
    /// Which attempt's score counts.
    pub score_rule: ScoreRule,
    /// Mean rating (0 when unrated).
    pub average_rating: f64,
    /// Number of ratings.
    pub rating_count: i32,
    /// Version, bumped by every change of the course or its content; send
    /// it back as `version` in an update to refuse a lost update.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<CourseRow> for Course {
    fn from(r: CourseRow) -> Self {
        Self {
            id: r.id,
            difficulty: r.difficulty().into(),
            title: r.title,
            description: r.description,
            estimated_hours: r.estimated_hours,
            estimated_hours_derived: r.hours_derived,
            image_url: r.image_url,
            is_published: r.is_published,
            metadata: r.metadata,
            pacing: Pacing::of(&r.pacing),
            score_rule: ScoreRule::of(&r.score_rule),
            average_rating: r.average_rating,
            rating_count: r.rating_count,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A category or tag attached to a course.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct CourseLabel {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Slug (categories).
    pub slug: Option<String>,
    /// Colour (tags).
    pub color: Option<String>,
}

/// A lesson with its sections.
#[derive(Object, Debug, Clone)]
pub struct LessonDetail {
    /// The lesson.
    pub lesson: Lesson,
    /// Its sections, in order.
    pub sections: Vec<Section>,
}

/// A course with everything in it.
#[derive(Object, Debug, Clone)]
pub struct CourseDetail {
    /// The course.
    pub course: Course,
    /// Lessons in order, each with its sections.
    pub lessons: Vec<LessonDetail>,
    /// Categories it is filed under.
    pub categories: Vec<CourseLabel>,
    /// Its tags.
    pub tags: Vec<CourseLabel>,
}

/// The typed serialization of a course tree: what the detail document
/// PostgreSQL builds must equal (the tests compare them).
#[doc(hidden)]
pub fn typed_detail(tree: CourseTree) -> Value {
    use poem_openapi::types::ToJSON;
    CourseDetail::from(tree).to_json().unwrap_or_default()
}

impl From<CourseTree> for CourseDetail {
    fn from(t: CourseTree) -> Self {
        let label = |l: courses::Label| CourseLabel {
            id: l.id,
            name: l.name,
            slug: l.slug,
            color: l.color,
        };
        Self {
            course: t.course.into(),
            lessons: t
                .lessons
                .into_iter()
                .map(|l| LessonDetail {
                    lesson: l.lesson.into(),
                    sections: l.sections.into_iter().map(Section::from).collect(),
                })
                .collect(),
            categories: t.categories.into_iter().map(label).collect(),
            tags: t.tags.into_iter().map(label).collect(),
        }
    }
}

/// A new course. It starts as a draft.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateCourse {
    /// Title, 1–200 characters.
    #[oai(validator(max_length = 200))]
    pub title: String,
    /// Description, up to 20 000 characters.
    #[oai(validator(max_length = 20000))]
    pub description: Option<String>,
    /// Difficulty (default `BEGINNER`).
    pub difficulty: Option<Difficulty>,
    /// Estimated hours of work; without it, derived from section durations.
    #[oai(validator(minimum(value = "0"), maximum(value = "10000")))]
    pub estimated_hours: Option<i32>,
    /// Cover image, an http(s) URL.
    #[oai(validator(max_length = 2048))]
    pub image_url: Option<String>,
    /// Free-form JSON object, up to 16 KiB.
    pub metadata: Option<Value>,
    /// How lessons open (default `FREE`).
    pub pacing: Option<Pacing>,
    /// Which attempt's score counts (default `BEST`).
    pub score_rule: Option<ScoreRule>,
}

/// Changes to a course; absent fields stay as they are, `null` clears the
/// nullable ones. Publishing has its own operations.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateCourse {
    /// New title.
    #[oai(validator(max_length = 200))]
    pub title: Option<String>,
    /// New description.
    #[oai(validator(max_length = 20000))]
    pub description: Option<String>,
    /// New difficulty.
    pub difficulty: Option<Difficulty>,
    /// New estimate, or `null` to derive it from section durations again.
    #[oai(validator(minimum(value = "0"), maximum(value = "10000")))]
    #[oai(nullable)]
    pub estimated_hours: MaybeUndefined<i32>,
    /// New cover image, or `null` to remove it.
    #[oai(validator(max_length = 2048))]
    #[oai(nullable)]
    pub image_url: MaybeUndefined<String>,
    /// New metadata, or `null` to remove it.
    #[oai(nullable)]
    pub metadata: MaybeUndefined<Value>,
    /// New pacing; learners' locks follow at once.
    pub pacing: Option<Pacing>,
    /// New score rule, for attempts from now on.
    pub score_rule: Option<ScoreRule>,
    /// The version this change is based on; when given and stale, the update
    /// is refused with 409 `version_conflict`.
    pub version: Option<i32>,
}

/// A page of the catalog.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct CoursePage {
    /// The courses, in the requested order.
    pub items: Vec<Course>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum CourseCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Course>),
}

#[derive(ApiResponse)]
enum CourseFound {
    /// The course.
    #[oai(status = 200)]
    Ok(Json<Course>),
}

#[derive(ApiResponse)]
enum CourseDetailFound {
    /// The course and everything in it, its version as the entity tag.
    #[oai(status = 200)]
    Ok(JsonBody<CourseDetail>, #[oai(header = "ETag")] String),
    /// The client's copy is current.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
enum CourseListed {
    /// A page of courses.
    #[oai(status = 200)]
    Ok(JsonBody<CoursePage>),
}

#[derive(ApiResponse)]
enum Done {
    /// Done.
    #[oai(status = 204)]
    NoContent,
}

/// What the trash holds.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum TrashKind {
    /// A course, with its content.
    Course,
    /// A lesson of a live course, with its sections.
    Lesson,
    /// A section of a live lesson.
    Section,
    /// A category, with its course links.
    Category,
}

impl TrashKind {
    fn as_str(self) -> &'static str {
        match self {
            TrashKind::Course => "course",
            TrashKind::Lesson => "lesson",
            TrashKind::Section => "section",
            TrashKind::Category => "category",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "lesson" => TrashKind::Lesson,
            "section" => TrashKind::Section,
            "category" => TrashKind::Category,
            _ => TrashKind::Course,
        }
    }
}

/// Something deleted that can be restored.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct TrashItem {
    /// What it is.
    #[oai(rename = "type")]
    pub kind: TrashKind,
    /// Its id.
    pub id: Uuid,
    /// The course of a lesson or section (where to restore it).
    pub course_id: Option<Uuid>,
    /// The lesson of a section.
    pub lesson_id: Option<Uuid>,
    /// Its title.
    pub title: String,
    /// Deleted at.
    pub deleted_at: DateTime<Utc>,
    /// By whom.
    pub deleted_by: Option<Uuid>,
    /// When the housekeeping deletes it for real.
    pub purge_at: DateTime<Utc>,
}

/// A page of the trash.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct TrashPage {
    /// Most recently deleted first.
    pub items: Vec<TrashItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum TrashListed {
    /// The trash.
    #[oai(status = 200)]
    Ok(Json<TrashPage>),
}

fn decode_trash_cursor(c: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (micros, id) = c.split_once('~')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

fn check_metadata(m: Option<&Value>) -> Result<(), InputError> {
    match m {
        Some(v @ Value::Object(_)) => {
            let size = serde_json::to_vec(v).map(|v| v.len()).unwrap_or(usize::MAX);
            if size > MAX_METADATA_BYTES {
                Err(InputError::new("metadata", "must be at most 16 KiB"))
            } else {
                Ok(())
            }
        }
        Some(_) => Err(InputError::new("metadata", "must be a JSON object")),
        None => Ok(()),
    }
}

fn check_hours(h: Option<i32>) -> Result<(), InputError> {
    match h {
        Some(h) if !(0..=10_000).contains(&h) => Err(InputError::new(
            "estimated_hours",
            "must be between 0 and 10000",
        )),
        _ => Ok(()),
    }
}

fn image_url(u: Option<&String>) -> Result<Option<lms_domain::WebUrl>, InputError> {
    u.map(|u| lms_domain::WebUrl::parse("image_url", u))
        .transpose()
}

/// The opaque catalog cursor: the sort it belongs to, the last row's key
/// and id, base64url JSON. Decoding refuses anything else.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    s: CourseSort,
    k: Option<Value>,
    id: Uuid,
}

fn encode_cursor(sort: CourseSort, row: &CatalogRow) -> String {
    use base64::Engine as _;
    let k = match sort {
        CourseSort::Newest => None,
        CourseSort::Title => Some(Value::from(row.title_key.clone())),
        CourseSort::Rating => Some(Value::from(row.rating_key.clone())),
        CourseSort::Relevance => Some(Value::from(f64::from(row.rank))),
    };
    let json = serde_json::to_vec(&Cursor {
        s: sort,
        k,
        id: row.course.id,
    })
    .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(sort: CourseSort, raw: &str) -> ApiResult<After> {
    use base64::Engine as _;
    let bad = || {
        ApiError::bad_request(
            ErrorCode::InvalidCursor,
            "the cursor is not one this API issued for this query",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| bad())?;
    let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if c.s != sort {
        return Err(bad());
    }
    Ok(match (sort, c.k) {
        (CourseSort::Newest, None) => After::Newest(c.id),
        (CourseSort::Title, Some(Value::String(t))) if t.len() <= 1000 => After::Title(t, c.id),
        (CourseSort::Rating, Some(Value::String(r)))
            if r.parse::<f64>().is_ok() && r.len() <= 8 =>
        {
            After::Rating(r, c.id)
        }
        (CourseSort::Relevance, Some(Value::Number(n))) => {
            After::Relevance(n.as_f64().ok_or_else(bad)? as f32, c.id)
        }
        _ => return Err(bad()),
    })
}

/// What a course event says about the course.
fn course_payload(row: &CourseRow) -> Value {
    json!({
        "course_id": row.id,
        "title": row.title,
        "version": row.version,
        "is_published": row.is_published,
    })
}

/// Courses and their publication.
pub struct CoursesApi;

#[OpenApi(tag = "TenantTags::Courses")]
impl CoursesApi {
    /// Create a course (a draft).
    #[oai(path = "/courses", method = "post", operation_id = "createCourse")]
    async fn create_course(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        body: Body<CreateCourse>,
    ) -> ApiResult<CourseCreated> {
        let b = body.0;
        let title = Title::parse("title", &b.title)?;
        check_description(b.description.as_deref())?;
        check_hours(b.estimated_hours)?;
        let image = image_url(b.image_url.as_ref())?;
        check_metadata(b.metadata.as_ref())?;

        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "createCourse").await?;
        let row = courses::create(
            unit.tx(),
            &NewCourse {
                id: CourseId::new(),
                title: title.as_str(),
                description: b.description.as_deref().unwrap_or(""),
                difficulty: b
                    .difficulty
                    .map(Into::into)
                    .unwrap_or(lms_domain::Difficulty::Beginner),
                estimated_hours: b.estimated_hours,
                image_url: image.as_ref().map(|u| u.as_str()),
                metadata: b.metadata.as_ref(),
                pacing: b.pacing.map_or(lms_domain::Pacing::Free, Into::into),
                score_rule: b.score_rule.map_or(lms_domain::ScoreRule::Best, Into::into),
                created_by: actor.user,
            },
        )
        .await?;
        // Its author owns it.
        lms_db::queries::staff::set(unit.tx(), CourseId::from_uuid(row.id), actor.user, "OWNER")
            .await?;
        unit.emit("course.created", row.id, course_payload(&row));
        unit.commit().await?;
        Ok(CourseCreated::Created(Json(row.into())))
    }

    /// The catalog: filter, search, sort, page. Learners see published
    /// courses; holders of `course:read` see drafts too.
    #[oai(path = "/courses", method = "get", operation_id = "listCourses")]
    #[allow(clippy::too_many_arguments)] // one per query parameter
    async fn list_courses(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        /// Full-text search over title and description (web-search syntax:
        /// words, "quoted phrases", -excluded).
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
        /// Only courses of this difficulty.
        difficulty: Query<Option<Difficulty>>,
        /// Only courses filed under this category or any of its descendants.
        category: Query<Option<Uuid>>,
        /// Only courses with this tag.
        tag: Query<Option<Uuid>>,
        /// Only published (`true`) or draft (`false`) courses.
        published: Query<Option<bool>>,
        /// Order (default `newest`, or `relevance` with a search).
        sort: Query<Option<CourseSort>>,
        /// The `next_cursor` of the previous page (same filters and order).
        #[oai(validator(max_length = 2048))]
        cursor: Query<Option<String>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<CourseListed> {
        let search = q.0.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if search.is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS) {
            return Err(InputError::new("q", "must be at most 200 characters").into());
        }
        let sort = sort.0.unwrap_or(if search.is_some() {
            CourseSort::Relevance
        } else {
            CourseSort::Newest
        });
        if sort == CourseSort::Relevance && search.is_none() {
            return Err(InputError::new("sort", "relevance needs a search (`q`)").into());
        }
        let after = cursor
            .0
            .as_deref()
            .map(|c| decode_cursor(sort, c))
            .transpose()?;
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT);

        let mut read = ctx.reader(&tenant, auth.0, "listCourses").await?;
        let drafts = sees_drafts(read.actor());
        let key = format!(
            "q={search:?}&d={:?}&c={:?}&t={:?}&p={:?}&s={sort:?}&a={after:?}&l={limit}",
            difficulty.0, category.0, tag.0, published.0
        );
        let ticket = match ctx.catalog.get(tenant.id, drafts, Entry::List(key)) {
            Ok(hit) => {
                read.finish().await?;
                return Ok(CourseListed::Ok(JsonBody::from_bytes(hit.body)));
            }
            Err(ticket) => ticket,
        };
        let rows = courses::catalog(
            read.tx().await?,
            &CatalogQuery {
                drafts,
                published: published.0,
                difficulty: difficulty.0.map(Into::into),
                category: category.0.map(CategoryId::from_uuid),
                tag: tag.0.map(TagId::from_uuid),
                search,
                sort: match sort {
                    CourseSort::Newest => Sort::Newest,
                    CourseSort::Title => Sort::Title,
                    CourseSort::Rating => Sort::Rating,
                    CourseSort::Relevance => Sort::Relevance,
                },
                after,
                limit: limit + 1,
            },
        )
        .await?;
        read.finish().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| encode_cursor(sort, r));
        let body = JsonBody::new(&CoursePage {
            items: rows.into_iter().map(|r| r.course.into()).collect(),
            next_cursor,
        });
        ctx.catalog.put(ticket, Cached::body(body.bytes()));
        Ok(CourseListed::Ok(body))
    }

    /// One course with its lessons, sections, categories and tags, read in
    /// a single database round trip. Drafts only for `course:read` holders.
    /// The entity tag is the course's version and a digest of the body
    /// (`"7-…"`, which `If-Match` on its writes takes); with
    /// `If-None-Match` naming it, 304 and no body.
    #[oai(
        path = "/courses/:course_id",
        method = "get",
        operation_id = "getCourse"
    )]
    async fn get_course(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        /// Entity tags the client holds: 304 when the course still has one.
        #[oai(name = "If-None-Match")]
        if_none_match: poem_openapi::param::Header<Option<String>>,
    ) -> ApiResult<CourseDetailFound> {
        let mut read = ctx.reader(&tenant, auth.0, "getCourse").await?;
        let drafts = sees_drafts(read.actor());
        let found = match ctx
            .catalog
            .get(tenant.id, drafts, Entry::Detail(course_id.0))
        {
            Ok(hit) => {
                read.finish().await?;
                hit
            }
            Err(ticket) => {
                let (version, document) = courses::detail_document(
                    read.tx().await?,
                    CourseId::from_uuid(course_id.0),
                    drafts,
                )
                .await?
                .ok_or_else(course_not_found)?;
                read.finish().await?;
                let body = bytes::Bytes::from(document);
                let read = Cached {
                    etag: Some(representation_etag(version, &body)),
                    body,
                };
                ctx.catalog.put(ticket, read.clone());
                read
            }
        };
        let tag = found.etag.unwrap_or_default();
        if if_none_match
            .0
            .as_deref()
            .is_some_and(|h| none_match(h, &tag))
        {
            return Ok(CourseDetailFound::NotModified(tag));
        }
        Ok(CourseDetailFound::Ok(JsonBody::from_bytes(found.body), tag))
    }

    /// Change a course.
    #[oai(
        path = "/courses/:course_id",
        method = "patch",
        operation_id = "updateCourse"
    )]
    async fn update_course(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        /// The entity tag (version) this change is based on; stale → 412.
        #[oai(name = "If-Match")]
        if_match: poem_openapi::param::Header<Option<String>>,
        body: Body<UpdateCourse>,
    ) -> ApiResult<CourseFound> {
        let b = body.0;
        let based_on = crate::concurrency::Precondition::new(if_match.0.as_deref(), b.version);
        let title = b
            .title
            .as_deref()
            .map(|t| Title::parse("title", t))
            .transpose()?;
        check_description(b.description.as_deref())?;
        check_hours(b.estimated_hours.value().copied())?;
        let image = image_url(b.image_url.value())?;
        check_metadata(b.metadata.value())?;

        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "updateCourse").await?;
        let lock = unit.course(CourseId::from_uuid(course_id.0)).await?;
        based_on.check(lock.version)?;
        let patch = CoursePatch {
            title: title.as_ref().map(Title::as_str),
            description: b.description.as_deref(),
            difficulty: b.difficulty.map(Into::into),
            estimated_hours: maybe(&b.estimated_hours).map(|h| h.copied()),
            image_url: maybe(&b.image_url).map(|o| o.and(image.as_ref()).map(|u| u.as_str())),
            metadata: maybe(&b.metadata),
            pacing: b.pacing.map(Into::into),
            score_rule: b.score_rule.map(Into::into),
        };
        let row = courses::update(unit.tx(), lock.id, actor.user, lock.next_version(), &patch)
            .await?
            .ok_or_else(course_not_found)?;
        unit.emit("course.updated", row.id, course_payload(&row));
        unit.commit().await?;
        Ok(CourseFound::Ok(Json(row.into())))
    }

    /// Delete a course (soft delete: learners' history keeps pointing at it).
    #[oai(
        path = "/courses/:course_id",
        method = "delete",
        operation_id = "deleteCourse"
    )]
    async fn delete_course(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        /// Delete for real, now, with every learner's record of the course
        /// (`course:write:any`; a deleted course is purged from the trash).
        purge: Query<Option<bool>>,
    ) -> ApiResult<Done> {
        let id = CourseId::from_uuid(course_id.0);
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "deleteCourse").await?;
        if purge.0 == Some(true) {
            if !actor.can(lms_domain::Permission::CourseWriteAny) {
                return Err(ApiError::permission_denied(
                    lms_domain::Permission::CourseWriteAny,
                ));
            }
            if !courses::purge(unit.tx(), id).await? {
                return Err(course_not_found());
            }
            unit.changed_courses([]);
            unit.emit(
                "course.purged",
                id,
                json!({ "course_id": id, "reason": "requested" }),
            );
            unit.commit().await?;
            return Ok(Done::NoContent);
        }
        let lock = unit.course(id).await?;
        if !courses::soft_delete(unit.tx(), lock.id, actor.user, lock.next_version()).await? {
            return Err(course_not_found());
        }
        unit.emit(
            "course.deleted",
            lock.id,
            json!({ "course_id": lock.id, "version": lock.next_version() }),
        );
        unit.commit().await?;
        Ok(Done::NoContent)
    }

    /// Bring a deleted course back from the trash, as it was, with its
    /// content, links and learners (its staff, or `course:write:any`).
    #[oai(
        path = "/courses/:course_id/restore",
        method = "post",
        operation_id = "restoreCourse"
    )]
    async fn restore_course(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<CourseFound> {
        let id = CourseId::from_uuid(course_id.0);
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "restoreCourse").await?;
        let Some(row) = courses::restore(unit.tx(), id, actor.user).await? else {
            return Err(if courses::in_trash(unit.tx(), id).await? {
                crate::unit::not_course_staff()
            } else {
                ApiError::not_found(
                    ErrorCode::CourseNotInTrash,
                    "no deleted course with this id",
                )
            });
        };
        unit.changed_courses([]);
        unit.emit("course.restored", row.id, course_payload(&row));
        unit.commit().await?;
        Ok(CourseFound::Ok(Json(row.into())))
    }

    /// Deleted courses, lessons, sections and categories an admin can restore
    /// (`course:write:any`), most recently deleted first, with when the housekeeping purges each
    /// (the organization's `trash_retention_days`, 30 by default).
    #[oai(path = "/trash", method = "get", operation_id = "listTrash")]
    async fn trash(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        /// Only this kind of item.
        #[oai(name = "type")]
        kind: Query<Option<TrashKind>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<TrashListed> {
        let before = match cursor.0.as_deref() {
            None => None,
            Some(c) => Some(decode_trash_cursor(c).ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidCursor,
                    "the cursor is not one this API gave",
                )
            })?),
        };
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT);
        let mut read = ctx.reader(&tenant, auth.0, "listTrash").await?;
        let kind = kind.0.map(TrashKind::as_str);
        let rows = courses::trash(read.tx().await?, kind, before, limit + 1).await?;
        read.finish().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| {
            format!("{}~{}", r.deleted_at.timestamp_micros(), r.id)
        });
        Ok(TrashListed::Ok(Json(TrashPage {
            items: rows
                .into_iter()
                .map(|r| TrashItem {
                    kind: TrashKind::parse(&r.kind),
                    id: r.id,
                    course_id: r.course_id,
                    lesson_id: r.lesson_id,
                    title: r.title,
                    deleted_at: r.deleted_at,
                    deleted_by: r.deleted_by,
                    purge_at: r.purge_at,
                })
                .collect(),
            next_cursor,
        })))
    }

    /// Publish a course: learners see it, and its content at this moment is
    /// kept as a numbered version.
    #[oai(
        path = "/courses/:course_id/publish",
        method = "post",
        operation_id = "publishCourse"
    )]
    async fn publish(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<CourseFound> {
        set_published(&ctx, &tenant, auth, course_id.0, true).await
    }

    /// Unpublish a course: learners no longer see it.
    #[oai(
        path = "/courses/:course_id/unpublish",
        method = "post",
        operation_id = "unpublishCourse"
    )]
    async fn unpublish(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<CourseFound> {
        set_published(&ctx, &tenant, auth, course_id.0, false).await
    }

    /// File a course under a category (idempotent).
    #[oai(
        path = "/courses/:course_id/categories/:category_id",
        method = "put",
        operation_id = "addCourseCategory"
    )]
    async fn add_category(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        category_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        let link = Link::Category(CategoryId::from_uuid(category_id.0));
        let (unit, _) = ctx.unit(&tenant, auth.0, "addCourseCategory").await?;
        change_link(unit, CourseId::from_uuid(course_id.0), link, true).await
    }

    /// Take a course out of a category.
    #[oai(
        path = "/courses/:course_id/categories/:category_id",
        method = "delete",
        operation_id = "removeCourseCategory"
    )]
    async fn remove_category(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        category_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        let link = Link::Category(CategoryId::from_uuid(category_id.0));
        let (unit, _) = ctx.unit(&tenant, auth.0, "removeCourseCategory").await?;
        change_link(unit, CourseId::from_uuid(course_id.0), link, false).await
    }

    /// Tag a course (idempotent).
    #[oai(
        path = "/courses/:course_id/tags/:tag_id",
        method = "put",
        operation_id = "addCourseTag"
    )]
    async fn add_tag(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        tag_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        let link = Link::Tag(TagId::from_uuid(tag_id.0));
        let (unit, _) = ctx.unit(&tenant, auth.0, "addCourseTag").await?;
        change_link(unit, CourseId::from_uuid(course_id.0), link, true).await
    }

    /// Untag a course.
    #[oai(
        path = "/courses/:course_id/tags/:tag_id",
        method = "delete",
        operation_id = "removeCourseTag"
    )]
    async fn remove_tag(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        tag_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        let link = Link::Tag(TagId::from_uuid(tag_id.0));
        let (unit, _) = ctx.unit(&tenant, auth.0, "removeCourseTag").await?;
        change_link(unit, CourseId::from_uuid(course_id.0), link, false).await
    }
}

/// A course's category or tag.
#[derive(Clone, Copy)]
enum Link {
    Category(CategoryId),
    Tag(TagId),
}

/// Attaches (idempotently) or detaches a category or tag, under the course's
/// lock: a change of the course.
async fn change_link(
    mut unit: Unit<'_>,
    course: CourseId,
    link: Link,
    attach: bool,
) -> ApiResult<Done> {
    // Filing holds the category or tag before the course's lock, the order
    // their deletion takes them in.
    let found = match (link, attach) {
        (Link::Category(cat), true) => categories::hold(unit.tx(), cat).await?,
        (Link::Tag(tag), true) => categories::hold_tag(unit.tx(), tag).await?,
        (_, false) => true,
    };
    let lock = unit.course(course).await?;
    let tx = unit.tx();
    let found = found
        && match (link, attach) {
            (Link::Category(cat), true) => {
                categories::attach(tx, course, cat).await?;
                true
            }
            (Link::Category(cat), false) => categories::detach(tx, course, cat).await?,
            (Link::Tag(tag), true) => {
                categories::attach_tag(tx, course, tag).await?;
                true
            }
            (Link::Tag(tag), false) => categories::detach_tag(tx, course, tag).await?,
        };
    let (event, payload) = match link {
        Link::Category(_) if !found => return Err(category_not_found()),
        Link::Tag(_) if !found => return Err(tag_not_found()),
        Link::Category(cat) => (
            if attach {
                "course.category_added"
            } else {
                "course.category_removed"
            },
            json!({ "course_id": course, "category_id": cat, "version": lock.next_version() }),
        ),
        Link::Tag(tag) => (
            if attach {
                "course.tag_added"
            } else {
                "course.tag_removed"
            },
            json!({ "course_id": course, "tag_id": tag, "version": lock.next_version() }),
        ),
    };
    unit.emit(event, course, payload);
    unit.commit().await?;
    Ok(Done::NoContent)
}

async fn set_published(
    ctx: &Ctx,
    tenant: &Tenant,
    auth: TenantBearer,
    id: Uuid,
    published: bool,
) -> ApiResult<CourseFound> {
    let op = if published {
        "publishCourse"
    } else {
        "unpublishCourse"
    };
    let (mut unit, actor) = ctx.unit(tenant, auth.0, op).await?;
    let lock = unit.course(CourseId::from_uuid(id)).await?;
    let row = courses::set_published(
        unit.tx(),
        lock.id,
        actor.user,
        lock.next_version(),
        published,
    )
    .await?
    .ok_or_else(course_not_found)?;
    let event = if published {
        "course.published"
    } else {
        "course.unpublished"
    };
    unit.emit(event, row.id, course_payload(&row));
    unit.commit().await?;
    Ok(CourseFound::Ok(Json(row.into())))
}
