-- Jira plans: the product a plan migrates from, its service projects ('all', 'none' or
-- KEY,KEY) and its customers ('all', 'related' or 'none').
ALTER TABLE plans ADD COLUMN product TEXT NOT NULL DEFAULT 'confluence';
ALTER TABLE plans ADD COLUMN projects TEXT NOT NULL DEFAULT 'none';
ALTER TABLE plans ADD COLUMN customers TEXT NOT NULL DEFAULT 'none';
