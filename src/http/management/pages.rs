//! Pagination of the management API's listings: `?limit=` and an opaque `?cursor=`.
//!
//! Listings are keyset-paginated (a page starts after the last row of the one before), so a
//! page never repeats or skips a row because rows were added or removed in between. A cursor is
//! base64url of a small JSON value that says which listing it belongs to; one from another
//! listing or order is refused rather than misread.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::problem::Problem;

/// Rows per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most rows a page holds.
pub const MAX_LIMIT: u32 = 200;

/// One page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The same page with each item turned into what the API answers.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// `limit`, checked: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub fn limit(asked: Option<u32>) -> Result<u32, Problem> {
    match asked {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(Problem::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

/// A cursor for position `position` of listing `listing`.
pub fn encode<P: Serialize>(listing: &str, position: &P) -> String {
    #[allow(clippy::expect_used)]
    let text = serde_json::to_vec(&(listing, position))
        .expect("invariant: a cursor position (strings, numbers, times) serializes");
    URL_SAFE_NO_PAD.encode(text)
}

/// The position a cursor of listing `listing` holds.
pub fn decode<P: DeserializeOwned>(listing: &str, cursor: &str) -> Result<P, Problem> {
    let invalid =
        || Problem::bad_request("invalid cursor: pass next_cursor from the listing as it is");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let (name, position): (String, P) = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if name != listing {
        return Err(invalid());
    }
    Ok(position)
}

/// Turns `limit + 1` fetched rows into a page: the extra row only says there is a next page,
/// whose cursor is the position of the page's last row.
pub fn page<T>(mut rows: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

/// `?limit=&cursor=`, for listings with no other parameter.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page, 1 to 200 [default: 50].
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_belong_to_one_listing() {
        let cursor = encode("teams", &"acme");
        assert_eq!(decode::<String>("teams", &cursor).unwrap(), "acme");
        assert!(decode::<String>("audit", &cursor).is_err());
        assert!(decode::<String>("teams", "not base64 !").is_err());
        assert!(decode::<i64>("teams", &cursor).is_err());
    }

    #[test]
    fn an_extra_row_means_a_next_page() {
        let full = page(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(
            (full.items, full.next_cursor),
            (vec![1, 2], Some("2".into()))
        );
        let last = page(vec![1, 2], 2, |n| n.to_string());
        assert_eq!((last.items, last.next_cursor), (vec![1, 2], None));
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(MAX_LIMIT + 1)).is_err());
    }
}
