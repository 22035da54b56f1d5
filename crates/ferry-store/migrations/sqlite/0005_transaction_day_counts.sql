-- Transactions per account and day, kept by triggers, so the total of a date-range listing
-- (`pagination.total_entries`) is a sum over a few dozen rows instead of a count over
-- thousands of transactions.
CREATE TABLE transaction_day_counts (
    account_guid  TEXT NOT NULL REFERENCES accounts (guid) ON DELETE CASCADE,
    member_guid   TEXT NOT NULL,
    user_guid     TEXT NOT NULL,
    date          TEXT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (account_guid, date)
);
CREATE INDEX transaction_day_counts_by_user ON transaction_day_counts (user_guid, date);
CREATE INDEX transaction_day_counts_by_member ON transaction_day_counts (member_guid, date);

INSERT INTO transaction_day_counts (account_guid, member_guid, user_guid, date, n)
    SELECT account_guid, member_guid, user_guid, date, COUNT(*) FROM transactions
    GROUP BY account_guid, member_guid, user_guid, date;

CREATE TRIGGER transactions_counted_insert AFTER INSERT ON transactions BEGIN
    INSERT INTO transaction_day_counts (account_guid, member_guid, user_guid, date, n)
    VALUES (NEW.account_guid, NEW.member_guid, NEW.user_guid, NEW.date, 1)
    ON CONFLICT (account_guid, date) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER transactions_counted_delete AFTER DELETE ON transactions BEGIN
    UPDATE transaction_day_counts SET n = n - 1 WHERE account_guid = OLD.account_guid AND date = OLD.date;
END;

CREATE TRIGGER transactions_counted_update AFTER UPDATE OF date ON transactions
WHEN OLD.date IS NOT NEW.date BEGIN
    UPDATE transaction_day_counts SET n = n - 1 WHERE account_guid = OLD.account_guid AND date = OLD.date;
    INSERT INTO transaction_day_counts (account_guid, member_guid, user_guid, date, n)
    VALUES (NEW.account_guid, NEW.member_guid, NEW.user_guid, NEW.date, 1)
    ON CONFLICT (account_guid, date) DO UPDATE SET n = n + 1;
END;
