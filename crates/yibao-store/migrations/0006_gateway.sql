-- Gateway authentication of the national interface: institutions'
-- credentials (issued, rotated and revoked by staff) and the platform's own
-- key pairs (SM2: gateway response signatures and e-voucher tokens).
--
-- Secrets are stored as issued: HMAC-style verification needs the secret
-- itself, so it cannot be hashed. Whoever can read this table can act as
-- any institution; back-ups and database access must be protected as such.

CREATE TABLE fsi_credential (
    id BIGINT PRIMARY KEY,
    fixmedins_code TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('tif', 'hmac_sm3', 'sm2_sm4')),
    client_id TEXT NOT NULL,
    secret TEXT NOT NULL,
    public_key TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'rotated', 'revoked')),
    -- Instant after which a rotated credential stops being accepted.
    valid_until_ms BIGINT,
    replaced_by BIGINT,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);
CREATE INDEX fsi_credential_inst ON fsi_credential (fixmedins_code, status);
-- At most one active credential per institution (rotation replaces it).
CREATE UNIQUE INDEX fsi_credential_one_active ON fsi_credential (fixmedins_code) WHERE status = 'active';

CREATE TABLE platform_key (
    name TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    secret_key TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
