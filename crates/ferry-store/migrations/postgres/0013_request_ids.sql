-- The id of the HTTP request that queued a job or caused an event, so the job's log lines and
-- the webhook deliveries it leads to carry it too. NULL for background work.
ALTER TABLE jobs ADD COLUMN request_id TEXT;
ALTER TABLE webhook_events ADD COLUMN request_id TEXT;
