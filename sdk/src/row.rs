//! A serde deserializer over one table row: the columns are the keys, the cells the values.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};

use crate::tables::Cell;

/// A row decoding error.
#[derive(Debug)]
pub(crate) struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DecodeError(msg.to_string())
    }
}

pub(crate) struct RowDeserializer<'a> {
    columns: std::slice::Iter<'a, String>,
    cells: std::vec::IntoIter<Cell>,
    value: Option<(&'a str, Cell)>,
}

impl<'a> RowDeserializer<'a> {
    pub(crate) fn new(columns: &'a [String], cells: Vec<Cell>) -> Self {
        RowDeserializer { columns: columns.iter(), cells: cells.into_iter(), value: None }
    }
}

/// The field names of a struct type, read from its `Deserialize` impl without any data:
/// the columns to ask for are the fields the plugin's type has.
pub(crate) fn field_names<T: serde::de::DeserializeOwned>() -> Option<&'static [&'static str]> {
    struct Names(Option<&'static [&'static str]>);
    impl<'de> de::Deserializer<'de> for &mut Names {
        type Error = DecodeError;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DecodeError> {
            Err(DecodeError("not a struct".into()))
        }
        fn deserialize_struct<V: Visitor<'de>>(self, _: &'static str, fields: &'static [&'static str], _: V) -> Result<V::Value, DecodeError> {
            self.0 = Some(fields);
            Err(DecodeError("field names read".into()))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut names = Names(None);
    let _ = T::deserialize(&mut names);
    names.0
}

impl<'de> de::Deserializer<'de> for RowDeserializer<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for RowDeserializer<'_> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DecodeError> {
        match (self.columns.next(), self.cells.next()) {
            (Some(column), Some(cell)) => {
                self.value = Some((column.as_str(), cell));
                seed.deserialize(column.as_str().into_deserializer()).map(Some)
            }
            _ => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DecodeError> {
        let (column, cell) = self.value.take().ok_or_else(|| DecodeError("value without a column".into()))?;
        seed.deserialize(CellDeserializer(cell)).map_err(|e| DecodeError(format!("column {column}: {e}")))
    }
}

struct CellDeserializer(Cell);

impl<'de> de::Deserializer<'de> for CellDeserializer {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Cell::Null => visitor.visit_none(),
            Cell::Integer(i) => visitor.visit_i64(i),
            Cell::Real(f) => visitor.visit_f64(f),
            Cell::Text(s) => visitor.visit_string(s),
            Cell::Boolean(b) => visitor.visit_bool(b),
            Cell::Bytes(b) => visitor.visit_byte_buf(b),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Cell::Null => visitor.visit_none(),
            other => visitor.visit_some(CellDeserializer(other)),
        }
    }

    /// Active Objects stores booleans as integers on some databases: accept 0 and 1.
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Cell::Integer(0) => visitor.visit_bool(false),
            Cell::Integer(1) => visitor.visit_bool(true),
            other => CellDeserializer(other).deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    #[allow(dead_code)]
    struct Rating {
        id: i64,
        page_id: i64,
        user_key: Option<String>,
    }

    #[test]
    fn the_columns_read_are_the_fields_of_the_type() {
        assert_eq!(field_names::<Rating>(), Some(&["ID", "PAGE_ID", "USER_KEY"][..]));
        assert_eq!(field_names::<i64>(), None);
    }

    #[test]
    fn a_cell_that_does_not_fit_names_its_column() {
        let columns: Vec<String> = ["ID", "PAGE_ID", "USER_KEY"].iter().map(|c| c.to_string()).collect();
        let cells = vec![Cell::Integer(7), Cell::Text("not a number".into()), Cell::Null];
        let error = Rating::deserialize(RowDeserializer::new(&columns, cells)).unwrap_err();
        assert!(error.0.starts_with("column PAGE_ID: invalid type: string \"not a number\""), "{}", error.0);
        let fine = Rating::deserialize(RowDeserializer::new(&columns, vec![Cell::Integer(7), Cell::Integer(9), Cell::Null])).unwrap();
        assert_eq!((fine.id, fine.page_id, fine.user_key), (7, 9, None));
    }
}
