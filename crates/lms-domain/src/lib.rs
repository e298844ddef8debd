//! Domain types of Tenantry LMS.
//!
//! Everything here is pure: typed ids, the enums the database also knows, and
//! input types that can only be built by parsing, so that an invalid value never
//! travels past the API boundary.

pub mod enums;
pub mod host;
pub mod ids;
pub mod input;
pub mod permissions;

pub use enums::{
    AuditAction, Difficulty, EnrollmentStatus, OrgStatus, Pacing, ScoreRule, SectionType,
};
pub use host::{HostError, HostTarget, normalize_host};
pub use ids::{
    CategoryId, CourseId, EnrollmentId, LessonId, OrgId, PlatformAdminId, RoleId, SectionId, TagId,
    UserId,
};
pub use input::{Email, InputError, PersonName, Slug, Title, Username, WebUrl};
pub use permissions::{ADMIN_ROLE_NAME, DEFAULT_ROLES, DefaultRole, Permission, PermissionSet};
