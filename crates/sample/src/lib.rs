//! A deterministic sample Server site: a Confluence database in the real schema (SQLite
//! or PostgreSQL) and its attachment folder, with the cases a migration must handle and
//! the Active Objects tables of the two sample apps in `plugins/`.
#![deny(missing_docs)]

pub mod jira;
mod writer;

use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use writer::{TableWriter, Value};

/// The Confluence tables, as in the real schema.
const SCHEMA: &str = include_str!("confluence.sql");

/// Server app key of the Page Ratings sample app.
pub const RATINGS_APP: &str = "com.example.confluence.page-ratings";
/// Server app key of the Team Calendars sample app.
pub const CALENDARS_APP: &str = "com.example.confluence.team-calendars";
/// Server app key of the Diagrams sample app (its diagrams are page attachments).
pub const DIAGRAMS_APP: &str = "com.example.confluence.diagrams";

/// How big a sample site to write.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// Users (before shadowed copies and special cases).
    pub users: u32,
    /// Global spaces.
    pub spaces: u32,
    /// Current pages per space.
    pub pages_per_space: u32,
    /// Attachments per page.
    pub attachments_per_page: u32,
    /// Random seed: the same seed writes the same content (each site written gets its
    /// own server id all the same).
    pub seed: u64,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions { users: 40, spaces: 3, pages_per_space: 20, attachments_per_page: 1, seed: 7 }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SampleSummary {
    /// Database URL of the site.
    pub database: String,
    /// The site's server id (new for every site written, as each install makes its own).
    pub server_id: String,
    /// The attachment folder.
    pub attachments: PathBuf,
    /// Rows in cwd_user.
    pub users: u64,
    /// Rows in spaces.
    pub spaces: u64,
    /// Current pages.
    pub pages: u64,
    /// Current blog posts.
    pub blogposts: u64,
    /// Current comments (file comments included).
    pub comments: u64,
    /// Current comments on attachments.
    pub file_comments: u64,
    /// Page restrictions (one per page and kind).
    pub restrictions: u64,
    /// Global labels on current content.
    pub labels: u64,
    /// Versions of current pages and blog posts (the current ones included).
    pub versions: u64,
    /// Inline comments (replies included; one of them detached: its marker is gone).
    pub inline_comments: u64,
    /// Attachments (some without a file on disk, on purpose).
    pub attachments_count: u64,
    /// Page ratings rows.
    pub ratings: u64,
    /// Calendar events rows.
    pub events: u64,
    /// Diagrams rows (each an attachment with its file).
    pub diagrams: u64,
}

/// The AO table name of `entity` for `app_key`.
pub fn ao_table(app_key: &str, entity: &str) -> String {
    format!("{}{entity}", ferry_manifest::ao_table_prefix(app_key))
}

/// The user key of sample user `n`.
pub fn user_key(n: u32) -> String {
    format!("8a7f808a{n:08x}")
}

/// Write a sample site into `out` (`site.db` there, or the given PostgreSQL or MySQL
/// database) and its attachments under `out/attachments`.
pub async fn write_sample_site(out: &Path, postgres: Option<&str>, options: &SampleOptions) -> anyhow::Result<SampleSummary> {
    let (url, sqlite) = site_database(out, postgres, "site.db")?;
    let attachments = out.join("attachments");
    let mut w = TableWriter::connect(&url, true).await?;
    let schema = if sqlite { SCHEMA.replace("bytea", "BLOB").replace("timestamp", "TEXT") } else { SCHEMA.to_string() };
    w.execute_script(&schema).await?;
    let mut site = SiteBuilder {
        w,
        rng: StdRng::seed_from_u64(options.seed),
        summary: SampleSummary::default(),
        next_id: 100_000,
        labels: Default::default(),
        diagrams: Vec::new(),
    };
    site.summary.database = ferry_source::redact_url(&url.replace("?mode=rwc", ""));
    site.summary.attachments = attachments.clone();
    site.directories_and_users(options).await?;
    let pages = site.spaces_and_content(options, &attachments).await?;
    site.app_tables(options, &pages).await?;
    site.installed_apps().await?;
    site.w.finish().await?;
    Ok(site.summary)
}

/// The database a sample site is written into: the server's URL given, or a new
/// SQLite file `file` in `out` (replacing one there). Returns its URL and whether it is
/// SQLite.
fn site_database(out: &Path, postgres: Option<&str>, file: &str) -> anyhow::Result<(String, bool)> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    Ok(match postgres {
        Some(url) => (url.to_string(), false),
        None => {
            let path = out.join(file);
            if path.exists() {
                std::fs::remove_file(&path).with_context(|| format!("cannot replace {}", path.display()))?;
            }
            (format!("sqlite://{}?mode=rwc", path.display()), true)
        }
    })
}

struct SiteBuilder {
    w: TableWriter,
    rng: StdRng,
    summary: SampleSummary,
    next_id: i64,
    /// Label ids by (namespace, name).
    labels: std::collections::HashMap<(String, String), i64>,
    /// Attachments that are diagrams of the Diagrams app: (id, file name, page), each
    /// with its file.
    diagrams: Vec<(i64, String, i64)>,
}

const TS: &str = "2024-03-01 09:00:00";
/// When first drafts were saved.
const V1: &str = "2024-01-10 08:30:00";
/// When middle versions were saved.
const V2: &str = "2024-02-12 14:15:00";

/// The inline-comment marker of the sample page `page` (a UUID, as Confluence makes).
pub fn marker_ref(page: i64) -> String {
    format!("{page:08x}-7c1e-4b2a-9d3f-{:012x}", page * 7919)
}

fn t(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn i(n: i64) -> Value {
    Value::Int(n)
}

impl SiteBuilder {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    async fn directories_and_users(&mut self, o: &SampleOptions) -> anyhow::Result<()> {
        // Three directories; the LDAP connector comes first in the order.
        let dirs = [(1, "Confluence Internal Directory", "INTERNAL"), (2, "Corporate LDAP", "CONNECTOR"), (3, "Crowd", "CROWD")];
        for (id, name, kind) in dirs {
            self.w
                .row(
                    "cwd_directory",
                    &[
                        "id",
                        "directory_name",
                        "lower_directory_name",
                        "created_date",
                        "updated_date",
                        "active",
                        "impl_class",
                        "lower_impl_class",
                        "directory_type",
                    ],
                    vec![i(id), t(name), t(name.to_lowercase()), t(TS), t(TS), t("T"), t("impl"), t("impl"), t(kind)],
                )
                .await?;
        }
        self.w
            .row(
                "cwd_application",
                &["id", "application_name", "lower_application_name", "created_date", "updated_date", "active", "application_type", "credential"],
                vec![i(1), t("confluence"), t("confluence"), t(TS), t(TS), t("T"), t("CONFLUENCE"), t("{PKCS5S2}application-secret-never-read")],
            )
            .await?;
        for (id, dir, index) in [(1, 2, 0), (2, 1, 1), (3, 3, 2)] {
            self.w
                .row("cwd_app_dir_mapping", &["id", "application_id", "directory_id", "allow_all", "list_index"], vec![i(id), i(1), i(dir), t("T"), i(index)])
                .await?;
        }
        let user_cols = [
            "id",
            "user_name",
            "lower_user_name",
            "active",
            "created_date",
            "updated_date",
            "first_name",
            "last_name",
            "display_name",
            "email_address",
            "lower_email_address",
            "directory_id",
            "credential",
        ];
        let mut cwd_id = 0i64;
        let mut primary: Vec<(i64, i64)> = Vec::new();
        let mut shadows: Vec<(i64, i64)> = Vec::new();
        for n in 0..o.users {
            let name = format!("user{n:05}");
            let dir = [2, 1, 3][n as usize % 3];
            let active = if n % 10 == 9 { "F" } else { "T" };
            let email = match n {
                3 => "not-an-email".to_string(),
                5 | 6 => "shared.mailbox@example.com".to_string(),
                _ => format!("{name}@example.com"),
            };
            cwd_id += 1;
            primary.push((cwd_id, dir));
            let display = format!("User {n}");
            self.w
                .row(
                    "cwd_user",
                    &user_cols,
                    vec![
                        i(cwd_id),
                        t(&name),
                        t(&name),
                        t(active),
                        t(TS),
                        t(TS),
                        t("User"),
                        t(n.to_string()),
                        t(&display),
                        t(&email),
                        t(email.to_lowercase()),
                        i(dir),
                        t(format!("{{PKCS5S2}}hash-of-{name}")),
                    ],
                )
                .await?;
            // Every seventh user also exists in a later directory: that copy is shadowed.
            if n % 7 == 0 {
                cwd_id += 1;
                let shadow_dir = if dir == 3 { 1 } else { 3 };
                shadows.push((cwd_id, shadow_dir));
                self.w
                    .row(
                        "cwd_user",
                        &user_cols,
                        vec![
                            i(cwd_id),
                            t(&name),
                            t(&name),
                            t("T"),
                            t(TS),
                            t(TS),
                            t("Shadow"),
                            t(n.to_string()),
                            t(format!("Shadowed {n}")),
                            t(format!("shadow.{name}@old.example.com")),
                            t(format!("shadow.{name}@old.example.com")),
                            i(shadow_dir),
                            t("{PKCS5S2}shadow-hash"),
                        ],
                    )
                    .await?;
            }
            self.w.row("user_mapping", &["user_key", "username", "lower_username"], vec![t(user_key(n)), t(&name), t(&name)]).await?;
            self.w
                .row(
                    "cwd_user_credential_record",
                    &["id", "user_id", "password_hash", "list_index"],
                    vec![i(cwd_id), i(cwd_id), t("{PKCS5S2}an-old-password-hash"), i(0)],
                )
                .await?;
            self.summary.users += 1;
        }
        // A deleted user: a key with no user behind it.
        self.w.row("user_mapping", &["user_key", "username", "lower_username"], vec![t("8a7f808adeleted0"), Value::Null, Value::Null]).await?;
        let groups = ["confluence-users", "confluence-administrators", "site-admins", "engineering", "backend", "marketing", "jira-users"];
        for (gid, g) in groups.iter().enumerate() {
            for dir in [1i64, 2, 3] {
                let id = (gid as i64 + 1) * 10 + dir;
                self.w
                    .row(
                        "cwd_group",
                        &["id", "group_name", "lower_group_name", "active", "local", "created_date", "updated_date", "group_type", "directory_id"],
                        vec![i(id), t(*g), t(*g), t("T"), t("F"), t(TS), t(TS), t("GROUP"), i(dir)],
                    )
                    .await?;
            }
        }
        // backend is nested in engineering, in every directory.
        let mut mid = 0i64;
        for dir in [1i64, 2, 3] {
            mid += 1;
            self.w.row("cwd_membership", &["id", "parent_id", "child_group_id"], vec![i(mid), i(40 + dir), i(50 + dir)]).await?;
        }
        // A shadowed copy's memberships still count: the union over directories.
        for (uid, dir) in &shadows {
            mid += 1;
            self.w.row("cwd_membership", &["id", "parent_id", "child_user_id"], vec![i(mid), i(60 + dir), i(*uid)]).await?;
        }
        for (k, (uid, dir)) in primary.iter().enumerate() {
            let gdir = *dir;
            let mut member_of = vec![10 + gdir];
            match k % 5 {
                0 => member_of.push(50 + gdir),
                1 => member_of.push(60 + gdir),
                2 => member_of.push(40 + gdir),
                _ => {}
            }
            if k == 0 {
                member_of.push(30 + gdir);
                member_of.push(20 + gdir);
            }
            for g in member_of {
                mid += 1;
                self.w.row("cwd_membership", &["id", "parent_id", "child_user_id"], vec![i(mid), i(g), i(*uid)]).await?;
            }
        }
        Ok(())
    }

    async fn spaces_and_content(&mut self, o: &SampleOptions, attachments: &Path) -> anyhow::Result<Vec<(i64, String)>> {
        let mut pages_out = Vec::new();
        let users = o.users.max(1);
        let content_cols = [
            "contentid",
            "hibernateversion",
            "contenttype",
            "title",
            "lowertitle",
            "version",
            "creator",
            "creationdate",
            "lastmodifier",
            "lastmoddate",
            "prevver",
            "content_status",
            "pageid",
            "spaceid",
            "child_position",
            "parentid",
            "parentcommentid",
        ];
        let mut keys: Vec<(String, String, &str)> = vec![
            ("ENG".into(), "Engineering".into(), "global"),
            ("MKT".into(), "Marketing".into(), "global"),
            ("DOC".into(), "Documentation".into(), "global"),
        ];
        for n in 3..o.spaces {
            keys.push((format!("SP{n}"), format!("Space {n}"), "global"));
        }
        keys.truncate(o.spaces as usize);
        keys.push(("~user00000".into(), "User 0's space".into(), "personal"));
        for (sidx, (key, name, kind)) in keys.iter().enumerate() {
            let space_id = 1000 + sidx as i64;
            let creator = user_key(self.rng.gen_range(0..users));
            self.w
                .row(
                    "spaces",
                    &["spaceid", "spacename", "spacekey", "lowerspacekey", "creator", "creationdate", "spacetype", "spacestatus"],
                    vec![i(space_id), t(name), t(key), t(key.to_lowercase()), t(&creator), t(TS), t(*kind), t("CURRENT")],
                )
                .await?;
            self.summary.spaces += 1;
            let pages_here = if *kind == "personal" { 2 } else { o.pages_per_space };
            let mut page_ids: Vec<i64> = Vec::new();
            for p in 0..pages_here {
                let id = self.id();
                let parent = if p == 0 || page_ids.is_empty() { None } else { Some(page_ids[self.rng.gen_range(0..page_ids.len())]) };
                let blog = p % 5 == 4;
                let kind_name = if blog { "BLOGPOST" } else { "PAGE" };
                // Every 11th item is by the deleted user: it goes to Former User.
                let author = if p % 11 == 10 { "8a7f808adeleted0".to_string() } else { user_key(self.rng.gen_range(0..users)) };
                let title = format!("{key} {} {p}", if blog { "post" } else { "page" });
                // History: every item has a first draft; every fourth (from the second) a
                // middle version by another user (in the second space, by the deleted
                // user: Former User); the current version is saved by a third user.
                let middle = p % 4 == 1;
                let versions: i64 = if middle { 3 } else { 2 };
                let editor = user_key((p + 4) % users);
                let mut page_cols = content_cols.to_vec();
                page_cols.push("versioncomment");
                let comment = if middle { t("tidied up after review") } else { Value::Null };
                self.w
                    .row(
                        "content",
                        &page_cols,
                        vec![
                            i(id),
                            i(1),
                            t(kind_name),
                            t(&title),
                            t(title.to_lowercase()),
                            i(versions),
                            t(&author),
                            t(V1),
                            t(&editor),
                            t(TS),
                            Value::Null,
                            t("current"),
                            Value::Null,
                            i(space_id),
                            i(p as i64),
                            if blog { Value::Null } else { parent.map(i).unwrap_or(Value::Null) },
                            Value::Null,
                            comment,
                        ],
                    )
                    .await?;
                // Bodies with references to server ids: short links, mentions of a migrated
                // and a deleted user, links and a macro naming an earlier page (created
                // later when it is deeper in the tree), a link into the first space, and
                // one body that is not well-formed.
                let earlier = page_ids.last().copied();
                let first_space_page = pages_out.first().map(|(id, _)| *id);
                let body = match (p % 6, earlier, first_space_page) {
                    (5, _, _) if sidx == 0 && p == 5 => format!("<p>An unclosed <b>bold paragraph of {title}</p>"),
                    (0, _, _) => format!("<p>See <a href=\"/x/AbC{p}\">the short link</a> for {title}.</p>"),
                    // A migrated user, a user who will have no cloud account (no valid email),
                    // and a deleted user.
                    (1, _, _) => format!(
                        "<p>Ask <ac:link><ri:user ri:userkey=\"{}\" /></ac:link>, <ac:link><ri:user ri:userkey=\"{}\" /></ac:link> or <ac:link><ri:user ri:userkey=\"8a7f808adeleted0\" /></ac:link> about {title}.</p>",
                        user_key(1),
                        user_key(3)
                    ),
                    (2, Some(prev), _) => format!(
                        "<p>{title} continues <a href=\"/pages/viewpage.action?pageId={prev}\">an earlier page</a> (<a href=\"/x/{}\">short</a>).</p>\
                         <ac:structured-macro ac:name=\"include\"><ac:parameter ac:name=\"pageId\">{prev}</ac:parameter></ac:structured-macro>",
                        ferry_storage_format::short_link_code(prev)
                    ),
                    (3, _, Some(first)) if sidx > 0 => format!(
                        "<p>{title} builds on <a href=\"https://wiki.example.com/pages/viewpage.action?pageId={first}&amp;src=link\">the first space</a> \
                         (<a href=\"https://wiki.example.com/x/{}\">short</a>).</p>",
                        ferry_storage_format::short_link_code(first)
                    ),
                    _ => format!("<p>Body of {title}.</p>"),
                };
                // Inline comments on every fifth page (from the second): the marker around
                // the highlighted text is in the body, except on the detached one.
                let marker = marker_ref(id);
                let (inline, detached) = (!blog && p % 5 == 1, sidx == 0 && p == 11);
                let body = if inline && !detached {
                    format!("{body}<p>Note: <ac:inline-comment-marker ac:ref=\"{marker}\">{title} needs review</ac:inline-comment-marker> before release.</p>")
                } else {
                    body
                };
                let bid = self.id();
                self.w.row("bodycontent", &["bodycontentid", "body", "contentid", "bodytypeid"], vec![i(bid), t(body), i(id), i(2)]).await?;
                if sidx == 0 {
                    self.restrict(id, p).await?;
                }
                // Global labels on every third page or post, a second on every fourth, and a
                // personal label (never migrated) on every seventh.
                for (on, label) in [(p % 3 == 0, "howto"), (p % 4 == 0, "archive-2024"), (p % 7 == 0, "my:favourite")] {
                    if on {
                        self.label(id, label).await?;
                    }
                }
                // Older versions pointing at the current one: the first draft, and the middle
                // version mentioning a user.
                let v1_body = format!("<p>First draft of {title}.</p>");
                self.older_version(id, kind_name, &format!("{title} (draft)"), 1, &author, V1, "first draft", &v1_body, space_id).await?;
                if middle {
                    let by = if sidx == 1 { "8a7f808adeleted0".to_string() } else { user_key((p + 2) % users) };
                    let v2_body = format!("<p>{title}, second take, reviewed by <ac:link><ri:user ri:userkey=\"{}\" /></ac:link>.</p>", user_key(1));
                    self.older_version(id, kind_name, &title, 2, &by, V2, "", &v2_body, space_id).await?;
                }
                self.summary.versions += versions as u64;
                if inline {
                    self.inline_comments(id, space_id, &marker, &format!("{title} needs review"), detached).await?;
                }
                if blog {
                    self.summary.blogposts += 1;
                } else {
                    self.summary.pages += 1;
                    page_ids.push(id);
                    pages_out.push((id, key.clone()));
                }
                // A comment and a reply.
                let c1 = self.id();
                let commenter = user_key(self.rng.gen_range(0..users));
                self.w
                    .row(
                        "content",
                        &content_cols,
                        vec![
                            i(c1),
                            i(1),
                            t("COMMENT"),
                            Value::Null,
                            Value::Null,
                            i(1),
                            t(&commenter),
                            t(TS),
                            t(&commenter),
                            t(TS),
                            Value::Null,
                            t("current"),
                            i(id),
                            i(space_id),
                            Value::Null,
                            Value::Null,
                            Value::Null,
                        ],
                    )
                    .await?;
                let b1 = self.id();
                self.w
                    .row(
                        "bodycontent",
                        &["bodycontentid", "body", "contentid", "bodytypeid"],
                        vec![i(b1), t(format!("<p>Comment on {title}</p>")), i(c1), i(2)],
                    )
                    .await?;
                let c2 = self.id();
                self.w
                    .row(
                        "content",
                        &content_cols,
                        vec![
                            i(c2),
                            i(1),
                            t("COMMENT"),
                            Value::Null,
                            Value::Null,
                            i(1),
                            t(&author),
                            t(TS),
                            t(&author),
                            t(TS),
                            Value::Null,
                            t("current"),
                            i(id),
                            i(space_id),
                            Value::Null,
                            Value::Null,
                            i(c1),
                        ],
                    )
                    .await?;
                let b2 = self.id();
                self.w.row("bodycontent", &["bodycontentid", "body", "contentid", "bodytypeid"], vec![i(b2), t("<p>Reply</p>"), i(c2), i(2)]).await?;
                self.summary.comments += 2;
                for a in 0..o.attachments_per_page {
                    self.attachment(id, space_id, a, attachments).await?;
                }
            }
            // A draft and a trashed page: never migrated.
            for status in ["draft", "deleted"] {
                let id = self.id();
                self.w
                    .row(
                        "content",
                        &content_cols,
                        vec![
                            i(id),
                            i(1),
                            t("PAGE"),
                            t(format!("{key} {status} page")),
                            t(format!("{key} {status} page")),
                            i(1),
                            t(user_key(0)),
                            t(TS),
                            t(user_key(0)),
                            t(TS),
                            Value::Null,
                            t(status),
                            Value::Null,
                            i(space_id),
                            Value::Null,
                            Value::Null,
                            Value::Null,
                        ],
                    )
                    .await?;
            }
            self.permissions(space_id, sidx).await?;
        }
        Ok(pages_out)
    }

    /// The restrictions of the first pages of the first space: View and Edit, users and
    /// groups, View inherited by the descendants of pages 1 and 2, and subjects that will
    /// not exist in the cloud (a deleted user, groups the server does not have).
    async fn restrict(&mut self, content: i64, p: u32) -> anyhow::Result<()> {
        let sets: Vec<(&str, Vec<String>, Vec<&str>)> = match p {
            // The root page: Edit only (everyone reads it); one of its groups will not
            // exist in the cloud.
            0 => vec![("Edit", vec![], vec!["engineering", "ghost-team"])],
            // View and Edit; its descendants inherit the View restriction.
            1 => vec![("View", vec![user_key(1)], vec!["engineering"]), ("Edit", vec![user_key(1)], vec![])],
            // Nobody it names will exist in the cloud.
            2 => vec![("View", vec!["8a7f808adeleted0".to_string()], vec!["hr-private"])],
            // A blog post only one user may read.
            4 => vec![("View", vec![user_key(2)], vec![])],
            _ => return Ok(()),
        };
        for (kind, users, groups) in sets {
            let set = self.id();
            self.w.row("content_perm_set", &["id", "cont_perm_type", "content_id", "creationdate"], vec![i(set), t(kind), i(content), t(TS)]).await?;
            for (user, group) in users.iter().map(|u| (Some(u.as_str()), None)).chain(groups.iter().map(|g| (None, Some(*g)))) {
                let id = self.id();
                self.w
                    .row(
                        "content_perm",
                        &["id", "cp_type", "username", "groupname", "cps_id", "creationdate"],
                        vec![i(id), t(kind), user.map(t).unwrap_or(Value::Null), group.map(t).unwrap_or(Value::Null), i(set), t(TS)],
                    )
                    .await?;
            }
            self.summary.restrictions += 1;
        }
        Ok(())
    }

    /// An older version of page `of`: its own content row (prevver = `of`) and body.
    #[allow(clippy::too_many_arguments)]
    async fn older_version(
        &mut self,
        of: i64,
        kind: &str,
        title: &str,
        version: i64,
        by: &str,
        saved: &str,
        comment: &str,
        body: &str,
        space: i64,
    ) -> anyhow::Result<()> {
        let id = self.id();
        let cols = [
            "contentid",
            "hibernateversion",
            "contenttype",
            "title",
            "lowertitle",
            "version",
            "creator",
            "creationdate",
            "lastmodifier",
            "lastmoddate",
            "versioncomment",
            "prevver",
            "content_status",
            "spaceid",
        ];
        self.w
            .row(
                "content",
                &cols,
                vec![
                    i(id),
                    i(1),
                    t(kind),
                    t(title),
                    t(title.to_lowercase()),
                    i(version),
                    t(by),
                    t(V1),
                    t(by),
                    t(saved),
                    if comment.is_empty() { Value::Null } else { t(comment) },
                    i(of),
                    t("current"),
                    i(space),
                ],
            )
            .await?;
        let bid = self.id();
        self.w.row("bodycontent", &["bodycontentid", "body", "contentid", "bodytypeid"], vec![i(bid), t(body), i(id), i(2)]).await
    }

    /// An inline comment on `page` anchored to `marker` (its properties as Confluence keeps
    /// them), and a reply; `detached` when the page's body lost the marker.
    async fn inline_comments(&mut self, page: i64, space: i64, marker: &str, selection: &str, detached: bool) -> anyhow::Result<()> {
        let cols = [
            "contentid",
            "hibernateversion",
            "contenttype",
            "version",
            "creator",
            "creationdate",
            "lastmodifier",
            "lastmoddate",
            "content_status",
            "pageid",
            "spaceid",
            "parentcommentid",
        ];
        let mut parent = Value::Null;
        let texts = [if detached { "<p>This sentence was removed later.</p>" } else { "<p>Agreed: who reviews it?</p>" }, "<p>I will.</p>"];
        for (n, text) in texts.into_iter().enumerate() {
            let id = self.id();
            let by = user_key(n as u32);
            self.w.row("content", &cols, vec![i(id), i(1), t("COMMENT"), i(1), t(&by), t(TS), t(&by), t(TS), t("current"), i(page), i(space), parent]).await?;
            let body = self.id();
            self.w.row("bodycontent", &["bodycontentid", "body", "contentid", "bodytypeid"], vec![i(body), t(text), i(id), i(2)]).await?;
            let mut properties = vec![("inline-comment", "true".to_string())];
            if n == 0 {
                properties.push(("inline-marker-ref", marker.to_string()));
                properties.push(("inline-original-selection", selection.to_string()));
            }
            for (name, value) in properties {
                let pid = self.id();
                self.w.row("contentproperties", &["propertyid", "propertyname", "stringval", "contentid"], vec![i(pid), t(name), t(value), i(id)]).await?;
            }
            self.summary.comments += 1;
            self.summary.inline_comments += 1;
            parent = i(id);
        }
        Ok(())
    }

    /// Label `content`: `name` in the `global` namespace, or `my:name` a personal label.
    async fn label(&mut self, content: i64, name: &str) -> anyhow::Result<()> {
        let (namespace, name) = name.split_once(':').unwrap_or(("global", name));
        let label = match self.labels.get(&(namespace.to_string(), name.to_string())) {
            Some(id) => *id,
            None => {
                let id = self.id();
                let owner = if namespace == "my" { t(user_key(0)) } else { Value::Null };
                self.w.row("label", &["labelid", "name", "owner", "namespace", "creationdate"], vec![i(id), t(name), owner, t(namespace), t(TS)]).await?;
                self.labels.insert((namespace.to_string(), name.to_string()), id);
                id
            }
        };
        let row = self.id();
        self.w
            .row("content_label", &["id", "labelid", "contentid", "creationdate", "labelabletype"], vec![i(row), i(label), i(content), t(TS), t("CONTENT")])
            .await?;
        if namespace == "global" {
            self.summary.labels += 1;
        }
        Ok(())
    }

    /// A comment on attachment `attachment` (its `pageid` is the attachment's id), and a
    /// reply to it when asked.
    async fn file_comment(&mut self, attachment: i64, space: i64, reply: bool) -> anyhow::Result<()> {
        let cols =
            ["contentid", "hibernateversion", "contenttype", "version", "creator", "creationdate", "content_status", "pageid", "spaceid", "parentcommentid"];
        let mut parent = Value::Null;
        for text in std::iter::once("<p>Which version of this file is current?</p>").chain(reply.then_some("<p>This one.</p>")) {
            let id = self.id();
            self.w.row("content", &cols, vec![i(id), i(1), t("COMMENT"), i(1), t(user_key(0)), t(TS), t("current"), i(attachment), i(space), parent]).await?;
            let body = self.id();
            self.w.row("bodycontent", &["bodycontentid", "body", "contentid", "bodytypeid"], vec![i(body), t(text), i(id), i(2)]).await?;
            self.summary.comments += 1;
            self.summary.file_comments += 1;
            parent = i(id);
        }
        Ok(())
    }

    async fn attachment(&mut self, page: i64, space: i64, n: u32, root: &Path) -> anyhow::Result<()> {
        let id = self.id();
        // Every fifth attachment of the site is a diagram of the Diagrams app: a draw.io
        // file, labelled `diagram`, with a row in the app's table.
        let diagram = self.summary.attachments_count.is_multiple_of(5);
        let repeat: usize = 1 + self.rng.gen_range(0..20);
        let (name, data, media) = if diagram {
            (format!("diagram-{page}-{n}.drawio"), drawio(page, n, repeat), "application/vnd.jgraph.mxfile")
        } else {
            (format!("file-{page}-{n}.txt"), format!("attachment {n} of page {page}\n").repeat(repeat), "text/plain")
        };
        self.w
            .row(
                "content",
                &[
                    "contentid",
                    "hibernateversion",
                    "contenttype",
                    "title",
                    "lowertitle",
                    "version",
                    "creator",
                    "creationdate",
                    "content_status",
                    "pageid",
                    "spaceid",
                ],
                vec![i(id), i(1), t("ATTACHMENT"), t(&name), t(&name), i(1), t(user_key(0)), t(TS), t("current"), i(page), i(space)],
            )
            .await?;
        for (prop, sval, lval) in [("FILESIZE", None, Some(data.len() as i64)), ("MEDIA_TYPE", Some(media), None)] {
            let pid = self.id();
            self.w
                .row(
                    "contentproperties",
                    &["propertyid", "propertyname", "stringval", "longval", "contentid"],
                    vec![i(pid), t(prop), sval.map(t).unwrap_or(Value::Null), lval.map(i).unwrap_or(Value::Null), i(id)],
                )
                .await?;
        }
        // Which cases this attachment carries goes by its number on the site, so it does
        // not depend on how many ids the rows before it took.
        let n = self.summary.attachments_count;
        self.summary.attachments_count += 1;
        let missing = n % 13 == 5;
        if diagram {
            self.label(id, "diagram").await?;
            if !missing {
                self.diagrams.push((id, name.clone(), page));
            }
        }
        // Comments on the file (file comments): on every third attachment, with a reply on
        // every sixth, and on each attachment whose file is missing.
        if n.is_multiple_of(3) || missing {
            self.file_comment(id, space, n.is_multiple_of(6)).await?;
        }
        // Every 13th attachment has no file on disk: reported, not fatal.
        if !missing {
            let path = attachment_path(root, Some(space), page, id, 1);
            std::fs::create_dir_all(path.parent().expect("has a parent"))?;
            std::fs::write(&path, data)?;
        }
        Ok(())
    }

    async fn permissions(&mut self, space: i64, sidx: usize) -> anyhow::Result<()> {
        let cols = ["permid", "spaceid", "permtype", "permgroupname", "permusername", "permalluserssubject"];
        let mut grants: Vec<(&str, Value, Value, Value)> = vec![
            ("VIEWSPACE", t("confluence-users"), Value::Null, Value::Null),
            ("EDITSPACE", t("engineering"), Value::Null, Value::Null),
            ("SETSPACEPERMISSIONS", Value::Null, t(user_key(0)), Value::Null),
        ];
        match sidx {
            0 => grants.push(("VIEWSPACE", t("legacy-contractors"), Value::Null, Value::Null)),
            1 => grants.push(("VIEWSPACE", Value::Null, Value::Null, Value::Null)),
            _ => grants.push(("COMMENT", Value::Null, Value::Null, t("all-users"))),
        }
        for (perm, g, u, all) in grants {
            let id = self.id();
            self.w.row("spacepermissions", &cols, vec![i(id), i(space), t(perm), g, u, all]).await?;
        }
        Ok(())
    }

    async fn app_tables(&mut self, o: &SampleOptions, pages: &[(i64, String)]) -> anyhow::Result<()> {
        let ratings = ao_table(RATINGS_APP, "RATING");
        self.w
            .execute_script(&format!(
                "CREATE TABLE \"{ratings}\" (\"ID\" bigint PRIMARY KEY, \"PAGE_ID\" bigint NOT NULL, \"USER_KEY\" varchar(255), \
                 \"STARS\" integer NOT NULL, \"COMMENT\" text, \"CREATED\" varchar(32) NOT NULL, \"SECRET_TOKEN\" varchar(64));"
            ))
            .await?;
        let users = o.users.max(1);
        let mut rid = 0i64;
        for (page, _) in pages {
            for _ in 0..2 {
                rid += 1;
                let stars = self.rng.gen_range(1..=5);
                let user = if rid % 9 == 0 { "8a7f808adeleted0".to_string() } else { user_key(self.rng.gen_range(0..users)) };
                let comment = if rid % 3 == 0 { t(format!("Rating {rid}: useful")) } else { Value::Null };
                self.w
                    .row(
                        &ratings,
                        &["\"ID\"", "\"PAGE_ID\"", "\"USER_KEY\"", "\"STARS\"", "\"COMMENT\"", "\"CREATED\"", "\"SECRET_TOKEN\""],
                        vec![i(rid), i(*page), t(user), i(stars), comment, t(format!("2024-04-{:02}T10:00:00Z", 1 + rid % 28)), t(format!("tok-{rid}"))],
                    )
                    .await?;
                self.summary.ratings += 1;
            }
        }
        let calendars = ao_table(CALENDARS_APP, "CALENDAR");
        let events = ao_table(CALENDARS_APP, "EVENT");
        self.w
            .execute_script(&format!(
                "CREATE TABLE \"{calendars}\" (\"ID\" bigint PRIMARY KEY, \"SPACE_KEY\" varchar(255) NOT NULL, \"NAME\" varchar(255) NOT NULL, \"COLOR\" varchar(16)); \
                 CREATE TABLE \"{events}\" (\"ID\" bigint PRIMARY KEY, \"CALENDAR_ID\" bigint NOT NULL, \"SUMMARY\" varchar(255) NOT NULL, \
                 \"DESCRIPTION\" text, \"START_MS\" bigint NOT NULL, \"END_MS\" bigint NOT NULL, \"ALL_DAY\" boolean NOT NULL, \"ORGANIZER_KEY\" varchar(255));"
            ))
            .await?;
        let space_keys: Vec<String> = ["ENG", "MKT", "DOC"].iter().take(o.spaces as usize).map(|s| s.to_string()).collect();
        let mut eid = 0i64;
        for (cidx, key) in space_keys.iter().chain(std::iter::once(&"GONE".to_string())).enumerate() {
            let cid = cidx as i64 + 1;
            self.w
                .row(&calendars, &["\"ID\"", "\"SPACE_KEY\"", "\"NAME\"", "\"COLOR\""], vec![i(cid), t(key), t(format!("{key} team calendar")), t("#3366ff")])
                .await?;
            for e in 0..(o.pages_per_space / 2).max(3) {
                eid += 1;
                let start = 1_714_550_400_000i64 + eid * 3_600_000;
                self.w
                    .row(
                        &events,
                        &["\"ID\"", "\"CALENDAR_ID\"", "\"SUMMARY\"", "\"DESCRIPTION\"", "\"START_MS\"", "\"END_MS\"", "\"ALL_DAY\"", "\"ORGANIZER_KEY\""],
                        vec![
                            i(eid),
                            i(cid),
                            t(format!("{key} event {e}")),
                            if e % 2 == 0 { t("Agenda to follow") } else { Value::Null },
                            i(start),
                            i(start + 1_800_000),
                            Value::Bool(e % 4 == 0),
                            t(user_key(e % users)),
                        ],
                    )
                    .await?;
                self.summary.events += 1;
            }
        }
        // The Diagrams app: one row per diagram attachment, named after its file.
        let diagrams = ao_table(DIAGRAMS_APP, "DIAGRAM");
        self.w
            .execute_script(&format!(
                "CREATE TABLE \"{diagrams}\" (\"ID\" bigint PRIMARY KEY, \"NAME\" varchar(255) NOT NULL, \"PAGE_ID\" bigint NOT NULL, \
                 \"OWNER_KEY\" varchar(255), \"REVISION\" integer NOT NULL);"
            ))
            .await?;
        for (k, (_, name, page)) in std::mem::take(&mut self.diagrams).into_iter().enumerate() {
            let owner = if k % 7 == 3 { "8a7f808adeleted0".to_string() } else { user_key(k as u32 % users) };
            self.w
                .row(
                    &diagrams,
                    &["\"ID\"", "\"NAME\"", "\"PAGE_ID\"", "\"OWNER_KEY\"", "\"REVISION\""],
                    vec![i(k as i64 + 1), t(name), i(page), t(owner), i(1 + k as i64 % 4)],
                )
                .await?;
            self.summary.diagrams += 1;
        }
        Ok(())
    }
}

impl SiteBuilder {
    /// Four user-installed apps, each a `plugindata` row holding its JAR: the three with
    /// plugins in `plugins/`, and one with no migration path.
    async fn installed_apps(&mut self) -> anyhow::Result<()> {
        let apps = [
            (RATINGS_APP, "Page Ratings", "2.4.1", "Example Apps"),
            (CALENDARS_APP, "Team Calendars", "6.0.3", "Example Apps"),
            (DIAGRAMS_APP, "Diagrams", "3.2.0", "Example Apps"),
            ("com.example.confluence.macro-pack", "Macro Pack", "1.9.0", "Macro Makers & Co"),
        ];
        for (n, (key, name, version, vendor)) in apps.into_iter().enumerate() {
            let jar = app_jar(key, name, version, vendor)?;
            self.w
                .row(
                    "plugindata",
                    &["plugindataid", "pluginkey", "filename", "lastmoddate", "data"],
                    vec![i(n as i64 + 1), t(key), t(format!("{name}-{version}.jar").replace(' ', "-").to_lowercase()), t(TS), Value::Bytes(jar)],
                )
                .await?;
        }
        // The plugin system's state map: Macro Pack is installed but disabled.
        let state = "<map>\n  <entry>\n    <string>com.example.confluence.macro-pack</string>\n    <boolean>false</boolean>\n  </entry>\n</map>";
        // The server id made at install, and the global settings with the site's base URL.
        let server_id = new_server_id();
        let settings =
            format!("<settings>\n  <doNotSave>false</doNotSave>\n  <baseUrl>{SAMPLE_BASE_URL}</baseUrl>\n  <siteTitle>Sample wiki</siteTitle>\n</settings>");
        for (id, key, value) in [
            (1, "plugin.manager.state.Map", state.to_string()),
            (2, "confluence.server.id", format!("<string>{server_id}</string>")),
            (3, "atlassian.confluence.settings", settings),
        ] {
            self.w.row("bandana", &["bandanaid", "bandanacontext", "bandanakey", "bandanavalue"], vec![i(id), t("_GLOBAL"), t(key), t(value)]).await?;
        }
        self.summary.server_id = server_id;
        Ok(())
    }
}

/// The base URL the sample sites record as their own (their absolute links use it).
pub const SAMPLE_BASE_URL: &str = "https://wiki.example.com";

/// A server id in the products' form (four groups of four letters and digits), random:
/// every site written is another site, as every install of a product is, whatever the
/// seed of its content.
pub fn new_server_id() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..4).map(|_| (0..4).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect::<String>()).collect::<Vec<_>>().join("-")
}

/// A draw.io diagram (mxfile XML) of `steps` boxes, as the Diagrams app stores it.
fn drawio(page: i64, n: u32, steps: usize) -> String {
    let cells: String = (0..steps)
        .map(|i| {
            format!(
                "<mxCell id=\"c{i}\" value=\"Step {i}\" vertex=\"1\" parent=\"1\"><mxGeometry x=\"{}\" y=\"40\" width=\"120\" height=\"60\" as=\"geometry\"/></mxCell>",
                40 + i * 160
            )
        })
        .collect();
    format!(
        "<mxfile host=\"Confluence\"><diagram name=\"Page {page} diagram {n}\" id=\"d{page}-{n}\"><mxGraphModel><root>\
         <mxCell id=\"0\"/><mxCell id=\"1\" parent=\"0\"/>{cells}</root></mxGraphModel></diagram></mxfile>\n"
    )
}

/// A minimal app JAR: a zip with `atlassian-plugin.xml` (and a class file placeholder).
pub fn app_jar(key: &str, name: &str, version: &str, vendor: &str) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    let escape = |s: &str| s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<atlassian-plugin key=\"{}\" name=\"{}\" plugins-version=\"2\">\n  <plugin-info>\n    <description>{} for Confluence</description>\n    <version>{}</version>\n    <vendor name=\"{}\" url=\"https://example.com\"/>\n  </plugin-info>\n</atlassian-plugin>\n",
        escape(key), escape(name), escape(name), escape(version), escape(vendor)
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("atlassian-plugin.xml", options)?;
    zip.write_all(xml.as_bytes())?;
    zip.start_file("META-INF/MANIFEST.MF", options)?;
    zip.write_all(b"Manifest-Version: 1.0\n")?;
    Ok(zip.finish()?.into_inner())
}

/// Where Confluence keeps an attachment's bytes (the source reads them there).
pub use ferry_source::attachment_path;

#[cfg(test)]
mod tests {
    #[test]
    fn attachment_path_follows_the_confluence_layout() {
        let p = super::attachment_path(std::path::Path::new("/a"), Some(1_234_567), 98_765, 555, 2);
        assert_eq!(p, std::path::Path::new("/a/ver003/67/234/1234567/15/98/98765/555/2"));
        let p = super::attachment_path(std::path::Path::new("/a"), None, 7, 8, 1);
        assert_eq!(p, std::path::Path::new("/a/ver003/nonspaced/7/0/7/8/1"));
    }
}

/// A vendor's own app on a sample site (`ferry sample-site --app-data FILE`): its
/// `plugindata` row, so `ferry apps assess` sees it installed, and its Active Objects
/// tables with their rows, so a plugin under development has its data to read. Read from
/// a small JSON file (`ferry plugin new` writes one).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorApp {
    /// The Server app's key.
    pub app_key: String,
    /// Its name.
    pub name: String,
    /// Its version on the Server site.
    pub version: String,
    /// Its vendor.
    pub vendor: String,
    /// Table name → its columns and rows.
    #[serde(default)]
    pub tables: std::collections::BTreeMap<String, VendorTable>,
}

/// One table of a vendor's app.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorTable {
    /// Column name → type: `integer`, `text`, `boolean` or `timestamp`.
    pub columns: std::collections::BTreeMap<String, String>,
    /// The rows: column name → value (a number, text, true/false or null).
    #[serde(default)]
    pub rows: Vec<std::collections::BTreeMap<String, serde_json::Value>>,
}

impl VendorApp {
    /// The app described by the JSON file `path`, checked: its tables are the app's own
    /// (`AO_` + the last six hex digits of md5(app key)), its columns plain AO names of a
    /// known type, and each row names declared columns only.
    pub fn read(path: &Path) -> anyhow::Result<VendorApp> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the app data file {}", path.display()))?;
        let app: VendorApp =
            serde_json::from_str(&text).with_context(|| format!("{} is not an app data file (see `ferry sample-site --help`)", path.display()))?;
        anyhow::ensure!(
            !app.app_key.trim().is_empty() && !app.name.trim().is_empty() && !app.version.trim().is_empty(),
            "{}: app_key, name and version must not be empty",
            path.display()
        );
        let prefix = ferry_manifest::ao_table_prefix(&app.app_key);
        for (table, t) in &app.tables {
            anyhow::ensure!(
                table.starts_with(&prefix) && table.len() > prefix.len() && ferry_manifest::is_ao_identifier(table),
                "{}: table {table} is not {}'s own: its tables are named {prefix}<ENTITY>",
                path.display(),
                app.app_key
            );
            anyhow::ensure!(!t.columns.is_empty(), "{}: table {table} declares no columns", path.display());
            for (column, kind) in &t.columns {
                anyhow::ensure!(ferry_manifest::is_ao_identifier(column), "{}: {table}.{column} is not an upper-case AO column name", path.display());
                anyhow::ensure!(
                    ["integer", "text", "boolean", "timestamp"].contains(&kind.as_str()),
                    "{}: {table}.{column} has type {kind:?}: give integer, text, boolean or timestamp",
                    path.display()
                );
            }
            for (n, row) in t.rows.iter().enumerate() {
                if let Some(unknown) = row.keys().find(|c| !t.columns.contains_key(*c)) {
                    anyhow::bail!("{}: row {} of {table} names column {unknown}, which the table does not declare", path.display(), n + 1);
                }
            }
        }
        Ok(app)
    }
}

/// Add vendors' apps to the sample site written in `out` (or into `postgres`): each app's
/// `plugindata` row and its tables with their rows. The rows written.
pub async fn add_vendor_apps(out: &Path, postgres: Option<&str>, apps: &[VendorApp]) -> anyhow::Result<u64> {
    let (url, sqlite) = match postgres {
        Some(url) => (url.to_string(), false),
        None => (format!("sqlite://{}", out.join("site.db").display()), true),
    };
    let mut w = TableWriter::connect(&url, true).await?;
    let mut rows = 0;
    for (n, app) in apps.iter().enumerate() {
        let jar = app_jar(&app.app_key, &app.name, &app.version, &app.vendor)?;
        let file = format!("{}-{}.jar", app.name, app.version).replace(' ', "-").to_lowercase();
        // The sample's own apps take the first ids.
        let id = 1_000 + n as i64;
        w.row("plugindata", &["plugindataid", "pluginkey", "filename", "lastmoddate", "data"], vec![i(id), t(&app.app_key), t(file), t(TS), Value::Bytes(jar)])
            .await?;
        for (table, spec) in &app.tables {
            let columns: Vec<String> = spec
                .columns
                .iter()
                .map(|(c, kind)| {
                    let sql = match (kind.as_str(), sqlite) {
                        ("integer", _) => "BIGINT",
                        // Active Objects' booleans are TINYINT(1) on MySQL.
                        ("boolean", _) if w.is_mysql() => "TINYINT(1)",
                        ("boolean", _) => "BOOLEAN",
                        ("timestamp", false) => "TIMESTAMP",
                        _ => "TEXT",
                    };
                    format!("\"{c}\" {sql}")
                })
                .collect();
            w.execute_script(&format!("CREATE TABLE \"{table}\" ({})", columns.join(", "))).await?;
            let names: Vec<String> = spec.columns.keys().map(|c| format!("\"{c}\"")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            for row in &spec.rows {
                let values = spec
                    .columns
                    .iter()
                    .map(|(c, kind)| match (row.get(c), kind.as_str()) {
                        (None | Some(serde_json::Value::Null), _) => Value::Null,
                        (Some(serde_json::Value::Bool(b)), _) => Value::Bool(*b),
                        (Some(serde_json::Value::Number(n)), "integer") => n.as_i64().map_or(Value::Null, Value::Int),
                        (Some(serde_json::Value::String(s)), _) => Value::Text(s.clone()),
                        (Some(other), _) => Value::Text(other.to_string()),
                    })
                    .collect();
                w.row(table, &names, values).await?;
                rows += 1;
            }
        }
    }
    w.finish().await?;
    Ok(rows)
}
