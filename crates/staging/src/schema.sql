CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    user_name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT,
    email TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS users_email ON users (email COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    awaiting_review INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS memberships (
    group_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE TABLE IF NOT EXISTS spaces (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS content (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    space_id INTEGER,
    parent_id INTEGER,
    page_id INTEGER,
    title TEXT,
    body TEXT,
    author_id TEXT,
    created_at TEXT,
    file_name TEXT,
    media_type TEXT,
    size INTEGER,
    data BLOB,
    version INTEGER,
    version_message TEXT,
    version_author TEXT,
    version_at TEXT
);
CREATE INDEX IF NOT EXISTS content_space ON content (space_id, kind);
CREATE INDEX IF NOT EXISTS content_page ON content (page_id, kind);
-- A space has one current page of a title, as in Confluence.
CREATE UNIQUE INDEX IF NOT EXISTS page_titles ON content (space_id, title) WHERE kind = 'page';
CREATE INDEX IF NOT EXISTS content_titles ON content (space_id, kind, title);
CREATE TABLE IF NOT EXISTS permissions (
    space_id INTEGER NOT NULL,
    subject_type TEXT NOT NULL,
    identifier TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (space_id, subject_type, identifier, key)
);
-- The stand-in cloud apps' side of app transfers (`/apps/{key}/…`): each transfer, its
-- uploads, the mappings Ferry sent with it, and what the app imported.
DROP TABLE IF EXISTS app_data;
CREATE TABLE IF NOT EXISTS app_transfers (
    id TEXT PRIMARY KEY,
    app_key TEXT NOT NULL,
    start_json TEXT NOT NULL,
    status TEXT NOT NULL,
    percent INTEGER NOT NULL DEFAULT 0,
    message TEXT,
    created_at TEXT NOT NULL,
    settled_at TEXT
);
CREATE TABLE IF NOT EXISTS app_uploads (
    transfer_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    label TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (transfer_id, n)
);
CREATE TABLE IF NOT EXISTS app_mappings (
    transfer_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    server_id TEXT NOT NULL,
    cloud_id TEXT NOT NULL,
    PRIMARY KEY (transfer_id, namespace, server_id)
);
CREATE TABLE IF NOT EXISTS app_imports (
    id INTEGER PRIMARY KEY,
    app_key TEXT NOT NULL,
    transfer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    record TEXT NOT NULL
);
-- Content properties of pages, blog posts and comments (key unique per content).
CREATE TABLE IF NOT EXISTS properties (
    id INTEGER PRIMARY KEY,
    content_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (content_id, key)
);
-- Files uploaded ahead of their pages were once kept here; they wait on a holding page now.
DROP TABLE IF EXISTS media;
CREATE TABLE IF NOT EXISTS cloud_apps (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL DEFAULT 'ENABLED',
    installed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS site (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cloud_id TEXT NOT NULL
);
-- Page and blog post restrictions, as Confluence Cloud keeps them: per operation ('read'
-- or 'update'), the accounts ('user', an account id), groups ('group', a name) allowed,
-- or the migrating account ('migrator': a page created private).
CREATE TABLE IF NOT EXISTS restrictions (
    content_id INTEGER NOT NULL,
    operation TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    identifier TEXT NOT NULL,
    PRIMARY KEY (content_id, operation, subject_type, identifier)
);
-- Pages and blog posts created private, and those whose read restriction was removed
-- later: a page restricted now was open at some moment unless it was created private and
-- never lost its read restriction since. (Only these few rows are written, so an open
-- page costs nothing extra.)
CREATE TABLE IF NOT EXISTS created_private (
    content_id INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS ever_open (
    content_id INTEGER PRIMARY KEY
);
-- Labels of pages, blog posts and attachments.
CREATE TABLE IF NOT EXISTS labels (
    content_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (content_id, name)
);
-- The earlier versions of pages and blog posts (the current one is the content row:
-- its title, body, and version columns). author_id NULL is Former User.
CREATE TABLE IF NOT EXISTS versions (
    content_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    title TEXT,
    body TEXT,
    author_id TEXT,
    created_at TEXT,
    message TEXT,
    PRIMARY KEY (content_id, number)
);
CREATE VIEW IF NOT EXISTS all_versions AS
    SELECT content_id, number, title, body, author_id, created_at, message FROM versions
    UNION ALL
    SELECT id, version, title, body, version_author, version_at, version_message FROM content WHERE kind IN ('page', 'blogpost');
-- Where each top-level inline comment sits: the marker in its page's body.
CREATE TABLE IF NOT EXISTS inline_anchors (
    comment_id INTEGER PRIMARY KEY,
    marker_ref TEXT NOT NULL,
    selection TEXT NOT NULL
);
-- Jira Service Management: customer accounts (account id `qm:<id>`; full accounts are
-- the SCIM users), organizations, projects with their service desks, requests.
CREATE TABLE IF NOT EXISTS customers (
    id INTEGER PRIMARY KEY,
    email TEXT UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    placeholder INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jsm_organizations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE IF NOT EXISTS jsm_organization_members (
    organization_id INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    PRIMARY KEY (organization_id, account_id)
);
CREATE TABLE IF NOT EXISTS jsm_projects (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    lead_account_id TEXT
);
CREATE TABLE IF NOT EXISTS jsm_service_desks (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS jsm_desk_customers (
    desk_id INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    PRIMARY KEY (desk_id, account_id)
);
CREATE TABLE IF NOT EXISTS jsm_desk_organizations (
    desk_id INTEGER NOT NULL,
    organization_id INTEGER NOT NULL,
    PRIMARY KEY (desk_id, organization_id)
);
CREATE TABLE IF NOT EXISTS jsm_requests (
    id INTEGER PRIMARY KEY,
    desk_id INTEGER NOT NULL,
    key TEXT NOT NULL UNIQUE COLLATE NOCASE,
    number INTEGER NOT NULL,
    summary TEXT NOT NULL,
    description TEXT,
    status TEXT NOT NULL,
    created TEXT,
    reporter TEXT NOT NULL,
    creator TEXT NOT NULL,
    request_type_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jsm_request_types (
    id INTEGER PRIMARY KEY,
    desk_id INTEGER NOT NULL,
    name TEXT NOT NULL
);
-- Jira entity properties: of issues and of comments.
CREATE TABLE IF NOT EXISTS jira_properties (
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (entity, entity_id, key)
);
CREATE INDEX IF NOT EXISTS jsm_requests_desk ON jsm_requests (desk_id, id);
CREATE TABLE IF NOT EXISTS jsm_participants (
    request_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    PRIMARY KEY (request_id, account_id)
);
CREATE TABLE IF NOT EXISTS jsm_comments (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL,
    body TEXT NOT NULL,
    public INTEGER NOT NULL,
    author TEXT NOT NULL,
    created TEXT
);
CREATE INDEX IF NOT EXISTS jsm_comments_request ON jsm_comments (request_id, id);
-- Every notification the site would have sent: a migration must cause none.
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY,
    event TEXT NOT NULL,
    recipient TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS customers_placeholder ON customers (placeholder) WHERE placeholder = 1;
