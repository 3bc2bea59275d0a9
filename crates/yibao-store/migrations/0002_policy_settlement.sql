-- Policies as data, year-to-date accumulators, and the settlement record.

-- A policy version for one pooling region and insurance type, in force from
-- begin_date to end_date (inclusive). Versions are never edited: a change is
-- a new version, and the old one is ended or retired.
CREATE TABLE policy (
    id BIGINT PRIMARY KEY,
    region TEXT NOT NULL,
    insutype TEXT NOT NULL,
    name TEXT NOT NULL,
    begin_date TEXT NOT NULL,
    end_date TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'retired')),
    document TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX policy_region ON policy (region, insutype, begin_date);

-- Year-to-date accumulators per person, insurance type and scheme year,
-- stored as the domain's Accumulators document. `version` increases with
-- every change (optimistic concurrency).
CREATE TABLE accumulator (
    psn_no TEXT NOT NULL,
    insutype TEXT NOT NULL,
    year BIGINT NOT NULL,
    insu_admdvs TEXT NOT NULL,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (psn_no, insutype, year)
);

-- One row per settlement and one per reversal (negative amounts,
-- reversal_of = the settlement reversed). Amounts in fen. Rows are never
-- updated except the `reversed_by` link of a settlement that was reversed.
CREATE TABLE settlement (
    setl_id TEXT PRIMARY KEY,
    mdtrt_id TEXT NOT NULL,
    psn_no TEXT NOT NULL,
    insutype TEXT NOT NULL,
    psn_type TEXT NOT NULL,
    med_type TEXT NOT NULL,
    clr_type TEXT NOT NULL,
    clr_way TEXT NOT NULL,
    insu_admdvs TEXT NOT NULL,
    mdtrtarea_admvs TEXT NOT NULL,
    fixmedins_code TEXT NOT NULL,
    medins_setl_id TEXT NOT NULL,
    setl_time TEXT NOT NULL,
    setl_date TEXT NOT NULL,
    scheme_year BIGINT NOT NULL,
    medfee_sumamt_fen BIGINT NOT NULL,
    fulamt_ownpay_amt_fen BIGINT NOT NULL,
    overlmt_selfpay_fen BIGINT NOT NULL,
    preselfpay_amt_fen BIGINT NOT NULL,
    inscp_scp_amt_fen BIGINT NOT NULL,
    act_pay_dedc_fen BIGINT NOT NULL,
    hifp_pay_fen BIGINT NOT NULL,
    pool_prop_selfpay_ppm BIGINT NOT NULL,
    cvlserv_pay_fen BIGINT NOT NULL,
    hifes_pay_fen BIGINT NOT NULL,
    hifmi_pay_fen BIGINT NOT NULL,
    hifob_pay_fen BIGINT NOT NULL,
    maf_pay_fen BIGINT NOT NULL,
    oth_pay_fen BIGINT NOT NULL,
    fund_pay_sumamt_fen BIGINT NOT NULL,
    psn_part_amt_fen BIGINT NOT NULL,
    acct_pay_fen BIGINT NOT NULL,
    acct_mulaid_pay_fen BIGINT NOT NULL,
    psn_cash_pay_fen BIGINT NOT NULL,
    hosp_part_amt_fen BIGINT NOT NULL,
    balc_fen BIGINT NOT NULL,
    policy_id BIGINT NOT NULL,
    setldetail TEXT NOT NULL,
    accumulator_delta TEXT NOT NULL,
    reversal_of TEXT,
    reversed_by TEXT,
    msgid TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX settlement_mdtrt ON settlement (mdtrt_id);
CREATE INDEX settlement_psn ON settlement (psn_no, setl_date);
CREATE INDEX settlement_inst_date ON settlement (fixmedins_code, setl_date);
CREATE INDEX settlement_region_date ON settlement (insu_admdvs, setl_date);
