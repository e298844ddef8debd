//! Who may call what: one declarative table per API, from operationId to
//! what the caller needs. Handlers authorize through it
//! ([`crate::ApiContext::authorize`]), and the tests walk the OpenAPI
//! documents to fail on any operation missing here, then try every default
//! role on every operation against what this table says.

use lms_domain::Permission;

/// What calling an operation requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (logging in, refreshing, signing up).
    Public,
    /// Any active user of the tenant (or, on the platform API, any active
    /// platform admin).
    Authenticated,
    /// An active user holding this permission.
    Requires(Permission),
    /// An active user holding either permission (course writes: their
    /// own courses' staff, or every course).
    RequiresEither(Permission, Permission),
    /// On the platform API: an active platform admin with the `OPERATOR`
    /// role (a `SUPPORT` admin only reads).
    Operator,
}

use Access::{Authenticated, Operator, Public, Requires, RequiresEither};

/// Course writes: `course:write` (the courses one teaches) or
/// `course:write:any` (every course).
const COURSE_WRITE: Access = RequiresEither(Permission::CourseWrite, Permission::CourseWriteAny);
use Permission::*;

/// The tenant API.
pub const TENANT_OPERATIONS: &[(&str, Access)] = &[
    ("createToken", Public),
    ("refreshToken", Public),
    ("signUp", Public),
    ("logout", Authenticated),
    ("getMe", Authenticated),
    ("updateMe", Authenticated),
    ("changePassword", Authenticated),
    ("getOrganization", Authenticated),
    ("getBranding", Public),
    ("updateOrganizationSettings", Requires(OrganizationManage)),
    ("listUsers", Requires(UserManage)),
    ("createUser", Requires(UserManage)),
    ("getUser", Requires(UserManage)),
    ("updateUser", Requires(UserManage)),
    ("deactivateUser", Requires(UserManage)),
    ("reactivateUser", Requires(UserManage)),
    ("assignRole", Requires(RoleManage)),
    ("removeRole", Requires(RoleManage)),
    ("listRoles", Requires(RoleManage)),
    ("createRole", Requires(RoleManage)),
    ("updateRole", Requires(RoleManage)),
    ("deleteRole", Requires(RoleManage)),
    ("restoreCourse", COURSE_WRITE),
    ("listTrash", Requires(CourseWriteAny)),
    ("listCourseVersions", Requires(CourseRead)),
    ("getCourseVersion", Requires(CourseRead)),
    ("diffCourseVersions", Requires(CourseRead)),
    ("restoreCourseVersion", COURSE_WRITE),
    ("listCourseStaff", Requires(CourseRead)),
    ("setCourseStaff", COURSE_WRITE),
    ("removeCourseStaff", COURSE_WRITE),
    ("listEvents", Requires(AuditRead)),
    ("listAuditLogs", Requires(AuditRead)),
    ("exportAuditLogs", Requires(AuditRead)),
    // Learning: a learner acts on their own enrollments (the database's
    // own-rows policies narrow every statement to them); managers on all.
    ("enrollInCourse", Authenticated),
    ("enrollUser", Requires(EnrollmentManage)),
    ("bulkEnroll", Requires(EnrollmentManage)),
    ("bulkEnrollCsv", Requires(EnrollmentManage)),
    ("createCohort", Requires(EnrollmentManage)),
    ("listCohorts", Requires(EnrollmentManage)),
    ("getCohort", Requires(EnrollmentManage)),
    ("updateCohort", Requires(EnrollmentManage)),
    ("deleteCohort", Requires(EnrollmentManage)),
    ("listCohortMembers", Requires(EnrollmentManage)),
    ("addCohortMembers", Requires(EnrollmentManage)),
    ("removeCohortMember", Requires(EnrollmentManage)),
    ("listCohortCourses", Requires(EnrollmentManage)),
    ("addCohortCourse", Requires(EnrollmentManage)),
    ("removeCohortCourse", Requires(EnrollmentManage)),
    ("moveEnrollmentToLatest", Authenticated),
    ("moveLearnersToLatest", Requires(EnrollmentManage)),
    ("listMyEnrollments", Authenticated),
    ("getEnrollment", Authenticated),
    ("updateEnrollment", Requires(EnrollmentManage)),
    ("pauseEnrollment", Authenticated),
    ("resumeEnrollment", Authenticated),
    ("dropEnrollment", Authenticated),
    ("recordProgress", Authenticated),
    ("listMyCertificates", Authenticated),
    ("getMyCourseProgress", Authenticated),
    ("getMyCourseVersion", Authenticated),
    ("getMyDashboard", Authenticated),
    ("startLearningSession", Authenticated),
    ("heartbeatLearningSession", Authenticated),
    ("endLearningSession", Authenticated),
    ("listCourseLearners", Requires(ProgressReadAny)),
    ("exportCourseLearners", Requires(ProgressReadAny)),
    ("verifyCertificate", Public),
    ("printCertificate", Public),
    // Reviews: everyone reads; authors write their own (a policy says so too).
    ("createReview", Authenticated),
    ("listCourseReviews", Authenticated),
    ("updateReview", Authenticated),
    ("deleteReview", Authenticated),
    // The catalog is readable by every user; drafts only with course:read
    // (checked in the query, not here).
    ("listCourses", Authenticated),
    ("getCourse", Authenticated),
    ("listLessons", Authenticated),
    ("getLesson", Authenticated),
    ("listSections", Authenticated),
    ("getSection", Authenticated),
    ("getCategoryTree", Authenticated),
    ("listTags", Authenticated),
    ("createCourse", COURSE_WRITE),
    ("updateCourse", COURSE_WRITE),
    ("deleteCourse", COURSE_WRITE),
    ("publishCourse", Requires(CoursePublish)),
    ("unpublishCourse", Requires(CoursePublish)),
    ("addCourseCategory", COURSE_WRITE),
    ("removeCourseCategory", COURSE_WRITE),
    ("addCourseTag", COURSE_WRITE),
    ("removeCourseTag", COURSE_WRITE),
    ("createLesson", COURSE_WRITE),
    ("reorderLessons", COURSE_WRITE),
    ("updateLesson", COURSE_WRITE),
    ("deleteLesson", COURSE_WRITE),
    ("restoreLesson", COURSE_WRITE),
    ("createSection", COURSE_WRITE),
    ("reorderSections", COURSE_WRITE),
    ("updateSection", COURSE_WRITE),
    ("deleteSection", COURSE_WRITE),
    ("restoreSection", COURSE_WRITE),
    ("createCategory", COURSE_WRITE),
    ("updateCategory", COURSE_WRITE),
    ("deleteCategory", Requires(CourseWriteAny)),
    ("restoreCategory", Requires(CourseWriteAny)),
    ("createTag", COURSE_WRITE),
    ("deleteTag", Requires(CourseWriteAny)),
];

/// The platform API: every operation but logging in needs an active
/// platform admin; what changes anything needs an `OPERATOR`, and a
/// `SUPPORT` admin reads (organizations, domains, admins, the audit
/// trail).
pub const PLATFORM_OPERATIONS: &[(&str, Access)] = &[
    ("createPlatformToken", Public),
    ("refreshPlatformToken", Public),
    ("platformLogout", Authenticated),
    ("listPlatformAdmins", Authenticated),
    ("createPlatformAdmin", Operator),
    ("deactivatePlatformAdmin", Operator),
    ("createOrganization", Operator),
    ("listOrganizations", Authenticated),
    ("getOrganizationById", Authenticated),
    ("updateOrganization", Operator),
    ("deleteOrganization", Operator),
    ("suspendOrganization", Operator),
    ("reactivateOrganization", Operator),
    ("listOrganizationDomains", Authenticated),
    ("addOrganizationDomain", Operator),
    ("removeOrganizationDomain", Operator),
    ("verifyOrganizationDomain", Operator),
    ("listPlatformAuditLogs", Authenticated),
    ("getOrganizationUsage", Authenticated),
    ("listOrganizationUsage", Authenticated),
    ("listSlowStatements", Authenticated),
    ("listTableStats", Authenticated),
    ("listUnusedIndexes", Authenticated),
    ("getCacheStats", Authenticated),
    ("exportOrganization", Operator),
    ("importOrganization", Operator),
];

/// What the platform operation `operation_id` requires.
pub fn platform_access(operation_id: &str) -> Option<Access> {
    PLATFORM_OPERATIONS
        .iter()
        .find(|(op, _)| *op == operation_id)
        .map(|(_, a)| *a)
}

/// The tenant operations that change what the cached catalog reads (the
/// catalog list and search, course trees, the category tree) return. A
/// unit of work of one of them invalidates the tenant's catalog on every
/// replica when it commits. Every other write is, by this list, one that
/// does not change those reads; a test performs every write of the API and
/// checks both directions.
pub const CATALOG_WRITES: &[&str] = &[
    "createCourse",
    "updateCourse",
    "deleteCourse",
    "restoreCourse",
    "restoreCourseVersion",
    "publishCourse",
    "unpublishCourse",
    "addCourseCategory",
    "removeCourseCategory",
    "addCourseTag",
    "removeCourseTag",
    "createLesson",
    "reorderLessons",
    "updateLesson",
    "deleteLesson",
    "restoreLesson",
    "createSection",
    "reorderSections",
    "updateSection",
    "deleteSection",
    "restoreSection",
    "createCategory",
    "updateCategory",
    "deleteCategory",
    "restoreCategory",
    "deleteTag",
    // The search language: the catalog is re-indexed.
    "updateOrganizationSettings",
    // A course's rating and review count are in the catalog reads.
    "createReview",
    "updateReview",
    "deleteReview",
];

/// Whether the tenant operation `operation_id` changes the catalog.
pub fn changes_catalog(operation_id: &str) -> bool {
    CATALOG_WRITES.contains(&operation_id)
}

/// What the tenant operation `operation_id` requires.
pub fn tenant_access(operation_id: &str) -> Option<Access> {
    TENANT_OPERATIONS
        .iter()
        .find(|(op, _)| *op == operation_id)
        .map(|(_, a)| *a)
}
