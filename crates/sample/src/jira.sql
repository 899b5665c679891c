-- The Jira tables a sample site writes, as in the real schema (the subset Ferry reads,
-- and the status, entity-property and service-desk-organization tables it reads when
-- a site has them). Credentials are written as a placeholder hash so that a reader
-- that selected them would be caught by the tests.
CREATE TABLE cwd_directory (
    id numeric(18,0) PRIMARY KEY,
    directory_name varchar(255),
    lower_directory_name varchar(255),
    active numeric(9,0),
    directory_type varchar(60),
    directory_position numeric(18,0)
);
CREATE TABLE cwd_user (
    id numeric(18,0) PRIMARY KEY,
    directory_id numeric(18,0),
    user_name varchar(255),
    lower_user_name varchar(255),
    active numeric(9,0),
    first_name varchar(255),
    last_name varchar(255),
    display_name varchar(255),
    email_address varchar(255),
    lower_email_address varchar(255),
    credential varchar(255),
    deleted_externally numeric(9,0),
    external_id varchar(255)
);
CREATE TABLE cwd_group (
    id numeric(18,0) PRIMARY KEY,
    group_name varchar(255),
    lower_group_name varchar(255),
    active numeric(9,0),
    directory_id numeric(18,0)
);
CREATE TABLE cwd_membership (
    id numeric(18,0) PRIMARY KEY,
    parent_id numeric(18,0),
    child_id numeric(18,0),
    membership_type varchar(60),
    parent_name varchar(255),
    lower_parent_name varchar(255),
    child_name varchar(255),
    lower_child_name varchar(255),
    directory_id numeric(18,0)
);
CREATE TABLE app_user (
    id numeric(18,0) PRIMARY KEY,
    user_key varchar(255),
    lower_user_name varchar(255)
);
CREATE TABLE licenserolesgroup (
    id numeric(18,0) PRIMARY KEY,
    license_role_name varchar(255),
    group_id varchar(255),
    primary_group char(1)
);
CREATE TABLE project (
    id numeric(18,0) PRIMARY KEY,
    pname varchar(255),
    lead varchar(255),
    description text,
    pkey varchar(255),
    projecttype varchar(255)
);
CREATE TABLE jiraissue (
    id numeric(18,0) PRIMARY KEY,
    issuenum numeric(18,0),
    project numeric(18,0),
    reporter varchar(255),
    assignee varchar(255),
    creator varchar(255),
    issuetype varchar(255),
    summary varchar(255),
    description text,
    issuestatus varchar(255),
    created timestamp with time zone,
    updated timestamp with time zone
);
CREATE TABLE jiraaction (
    id numeric(18,0) PRIMARY KEY,
    issueid numeric(18,0),
    author varchar(255),
    actiontype varchar(255),
    actionlevel varchar(255),
    rolelevel numeric(18,0),
    actionbody text,
    created timestamp with time zone
);
CREATE TABLE customfield (
    id numeric(18,0) PRIMARY KEY,
    cfkey varchar(255),
    customfieldtypekey varchar(255),
    cfname varchar(255)
);
CREATE TABLE customfieldvalue (
    id numeric(18,0) PRIMARY KEY,
    issue numeric(18,0),
    customfield numeric(18,0),
    stringvalue varchar(255),
    textvalue text
);
CREATE TABLE "AO_54307E_SERVICEDESK" (
    "ID" integer PRIMARY KEY,
    "PROJECT_ID" bigint,
    "PROJECT_KEY" varchar(255),
    "DISABLED" boolean,
    "PUBLIC_SIGNUP" integer,
    "OPEN_CUSTOMER_ACCESS" integer,
    "CREATED_BY_USER_KEY" varchar(255),
    "CREATED_DATE" timestamp
);
CREATE TABLE "AO_54307E_ORGANIZATION" (
    "ID" integer PRIMARY KEY,
    "NAME" varchar(255)
);
CREATE TABLE "AO_54307E_ORGANIZATION_MEMBER" (
    "ID" integer PRIMARY KEY,
    "ORGANIZATION_ID" integer,
    "USER_KEY" varchar(255) NOT NULL,
    "DEFAULT_ORGANIZATION" boolean NOT NULL DEFAULT false
);
CREATE TABLE issuestatus (
    id varchar(60) PRIMARY KEY,
    sequence numeric(18,0),
    pname varchar(60),
    description text
);
CREATE TABLE entity_property (
    id numeric(18,0) PRIMARY KEY,
    entity_name varchar(255),
    entity_id numeric(18,0),
    property_key varchar(255),
    created timestamp with time zone,
    updated timestamp with time zone,
    json_value text
);
CREATE TABLE "AO_54307E_CUSTOMERORGANIZATION" (
    "ID" integer PRIMARY KEY,
    "ORGANIZATION_ID" integer,
    "SERVICE_DESK_ID" integer
);
-- Indexes like Jira's own on what ferry reads.
CREATE INDEX issue_proj_status ON jiraissue (project, issuestatus);
CREATE INDEX action_issue ON jiraaction (issueid, actiontype);
CREATE INDEX cfvalue_issue ON customfieldvalue (issue, customfield);
CREATE INDEX entityproperty_entity ON entity_property (entity_name, entity_id);
CREATE INDEX uk_user_key ON app_user (user_key);
CREATE INDEX uk_lower_user_name ON app_user (lower_user_name);
CREATE INDEX uk_user_name_dir_id ON cwd_user (lower_user_name, directory_id);
CREATE INDEX "index_ao_54307e_org1219204205" ON "AO_54307E_ORGANIZATION_MEMBER" ("ORGANIZATION_ID");
-- Application properties (`jira.properties`): the server id and the base URL.
CREATE TABLE propertyentry (
    id numeric(18,0) PRIMARY KEY,
    entity_name varchar(255),
    entity_id numeric(18,0),
    property_key varchar(255),
    propertytype numeric(9,0)
);
CREATE TABLE propertystring (
    id numeric(18,0) PRIMARY KEY,
    propertyvalue text
);
