//! Institutions' gateway credentials and the platform's key pairs.

use crate::params;
use crate::sql::{DbResult, Row, Tx};

/// A credential row. `secret` is the issued secret (TIF / HMAC-SM3 text) or
/// the SM4 key (hex) of `sm2_sm4`; `public_key` the institution's SM2 public
/// key (hex, `sm2_sm4` only).
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: i64,
    pub fixmedins_code: String,
    pub method: String,
    pub client_id: String,
    pub secret: String,
    pub public_key: Option<String>,
    pub status: String,
    pub valid_until_ms: Option<i64>,
    pub replaced_by: Option<i64>,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("id", &self.id)
            .field("fixmedins_code", &self.fixmedins_code)
            .field("method", &self.method)
            .field("status", &self.status)
            .field("secret", &"***")
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, fixmedins_code, method, client_id, secret, public_key, status, valid_until_ms, replaced_by, \
                       created_at_ms, revoked_at_ms";

fn from_row(r: &Row) -> DbResult<Credential> {
    Ok(Credential {
        id: r.i64(0)?,
        fixmedins_code: r.text(1)?,
        method: r.text(2)?,
        client_id: r.text(3)?,
        secret: r.text(4)?,
        public_key: r.opt_text(5)?,
        status: r.text(6)?,
        valid_until_ms: r.get(7)?,
        replaced_by: r.get(8)?,
        created_at_ms: r.i64(9)?,
        revoked_at_ms: r.get(10)?,
    })
}

pub fn insert(tx: &mut dyn Tx, c: &Credential) -> DbResult<()> {
    tx.execute(
        &format!("INSERT INTO fsi_credential ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
        params![
            c.id,
            c.fixmedins_code.as_str(),
            c.method.as_str(),
            c.client_id.as_str(),
            c.secret.as_str(),
            c.public_key.clone(),
            c.status.as_str(),
            c.valid_until_ms,
            c.replaced_by,
            c.created_at_ms,
            c.revoked_at_ms
        ],
    )?;
    Ok(())
}

pub fn get(tx: &mut dyn Tx, id: i64) -> DbResult<Option<Credential>> {
    let sql = format!("SELECT {COLUMNS} FROM fsi_credential WHERE id = $1{}", tx.for_update());
    tx.query_opt(&sql, params![id])?.map(|r| from_row(&r)).transpose()
}

/// Every credential of an institution, newest first.
pub fn of_institution(tx: &mut dyn Tx, code: &str) -> DbResult<Vec<Credential>> {
    tx.query(
        &format!("SELECT {COLUMNS} FROM fsi_credential WHERE fixmedins_code = $1 ORDER BY created_at_ms DESC, id DESC"),
        params![code],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// The credentials accepted at `now_ms`: the active one and rotated ones
/// still in their grace period.
pub fn valid(tx: &mut dyn Tx, code: &str, now_ms: i64) -> DbResult<Vec<Credential>> {
    tx.query(
        &format!(
            "SELECT {COLUMNS} FROM fsi_credential WHERE fixmedins_code = $1 \
             AND (status = 'active' OR (status = 'rotated' AND valid_until_ms > $2)) ORDER BY id DESC LIMIT 4"
        ),
        params![code, now_ms],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Marks the active credential `id` rotated (accepted until `valid_until_ms`).
pub fn mark_rotated(tx: &mut dyn Tx, id: i64, valid_until_ms: i64, replaced_by: i64) -> DbResult<u64> {
    tx.execute(
        "UPDATE fsi_credential SET status = 'rotated', valid_until_ms = $1, replaced_by = $2 \
         WHERE id = $3 AND status = 'active'",
        params![valid_until_ms, replaced_by, id],
    )
}

pub fn revoke(tx: &mut dyn Tx, id: i64, now_ms: i64) -> DbResult<u64> {
    tx.execute(
        "UPDATE fsi_credential SET status = 'revoked', revoked_at_ms = $1 WHERE id = $2 AND status <> 'revoked'",
        params![now_ms, id],
    )
}

/// A platform key pair: (secret key hex, public key hex).
pub fn platform_key(tx: &mut dyn Tx, name: &str) -> DbResult<Option<(String, String)>> {
    tx.query_opt("SELECT secret_key, public_key FROM platform_key WHERE name = $1", params![name])?
        .map(|r| Ok((r.text(0)?, r.text(1)?)))
        .transpose()
}

/// Stores a key pair unless one of that name exists (two nodes starting at once keep the first).
pub fn insert_platform_key(
    tx: &mut dyn Tx,
    name: &str,
    algorithm: &str,
    secret_hex: &str,
    public_hex: &str,
    now_ms: i64,
) -> DbResult<()> {
    tx.execute(
        "INSERT INTO platform_key (name, algorithm, secret_key, public_key, created_at_ms) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name) DO NOTHING",
        params![name, algorithm, secret_hex, public_hex, now_ms],
    )?;
    Ok(())
}
