
CREATE TABLE cwd_directory (
    id bigint PRIMARY KEY,
    directory_name varchar(255) NOT NULL,
    lower_directory_name varchar(255) NOT NULL,
    created_date timestamp NOT NULL,
    updated_date timestamp NOT NULL,
    active char(1) NOT NULL,
    description varchar(255),
    impl_class varchar(255) NOT NULL,
    lower_impl_class varchar(255) NOT NULL,
    directory_type varchar(32) NOT NULL
);

CREATE TABLE cwd_application (
    id bigint PRIMARY KEY,
    application_name varchar(255) NOT NULL,
    lower_application_name varchar(255) NOT NULL,
    created_date timestamp NOT NULL,
    updated_date timestamp NOT NULL,
    active char(1) NOT NULL,
    description varchar(255),
    application_type varchar(32) NOT NULL,
    credential varchar(255) NOT NULL
);

CREATE TABLE cwd_app_dir_mapping (
    id bigint PRIMARY KEY,
    application_id bigint,
    directory_id bigint NOT NULL,
    allow_all char(1) NOT NULL,
    list_index integer
);

CREATE TABLE cwd_user (
    id bigint PRIMARY KEY,
    user_name varchar(255) NOT NULL,
    lower_user_name varchar(255) NOT NULL,
    active char(1) NOT NULL,
    created_date timestamp NOT NULL,
    updated_date timestamp NOT NULL,
    first_name varchar(255),
    lower_first_name varchar(255),
    last_name varchar(255),
    lower_last_name varchar(255),
    display_name varchar(255),
    lower_display_name varchar(255),
    email_address varchar(255),
    lower_email_address varchar(255),
    external_id varchar(255),
    directory_id bigint NOT NULL,
    credential varchar(255),
    UNIQUE (lower_user_name, directory_id)
);

CREATE TABLE cwd_group (
    id bigint PRIMARY KEY,
    group_name varchar(255) NOT NULL,
    lower_group_name varchar(255) NOT NULL,
    active char(1) NOT NULL,
    local char(1) NOT NULL,
    created_date timestamp NOT NULL,
    updated_date timestamp NOT NULL,
    description varchar(255),
    group_type varchar(32) NOT NULL,
    directory_id bigint NOT NULL,
    UNIQUE (lower_group_name, directory_id)
);

CREATE TABLE cwd_membership (
    id bigint PRIMARY KEY,
    parent_id bigint NOT NULL,
    child_group_id bigint,
    child_user_id bigint
);

CREATE TABLE user_mapping (
    user_key varchar(255) PRIMARY KEY,
    username varchar(255),
    lower_username varchar(255) UNIQUE
);

CREATE TABLE spaces (
    spaceid bigint PRIMARY KEY,
    spacename varchar(255),
    spacekey varchar(255) NOT NULL,
    lowerspacekey varchar(255) NOT NULL,
    spacedescid bigint,
    homepage bigint,
    creator varchar(255),
    creationdate timestamp,
    lastmodifier varchar(255),
    lastmoddate timestamp,
    spacetype varchar(255),
    spacestatus varchar(255)
);

CREATE TABLE content (
    contentid bigint PRIMARY KEY,
    hibernateversion integer NOT NULL DEFAULT 0,
    contenttype varchar(255) NOT NULL,
    title varchar(255),
    lowertitle varchar(255),
    version integer,
    creator varchar(255),
    creationdate timestamp,
    lastmodifier varchar(255),
    lastmoddate timestamp,
    versioncomment text,
    prevver bigint,
    content_status varchar(255),
    pageid bigint,
    spaceid bigint,
    child_position integer,
    parentid bigint,
    messageid varchar(255),
    pluginkey varchar(255),
    pluginver varchar(255),
    parentccid bigint,
    draftpageid varchar(255),
    draftspacekey varchar(255),
    drafttype varchar(255),
    draftpageversion integer,
    parentcommentid bigint,
    username varchar(255)
);

CREATE TABLE bodycontent (
    bodycontentid bigint PRIMARY KEY,
    body text,
    contentid bigint,
    bodytypeid smallint
);

CREATE TABLE contentproperties (
    propertyid bigint PRIMARY KEY,
    propertyname varchar(255) NOT NULL,
    stringval varchar(255),
    longval bigint,
    dateval timestamp,
    contentid bigint
);

CREATE TABLE spacepermissions (
    permid bigint PRIMARY KEY,
    spaceid bigint,
    permtype varchar(255) NOT NULL,
    permgroupname varchar(255),
    permusername varchar(255),
    permalluserssubject varchar(255),
    creator varchar(255),
    creationdate timestamp,
    lastmodifier varchar(255),
    lastmoddate timestamp
);

CREATE TABLE plugindata (
    plugindataid bigint PRIMARY KEY,
    pluginkey varchar(255) NOT NULL,
    filename varchar(255) NOT NULL,
    lastmoddate timestamp,
    data bytea
);

-- Global settings: the plugin system keeps each app's enabled state in the XStream map
-- under key 'plugin.manager.state.Map' of context '_GLOBAL' (an app listed false is disabled).
CREATE TABLE bandana (
    bandanaid bigint PRIMARY KEY,
    bandanacontext varchar(255),
    bandanakey varchar(100),
    bandanavalue text
);

CREATE TABLE cwd_user_credential_record (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL,
    password_hash varchar(255) NOT NULL,
    list_index integer
);

-- Indexes real installations have on the columns a migration joins on.
CREATE INDEX c_spaceid_idx ON content (spaceid);
CREATE INDEX c_pageid_idx ON content (pageid);
CREATE INDEX c_parentid_idx ON content (parentid);
CREATE INDEX c_prevver_idx ON content (prevver);
CREATE INDEX bc_contentid_idx ON bodycontent (contentid);
CREATE INDEX cp_contentid_idx ON contentproperties (contentid);
CREATE INDEX sp_spaceid_idx ON spacepermissions (spaceid);
CREATE INDEX mem_parent_idx ON cwd_membership (parent_id);
CREATE INDEX um_lower_username_idx ON user_mapping (lower_username);

CREATE TABLE content_perm_set (
    id bigint PRIMARY KEY,
    cont_perm_type varchar(10) NOT NULL,
    content_id bigint NOT NULL,
    creationdate timestamp,
    lastmoddate timestamp
);

CREATE TABLE content_perm (
    id bigint PRIMARY KEY,
    cp_type varchar(10) NOT NULL,
    username varchar(255),
    groupname varchar(255),
    cps_id bigint NOT NULL,
    creator varchar(255),
    creationdate timestamp,
    lastmodifier varchar(255),
    lastmoddate timestamp
);

CREATE TABLE label (
    labelid bigint PRIMARY KEY,
    name varchar(255),
    owner varchar(255),
    namespace varchar(255),
    creationdate timestamp,
    lastmoddate timestamp
);

CREATE TABLE content_label (
    id bigint PRIMARY KEY,
    labelid bigint NOT NULL,
    contentid bigint,
    owner varchar(255),
    creationdate timestamp,
    lastmoddate timestamp,
    labelableid bigint,
    labelabletype varchar(255)
);
