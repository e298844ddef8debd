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
    /// Create courses, and edit those one is staff of (owner or
    /// instructor).
    CourseWrite,
    /// Edit, publish and staff every course of the organization.
    CourseWriteAny,
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
        Permission::CourseWriteAny,
        Permission::CoursePublish,
        Permission::UserManage,
        Permission::EnrollmentManage,
        Permission::ProgressReadAny,
        Permission::AuditRead,
        Permission::RoleManage,
        Permission::OrganizationManage,
    ];

    /// The names of every permission, as the API takes them.
    pub const NAMES: &'static [&'static str] = &[
        Permission::CourseRead.as_str(),
        Permission::CourseWrite.as_str(),
        Permission::CourseWriteAny.as_str(),
        Permission::CoursePublish.as_str(),
        Permission::UserManage.as_str(),
        Permission::EnrollmentManage.as_str(),
        Permission::ProgressReadAny.as_str(),
        Permission::AuditRead.as_str(),
        Permission::RoleManage.as_str(),
        Permission::OrganizationManage.as_str(),
    ];

    /// The stored string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Permission::CourseRead => "course:read",
            Permission::CourseWrite => "course:write",
            Permission::CourseWriteAny => "course:write:any",
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

/// A set of permissions, as a bit set: copying one is free, and so is
/// asking it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet(u32);

impl PermissionSet {
    fn bit(p: Permission) -> u32 {
        let index = Permission::ALL
            .iter()
            .position(|q| *q == p)
            .unwrap_or_default();
        1 << index
    }

    /// The set of the known permissions among `strings`; unknown strings
    /// (a permission a newer version stored) grant nothing.
    pub fn parse<S: AsRef<str>>(strings: &[S]) -> Self {
        Self(
            strings
                .iter()
                .filter_map(|s| s.as_ref().parse().ok())
                .fold(0, |acc, p| acc | Self::bit(p)),
        )
    }

    /// Whether `p` is in the set.
    pub fn contains(self, p: Permission) -> bool {
        self.0 & Self::bit(p) != 0
    }

    /// The permissions in the set, in the order of [`Permission::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_hold_exactly_the_known_permissions_named() {
        let s = PermissionSet::parse(&["course:read", "audit:read", "no:such", "course:read"]);
        assert!(s.contains(Permission::CourseRead) && s.contains(Permission::AuditRead));
        assert!(!s.contains(Permission::CourseWrite));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [Permission::CourseRead, Permission::AuditRead]
        );
        assert_eq!(PermissionSet::parse::<&str>(&[]), PermissionSet::default());
        assert!(Permission::ALL.len() <= 32, "the set is a u32");
    }
}
