//! Categories (a tree) and tags.

use crate::contract::Body;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lms_db::queries::categories::{self, CategoryFields, CategoryRow, TagRow};
use lms_domain::{CategoryId, CourseId, InputError, Slug, TagId, Title};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{category_not_found, sees_drafts, tag_not_found};
use crate::catalog_cache::{Cached, Entry};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::paging::maybe;
use crate::payload::JsonBody;
use crate::tenancy::Tenant;
use crate::tenant_api::{TenantBearer, TenantTags};

/// A category.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Category {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Slug, unique in the organization.
    pub slug: String,
    /// Description.
    pub description: Option<String>,
    /// Parent category, if any.
    pub parent_id: Option<Uuid>,
    /// Colour, `#rrggbb`.
    pub color: Option<String>,
    /// Icon name.
    pub icon: Option<String>,
    /// Courses filed directly under it (visible to the caller).
    pub course_count: i64,
    /// Version, moved by every change; send it back (as `If-Match` or
    /// `version`) to refuse a lost update.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<CategoryRow> for Category {
    fn from(r: CategoryRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            slug: r.slug,
            description: r.description,
            parent_id: r.parent_id,
            color: r.color,
            icon: r.icon,
            course_count: r.course_count,
            version: r.version,
            created_at: r.created_at,
        }
    }
}

/// A category with its descendants.
#[derive(Object, Debug, Clone)]
pub struct CategoryNode {
    /// The category.
    pub category: Category,
    /// Its children, by name, each with theirs.
    pub children: Vec<CategoryNode>,
}

/// The whole category tree.
#[derive(Object, Debug, Clone)]
pub struct CategoryTree {
    /// Top-level categories, by name.
    pub roots: Vec<CategoryNode>,
}

/// A new category.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateCategory {
    /// Name, 1–100 characters.
    #[oai(validator(max_length = 100))]
    pub name: String,
    /// Slug: lower-case letters, digits and inner hyphens.
    #[oai(validator(max_length = 63))]
    pub slug: String,
    /// Description.
    #[oai(validator(max_length = 2000))]
    pub description: Option<String>,
    /// Parent category.
    pub parent_id: Option<Uuid>,
    /// Colour, `#rrggbb`.
    #[oai(validator(max_length = 7))]
    pub color: Option<String>,
    /// Icon name.
    #[oai(validator(max_length = 64))]
    pub icon: Option<String>,
}

/// Changes to a category; `parent_id: null` moves it to the top level.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateCategory {
    /// New name.
    #[oai(validator(max_length = 100))]
    pub name: Option<String>,
    /// New slug.
    #[oai(validator(max_length = 63))]
    pub slug: Option<String>,
    /// New description, or `null`.
    #[oai(validator(max_length = 2000))]
    #[oai(nullable)]
    pub description: MaybeUndefined<String>,
    /// New parent, or `null` for the top level. A category cannot move under
    /// itself or its own descendants.
    #[oai(nullable)]
    pub parent_id: MaybeUndefined<Uuid>,
    /// New colour, or `null`.
    #[oai(validator(max_length = 7))]
    #[oai(nullable)]
    pub color: MaybeUndefined<String>,
    /// New icon, or `null`.
    #[oai(validator(max_length = 64))]
    #[oai(nullable)]
    pub icon: MaybeUndefined<String>,
    /// The version this change is based on; stale → 409 `version_conflict`.
    pub version: Option<i32>,
}

/// A tag.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Tag {
    /// Id.
    pub id: Uuid,
    /// Name, unique in the organization regardless of case.
    pub name: String,
    /// Colour, `#rrggbb`.
    pub color: Option<String>,
    /// Courses carrying it (visible to the caller).
    pub course_count: i64,
}

impl From<TagRow> for Tag {
    fn from(r: TagRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            color: r.color,
            course_count: r.course_count,
        }
    }
}

/// A new tag.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateTag {
    /// Name, 1–64 characters.
    #[oai(validator(max_length = 64))]
    pub name: String,
    /// Colour, `#rrggbb`.
    #[oai(validator(max_length = 7))]
    pub color: Option<String>,
}

/// Every tag.
#[derive(Object, Debug)]
pub struct TagList {
    /// By name.
    pub items: Vec<Tag>,
}

#[derive(ApiResponse)]
enum CategoryCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Category>),
}

#[derive(ApiResponse)]
enum CategoryFound {
    /// The category., its version as the entity tag.
    #[oai(status = 200)]
    Ok(Json<Category>, #[oai(header = "ETag")] String),
}

impl CategoryFound {
    fn of(v: Category) -> Self {
        let tag = crate::concurrency::etag(v.version);
        Self::Ok(Json(v), tag)
    }
}

#[derive(ApiResponse)]
enum TreeFound {
    /// The tree.
    #[oai(status = 200)]
    Ok(JsonBody<CategoryTree>),
}

#[derive(ApiResponse)]
enum TagCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Tag>),
}

#[derive(ApiResponse)]
enum TagsListed {
    /// The tags.
    #[oai(status = 200)]
    Ok(Json<TagList>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

fn color(field: &'static str, c: Option<&String>) -> Result<Option<String>, InputError> {
    c.map(|c| lms_domain::input::Colour::parse(field, c).map(|c| c.into_inner()))
        .transpose()
}

fn icon(i: Option<&String>) -> Result<Option<String>, InputError> {
    match i.map(|s| s.trim()) {
        Some(s) if s.is_empty() || s.chars().any(|c| c.is_control() || c.is_whitespace()) => Err(
            InputError::new("icon", "must be an icon name without spaces"),
        ),
        Some(s) => Ok(Some(s.to_owned())),
        None => Ok(None),
    }
}

fn name(field: &'static str, raw: &str, max: usize) -> Result<String, InputError> {
    let t = Title::parse(field, raw)?;
    if t.as_str().chars().count() > max {
        return Err(InputError::new(field, "is too long"));
    }
    Ok(t.into_inner())
}

/// What a category event carries.
fn category_payload(r: &CategoryRow) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "slug": r.slug,
        "parent_id": r.parent_id,
    })
}

fn build_tree(rows: Vec<CategoryRow>) -> CategoryTree {
    let mut children: HashMap<Option<Uuid>, Vec<Category>> = HashMap::new();
    for r in rows {
        children.entry(r.parent_id).or_default().push(r.into());
    }
    fn grow(
        parent: Option<Uuid>,
        children: &mut HashMap<Option<Uuid>, Vec<Category>>,
    ) -> Vec<CategoryNode> {
        let mine = children.remove(&parent).unwrap_or_default();
        mine.into_iter()
            .map(|c| {
                let id = c.id;
                CategoryNode {
                    category: c,
                    children: grow(Some(id), children),
                }
            })
            .collect()
    }
    CategoryTree {
        roots: grow(None, &mut children),
    }
}

/// Categories and tags.
pub struct TaxonomyApi;

#[OpenApi(tag = "TenantTags::Taxonomy")]
impl TaxonomyApi {
    /// The category tree.
    #[oai(
        path = "/categories/tree",
        method = "get",
        operation_id = "getCategoryTree"
    )]
    async fn tree(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
    ) -> ApiResult<TreeFound> {
        let mut read = ctx.reader(&tenant, auth.0, "getCategoryTree").await?;
        let drafts = sees_drafts(read.actor());
        let ticket = match ctx.catalog.get(tenant.id, drafts, Entry::CategoryTree) {
            Ok(hit) => {
                read.finish().await?;
                return Ok(TreeFound::Ok(JsonBody::from_bytes(hit.body)));
            }
            Err(t) => t,
        };
        let rows = categories::list(read.tx().await?, drafts).await?;
        read.finish().await?;
        let body = JsonBody::new(&build_tree(rows));
        ctx.catalog.put(ticket, Cached::body(body.bytes()));
        Ok(TreeFound::Ok(body))
    }

    /// Create a category.
    #[oai(path = "/categories", method = "post", operation_id = "createCategory")]
    async fn create(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        body: Body<CreateCategory>,
    ) -> ApiResult<CategoryCreated> {
        let b = body.0;
        let n = name("name", &b.name, 100)?;
        let slug = Slug::parse_label("slug", &b.slug).map_err(|_| {
            InputError::new(
                "slug",
                "must be lower-case letters, digits and inner hyphens",
            )
        })?;
        let col = color("color", b.color.as_ref())?;
        let ic = icon(b.icon.as_ref())?;
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "createCategory").await?;
        let tx = unit.tx();
        let parent = b.parent_id.map(CategoryId::from_uuid);
        if let Some(p) = parent {
            categories::get(tx, p).await?.ok_or_else(|| {
                ApiError::unprocessable(
                    ErrorCode::ParentNotFound,
                    "the parent category does not exist",
                )
            })?;
        }
        let id = CategoryId::new();
        categories::create(
            tx,
            id,
            &CategoryFields {
                name: &n,
                slug: slug.as_str(),
                description: b.description.as_deref(),
                parent_id: parent,
                color: col.as_deref(),
                icon: ic.as_deref(),
            },
        )
        .await?;
        let row = categories::get(tx, id)
            .await?
            .ok_or_else(category_not_found)?;
        unit.emit("category.created", id, category_payload(&row));
        unit.commit().await?;
        Ok(CategoryCreated::Created(Json(row.into())))
    }

    /// Change or move a category.
    #[oai(
        path = "/categories/:category_id",
        method = "patch",
        operation_id = "updateCategory"
    )]
    async fn update(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        category_id: Path<Uuid>,
        /// The entity tag (version) this change is based on; stale → 412.
        #[oai(name = "If-Match")]
        if_match: poem_openapi::param::Header<Option<String>>,
        body: Body<UpdateCategory>,
    ) -> ApiResult<CategoryFound> {
        let b = body.0;
        let based_on = crate::concurrency::Precondition::new(if_match.0.as_deref(), b.version);
        let n = b
            .name
            .as_deref()
            .map(|x| name("name", x, 100))
            .transpose()?;
        let slug = b
            .slug
            .as_deref()
            .map(|s| {
                Slug::parse_label("slug", s).map_err(|_| {
                    InputError::new(
                        "slug",
                        "must be lower-case letters, digits and inner hyphens",
                    )
                })
            })
            .transpose()?;
        let col = maybe(&b.color).map(|c| color("color", c)).transpose()?;
        let ic = maybe(&b.icon).map(icon).transpose()?;
        let id = CategoryId::from_uuid(category_id.0);
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "updateCategory").await?;
        let tx = unit.tx();
        categories::lock_tree(tx).await?;
        let cur = categories::get(tx, id)
            .await?
            .ok_or_else(category_not_found)?;
        based_on.check(cur.version)?;
        let parent = match maybe(&b.parent_id) {
            None => cur.parent_id.map(CategoryId::from_uuid),
            Some(None) => None,
            Some(Some(p)) => {
                let p = CategoryId::from_uuid(*p);
                categories::get(tx, p).await?.ok_or_else(|| {
                    ApiError::unprocessable(
                        ErrorCode::ParentNotFound,
                        "the parent category does not exist",
                    )
                })?;
                if categories::is_self_or_descendant(tx, id, p).await? {
                    return Err(ApiError::unprocessable(
                        ErrorCode::CategoryCycle,
                        "a category cannot move under itself or one of its descendants",
                    ));
                }
                Some(p)
            }
        };
        let description = match maybe(&b.description) {
            None => cur.description.clone(),
            Some(d) => d.cloned(),
        };
        categories::update(
            tx,
            id,
            &CategoryFields {
                name: n.as_deref().unwrap_or(&cur.name),
                slug: slug.as_ref().map(Slug::as_str).unwrap_or(&cur.slug),
                description: description.as_deref(),
                parent_id: parent,
                color: col.unwrap_or(cur.color.clone()).as_deref(),
                icon: ic.unwrap_or(cur.icon.clone()).as_deref(),
            },
        )
        .await?;
        let row = categories::get(tx, id)
            .await?
            .ok_or_else(category_not_found)?;
        unit.emit("category.updated", id, category_payload(&row));
        unit.commit().await?;
        Ok(CategoryFound::of(row.into()))
    }

    /// Delete a category: its courses leave it, its children move to the top.
    #[oai(
        path = "/categories/:category_id",
        method = "delete",
        operation_id = "deleteCategory"
    )]
    async fn delete(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        category_id: Path<Uuid>,
        /// Delete for real, now, with its course links (a deleted category
        /// is purged from the trash).
        purge: poem_openapi::param::Query<Option<bool>>,
    ) -> ApiResult<Deleted> {
        let id = CategoryId::from_uuid(category_id.0);
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "deleteCategory").await?;
        categories::lock_tree(unit.tx()).await?;
        let filed = categories::lock_courses_of_category(unit.tx(), id)
            .await?
            .ok_or_else(category_not_found)?;
        let done = if purge.0 == Some(true) {
            categories::purge(unit.tx(), id).await?
        } else {
            categories::delete(unit.tx(), id, actor.user).await?
        };
        if !done {
            return Err(category_not_found());
        }
        let courses: Vec<CourseId> = filed.iter().map(|(c, _)| *c).collect();
        unit.changed_courses(filed);
        unit.emit(
            "category.deleted",
            id,
            json!({ "id": id, "courses": courses }),
        );
        unit.commit().await?;
        Ok(Deleted::NoContent)
    }

    /// Bring a deleted category back from the trash with its course links,
    /// under its parent if that is still live (`course:write:any`). Its
    /// slug taken meanwhile → 409 `slug_taken`.
    #[oai(
        path = "/categories/:category_id/restore",
        method = "post",
        operation_id = "restoreCategory"
    )]
    async fn restore(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        category_id: Path<Uuid>,
    ) -> ApiResult<CategoryFound> {
        let id = CategoryId::from_uuid(category_id.0);
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "restoreCategory").await?;
        categories::lock_tree(unit.tx()).await?;
        if !categories::restore(unit.tx(), id).await? {
            return Err(ApiError::not_found(
                ErrorCode::CategoryNotInTrash,
                "no deleted category with this id",
            ));
        }
        let filed = categories::lock_courses_of_category(unit.tx(), id)
            .await?
            .ok_or_else(category_not_found)?;
        unit.changed_courses(filed);
        let row = categories::get(unit.tx(), id)
            .await?
            .ok_or_else(category_not_found)?;
        unit.emit("category.restored", id, category_payload(&row));
        unit.commit().await?;
        Ok(CategoryFound::of(row.into()))
    }

    /// Every tag.
    #[oai(path = "/tags", method = "get", operation_id = "listTags")]
    async fn list_tags(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
    ) -> ApiResult<TagsListed> {
        let mut read = ctx.reader(&tenant, auth.0, "listTags").await?;
        let drafts = sees_drafts(read.actor());
        let rows = categories::list_tags(read.tx().await?, drafts).await?;
        read.finish().await?;
        Ok(TagsListed::Ok(Json(TagList {
            items: rows.into_iter().map(Into::into).collect(),
        })))
    }

    /// Create a tag.
    #[oai(path = "/tags", method = "post", operation_id = "createTag")]
    async fn create_tag(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        body: Body<CreateTag>,
    ) -> ApiResult<TagCreated> {
        let b = body.0;
        let n = name("name", &b.name, 64)?;
        let col = color("color", b.color.as_ref())?;
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "createTag").await?;
        let id = TagId::new();
        categories::create_tag(unit.tx(), id, &n, col.as_deref()).await?;
        let tag = Tag {
            id: id.as_uuid(),
            name: n,
            color: col,
            course_count: 0,
        };
        unit.emit(
            "tag.created",
            id,
            json!({ "id": id, "name": tag.name, "color": tag.color }),
        );
        unit.commit().await?;
        Ok(TagCreated::Created(Json(tag)))
    }

    /// Delete a tag: it comes off every course.
    #[oai(path = "/tags/:tag_id", method = "delete", operation_id = "deleteTag")]
    async fn delete_tag(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        tag_id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        let id = TagId::from_uuid(tag_id.0);
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "deleteTag").await?;
        let carried = categories::lock_courses_of_tag(unit.tx(), id)
            .await?
            .ok_or_else(tag_not_found)?;
        if !categories::delete_tag(unit.tx(), id).await? {
            return Err(tag_not_found());
        }
        let courses: Vec<CourseId> = carried.iter().map(|(c, _)| *c).collect();
        unit.changed_courses(carried);
        unit.emit("tag.deleted", id, json!({ "id": id, "courses": courses }));
        unit.commit().await?;
        Ok(Deleted::NoContent)
    }
}
