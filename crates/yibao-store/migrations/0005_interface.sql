-- The national interface for designated institutions: sign-ins, visits, fee
-- lines, the message log (idempotency and 冲正), files for download, and
-- institution credentials for gateway authentication.

CREATE TABLE fsi_signin (
    sign_no TEXT PRIMARY KEY,
    fixmedins_code TEXT NOT NULL,
    opter TEXT NOT NULL,
    opter_name TEXT NOT NULL,
    mac TEXT NOT NULL,
    ip TEXT NOT NULL,
    sign_time TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    signed_out_at_ms BIGINT,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX fsi_signin_inst ON fsi_signin (fixmedins_code, opter);

-- One row per visit (门诊挂号 / 入院 / 药店购药). The state is derived from the
-- fact columns (cancelled, discharged, active_lines, settled_setl_id,
-- pre_settled): see yibao-domain/src/visit.rs.
CREATE TABLE visit (
    mdtrt_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('outpatient', 'inpatient', 'pharmacy')),
    fixmedins_code TEXT NOT NULL,
    psn_no TEXT NOT NULL,
    insutype TEXT NOT NULL,
    med_type TEXT NOT NULL,
    insu_admdvs TEXT NOT NULL,
    mdtrtarea_admvs TEXT NOT NULL,
    mdtrt_cert_type TEXT NOT NULL,
    ipt_otp_no TEXT NOT NULL,
    begntime TEXT NOT NULL,
    endtime TEXT,
    cancelled BIGINT NOT NULL DEFAULT 0,
    discharged BIGINT NOT NULL DEFAULT 0,
    pre_settled BIGINT NOT NULL DEFAULT 0,
    active_lines BIGINT NOT NULL DEFAULT 0,
    settled_setl_id TEXT,
    info TEXT NOT NULL,
    diagnoses TEXT NOT NULL,
    discharge_info TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX visit_inst ON visit (fixmedins_code, begntime);
CREATE INDEX visit_psn ON visit (psn_no, begntime);

-- Fee lines as uploaded (2204 / 2301 / pharmacy), with the classification
-- the platform answered at upload time. Cancelled lines stay, marked.
CREATE TABLE fee_detail (
    mdtrt_id TEXT NOT NULL,
    feedetl_sn TEXT NOT NULL,
    chrg_bchno TEXT NOT NULL,
    psn_no TEXT NOT NULL,
    med_list_codg TEXT NOT NULL,
    medins_list_codg TEXT NOT NULL,
    list_type TEXT NOT NULL,
    item_name TEXT NOT NULL,
    fee_ocur_time TEXT NOT NULL,
    cnt_e4 BIGINT NOT NULL,
    pric_e6 BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    chrgitm_lv TEXT,
    selfpay_prop_ppm BIGINT NOT NULL,
    price_cap_fen BIGINT,
    fulamt_ownpay_amt_fen BIGINT NOT NULL,
    overlmt_amt_fen BIGINT NOT NULL,
    preselfpay_amt_fen BIGINT NOT NULL,
    inscp_scp_amt_fen BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),
    extra TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (mdtrt_id, feedetl_sn)
);
CREATE INDEX fee_detail_batch ON fee_detail (mdtrt_id, chrg_bchno);

-- Successful state-changing messages, by institution and msgid: a retry of
-- the same message is answered from here without acting again, and 2601
-- finds here what a message did in order to reverse it. A reversal of a
-- message that never arrived leaves a tombstone (infno 2601 target) so a
-- late arrival is refused.
CREATE TABLE fsi_message (
    fixmedins_code TEXT NOT NULL,
    msgid TEXT NOT NULL,
    infno TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    inf_refmsgid TEXT NOT NULL,
    output TEXT,
    effect TEXT,
    reversed_by TEXT,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (fixmedins_code, msgid)
);

-- Files prepared for download (catalogue downloads 1301–1321, reconciliation
-- results), fetched with 9102 by file_qury_no.
CREATE TABLE fsi_file (
    file_qury_no TEXT PRIMARY KEY,
    fixmedins_code TEXT NOT NULL,
    filename TEXT NOT NULL,
    content BLOB NOT NULL,
    data_cnt BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
