//! Enums shared with the database, where each is a PostgreSQL enum type of
//! the same name. The text form is the database label.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A label that names no variant of the enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} value")]
pub struct UnknownVariant {
    /// The enum that was being parsed.
    pub kind: &'static str,
}

macro_rules! db_enum {
    ($(#[$doc:meta])* $name:ident as $kind:literal { $($variant:ident = $label:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(
                #[serde(rename = $label)]
                $variant,
            )*
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The label stored in the database and used on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($label => Ok($name::$variant),)*
                    _ => Err(UnknownVariant { kind: $kind }),
                }
            }
        }
    };
}

db_enum!(
    /// How hard a course is.
    Difficulty as "difficulty" {
        Beginner = "BEGINNER",
        Intermediate = "INTERMEDIATE",
        Advanced = "ADVANCED",
        Expert = "EXPERT",
    }
);

db_enum!(
    /// What kind of content a section holds.
    SectionType as "section_type" {
        Text = "TEXT",
        Video = "VIDEO",
        Audio = "AUDIO",
        Quiz = "QUIZ",
        Assignment = "ASSIGNMENT",
        Interactive = "INTERACTIVE",
        CodeExercise = "CODE_EXERCISE",
    }
);

db_enum!(
    /// Where a learner stands in a course.
    EnrollmentStatus as "enrollment_status" {
        Active = "ACTIVE",
        Completed = "COMPLETED",
        Paused = "PAUSED",
        Dropped = "DROPPED",
        Expired = "EXPIRED",
    }
);

db_enum!(
    /// How a course's lessons open: all at once, in order, or on a schedule.
    Pacing as "course_pacing" {
        Free = "FREE",
        Sequential = "SEQUENTIAL",
        Drip = "DRIP",
    }
);

db_enum!(
    /// Which of a section's scored attempts counts.
    ScoreRule as "score_rule" {
        Best = "BEST",
        Latest = "LATEST",
    }
);

db_enum!(
    /// What an audit-log entry records.
    AuditAction as "audit_action" {
        Create = "CREATE",
        Update = "UPDATE",
        Delete = "DELETE",
        Restore = "RESTORE",
    }
);

db_enum!(
    /// Whether a tenant is served.
    OrgStatus as "org_status" {
        Active = "ACTIVE",
        Suspended = "SUSPENDED",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for d in Difficulty::ALL {
            assert_eq!(d.as_str().parse::<Difficulty>().unwrap(), *d);
        }
        assert!("beginner".parse::<Difficulty>().is_err());
        assert_eq!(SectionType::CodeExercise.as_str(), "CODE_EXERCISE");
    }
}
