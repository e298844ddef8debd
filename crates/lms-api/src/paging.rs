//! Keyset pagination and partial updates, shared by every list and PATCH.

use poem_openapi::types::MaybeUndefined;

/// Default page size.
pub const DEFAULT_LIMIT: i64 = 20;

/// Cuts `rows` (fetched with `limit + 1`) to a page, and names the cursor of
/// the next one when there is more.
pub fn page<T>(
    mut rows: Vec<T>,
    limit: i64,
    id: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(id) } else { None };
    (rows, next)
}

/// A PATCH field: `None` untouched, `Some(None)` cleared, `Some(Some(v))` set.
pub fn maybe<T>(m: &MaybeUndefined<T>) -> Option<Option<&T>> {
    match m {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        assert_eq!(
            page(vec![1, 2, 3], 2, |v| v.to_string()),
            (vec![1, 2], Some("2".into()))
        );
        assert_eq!(page(vec![1, 2], 2, |v| v.to_string()), (vec![1, 2], None));
    }
}
