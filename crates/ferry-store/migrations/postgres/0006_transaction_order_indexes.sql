-- Since 0005 the pagination totals come from per-day counts, so the date indexes serve only
-- the pages: give them the guid again, so `ORDER BY date DESC, guid DESC` needs no sort.
DROP INDEX transactions_by_user_date;
DROP INDEX transactions_by_member_date;
DROP INDEX transactions_by_account_date;
CREATE INDEX transactions_by_user_date ON transactions (user_guid, date, guid);
CREATE INDEX transactions_by_member_date ON transactions (member_guid, date, guid);
CREATE INDEX transactions_by_account_date ON transactions (account_guid, date, guid);
