-- Signing in as Atlassian Cloud takes it: a site admin's email with the API token (HTTP
-- Basic on the site), or a scoped token through the API gateway (the site's cloud id and
-- the gateway's URL); users are provisioned through the organisation's SCIM directory,
-- whose key is read from its own environment variable. Names of variables only: never
-- a secret.
ALTER TABLE cloud_sites ADD COLUMN email TEXT;
ALTER TABLE cloud_sites ADD COLUMN cloud_id TEXT;
ALTER TABLE cloud_sites ADD COLUMN gateway_url TEXT;
ALTER TABLE cloud_sites ADD COLUMN scim_token_env TEXT;
ALTER TABLE plans ADD COLUMN email TEXT;
ALTER TABLE plans ADD COLUMN cloud_id TEXT;
ALTER TABLE plans ADD COLUMN gateway_url TEXT;
ALTER TABLE plans ADD COLUMN scim_token_env TEXT;
