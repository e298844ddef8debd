//! Typed ids: a lesson id can never be passed where a course id goes.
//!
//! Every id is a UUIDv7 made in Rust: time-ordered (friendly to B-tree
//! indexes), not enumerable, and known before the row is written.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an id read from storage or from a path parameter.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    )*};
}

typed_id!(
    /// An organization: the tenant.
    OrgId,
    /// A user of one organization.
    UserId,
    /// An operator of the platform, outside every tenant.
    PlatformAdminId,
    /// A role of one organization.
    RoleId,
    /// A course.
    CourseId,
    /// A lesson of a course.
    LessonId,
    /// A section of a lesson.
    SectionId,
    /// A catalog category.
    CategoryId,
    /// A catalog tag.
    TagId,
    /// A user's enrollment in a course.
    EnrollmentId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_v7() {
        let a = CourseId::new();
        let b = CourseId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
        assert_eq!(a.to_string().parse::<CourseId>().unwrap(), a);
    }
}
