//! Staff accounts and login sessions. Passwords are stored only as argon2
//! hashes; session tokens only as their SHA-256.

use yibao_domain::auth::{RegionScope, Role};

use crate::params;
use crate::sql::{DbError, DbResult, Row, Tx};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staff {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub region_scope: RegionScope,
    pub active: bool,
}

const COLUMNS: &str = "id, username, display_name, password_hash, roles, region_scope, active";

fn from_row(r: &Row) -> DbResult<Staff> {
    let roles = r
        .text(4)?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| Role::parse(s).map_err(|e| DbError::decode(e.reason)))
        .collect::<DbResult<Vec<_>>>()?;
    Ok(Staff {
        id: r.i64(0)?,
        username: r.text(1)?,
        display_name: r.text(2)?,
        password_hash: r.text(3)?,
        roles,
        region_scope: RegionScope::parse(&r.text(5)?).map_err(|e| DbError::decode(e.reason))?,
        active: r.bool(6)?,
    })
}

fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

/// Inserts a staff account; `Ok(false)` when the username is taken.
pub fn insert(tx: &mut dyn Tx, s: &Staff, now_ms: i64) -> DbResult<bool> {
    let n = tx.execute(
        &format!(
            "INSERT INTO staff ({COLUMNS}, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             ON CONFLICT (username) DO NOTHING"
        ),
        params![
            s.id,
            s.username.as_str(),
            s.display_name.as_str(),
            s.password_hash.as_str(),
            roles_text(&s.roles),
            s.region_scope.prefix(),
            s.active,
            now_ms
        ],
    )?;
    Ok(n == 1)
}

pub fn by_username(tx: &mut dyn Tx, username: &str) -> DbResult<Option<Staff>> {
    tx.query_opt(&format!("SELECT {COLUMNS} FROM staff WHERE username = $1"), params![username])?
        .map(|r| from_row(&r))
        .transpose()
}

pub fn by_id(tx: &mut dyn Tx, id: i64) -> DbResult<Option<Staff>> {
    tx.query_opt(&format!("SELECT {COLUMNS} FROM staff WHERE id = $1"), params![id])?.map(|r| from_row(&r)).transpose()
}

pub fn list(tx: &mut dyn Tx, scope_prefix: &str) -> DbResult<Vec<Staff>> {
    tx.query(
        &format!("SELECT {COLUMNS} FROM staff WHERE region_scope LIKE $1 ORDER BY id"),
        params![format!("{}%", crate::catalog::escape_like(scope_prefix))],
    )?
    .iter()
    .map(from_row)
    .collect()
}

pub fn set_password(tx: &mut dyn Tx, id: i64, password_hash: &str, now_ms: i64) -> DbResult<u64> {
    tx.execute(
        "UPDATE staff SET password_hash = $1, updated_at_ms = $2 WHERE id = $3",
        params![password_hash, now_ms, id],
    )
}

pub fn set_active(tx: &mut dyn Tx, id: i64, active: bool, now_ms: i64) -> DbResult<u64> {
    tx.execute("UPDATE staff SET active = $1, updated_at_ms = $2 WHERE id = $3", params![active, now_ms, id])
}

pub fn count(tx: &mut dyn Tx) -> DbResult<i64> {
    tx.query_one("SELECT COUNT(*) FROM staff", params![])?.i64(0)
}

pub fn insert_session(
    tx: &mut dyn Tx,
    token_sha256: &str,
    staff_id: i64,
    now_ms: i64,
    expires_at_ms: i64,
) -> DbResult<()> {
    tx.execute(
        "INSERT INTO staff_session (token_sha256, staff_id, created_at_ms, expires_at_ms, revoked) VALUES ($1, $2, $3, $4, 0)",
        params![token_sha256, staff_id, now_ms, expires_at_ms],
    )?;
    Ok(())
}

/// The staff member behind a live session token (not revoked, not expired, account active).
pub fn session_staff(tx: &mut dyn Tx, token_sha256: &str, now_ms: i64) -> DbResult<Option<(Staff, i64)>> {
    let row = tx.query_opt(
        "SELECT staff_id, expires_at_ms FROM staff_session WHERE token_sha256 = $1 AND revoked = 0 AND expires_at_ms > $2",
        params![token_sha256, now_ms],
    )?;
    let Some(row) = row else { return Ok(None) };
    let expires = row.i64(1)?;
    Ok(by_id(tx, row.i64(0)?)?.filter(|s| s.active).map(|s| (s, expires)))
}

pub fn revoke_session(tx: &mut dyn Tx, token_sha256: &str) -> DbResult<u64> {
    tx.execute("UPDATE staff_session SET revoked = 1 WHERE token_sha256 = $1", params![token_sha256])
}

pub fn revoke_all_sessions(tx: &mut dyn Tx, staff_id: i64) -> DbResult<u64> {
    tx.execute("UPDATE staff_session SET revoked = 1 WHERE staff_id = $1", params![staff_id])
}
