-- Which versions of pages and blog posts a plan migrates: every version ('all') or the
-- current one ('current').
ALTER TABLE plans ADD COLUMN history TEXT NOT NULL DEFAULT 'all';
