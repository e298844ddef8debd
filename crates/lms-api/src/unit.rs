//! The unit of work: the one way a write happens.
//!
//! A handler opens a [`Unit`] (tenant writes) or a [`PlatformUnit`]
//! (operator writes), makes its change through the unit's transaction, and
//! states what else the change means: which courses it changed (the lock
//! helpers remember it), which cached authorizations or tenant answers it
//! made stale, which domain events it emits. [`Unit::commit`] is the only
//! place those effects happen, in this order:
//!
//! 1. every changed course moves to its next version, once;
//! 2. the events are appended to the outbox;
//! 3. the invalidation notices are queued with `pg_notify`;
//! 4. `COMMIT`: the rows, the versions, the events and the notices become
//!    real together, or not at all;
//! 5. this replica's caches drop what the notices name (the other replicas
//!    do the same when their listener hears them).
//!
//! A unit that is dropped instead of committed rolls back and leaves no
//! effect: no version bump, no event, no notice.

use std::collections::{BTreeMap, BTreeSet};

use lms_db::queries::outbox::{self, NewEvent};
use lms_db::queries::{courses, lessons};
use lms_db::{PlatformTx, TenantTx};
use lms_domain::{CourseId, LessonId, OrgId, UserId};
use serde_json::Value;
use uuid::Uuid;

use crate::coherence::{CHANNEL, Notice};
use crate::context::{Actor, ApiContext, TenantCaller};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::tenancy::Tenant;

/// 403 for a change of a course by someone who is not its staff.
pub(crate) fn not_course_staff() -> ApiError {
    ApiError::forbidden(
        ErrorCode::NotCourseStaff,
        "only the course's owners and instructors (or holders of `course:write:any`) change it",
    )
}

/// 404 for a course that is not a live course of this tenant.
pub(crate) fn course_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::CourseNotFound, "no such course")
}

/// 404 for a lesson that is not in the course.
pub(crate) fn lesson_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::LessonNotFound, "no such lesson in this course")
}

/// A course locked by a unit for a change of it or its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CourseLock {
    /// The course.
    pub id: CourseId,
    /// Its version before this unit.
    pub version: i32,
}

impl CourseLock {
    /// The version the course has once the unit commits: one more, however
    /// many changes the unit makes to it.
    pub fn next_version(&self) -> i32 {
        self.version + 1
    }
}

/// What a write changes besides its own rows.
#[derive(Debug, Default)]
struct Effects {
    /// Courses whose content changed, with the version each moves to.
    courses: BTreeMap<CourseId, i32>,
    /// Caches the change makes stale, on every replica.
    notices: BTreeSet<Notice>,
    /// Domain events, in the order they were emitted.
    events: Vec<NewEvent>,
}

impl Effects {
    fn emit(&mut self, event_type: &'static str, subject: Uuid, payload: Value) {
        self.events.push(NewEvent {
            id: Uuid::now_v7(),
            event_type,
            subject_id: subject,
            payload,
        });
    }

    /// Applies the notices to this replica's caches, after the commit.
    fn apply_locally(&self, ctx: &ApiContext) {
        for n in &self.notices {
            ctx.apply(*n);
        }
    }

    fn payloads(&self, ctx: &ApiContext) -> Vec<String> {
        let from = ctx.freshness.replica;
        self.notices.iter().map(|n| n.encode_from(from)).collect()
    }
}

/// A tenant write in progress. See the module documentation.
pub struct Unit<'a> {
    ctx: &'a ApiContext,
    org: OrgId,
    by: Option<UserId>,
    tx: TenantTx,
    effects: Effects,
}

impl ApiContext {
    /// Opens the unit of the tenant write `operation_id` for `who`,
    /// authorized against the database (never a cache): a write by a
    /// caller revoked a moment ago is refused.
    pub async fn unit(
        &self,
        tenant: &Tenant,
        who: TenantCaller,
        operation_id: &'static str,
    ) -> ApiResult<(Unit<'_>, Actor)> {
        let (tx, actor) = self.authorize(tenant, who, operation_id).await?;
        Ok((
            Unit::new(self, tenant.id, Some(who.user), tx, operation_id),
            actor,
        ))
    }

    /// Opens the unit of a public tenant write (logging in, signing up,
    /// refreshing): no acting user.
    pub async fn public_unit(
        &self,
        tenant: &Tenant,
        operation_id: &'static str,
    ) -> ApiResult<Unit<'_>> {
        let tx = self.db.tenant(tenant.id, None).await?;
        Ok(Unit::new(self, tenant.id, None, tx, operation_id))
    }
}

impl<'a> Unit<'a> {
    fn new(
        ctx: &'a ApiContext,
        org: OrgId,
        by: Option<UserId>,
        tx: TenantTx,
        operation_id: &str,
    ) -> Self {
        let mut effects = Effects::default();
        // The access table says which operations change what the catalog
        // reads return; the handler cannot forget to say it.
        if crate::access::changes_catalog(operation_id) {
            effects.notices.insert(Notice::Catalog { org });
        }
        Self {
            ctx,
            org,
            by,
            tx,
            effects,
        }
    }

    /// The unit's transaction.
    pub fn tx(&mut self) -> &mut TenantTx {
        &mut self.tx
    }

    /// Locks a live course for a change of it or its content (404 when it
    /// is not one of this tenant); the course moves to its next version on
    /// commit. Locking it again in the same unit costs nothing.
    pub async fn course(&mut self, id: CourseId) -> ApiResult<CourseLock> {
        if let Some(next) = self.effects.courses.get(&id) {
            return Ok(CourseLock {
                id,
                version: next - 1,
            });
        }
        let Some(version) = courses::lock(&mut self.tx, id).await? else {
            // Visible but not lockable: the caller is not its staff.
            return Err(if courses::exists(&mut self.tx, id).await? {
                not_course_staff()
            } else {
                course_not_found()
            });
        };
        self.changed_courses([(id, version)]);
        Ok(CourseLock { id, version })
    }

    /// Locks the course, then its lesson, for a change of the lesson's
    /// content (404 for either).
    pub async fn lesson(&mut self, course: CourseId, lesson: LessonId) -> ApiResult<CourseLock> {
        let lock = self.course(course).await?;
        if lessons::lock(&mut self.tx, course, lesson).await? {
            Ok(lock)
        } else {
            Err(lesson_not_found())
        }
    }

    /// Courses the handler locked itself (with their versions before the
    /// unit), whose content this unit changes.
    pub fn changed_courses(&mut self, locked: impl IntoIterator<Item = (CourseId, i32)>) {
        for (id, version) in locked {
            self.effects.courses.entry(id).or_insert(version + 1);
        }
        self.effects
            .notices
            .insert(Notice::Catalog { org: self.org });
    }

    /// The organization's registry entry changed (settings the host
    /// resolution carries, such as allowed origins): its host answers are
    /// dropped on every replica.
    pub fn registry_changed(&mut self) {
        self.effects
            .notices
            .insert(Notice::Tenant { org: self.org });
    }

    /// The change makes what `user` may do stale: their cached
    /// authorizations are dropped on every replica.
    pub fn actor_changed(&mut self, user: UserId) {
        self.effects.notices.insert(Notice::Actor {
            org: self.org,
            user,
        });
    }

    /// The change alters what roles grant: every cached authorization of
    /// the tenant is dropped on every replica.
    pub fn roles_changed(&mut self) {
        self.effects
            .notices
            .insert(Notice::Actors { org: self.org });
    }

    /// Emits a domain event about `subject`; it is written to the outbox if,
    /// and only if, the unit commits.
    pub fn emit(&mut self, event_type: &'static str, subject: impl Into<Uuid>, payload: Value) {
        self.effects.emit(event_type, subject.into(), payload);
    }

    /// Commits the change with its effects (see the module documentation).
    pub async fn commit(self) -> ApiResult<()> {
        let Unit {
            ctx,
            by,
            mut tx,
            effects,
            ..
        } = self;
        if !effects.courses.is_empty() {
            let to: Vec<(CourseId, i32)> = effects.courses.iter().map(|(c, v)| (*c, *v)).collect();
            courses::bump_versions(&mut tx, &to, by).await?;
        }
        append_events(&mut tx, &effects.events).await?;
        tx.notify(CHANNEL, &effects.payloads(ctx)).await?;
        finish(ctx, tx.commit().await, &effects)
    }
}

async fn append_events(tx: &mut TenantTx, events: &[NewEvent]) -> ApiResult<()> {
    if !events.is_empty() {
        let request_id = crate::request_id::current();
        outbox::append(tx, Some(&request_id), events).await?;
    }
    Ok(())
}

/// After `COMMIT`: applies the notices locally when the change committed,
/// and also when the answer was lost on the way (the outcome is unknown, and
/// forgetting a cache entry is always safe).
fn finish(
    ctx: &ApiContext,
    committed: Result<(), sqlx::Error>,
    effects: &Effects,
) -> ApiResult<()> {
    match committed {
        Ok(()) => {
            effects.apply_locally(ctx);
            Ok(())
        }
        Err(e) => {
            if matches!(e, sqlx::Error::Io(_) | sqlx::Error::Protocol(_)) {
                effects.apply_locally(ctx);
            }
            Err(e.into())
        }
    }
}

/// An operator's write in progress: the platform role's transaction, with
/// the same effects as a [`Unit`] (no course versions: operators do not
/// edit content). Events go to the outbox of the tenant they are about.
pub struct PlatformUnit<'a> {
    ctx: &'a ApiContext,
    tx: PlatformTx,
    effects: Effects,
    /// The tenant of each event, in step with `effects.events`.
    event_orgs: Vec<OrgId>,
}

impl ApiContext {
    /// Opens the unit of an operator's write; the handler authorizes the
    /// caller in it.
    pub async fn platform_unit(&self) -> ApiResult<PlatformUnit<'_>> {
        Ok(PlatformUnit::new(self, self.db.platform().await?))
    }
}

impl<'a> PlatformUnit<'a> {
    /// A unit on `tx`, a platform transaction whose caller the handler has
    /// authorized.
    pub fn new(ctx: &'a ApiContext, tx: PlatformTx) -> Self {
        Self {
            ctx,
            tx,
            effects: Effects::default(),
            event_orgs: Vec::new(),
        }
    }

    /// The unit's transaction.
    pub fn tx(&mut self) -> &mut PlatformTx {
        &mut self.tx
    }

    /// The change alters how hosts resolve to `org` (status, slug,
    /// domains): its answers are dropped on every replica.
    pub fn tenant_changed(&mut self, org: OrgId) {
        self.effects.notices.insert(Notice::Tenant { org });
    }

    /// Records what platform admin `admin` did in the platform audit trail,
    /// in this unit's transaction (with the request's id).
    pub async fn audit(
        &mut self,
        admin: lms_domain::PlatformAdminId,
        action: &str,
        org: Option<OrgId>,
        details: Value,
    ) -> ApiResult<()> {
        let request_id = crate::request_id::current().parse().ok();
        lms_db::queries::platform_audit::append(
            &mut self.tx,
            Some(admin.as_uuid()),
            action,
            org.map(|o| o.as_uuid()),
            &details,
            request_id,
        )
        .await?;
        Ok(())
    }

    /// Emits a domain event of tenant `org`.
    pub fn emit(
        &mut self,
        org: OrgId,
        event_type: &'static str,
        subject: impl Into<Uuid>,
        payload: Value,
    ) {
        self.effects.emit(event_type, subject.into(), payload);
        self.event_orgs.push(org);
    }

    /// Continues inside tenant `org` (creating a tenant's first rows): the
    /// rest is a tenant [`Unit`] without an acting user, with the effects
    /// gathered so far.
    pub async fn into_tenant(self, org: OrgId) -> ApiResult<Unit<'a>> {
        if self.event_orgs.iter().any(|o| *o != org) {
            return Err(ApiError::internal("platform events of another tenant"));
        }
        let tx = self.tx.into_tenant(org).await?;
        Ok(Unit {
            ctx: self.ctx,
            org,
            by: None,
            tx,
            effects: self.effects,
        })
    }

    /// Commits the change with its effects.
    pub async fn commit(self) -> ApiResult<()> {
        let PlatformUnit {
            ctx,
            mut tx,
            effects,
            event_orgs,
        } = self;
        let mut orgs: Vec<OrgId> = event_orgs.clone();
        orgs.sort();
        orgs.dedup();
        for org in orgs {
            let events: Vec<NewEvent> = effects
                .events
                .iter()
                .zip(&event_orgs)
                .filter(|(_, o)| **o == org)
                .map(|(e, _)| e.clone())
                .collect();
            let request_id = crate::request_id::current();
            outbox::append_for(&mut tx, org, Some(&request_id), &events).await?;
        }
        tx.notify(CHANNEL, &effects.payloads(ctx)).await?;
        finish(ctx, tx.commit().await, &effects)
    }
}
