//! Batched, transactional inserts into a sample site's database (SQLite or PostgreSQL).

use std::collections::BTreeMap;

use anyhow::Context;
use sqlx::{Any, AnyPool, Transaction};

/// A value to insert.
#[derive(Debug, Clone)]
pub enum Value {
    Int(i64),
    Text(String),
    Bool(bool),
    Bytes(Vec<u8>),
    Null,
}

/// Rows buffered per table before one multi-row INSERT.
const BATCH: usize = 200;

pub struct TableWriter {
    _pool: AnyPool,
    postgres: bool,
    tx: Option<Transaction<'static, Any>>,
    pending: BTreeMap<String, (Vec<String>, Vec<Vec<Value>>)>,
}

impl TableWriter {
    pub async fn connect(url: &str) -> anyhow::Result<TableWriter> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .with_context(|| format!("cannot open the sample site database {}", ferry_source::redact_url(url)))?;
        let tx = pool.begin().await?;
        let postgres = url.starts_with("postgres");
        Ok(TableWriter { _pool: pool, postgres, tx: Some(tx), pending: BTreeMap::new() })
    }

    pub async fn execute_script(&mut self, sql: &str) -> anyhow::Result<()> {
        self.flush_all().await?;
        let tx = self.tx.as_mut().expect("open transaction");
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::raw_sql(statement).execute(&mut **tx).await.with_context(|| format!("sample schema: {statement}"))?;
        }
        Ok(())
    }

    pub async fn row(&mut self, table: &str, columns: &[&str], values: Vec<Value>) -> anyhow::Result<()> {
        debug_assert_eq!(columns.len(), values.len(), "{table}");
        let key = format!("{table}({})", columns.join(","));
        let entry = self
            .pending
            .entry(key.clone())
            .or_insert_with(|| (std::iter::once(table.to_string()).chain(columns.iter().map(|c| c.to_string())).collect(), Vec::new()));
        entry.1.push(values);
        if entry.1.len() >= BATCH {
            self.flush(&key).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, key: &str) -> anyhow::Result<()> {
        let Some((names, rows)) = self.pending.remove(key) else { return Ok(()) };
        if rows.is_empty() {
            return Ok(());
        }
        let (table, columns) = names.split_first().expect("table name first");
        // Values go in as SQL literals so each database types them from the column
        // (text into timestamp, NULL into bigint); they are generated here, and escaped.
        let mut sql = format!("INSERT INTO \"{}\" ({}) VALUES ", table.trim_matches('"'), columns.join(", "));
        for (r, row) in rows.into_iter().enumerate() {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (c, value) in row.into_iter().enumerate() {
                if c > 0 {
                    sql.push_str(", ");
                }
                match value {
                    Value::Int(n) => sql.push_str(&n.to_string()),
                    Value::Text(s) => {
                        sql.push('\'');
                        sql.push_str(&s.replace('\'', "''"));
                        sql.push('\'');
                    }
                    Value::Bool(b) => sql.push_str(if b { "TRUE" } else { "FALSE" }),
                    Value::Bytes(b) if self.postgres => sql.push_str(&format!("'\\x{}'::bytea", hex::encode(b))),
                    Value::Bytes(b) => sql.push_str(&format!("X'{}'", hex::encode(b))),
                    Value::Null => sql.push_str("NULL"),
                }
            }
            sql.push(')');
        }
        let tx = self.tx.as_mut().expect("open transaction");
        sqlx::raw_sql(&sql).execute(&mut **tx).await.with_context(|| format!("inserting sample rows into {table}"))?;
        Ok(())
    }

    async fn flush_all(&mut self) -> anyhow::Result<()> {
        let keys: Vec<String> = self.pending.keys().cloned().collect();
        for key in keys {
            self.flush(&key).await?;
        }
        Ok(())
    }

    pub async fn finish(mut self) -> anyhow::Result<()> {
        self.flush_all().await?;
        self.tx.take().expect("open transaction").commit().await?;
        Ok(())
    }
}
