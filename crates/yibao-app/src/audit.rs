//! Writing the audit trail. A record is written in the same transaction as
//! the change it describes, so there is never a change without its record.

use serde::Serialize;
use serde_json::Value;
use yibao_domain::audit::mask_json;
use yibao_store::Tx;
use yibao_store::audit::{self as repo, AuditRecord};

use crate::ctx::Ctx;
use crate::error::AppResult;

/// Serializes and masks a before/after image.
pub fn image<T: Serialize>(value: &T) -> Option<String> {
    let mut v = serde_json::to_value(value).ok()?;
    mask_json(&mut v);
    Some(v.to_string())
}

pub struct Change<'a> {
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: &'a str,
    pub region: &'a str,
    pub before: Option<String>,
    pub after: Option<String>,
}

pub fn record(tx: &mut dyn Tx, ctx: &Ctx, change: Change<'_>) -> AppResult<()> {
    write(tx, ctx, change, "ok")
}

/// Records a refused attempt (e.g. a payment callback with a bad signature).
pub fn record_rejected(tx: &mut dyn Tx, ctx: &Ctx, change: Change<'_>, reason: &str) -> AppResult<()> {
    let mut after = Value::Object(Default::default());
    after["rejected_because"] = Value::String(reason.to_owned());
    let change = Change { after: change.after.or_else(|| Some(after.to_string())), ..change };
    write(tx, ctx, change, "rejected")
}

fn write(tx: &mut dyn Tx, ctx: &Ctx, c: Change<'_>, outcome: &str) -> AppResult<()> {
    repo::insert(
        tx,
        &AuditRecord {
            id: yibao_store::ids::next_id(),
            at_ms: ctx.now_ms,
            actor_kind: ctx.actor.kind.as_str().into(),
            actor_id: ctx.actor.id.clone(),
            actor_name: ctx.actor.name.clone(),
            ip: ctx.ip.clone(),
            request_id: ctx.request_id.clone(),
            action: c.action.into(),
            target_kind: c.target_kind.into(),
            target_id: yibao_domain::resident_id::mask_if_id(c.target_id),
            region: c.region.into(),
            outcome: outcome.into(),
            before_json: c.before,
            after_json: c.after,
        },
    )?;
    Ok(())
}

/// A query of the audit trail as the API takes it.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub action: Option<String>,
    /// From this instant (Unix milliseconds).
    pub from_ms: Option<i64>,
    /// Up to this instant (Unix milliseconds).
    pub to_ms: Option<i64>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// An audit record as the API shows it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: yibao_domain::DateTime,
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
    #[schema(value_type = Object)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Object)]
    pub after: Option<serde_json::Value>,
}

/// Reads the audit trail within the caller's region scope (监管, 管理员).
pub async fn query(app: &crate::App, ctx: &Ctx, q: AuditQuery) -> AppResult<Vec<AuditEntry>> {
    ctx.require(yibao_domain::auth::Permission::ReadAudit)?;
    let (limit, offset) = crate::paging(q.limit, q.offset)?;
    let query = repo::Query {
        region_prefix: ctx.actor.scope.prefix().to_owned(),
        target_kind: q.target_kind.unwrap_or_default(),
        target_id: q.target_id.unwrap_or_default(),
        action: q.action.unwrap_or_default(),
        from_ms: q.from_ms.unwrap_or(0),
        to_ms: q.to_ms.unwrap_or(i64::MAX),
        limit,
        offset,
    };
    let rows = app.db.read(move |tx: &mut dyn Tx| Ok::<_, crate::AppError>(repo::query(tx, &query)?)).await?;
    let parse = |s: Option<String>| s.and_then(|j| serde_json::from_str(&j).ok());
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: yibao_domain::DateTime::from_unix_ms(r.at_ms),
            at_ms: r.at_ms,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            actor_name: r.actor_name,
            ip: r.ip,
            request_id: r.request_id,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            region: r.region,
            outcome: r.outcome,
            before: parse(r.before_json),
            after: parse(r.after_json),
        })
        .collect())
}
