-- The reconciler looks only at busy or challenged members (and at active jobs, which the queue
-- index finds); these partial indexes keep its periodic pass off every other member.
CREATE INDEX members_busy ON members (updated_at) WHERE is_being_aggregated = TRUE;
CREATE INDEX members_challenged ON members (updated_at) WHERE connection_status = 'CHALLENGED';
