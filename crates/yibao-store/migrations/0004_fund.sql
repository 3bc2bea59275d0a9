-- Fund accounting (基金核算): the double-entry ledger, clearing with
-- institutions and between regions, and per-region settings.
-- Depends only on 0001/0002 (the settlement table); nothing of 0003.

-- A journal entry (记账凭证). Inserted once, never updated or deleted: a
-- correction is another entry (a reversal names the entry it reverses).
-- (kind, reference) is unique, so an event is booked at most once, and a
-- settlement can be reversed at most once (reverses is unique).
CREATE TABLE fund_entry (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    reference TEXT NOT NULL,
    reverses TEXT UNIQUE,
    entry_date TEXT NOT NULL,
    memo TEXT NOT NULL,
    debit_fen BIGINT NOT NULL,
    credit_fen BIGINT NOT NULL CHECK (credit_fen = debit_fen),
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (kind, reference)
);
CREATE INDEX fund_entry_date ON fund_entry (entry_date);

-- The lines of an entry. An account is (region, fund, account, sub); the
-- amount keeps its side and is negative only on a reversal (红字). The
-- entry's date is repeated here so that an account's balance as of a date is
-- one range scan of fund_line_account, which covers every column it needs.
CREATE TABLE fund_line (
    entry_id BIGINT NOT NULL REFERENCES fund_entry (id),
    line_no BIGINT NOT NULL,
    region TEXT NOT NULL,
    fund TEXT NOT NULL,
    account TEXT NOT NULL,
    sub TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('D', 'C')),
    amount_fen BIGINT NOT NULL CHECK (amount_fen <> 0),
    entry_date TEXT NOT NULL,
    PRIMARY KEY (entry_id, line_no)
);
CREATE INDEX fund_line_account ON fund_line (region, account, sub, fund, entry_date, side, amount_fen);

-- Per-region settings; a region without a row uses the defaults in code.
CREATE TABLE fund_setting (
    region TEXT PRIMARY KEY,
    withhold_ppm BIGINT NOT NULL,
    alert_months_centi BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- A clearing run (清算) of one institution for one month in the region whose
-- ledger holds its payable. Amounts are totals over funds; the per-fund
-- figures are in fund_clearing_fund. status: cleared (withholding posted,
-- payment instructed) → paid (payment posted on the bank's confirmation).
CREATE TABLE fund_clearing (
    id BIGINT PRIMARY KEY,
    region TEXT NOT NULL,
    fixmedins_code TEXT NOT NULL,
    period TEXT NOT NULL,
    withhold_ppm BIGINT NOT NULL,
    settled_count BIGINT NOT NULL,
    reversed_count BIGINT NOT NULL,
    settled_fen BIGINT NOT NULL,
    reversed_fen BIGINT NOT NULL,
    net_fen BIGINT NOT NULL,
    withheld_fen BIGINT NOT NULL,
    payable_fen BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('cleared', 'paid')),
    payment_ref TEXT,
    paid_date TEXT,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    paid_by TEXT,
    paid_at_ms BIGINT,
    UNIQUE (region, fixmedins_code, period)
);
CREATE INDEX fund_clearing_period ON fund_clearing (period, region);

CREATE TABLE fund_clearing_fund (
    clearing_id BIGINT NOT NULL REFERENCES fund_clearing (id),
    fund TEXT NOT NULL,
    settled_fen BIGINT NOT NULL,
    reversed_fen BIGINT NOT NULL,
    net_fen BIGINT NOT NULL,
    withheld_fen BIGINT NOT NULL,
    payable_fen BIGINT NOT NULL,
    PRIMARY KEY (clearing_id, fund)
);

-- Which clearing took each settlement row: a settlement (or reversal) is
-- cleared exactly once with its institution ('institution') and, when
-- cross-region, exactly once between regions ('region').
CREATE TABLE fund_clearing_item (
    kind TEXT NOT NULL CHECK (kind IN ('institution', 'region')),
    setl_id TEXT NOT NULL,
    clearing_id BIGINT NOT NULL,
    PRIMARY KEY (kind, setl_id)
);
CREATE INDEX fund_clearing_item_run ON fund_clearing_item (clearing_id);

-- Cross-region clearing (异地就医清算) of one month: per pair of regions
-- (region_a < region_b) and fund, what each owed the other and the net
-- (positive: A pays B).
CREATE TABLE fund_region_clearing (
    id BIGINT PRIMARY KEY,
    run_id BIGINT NOT NULL,
    period TEXT NOT NULL,
    region_a TEXT NOT NULL,
    region_b TEXT NOT NULL,
    fund TEXT NOT NULL,
    a_owes_b_fen BIGINT NOT NULL,
    b_owes_a_fen BIGINT NOT NULL,
    net_fen BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (period, region_a, region_b, fund)
);

-- Month close (月结). Once a month is closed its movements per account are
-- kept in fund_month_balance, reads sum those instead of the month's lines,
-- and no entry is dated in a closed month any more: a late event is dated on
-- the first open day (its memo keeps the business date). Months close in
-- order, for every region at once.
CREATE TABLE fund_close (
    month TEXT PRIMARY KEY,
    line_count BIGINT NOT NULL,
    debit_fen BIGINT NOT NULL,
    credit_fen BIGINT NOT NULL CHECK (credit_fen = debit_fen),
    closed_by TEXT NOT NULL,
    closed_at_ms BIGINT NOT NULL
);

CREATE TABLE fund_month_balance (
    month TEXT NOT NULL,
    region TEXT NOT NULL,
    fund TEXT NOT NULL,
    account TEXT NOT NULL,
    sub TEXT NOT NULL,
    debit_fen BIGINT NOT NULL,
    credit_fen BIGINT NOT NULL,
    PRIMARY KEY (region, account, sub, fund, month)
);

-- One row that a month close and a back-dated posting lock (PostgreSQL) so
-- that no entry can slip into a month while it is being closed.
CREATE TABLE fund_close_guard (
    id BIGINT PRIMARY KEY
);
INSERT INTO fund_close_guard (id) VALUES (1);
