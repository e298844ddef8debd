//! The catalog: courses, their lessons and sections, categories and tags.
//!
//! The three operation groups share the types and helpers below; they import
//! from here, never from each other.

mod content;
mod courses;
mod staff;
mod taxonomy;
mod versions;

use chrono::{DateTime, Utc};
use lms_db::queries::lessons::LessonRow;
use lms_db::queries::sections::SectionRow;
use lms_domain::{InputError, Permission};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

pub use content::ContentApi;
pub use courses::{CoursesApi, Pacing, typed_detail};
pub use staff::StaffApi;
pub use taxonomy::TaxonomyApi;
pub use versions::VersionsApi;

use crate::context::Actor;
use crate::error::ApiError;
use crate::error::ErrorCode;

/// Longest description accepted, in characters.
const MAX_DESCRIPTION_CHARS: usize = 20_000;

/// What a section holds.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SectionType {
    /// Text.
    Text,
    /// Video.
    Video,
    /// Audio.
    Audio,
    /// Quiz.
    Quiz,
    /// Assignment.
    Assignment,
    /// Interactive content.
    Interactive,
    /// A coding exercise.
    CodeExercise,
}

impl From<SectionType> for lms_domain::SectionType {
    fn from(t: SectionType) -> Self {
        use lms_domain::SectionType as D;
        match t {
            SectionType::Text => D::Text,
            SectionType::Video => D::Video,
            SectionType::Audio => D::Audio,
            SectionType::Quiz => D::Quiz,
            SectionType::Assignment => D::Assignment,
            SectionType::Interactive => D::Interactive,
            SectionType::CodeExercise => D::CodeExercise,
        }
    }
}

impl From<lms_domain::SectionType> for SectionType {
    fn from(t: lms_domain::SectionType) -> Self {
        use lms_domain::SectionType as D;
        match t {
            D::Text => SectionType::Text,
            D::Video => SectionType::Video,
            D::Audio => SectionType::Audio,
            D::Quiz => SectionType::Quiz,
            D::Assignment => SectionType::Assignment,
            D::Interactive => SectionType::Interactive,
            D::CodeExercise => SectionType::CodeExercise,
        }
    }
}

/// A lesson.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Lesson {
    /// Id.
    pub id: Uuid,
    /// Its course.
    pub course_id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Position in the course, from 0, dense.
    pub position: i32,
    /// Whether it counts towards completion.
    pub is_required: bool,
    /// Drip pacing: opens this many days after the learner enrolled.
    pub unlock_after_days: Option<i32>,
    /// Drip pacing: opens at this time.
    pub unlock_at: Option<DateTime<Utc>>,
    /// Version, moved by every change; send it back (as `If-Match` or
    /// `version`) to refuse a lost update.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<LessonRow> for Lesson {
    fn from(r: LessonRow) -> Self {
        Self {
            id: r.id,
            course_id: r.course_id,
            title: r.title,
            description: r.description,
            position: r.position,
            is_required: r.is_required,
            unlock_after_days: r.unlock_after_days,
            unlock_at: r.unlock_at,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A section.
#[derive(Object, Debug, Clone)]
pub struct Section {
    /// Id.
    pub id: Uuid,
    /// Its lesson.
    pub lesson_id: Uuid,
    /// Title.
    pub title: String,
    /// Rich content.
    pub content: String,
    /// Type.
    #[oai(rename = "type")]
    pub section_type: SectionType,
    /// Position in the lesson, from 0, dense.
    pub position: i32,
    /// Duration in minutes.
    pub duration_minutes: i32,
    /// Not needed for completion.
    pub is_optional: bool,
    /// Version, moved by every change; send it back (as `If-Match` or
    /// `version`) to refuse a lost update.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<SectionRow> for Section {
    fn from(r: SectionRow) -> Self {
        Self {
            section_type: r.section_type().into(),
            id: r.id,
            lesson_id: r.lesson_id,
            title: r.title,
            content: r.content,
            position: r.position,
            duration_minutes: r.duration_minutes,
            is_optional: r.is_optional,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn category_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::CategoryNotFound, "no such category")
}

fn tag_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::TagNotFound, "no such tag")
}

fn check_description(d: Option<&str>) -> Result<(), InputError> {
    match d {
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS => Err(InputError::new(
            "description",
            "must be at most 20000 characters",
        )),
        _ => Ok(()),
    }
}

/// Whether the viewer sees drafts.
fn sees_drafts(actor: &Actor) -> bool {
    actor.can(Permission::CourseRead)
}
