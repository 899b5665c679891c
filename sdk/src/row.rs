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
    value: Option<Cell>,
}

impl<'a> RowDeserializer<'a> {
    pub(crate) fn new(columns: &'a [String], cells: Vec<Cell>) -> Self {
        RowDeserializer { columns: columns.iter(), cells: cells.into_iter(), value: None }
    }
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
                self.value = Some(cell);
                seed.deserialize(column.as_str().into_deserializer()).map(Some)
            }
            _ => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DecodeError> {
        let cell = self.value.take().ok_or_else(|| DecodeError("value without a column".into()))?;
        seed.deserialize(CellDeserializer(cell))
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
