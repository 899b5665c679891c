//! Contract 0.1 (`wit/0.1.0`): its bindings adapted to the version-neutral host
//! functions of [`crate::host`]. The conversions and the interfaces 0.1 defined are one
//! macro, [`serve_interfaces_of_0_1!`], which each later version whose interfaces kept
//! 0.1's shapes invokes on its own bindings; what a version adds or changes is written
//! in its own file.

/// Serve the interfaces contract 0.1 defined (`types`, `mappings`, `app-tables`,
/// `product`, `app-data`, `progress`, `log`) from the bindings module `$wit` (a
/// contract version's `ferry::migration`), with the conversions between its types and
/// the host's.
macro_rules! serve_interfaces_of_0_1 {
    ($wit:path) => {
        use crate::host::{self, AccessError, RunState};
        use ferry_manifest::Scope;
        use $wit as wit;

        fn scope(s: Scope) -> wit::types::Scope {
            use wit::types::Scope as W;
            match s {
                Scope::AppDataOther => W::AppDataOther,
                Scope::AppDataPii => W::AppDataPii,
                Scope::AppDataSecurity => W::AppDataSecurity,
                Scope::AppDataUgc => W::AppDataUgc,
                Scope::ProductDataOther => W::ProductDataOther,
                Scope::ProductDataPii => W::ProductDataPii,
                Scope::ProductDataSecurity => W::ProductDataSecurity,
                Scope::ProductDataUgc => W::ProductDataUgc,
                Scope::MigrationTracingIdentity => W::MigrationTracingIdentity,
                Scope::MigrationTracingProduct => W::MigrationTracingProduct,
            }
        }

        impl From<AccessError> for wit::types::AccessError {
            fn from(e: AccessError) -> Self {
                match e {
                    AccessError::Denied(s) => Self::Denied(scope(s)),
                    AccessError::NotFound(m) => Self::NotFound(m),
                    AccessError::Invalid(m) => Self::Invalid(m),
                    AccessError::Quota(m) => Self::Quota(m),
                    AccessError::Unavailable(m) => Self::Unavailable(m),
                }
            }
        }

        /// The plugin's run details from the host's.
        pub fn details(d: &host::MigrationDetails) -> wit::types::MigrationDetails {
            wit::types::MigrationDetails {
                migration_id: d.migration_id.clone(),
                transfer_id: d.transfer_id.clone(),
                original_transfer_id: d.original_transfer_id.clone(),
                name: d.name.clone(),
                destination_url: d.destination_url.clone(),
                spaces: d.spaces.clone(),
            }
        }

        /// The host's outcome from the plugin's.
        pub fn outcome(o: wit::types::Outcome) -> host::Outcome {
            match o {
                wit::types::Outcome::Complete => host::Outcome::Complete,
                wit::types::Outcome::Incomplete(reason) => host::Outcome::Incomplete(reason),
            }
        }

        fn mapping(m: host::Mapping) -> wit::mappings::Mapping {
            wit::mappings::Mapping { server_id: m.server_id, cloud_id: m.cloud_id }
        }

        fn cell(c: host::Cell) -> wit::app_tables::Cell {
            use wit::app_tables::Cell as W;
            match c {
                host::Cell::Null => W::Null,
                host::Cell::Integer(i) => W::Integer(i),
                host::Cell::Real(f) => W::Real(f),
                host::Cell::Text(s) => W::Text(s),
                host::Cell::Boolean(b) => W::Boolean(b),
                host::Cell::Bytes(b) => W::Bytes(b),
            }
        }

        fn tree_node(n: host::TreeNode) -> wit::product::TreeNode {
            let kind = match n.kind {
                host::ContentKind::Page => wit::product::ContentKind::Page,
                host::ContentKind::Blogpost => wit::product::ContentKind::Blogpost,
            };
            wit::product::TreeNode { id: n.id, kind, title: n.title, parent_id: n.parent_id, position: n.position }
        }

        impl wit::types::Host for RunState {}

        impl wit::mappings::Host for RunState {
            async fn page(&mut self, namespace: String, cursor: Option<String>, limit: u32) -> Result<wit::mappings::MappingPage, wit::types::AccessError> {
                let page = self.mappings_page(namespace, cursor, limit).await?;
                Ok(wit::mappings::MappingPage { entries: page.entries.into_iter().map(mapping).collect(), next: page.next })
            }

            async fn lookup(&mut self, namespace: String, server_ids: Vec<String>) -> Result<Vec<wit::mappings::Mapping>, wit::types::AccessError> {
                Ok(self.mappings_lookup(namespace, server_ids).await?.into_iter().map(mapping).collect())
            }
        }

        impl wit::app_tables::Host for RunState {
            async fn read(
                &mut self,
                table: String,
                columns: Vec<String>,
                cursor: Option<String>,
                limit: u32,
            ) -> Result<wit::app_tables::RowBatch, wit::types::AccessError> {
                let batch = self.app_tables_read(table, columns, cursor, limit).await?;
                let rows = batch.rows.into_iter().map(|row| row.into_iter().map(cell).collect()).collect();
                Ok(wit::app_tables::RowBatch { columns: batch.columns, rows, next: batch.next })
            }

            async fn count(&mut self, table: String) -> Result<u64, wit::types::AccessError> {
                Ok(self.app_tables_count(table).await?)
            }
        }

        impl wit::product::Host for RunState {
            async fn spaces(&mut self) -> Result<Vec<wit::product::Space>, wit::types::AccessError> {
                let spaces = self.product_spaces().await?;
                Ok(spaces.into_iter().map(|s| wit::product::Space { key: s.key, name: s.name, kind: s.kind }).collect())
            }

            async fn page_tree(&mut self, space_key: String, cursor: Option<String>, limit: u32) -> Result<wit::product::TreePage, wit::types::AccessError> {
                let page = self.product_page_tree(space_key, cursor, limit).await?;
                Ok(wit::product::TreePage { nodes: page.nodes.into_iter().map(tree_node).collect(), next: page.next })
            }

            async fn body(&mut self, content_id: String) -> Result<String, wit::types::AccessError> {
                Ok(self.product_body(content_id).await?)
            }

            async fn comments(&mut self, content_id: String) -> Result<Vec<wit::product::Comment>, wit::types::AccessError> {
                let comments = self.product_comments(content_id).await?;
                Ok(comments.into_iter().map(|c| wit::product::Comment { id: c.id, parent_id: c.parent_id, author_key: c.author_key, body: c.body }).collect())
            }

            async fn users(&mut self, keys: Vec<String>) -> Result<Vec<wit::product::User>, wit::types::AccessError> {
                let users = self.product_users(keys).await?;
                Ok(users.into_iter().map(|u| wit::product::User { key: u.key, username: u.username, display_name: u.display_name, email: u.email }).collect())
            }
        }

        impl wit::app_data::Host for RunState {
            async fn upload(&mut self, label: String, data: Vec<u8>) -> Result<u64, wit::types::AccessError> {
                Ok(self.app_data_upload(label, data).await?)
            }
        }

        impl wit::progress::Host for RunState {
            async fn report(&mut self, percent: u8, message: String) {
                self.progress_report(percent, message).await
            }
        }

        impl wit::log::Host for RunState {
            async fn write(&mut self, level: wit::log::Level, message: String) {
                let level = match level {
                    wit::log::Level::Debug => host::LogLevel::Debug,
                    wit::log::Level::Info => host::LogLevel::Info,
                    wit::log::Level::Warn => host::LogLevel::Warn,
                    wit::log::Level::Error => host::LogLevel::Error,
                };
                self.log_write(level, message).await
            }
        }
    };
}

pub(crate) use serve_interfaces_of_0_1;

serve_interfaces_of_0_1!(crate::contract::v0_1::ferry::migration);
