-- Progress as a run shows it: each step's place in the run (steps are listed in the order
-- they run, with totals counted from the plan's scope before it starts), when it started
-- and whether it ended; and how the Cloud site's rate limit holds the run back.
ALTER TABLE plan_progress ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plan_progress ADD COLUMN started_at TEXT;
ALTER TABLE plan_progress ADD COLUMN finished INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN throttled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN paused_until TEXT;
