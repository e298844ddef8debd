//! Ratings and reviews of courses.

use crate::contract::Body;
use chrono::{DateTime, Utc};
use lms_db::queries::reviews::{self, ReviewRow};
use lms_domain::{CourseId, InputError, Permission};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use super::{TenantBearer, TenantTags};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::paging;
use crate::tenancy::Tenant;
use crate::unit::course_not_found;

/// Longest review text, in characters.
const MAX_BODY_CHARS: usize = 10_000;

/// A review of a course.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Review {
    /// Id.
    pub id: Uuid,
    /// The course.
    pub course_id: Uuid,
    /// The author.
    pub user_id: Uuid,
    /// The author's name.
    pub author_name: String,
    /// Rating, 1–5.
    pub rating: i16,
    /// Text.
    pub body: Option<String>,
    /// Written.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<ReviewRow> for Review {
    fn from(r: ReviewRow) -> Self {
        Self {
            id: r.id,
            course_id: r.course_id,
            user_id: r.user_id,
            author_name: r.author_name,
            rating: r.rating,
            body: r.body,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new review.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateReview {
    /// Rating, 1–5 (422 `validation_failed` otherwise).
    #[oai(validator(minimum(value = "1"), maximum(value = "5")))]
    pub rating: i64,
    /// Text, at most 10,000 characters.
    #[oai(validator(max_length = 10000))]
    pub body: Option<String>,
}

/// Changes to your review.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateReview {
    /// New rating, 1–5.
    #[oai(validator(minimum(value = "1"), maximum(value = "5")))]
    pub rating: Option<i64>,
    /// New text, or `null` to remove it.
    #[oai(nullable, validator(max_length = 10000))]
    pub body: MaybeUndefined<String>,
}

/// A page of reviews.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ReviewPage {
    /// Newest first.
    pub items: Vec<Review>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum ReviewCreated {
    /// Written.
    #[oai(status = 201)]
    Created(Json<Review>),
}

#[derive(ApiResponse)]
enum ReviewFound {
    /// The review.
    #[oai(status = 200)]
    Ok(Json<Review>),
}

#[derive(ApiResponse)]
enum ReviewsListed {
    /// The reviews.
    #[oai(status = 200)]
    Ok(Json<ReviewPage>),
}

#[derive(ApiResponse)]
enum ReviewDeleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

fn review_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::ReviewNotFound, "no such review of yours")
}

fn rating(r: i64) -> ApiResult<i16> {
    match i16::try_from(r) {
        Ok(v) if (1..=5).contains(&v) => Ok(v),
        _ => Err(ApiError::unprocessable(
            ErrorCode::InvalidRating,
            "`rating` must be 1 to 5",
        )),
    }
}

fn body(b: Option<&String>) -> ApiResult<Option<String>> {
    match b.map(|s| s.trim()) {
        Some(s) if s.chars().count() > MAX_BODY_CHARS => {
            Err(InputError::new("body", "is longer than 10000 characters").into())
        }
        Some("") | None => Ok(None),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

/// Reviews.
pub struct ReviewsApi;

#[OpenApi(tag = "TenantTags::Learning")]
impl ReviewsApi {
    /// Review a course you are enrolled in (any status but DROPPED; 409
    /// `not_enrolled` otherwise). One review per course (409
    /// `already_reviewed`).
    #[oai(
        path = "/courses/:course_id/reviews",
        method = "post",
        operation_id = "createReview"
    )]
    async fn create(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        body: Body<CreateReview>,
    ) -> ApiResult<ReviewCreated> {
        let b = body.0;
        let r = rating(b.rating)?;
        let text = self::body(b.body.as_ref())?;
        let course = CourseId::from_uuid(course_id.0);
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "createReview").await?;
        if !reviews::course_visible(unit.tx(), course, actor.can(Permission::CourseRead)).await? {
            return Err(course_not_found());
        }
        if !reviews::may_review(unit.tx(), actor.user, course).await? {
            return Err(ApiError::conflict(
                ErrorCode::NotEnrolled,
                "only learners enrolled in the course review it",
            ));
        }
        let row = reviews::create(unit.tx(), actor.user, course, r, text.as_deref()).await?;
        unit.emit(
            "review.created",
            row.id,
            json!({ "id": row.id, "course_id": course, "user_id": actor.user, "rating": r }),
        );
        unit.commit().await?;
        Ok(ReviewCreated::Created(Json(row.into())))
    }

    /// A course's reviews, newest first.
    #[oai(
        path = "/courses/:course_id/reviews",
        method = "get",
        operation_id = "listCourseReviews"
    )]
    async fn list(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<ReviewsListed> {
        let before = cursor.0;
        let limit = limit.0.unwrap_or(paging::DEFAULT_LIMIT);
        let course = CourseId::from_uuid(course_id.0);
        let mut read = ctx.reader(&tenant, auth.0, "listCourseReviews").await?;
        let drafts = read.actor().can(Permission::CourseRead);
        let tx = read.tx().await?;
        if !reviews::course_visible(tx, course, drafts).await? {
            return Err(course_not_found());
        }
        let rows = reviews::list(tx, course, before, limit + 1).await?;
        read.finish().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| r.id.to_string());
        Ok(ReviewsListed::Ok(Json(ReviewPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        })))
    }

    /// Change your review.
    #[oai(
        path = "/reviews/:review_id",
        method = "patch",
        operation_id = "updateReview"
    )]
    async fn update(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        review_id: Path<Uuid>,
        body: Body<UpdateReview>,
    ) -> ApiResult<ReviewFound> {
        let b = body.0;
        let r = b.rating.map(rating).transpose()?;
        let text = match paging::maybe(&b.body) {
            None => None,
            Some(t) => Some(self::body(t)?),
        };
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "updateReview").await?;
        let id = review_id.0;
        if !reviews::update(unit.tx(), id, r, text.as_ref().map(|t| t.as_deref())).await? {
            return Err(review_not_found());
        }
        let row = reviews::get(unit.tx(), id)
            .await?
            .ok_or_else(review_not_found)?;
        unit.emit(
            "review.updated",
            id,
            json!({ "id": id, "course_id": row.course_id, "user_id": actor.user, "rating": row.rating }),
        );
        unit.commit().await?;
        Ok(ReviewFound::Ok(Json(row.into())))
    }

    /// Delete your review.
    #[oai(
        path = "/reviews/:review_id",
        method = "delete",
        operation_id = "deleteReview"
    )]
    async fn delete(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        review_id: Path<Uuid>,
    ) -> ApiResult<ReviewDeleted> {
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "deleteReview").await?;
        let id = review_id.0;
        let course = reviews::delete(unit.tx(), id)
            .await?
            .ok_or_else(review_not_found)?;
        unit.emit(
            "review.deleted",
            id,
            json!({ "id": id, "course_id": course, "user_id": actor.user }),
        );
        unit.commit().await?;
        Ok(ReviewDeleted::NoContent)
    }
}
