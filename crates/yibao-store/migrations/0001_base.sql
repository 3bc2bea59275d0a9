-- yibao base schema: reference data, catalog, institutions, persons and
-- enrollment, staff and sessions, audit trail.
-- Conventions: money in fen (BIGINT), ratios in millionths (BIGINT), dates as
-- 'yyyy-MM-dd' TEXT, instants as Unix milliseconds (BIGINT), booleans 0/1.

CREATE TABLE reference_dataset (
    name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    loaded_at_ms BIGINT NOT NULL
);

CREATE TABLE division (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    level BIGINT NOT NULL CHECK (level IN (1, 2, 3)),
    parent_code TEXT,
    stat_only BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX division_parent ON division (parent_code);

CREATE TABLE code_value (
    field TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    field_label TEXT NOT NULL,
    national BIGINT NOT NULL,
    PRIMARY KEY (field, code)
);

CREATE TABLE diagnosis (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    pinyin TEXT NOT NULL
);
CREATE INDEX diagnosis_pinyin ON diagnosis (pinyin);

CREATE TABLE diagnosis_map (
    from_code TEXT PRIMARY KEY,
    to_code TEXT NOT NULL
);

CREATE TABLE procedure_item (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    pinyin TEXT NOT NULL
);
CREATE INDEX procedure_item_pinyin ON procedure_item (pinyin);

CREATE TABLE procedure_map (
    from_code TEXT PRIMARY KEY,
    to_code TEXT NOT NULL
);

CREATE TABLE drug_category (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    parent_code TEXT,
    section TEXT NOT NULL
);

-- 两库 rules attached to product-level drug codes (限定性别/年龄/机构等级/…).
CREATE TABLE drug_code_rule (
    code TEXT NOT NULL,
    limit_type TEXT NOT NULL,
    limit_value TEXT NOT NULL,
    PRIMARY KEY (code, limit_type, limit_value)
);

CREATE TABLE drug_limit_rule (
    name TEXT NOT NULL,
    limit_type TEXT NOT NULL,
    limit_value TEXT NOT NULL,
    limit_note TEXT NOT NULL,
    PRIMARY KEY (name, limit_type, limit_value)
);

-- The catalog: national drugs (generic entries and product codes), herbal
-- pieces, service items, consumables.
CREATE TABLE catalog_item (
    code TEXT PRIMARY KEY,
    list_type TEXT NOT NULL,
    name TEXT NOT NULL,
    class TEXT,
    selfpay_prop_ppm BIGINT,
    price_cap_fen BIGINT,
    price_cap_unit TEXT,
    restriction TEXT,
    dosage_form TEXT,
    category_code TEXT,
    category_name TEXT,
    negotiated BIGINT NOT NULL DEFAULT 0,
    generic_code TEXT,
    agreement_begin TEXT,
    agreement_end TEXT,
    begin_date TEXT NOT NULL,
    end_date TEXT,
    pinyin TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX catalog_item_list_type ON catalog_item (list_type, class);
CREATE INDEX catalog_item_pinyin ON catalog_item (pinyin);
CREATE INDEX catalog_item_generic ON catalog_item (generic_code);

-- Regional changes to items or kinds of items, effective for a period.
CREATE TABLE catalog_override (
    id BIGINT PRIMARY KEY,
    region_prefix TEXT NOT NULL,
    code TEXT,
    list_type TEXT,
    class_filter TEXT,
    begin_date TEXT NOT NULL,
    end_date TEXT,
    class TEXT,
    selfpay_prop_ppm BIGINT,
    price_cap_fen BIGINT,
    restriction TEXT,
    note TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX catalog_override_code ON catalog_override (code);

CREATE TABLE institution (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('hospital', 'pharmacy')),
    hosp_lv TEXT,
    admdvs TEXT NOT NULL,
    address TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'terminated')),
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX institution_admdvs ON institution (admdvs);

CREATE TABLE institution_agreement (
    agreement_no TEXT PRIMARY KEY,
    institution_code TEXT NOT NULL REFERENCES institution (code),
    begin_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'terminated')),
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX institution_agreement_inst ON institution_agreement (institution_code);

CREATE TABLE person (
    psn_no TEXT PRIMARY KEY,
    psn_cert_type TEXT NOT NULL,
    certno TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    gend TEXT NOT NULL,
    brdy TEXT NOT NULL,
    naty TEXT NOT NULL,
    admdvs TEXT NOT NULL,
    tel TEXT NOT NULL,
    address TEXT NOT NULL,
    death_date TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX person_admdvs ON person (admdvs);

-- One row per period of insurance under one scheme in one region.
CREATE TABLE enrollment (
    id BIGINT PRIMARY KEY,
    psn_no TEXT NOT NULL REFERENCES person (psn_no),
    insutype TEXT NOT NULL,
    psn_type TEXT NOT NULL,
    insu_admdvs TEXT NOT NULL,
    begin_date TEXT NOT NULL,
    end_date TEXT,
    status TEXT NOT NULL,
    cvlserv_flag BIGINT NOT NULL DEFAULT 0,
    assistance_category TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX enrollment_psn ON enrollment (psn_no);
CREATE INDEX enrollment_region ON enrollment (insu_admdvs, insutype);

CREATE TABLE staff (
    id BIGINT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL,
    region_scope TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE staff_session (
    token_sha256 TEXT PRIMARY KEY,
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX staff_session_staff ON staff_session (staff_id);

-- Append-only: rows are inserted, never updated or deleted.
CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    ip TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    region TEXT NOT NULL,
    outcome TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX audit_log_target ON audit_log (target_kind, target_id);
CREATE INDEX audit_log_at ON audit_log (at_ms);
