//! Database errors, classified so the API can answer with the right status
//! without ever echoing SQL or a row.

/// A database error the client may have caused, by constraint name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A unique constraint (23505).
    Unique(String),
    /// A check constraint (23514).
    Check(String),
    /// A foreign key: the parent is missing, or still has children (23503).
    ForeignKey(String),
    /// A NOT NULL column left empty (23502).
    NotNull(String),
    /// A row-level-security `WITH CHECK` refusal (42501): a write aimed
    /// outside the current tenant. Reported like a missing row.
    RowSecurity,
    /// A value PostgreSQL could not take (22xxx: bad text for a type, out
    /// of range, too long).
    InvalidValue,
    /// A serialization failure or deadlock (40001, 40P01): retryable.
    Conflict,
    /// A removal refused because something still depends on the row
    /// (23001), named by its rule.
    InUse(String),
}

/// An error from the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A constraint or policy refused the statement.
    #[error("constraint violation: {0:?}")]
    Violation(Violation),
    /// Anything else: connection trouble, bugs.
    #[error(transparent)]
    Other(sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        match classify(&err) {
            Some(v) => DbError::Violation(v),
            None => DbError::Other(err),
        }
    }
}

/// Classifies a database error by SQLSTATE.
pub fn classify(err: &sqlx::Error) -> Option<Violation> {
    let db = err.as_database_error()?;
    let code = db.code()?;
    let constraint = || db.constraint().unwrap_or_default().to_owned();
    Some(match code.as_ref() {
        "23505" => Violation::Unique(constraint()),
        "23514" => Violation::Check(constraint()),
        "23503" => Violation::ForeignKey(constraint()),
        "23502" => Violation::NotNull(
            db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .and_then(|e| e.column())
                .unwrap_or_default()
                .to_owned(),
        ),
        "42501" => Violation::RowSecurity,
        "40001" | "40P01" => Violation::Conflict,
        "23001" => Violation::InUse(constraint()),
        c if c.starts_with("22") => Violation::InvalidValue,
        _ => return None,
    })
}
