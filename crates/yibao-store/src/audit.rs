//! The audit trail: append-only. There is no update or delete function here
//! by design.

use crate::params;
use crate::sql::{DbResult, Tx};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at_ms: i64,
    pub actor_kind: String,
    pub actor_id: String,
    pub actor_name: String,
    pub ip: String,
    pub request_id: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub region: String,
    pub outcome: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
}

const COLUMNS: &str = "id, at_ms, actor_kind, actor_id, actor_name, ip, request_id, action, target_kind, target_id, \
    region, outcome, before_json, after_json";

pub fn insert(tx: &mut dyn Tx, r: &AuditRecord) -> DbResult<()> {
    tx.execute(
        &format!(
            "INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ),
        params![
            r.id,
            r.at_ms,
            r.actor_kind.as_str(),
            r.actor_id.as_str(),
            r.actor_name.as_str(),
            r.ip.as_str(),
            r.request_id.as_str(),
            r.action.as_str(),
            r.target_kind.as_str(),
            r.target_id.as_str(),
            r.region.as_str(),
            r.outcome.as_str(),
            r.before_json.clone(),
            r.after_json.clone()
        ],
    )?;
    Ok(())
}

#[derive(Clone, Debug, Default)]
pub struct Query {
    pub region_prefix: String,
    pub target_kind: String,
    pub target_id: String,
    pub action: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub limit: i64,
    pub offset: i64,
}

pub fn query(tx: &mut dyn Tx, q: &Query) -> DbResult<Vec<AuditRecord>> {
    let rows = tx.query(
        &format!(
            "SELECT {COLUMNS} FROM audit_log WHERE region LIKE $1 AND ($2 = '' OR target_kind = $2) \
             AND ($3 = '' OR target_id = $3) AND ($4 = '' OR action = $4) AND at_ms >= $5 AND at_ms <= $6 \
             ORDER BY id DESC LIMIT $7 OFFSET $8"
        ),
        params![
            format!("{}%", crate::catalog::escape_like(&q.region_prefix)),
            q.target_kind.as_str(),
            q.target_id.as_str(),
            q.action.as_str(),
            q.from_ms,
            q.to_ms,
            q.limit,
            q.offset
        ],
    )?;
    rows.iter()
        .map(|r| {
            Ok(AuditRecord {
                id: r.i64(0)?,
                at_ms: r.i64(1)?,
                actor_kind: r.text(2)?,
                actor_id: r.text(3)?,
                actor_name: r.text(4)?,
                ip: r.text(5)?,
                request_id: r.text(6)?,
                action: r.text(7)?,
                target_kind: r.text(8)?,
                target_id: r.text(9)?,
                region: r.text(10)?,
                outcome: r.text(11)?,
                before_json: r.get(12)?,
                after_json: r.get(13)?,
            })
        })
        .collect()
}
