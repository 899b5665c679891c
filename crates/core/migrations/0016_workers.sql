-- The process running a plan, and when it last said it was alive (every half second
-- while it runs): a run whose process died (killed, crashed, the machine restarted) is
-- found and ended `failed` with the reason, instead of staying `running` for ever.
ALTER TABLE plans ADD COLUMN worker_pid INTEGER;
ALTER TABLE plans ADD COLUMN heartbeat_at TEXT;
