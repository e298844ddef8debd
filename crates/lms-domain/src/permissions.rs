//! Permission strings and the roles every organization starts with.
//!
//! A role holds a list of permission strings (stored as JSON); an operation
//! names the one permission it needs. Keeping the strings in one enum means a
//! typo is a compile error, not a silent deny.

use std::fmt;
use std::str::FromStr;

/// One thing a tenant user may be allowed to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the catalog, drafts included.
    CourseRead,
    /// Create and edit courses and their content.
    CourseWrite,
    /// Publish and unpublish courses.
    CoursePublish,
    /// Invite, edit and deactivate users.
    UserManage,
    /// Manage enrollments of any user.
    EnrollmentManage,
    /// Read any user's progress.
    ProgressReadAny,
    /// Read the audit log.
    AuditRead,
    /// Create, edit and assign roles.
    RoleManage,
    /// Change the organization's own settings.
    OrganizationManage,
}

impl Permission {
    /// Every permission.
    pub const ALL: &'static [Permission] = &[
        Permission::CourseRead,
        Permission::CourseWrite,
        Permission::CoursePublish,
        Permission::UserManage,
        Permission::EnrollmentManage,
        Permission::ProgressReadAny,
        Permission::AuditRead,
        Permission::RoleManage,
        Permission::OrganizationManage,
    ];

    /// The stored string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Permission::CourseRead => "course:read",
            Permission::CourseWrite => "course:write",
            Permission::CoursePublish => "course:publish",
            Permission::UserManage => "user:manage",
            Permission::EnrollmentManage => "enrollment:manage",
            Permission::ProgressReadAny => "progress:read:any",
            Permission::AuditRead => "audit:read",
            Permission::RoleManage => "role:manage",
            Permission::OrganizationManage => "organization:manage",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Permission::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or(())
    }
}

/// A role created with every organization.
#[derive(Debug, Clone, Copy)]
pub struct DefaultRole {
    /// Its name, unique in the organization.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// What it allows.
    pub permissions: &'static [Permission],
}

/// `learner`, `instructor` and `admin`.
pub const DEFAULT_ROLES: &[DefaultRole] = &[
    DefaultRole {
        name: "learner",
        description: "Takes published courses.",
        permissions: &[],
    },
    DefaultRole {
        name: "instructor",
        description: "Writes and publishes courses, follows learners.",
        permissions: &[
            Permission::CourseRead,
            Permission::CourseWrite,
            Permission::CoursePublish,
            Permission::ProgressReadAny,
        ],
    },
    DefaultRole {
        name: "admin",
        description: "Runs the organization.",
        permissions: Permission::ALL,
    },
];

/// The name of the default role given to an organization's first user.
pub const ADMIN_ROLE_NAME: &str = "admin";

/// The name of the default role given to self-signed-up users.
pub const LEARNER_ROLE_NAME: &str = "learner";
