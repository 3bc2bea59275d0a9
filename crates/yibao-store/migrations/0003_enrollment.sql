-- Enrollment, contributions, payments and personal accounts (参保登记与缴费管理).
-- Conventions as in 0001: money in fen, dates 'yyyy-MM-dd', instants in Unix ms.

-- Enrollment gains its employer, why it stopped, whether the new-enrollee
-- waiting period is waived (newborns, transfers in with continuity).
ALTER TABLE enrollment ADD COLUMN emp_no TEXT;
ALTER TABLE enrollment ADD COLUMN stop_reason TEXT;
ALTER TABLE enrollment ADD COLUMN waiting_exempt BIGINT NOT NULL DEFAULT 0;
CREATE INDEX enrollment_emp ON enrollment (emp_no);
-- At most one open basic enrollment (职工 or 居民) per person, whatever the region.
CREATE UNIQUE INDEX enrollment_one_open_basic ON enrollment (psn_no)
    WHERE end_date IS NULL AND insutype IN ('310', '390', '391');

-- Contribution policy versions, per region and insurance type, from a date.
CREATE TABLE contribution_policy (
    id BIGINT PRIMARY KEY,
    region TEXT NOT NULL,
    insutype TEXT NOT NULL,
    name TEXT NOT NULL,
    begin_date TEXT NOT NULL,
    document TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (region, insutype, begin_date)
);

CREATE TABLE employer (
    emp_no TEXT PRIMARY KEY,
    uscc TEXT NOT NULL UNIQUE,
    emp_name TEXT NOT NULL,
    insu_admdvs TEXT NOT NULL,
    admdvs TEXT NOT NULL,
    address TEXT NOT NULL,
    contact TEXT NOT NULL,
    tel TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'cancelled')),
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX employer_region ON employer (insu_admdvs);

-- 缴费基数 declared per person and year (by the employer, or by a flexible
-- worker for themselves: emp_no '').
CREATE TABLE contribution_base (
    psn_no TEXT NOT NULL,
    year BIGINT NOT NULL,
    emp_no TEXT NOT NULL,
    base_fen BIGINT NOT NULL CHECK (base_fen > 0),
    declared_by TEXT NOT NULL,
    declared_at_ms BIGINT NOT NULL,
    PRIMARY KEY (psn_no, year)
);
CREATE INDEX contribution_base_emp ON contribution_base (emp_no, year);

-- Resident households (参保家庭) and their members.
CREATE TABLE household (
    hh_no TEXT PRIMARY KEY,
    head_psn_no TEXT NOT NULL,
    admdvs TEXT NOT NULL,
    address TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE TABLE household_member (
    psn_no TEXT PRIMARY KEY,
    hh_no TEXT NOT NULL REFERENCES household (hh_no),
    relation TEXT NOT NULL
);
CREATE INDEX household_member_hh ON household_member (hh_no);

-- A contribution bill: an employer's month, a flexible worker's month, or
-- a resident household's (or person's) year. `payer_key` makes assessment
-- idempotent: one bill per payer, insurance type and period.
CREATE TABLE bill (
    bill_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('employer_month', 'flexible_month', 'resident_year')),
    payer_key TEXT NOT NULL,
    insu_admdvs TEXT NOT NULL,
    insutype TEXT NOT NULL,
    period TEXT NOT NULL,
    emp_no TEXT,
    psn_no TEXT,
    hh_no TEXT,
    employer_share_fen BIGINT NOT NULL,
    personal_share_fen BIGINT NOT NULL,
    government_subsidy_fen BIGINT NOT NULL,
    assistance_paid_fen BIGINT NOT NULL,
    to_accounts_fen BIGINT NOT NULL,
    amount_due_fen BIGINT NOT NULL CHECK (amount_due_fen >= 0),
    status TEXT NOT NULL CHECK (status IN ('unpaid', 'paid', 'cancelled')),
    paid_date TEXT,
    paid_order_no TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    UNIQUE (payer_key, insutype, period)
);
CREATE INDEX bill_region_period ON bill (insu_admdvs, period);
CREATE INDEX bill_emp ON bill (emp_no);
CREATE INDEX bill_psn ON bill (psn_no);
CREATE INDEX bill_hh ON bill (hh_no);

-- One line per insured person of a bill; a person is assessed once per period.
CREATE TABLE bill_line (
    bill_id TEXT NOT NULL REFERENCES bill (bill_id),
    psn_no TEXT NOT NULL,
    enrollment_id BIGINT NOT NULL,
    period TEXT NOT NULL,
    category TEXT NOT NULL,
    base_fen BIGINT NOT NULL,
    employer_share_fen BIGINT NOT NULL,
    personal_share_fen BIGINT NOT NULL,
    government_subsidy_fen BIGINT NOT NULL,
    assistance_paid_fen BIGINT NOT NULL,
    to_account_fen BIGINT NOT NULL,
    PRIMARY KEY (bill_id, psn_no),
    UNIQUE (psn_no, period)
);

-- What was paid for whom, for which days: bills once paid, migrated history,
-- years brought in by a transfer. Benefit status is derived from these rows.
CREATE TABLE paid_period (
    id BIGINT PRIMARY KEY,
    psn_no TEXT NOT NULL,
    enrollment_id BIGINT NOT NULL,
    insutype TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    paid_on TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('bill', 'history', 'transfer_in')),
    source_ref TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (enrollment_id, start_date, source)
);
CREATE INDEX paid_period_psn ON paid_period (psn_no, start_date);

-- A payment order on a channel for a bill. Orders are closed, failed or paid,
-- never deleted.
CREATE TABLE payment_order (
    order_no TEXT PRIMARY KEY,
    bill_id TEXT NOT NULL REFERENCES bill (bill_id),
    channel TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('created', 'paid', 'closed', 'failed', 'refund_due')),
    channel_ref TEXT NOT NULL,
    channel_txn_id TEXT,
    late BIGINT NOT NULL DEFAULT 0,
    paid_date TEXT,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX payment_order_bill ON payment_order (bill_id);
CREATE INDEX payment_order_open ON payment_order (status, expires_at_ms);
CREATE INDEX payment_order_paid ON payment_order (channel, paid_date);

CREATE TABLE reconciliation (
    id BIGINT PRIMARY KEY,
    channel TEXT NOT NULL,
    day TEXT NOT NULL,
    matched BIGINT NOT NULL,
    missing BIGINT NOT NULL,
    extra BIGINT NOT NULL,
    mismatched BIGINT NOT NULL,
    report TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

-- Personal accounts: the balance and the last movement's sequence number.
CREATE TABLE account (
    psn_no TEXT PRIMARY KEY,
    insu_admdvs TEXT NOT NULL,
    balance_fen BIGINT NOT NULL CHECK (balance_fen >= 0),
    seq BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- Immutable movements with the running balance. (kind, reference, psn_no)
-- is unique, so a settlement is debited once and reversed once, a bill is
-- credited once and a retiree's month is allocated once.
CREATE TABLE account_movement (
    id BIGINT PRIMARY KEY,
    psn_no TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    balance_after_fen BIGINT NOT NULL CHECK (balance_after_fen >= 0),
    reference TEXT NOT NULL,
    related_ref TEXT,
    user_psn_no TEXT,
    authorization_id BIGINT,
    move_date TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (psn_no, seq),
    UNIQUE (kind, reference, psn_no)
);
CREATE INDEX account_movement_auth ON account_movement (authorization_id, move_date);

-- 家庭共济 authorizations.
CREATE TABLE family_authorization (
    id BIGINT PRIMARY KEY,
    owner_psn_no TEXT NOT NULL,
    user_psn_no TEXT NOT NULL,
    relation TEXT NOT NULL,
    yearly_limit_fen BIGINT NOT NULL,
    begin_date TEXT NOT NULL,
    end_date TEXT,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX family_authorization_owner ON family_authorization (owner_psn_no);
CREATE INDEX family_authorization_user ON family_authorization (user_psn_no);

-- 关系转移接续: out of one region, into another.
CREATE TABLE transfer (
    transfer_id TEXT PRIMARY KEY,
    psn_no TEXT NOT NULL,
    insutype TEXT NOT NULL,
    from_admdvs TEXT NOT NULL,
    to_admdvs TEXT NOT NULL,
    from_enrollment_id BIGINT NOT NULL,
    out_date TEXT NOT NULL,
    contribution_months BIGINT NOT NULL,
    account_balance_fen BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'completed')),
    to_enrollment_id BIGINT,
    in_date TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX transfer_psn ON transfer (psn_no);
