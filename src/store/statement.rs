//! A statement whose text grows with its filters (listings with optional cursors and limits),
//! run on any database.
//!
//! sqlx's `QueryBuilder` does this for one database at a time. In code generic over the
//! database its built query borrows the builder for the builder's own lifetime (the database's
//! argument type is a projection, so that lifetime cannot shrink), which no caller can
//! satisfy. So the text and its values are kept apart here, in the same shape
//! (`push`, `push_bind`), and bound in order when the query runs.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};

/// A value bound to a placeholder.
pub(super) enum Value {
    Text(String),
    Integer(i64),
    Time(Option<DateTime<Utc>>),
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Self {
        Self::Integer(number)
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(time: DateTime<Utc>) -> Self {
        Self::Time(Some(time))
    }
}

impl From<Option<DateTime<Utc>>> for Value {
    fn from(time: Option<DateTime<Utc>>) -> Self {
        Self::Time(time)
    }
}

/// SQL text with `$N` placeholders and the values they stand for.
pub(super) struct Statement {
    text: String,
    values: Vec<Value>,
}

impl Statement {
    pub(super) fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            values: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub(super) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the next placeholder, standing for `value`.
    pub(super) fn push_bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        // Writing to a String cannot fail.
        let _ = write!(self.text, "${}", self.values.len());
        self
    }

    /// Every row the statement selects.
    pub(super) async fn fetch_all<DB, O>(self, pool: &Pool<DB>) -> Result<Vec<O>, sqlx::Error>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
        for<'q> Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
        O: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        let mut query = sqlx::query_as::<DB, O>(&self.text);
        for value in self.values {
            query = match value {
                Value::Text(text) => query.bind(text),
                Value::Integer(number) => query.bind(number),
                Value::Time(time) => query.bind(time),
            };
        }
        query.fetch_all(pool).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bound_value_gets_the_next_placeholder() {
        let mut sql = Statement::new("SELECT 1 FROM t WHERE 1 = 1");
        sql.push(" AND a > ").push_bind("x".to_string());
        sql.push(" AND b = ").push_bind(None::<DateTime<Utc>>);
        sql.push(" LIMIT ").push_bind(5_i64);
        assert_eq!(
            sql.text,
            "SELECT 1 FROM t WHERE 1 = 1 AND a > $1 AND b = $2 LIMIT $3"
        );
        assert!(matches!(
            sql.values[..],
            [Value::Text(_), Value::Time(None), Value::Integer(5)]
        ));
    }
}
