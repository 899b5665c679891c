-- Each `ferry verify` of a plan: when it ran, how many differences it found, and the
-- whole verification (what was compared, each difference) as JSON. No secret is in it.
CREATE TABLE verifications (
    plan_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    differences INTEGER NOT NULL,
    verification_json TEXT NOT NULL,
    PRIMARY KEY (plan_id, started_at)
);
