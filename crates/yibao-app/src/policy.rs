//! Policies as data: versions per pooling region and insurance type, each in
//! force for a period, created and changed through the API, never edited in
//! place. A change of rules from a date is a new version; the previous one is
//! ended the day before (in the same transaction).
//!
//! The settlement path looks policies up on every visit, so active versions
//! are cached in memory and the cache is dropped on every change made
//! through this node.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use yibao_domain::auth::Permission;
use yibao_domain::codes::Insutype;
use yibao_domain::policy::{Policy, ValidPolicy, periods_overlap};
use yibao_domain::{Date, FieldError};
use yibao_store::Tx;
use yibao_store::policy::{self as repo, PolicyRow};

use crate::audit::{self, Change};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::{App, paging};

/// A stored policy version as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyVersion {
    pub id: i64,
    pub region: String,
    pub insutype: Insutype,
    pub name: String,
    pub begin_date: Date,
    pub end_date: Option<Date>,
    /// `active` or `retired`.
    pub status: String,
    pub sha256: String,
    pub created_by: String,
    pub created_at_ms: i64,
    /// The policy document (see docs/policy.md).
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

fn view(row: &PolicyRow) -> PolicyVersion {
    PolicyVersion {
        id: row.id,
        region: row.region.clone(),
        insutype: row.insutype,
        name: row.name.clone(),
        begin_date: row.begin_date,
        end_date: row.end_date,
        status: row.status.clone(),
        sha256: row.sha256.clone(),
        created_by: row.created_by.clone(),
        created_at_ms: row.created_at_ms,
        document: serde_json::from_str(&row.document).unwrap_or(serde_json::Value::Null),
    }
}

fn document_of(policy: &Policy) -> (String, String) {
    let json = serde_json::to_string(policy).expect("a policy serializes");
    let sha = hex::encode(Sha256::digest(json.as_bytes()));
    (json, sha)
}

/// Parses a stored document back into a policy (it was validated when stored).
fn parse_stored(row: &PolicyRow) -> AppResult<ValidPolicy> {
    ValidPolicy::from_json_str(&row.document)
        .map_err(|e| AppError::Internal(format!("stored policy {} no longer validates: {}", row.id, e)))
}

/// Active versions of each (region, insurance type), oldest first.
type VersionMap = HashMap<(String, Insutype), Vec<(i64, Arc<ValidPolicy>)>>;

/// Active policy versions in memory, keyed by (region, insutype).
#[derive(Clone, Default)]
pub struct PolicyCache {
    versions: Arc<RwLock<Option<Arc<VersionMap>>>>,
    /// One load at a time (see `CatalogCache::loading`).
    loading: Arc<tokio::sync::Mutex<()>>,
}

impl PolicyCache {
    pub fn invalidate(&self) {
        *self.versions.write().unwrap() = None;
    }

    async fn load(&self, app: &App) -> AppResult<Arc<VersionMap>> {
        if let Some(v) = self.versions.read().unwrap().clone() {
            return Ok(v);
        }
        let _loading = self.loading.lock().await;
        if let Some(v) = self.versions.read().unwrap().clone() {
            return Ok(v);
        }
        let rows = app.db.read(|tx: &mut dyn Tx| Ok::<_, AppError>(repo::all_active(tx)?)).await?;
        let mut map = VersionMap::new();
        for row in &rows {
            map.entry((row.region.clone(), row.insutype)).or_default().push((row.id, Arc::new(parse_stored(row)?)));
        }
        let map = Arc::new(map);
        *self.versions.write().unwrap() = Some(map.clone());
        Ok(map)
    }

    /// All active versions, for lookups inside a DB job.
    pub async fn snapshot(&self, app: &App) -> AppResult<PolicySnapshot> {
        Ok(PolicySnapshot(self.load(app).await?))
    }

    /// The version in force for a region on a date: the region's own, else its
    /// prefecture's (xxxx00), else its province's (xx0000) — a province-wide
    /// 省级统筹 policy applies to every city without one of its own.
    pub async fn in_force(
        &self,
        app: &App,
        region: &str,
        insutype: Insutype,
        date: Date,
    ) -> AppResult<(i64, Arc<ValidPolicy>)> {
        let map = self.load(app).await?;
        find_in_force(&map, region, insutype, date).ok_or_else(|| {
            AppError::invalid(
                "insuplc_admdvs",
                format!("统筹区 {region} 在 {date} 没有有效的{}待遇政策", insutype.name()),
            )
        })
    }
}

/// The active policy versions at one moment (cheap to clone).
#[derive(Clone)]
pub struct PolicySnapshot(Arc<VersionMap>);

impl PolicySnapshot {
    /// The version in force for a region on a date (see [`PolicyCache::in_force`]).
    pub fn in_force(&self, region: &str, insutype: Insutype, date: Date) -> AppResult<(i64, Arc<ValidPolicy>)> {
        find_in_force(&self.0, region, insutype, date).ok_or_else(|| {
            AppError::invalid(
                "insuplc_admdvs",
                format!("统筹区 {region} 在 {date} 没有有效的{}待遇政策", insutype.name()),
            )
        })
    }
}

fn find_in_force(map: &VersionMap, region: &str, insutype: Insutype, date: Date) -> Option<(i64, Arc<ValidPolicy>)> {
    let mut candidates = vec![region.to_owned()];
    if region.len() == 6 {
        candidates.push(format!("{}00", &region[..4]));
        candidates.push(format!("{}0000", &region[..2]));
    }
    candidates.dedup();
    candidates.into_iter().find_map(|r| {
        map.get(&(r, insutype))?.iter().find(|(_, p)| p.in_force_on(date)).map(|(id, p)| (*id, p.clone()))
    })
}

/// A new version, optionally superseding (ending) an existing one.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPolicy {
    /// The policy document (see docs/policy.md).
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
    /// The id of the version this one replaces from its begin date: that
    /// version is ended the day before, in the same transaction.
    pub supersedes: Option<i64>,
}

/// Parses a policy document, naming the field on error.
pub fn parse_document(value: &serde_json::Value) -> AppResult<ValidPolicy> {
    // Parse from text, not from the `Value`: deserializing a `Value` hands
    // decimals to the visitor as binary floats, which money types refuse;
    // from text they arrive as their exact digits.
    let text = value.to_string();
    let mut de = serde_json::Deserializer::from_str(&text);
    let policy: Policy = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        AppError::Invalid(vec![FieldError::new(
            if path == "." { "policy".to_owned() } else { format!("policy.{path}") },
            format!("政策格式错误：{}", e.inner()),
        )])
    })?;
    ValidPolicy::new(policy).map_err(|e| AppError::Invalid(vec![e.within("policy")]))
}

pub async fn create(app: &App, ctx: &Ctx, input: NewPolicy) -> AppResult<PolicyVersion> {
    ctx.require(Permission::WritePolicy)?;
    let policy = parse_document(&input.policy)?.into_inner();
    app.divisions().parse(&policy.region).map_err(|e| e.named("policy.region"))?;
    ctx.require_region(&policy.region)?;
    let ctx2 = ctx.clone();
    let row = app
        .db
        .write(move |tx: &mut dyn Tx| {
            let versions = repo::versions(tx, &policy.region, policy.insutype)?;
            if let Some(id) = input.supersedes {
                let old = versions
                    .iter()
                    .find(|v| v.id == id)
                    .ok_or_else(|| AppError::invalid("supersedes", format!("政策版本 {id} 不存在或已停用")))?;
                if policy.begin_date <= old.begin_date {
                    return Err(AppError::invalid("policy.begin_date", "新版本的开始日期应晚于被替代版本的开始日期"));
                }
                let end = policy.begin_date.add_days(-1);
                if old.end_date.is_none_or(|e| e > end) {
                    if repo::used_since(tx, old.id, policy.begin_date)? {
                        return Err(AppError::Conflict(format!(
                            "政策版本 {id} 在 {} 之后已用于结算，不能追溯替代",
                            policy.begin_date
                        )));
                    }
                    let mut ended = parse_stored(old)?.into_inner();
                    ended.end_date = Some(end);
                    let (doc, sha) = document_of(&ended);
                    repo::end(tx, old.id, end, &doc, &sha)?;
                    audit::record(
                        tx,
                        &ctx2,
                        Change {
                            action: "policy.end",
                            target_kind: "policy",
                            target_id: &old.id.to_string(),
                            region: &old.region,
                            before: Some(format!("{{\"end_date\":{}}}", serde_json::to_string(&old.end_date).unwrap())),
                            after: Some(format!("{{\"end_date\":\"{end}\"}}")),
                        },
                    )?;
                }
            }
            for v in repo::versions(tx, &policy.region, policy.insutype)? {
                let existing = parse_stored(&v)?;
                if periods_overlap(existing.policy(), &policy) {
                    return Err(AppError::Invalid(vec![FieldError::new(
                        "policy.begin_date",
                        format!(
                            "与现行版本 {}（{} 至 {}）期间重叠；请设置 supersedes 或调整日期",
                            v.id,
                            v.begin_date,
                            v.end_date.map_or("长期".to_owned(), |d| d.to_string())
                        ),
                    )]));
                }
            }
            let (document, sha256) = document_of(&policy);
            let row = PolicyRow {
                id: yibao_store::ids::next_id(),
                region: policy.region.clone(),
                insutype: policy.insutype,
                name: policy.name.clone(),
                begin_date: policy.begin_date,
                end_date: policy.end_date,
                status: "active".into(),
                document,
                sha256,
                created_by: ctx2.actor.name.clone(),
                created_at_ms: ctx2.now_ms,
            };
            repo::insert(tx, &row)?;
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "policy.create",
                    target_kind: "policy",
                    target_id: &row.id.to_string(),
                    region: &row.region,
                    before: None,
                    after: Some(row.document.clone()),
                },
            )?;
            Ok(row)
        })
        .await?;
    app.policies.invalidate();
    Ok(view(&row))
}

pub async fn get(app: &App, ctx: &Ctx, id: i64) -> AppResult<PolicyVersion> {
    let row = app
        .db
        .read(move |tx: &mut dyn Tx| repo::get(tx, id)?.ok_or_else(|| AppError::not_found("政策版本", id.to_string())))
        .await?;
    ctx.require_region(&row.region)?;
    Ok(view(&row))
}

pub async fn list(app: &App, ctx: &Ctx, limit: Option<i64>, offset: Option<i64>) -> AppResult<Vec<PolicyVersion>> {
    let (limit, offset) = paging(limit, offset)?;
    let prefix = ctx.actor.scope.prefix().to_owned();
    let rows = app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::list(tx, &prefix, limit, offset)?)).await?;
    Ok(rows.iter().map(view).collect())
}

/// Ends a version on `end_date` (inclusive). Refused if settlements after
/// that day were already computed under it.
pub async fn end(app: &App, ctx: &Ctx, id: i64, end_date: Date) -> AppResult<PolicyVersion> {
    ctx.require(Permission::WritePolicy)?;
    let ctx2 = ctx.clone();
    let row = app
        .db
        .write(move |tx: &mut dyn Tx| {
            let old = repo::get(tx, id)?.ok_or_else(|| AppError::not_found("政策版本", id.to_string()))?;
            ctx2.require_region(&old.region)?;
            if old.status != "active" {
                return Err(AppError::Conflict("政策版本已停用".into()));
            }
            if end_date < old.begin_date {
                return Err(AppError::invalid("end_date", "结束日期早于开始日期"));
            }
            if repo::used_since(tx, id, end_date.add_days(1))? {
                return Err(AppError::Conflict(format!("{end_date} 之后已有结算使用该政策，不能提前结束")));
            }
            let mut policy = parse_stored(&old)?.into_inner();
            policy.end_date = Some(end_date);
            let (doc, sha) = document_of(&policy);
            repo::end(tx, id, end_date, &doc, &sha)?;
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "policy.end",
                    target_kind: "policy",
                    target_id: &id.to_string(),
                    region: &old.region,
                    before: Some(format!("{{\"end_date\":{}}}", serde_json::to_string(&old.end_date).unwrap())),
                    after: Some(format!("{{\"end_date\":\"{end_date}\"}}")),
                },
            )?;
            Ok(repo::get(tx, id)?.expect("just updated"))
        })
        .await?;
    app.policies.invalidate();
    Ok(view(&row))
}

/// Withdraws a version that was never used (entered by mistake).
pub async fn retire(app: &App, ctx: &Ctx, id: i64) -> AppResult<PolicyVersion> {
    ctx.require(Permission::WritePolicy)?;
    let ctx2 = ctx.clone();
    let row = app
        .db
        .write(move |tx: &mut dyn Tx| {
            let old = repo::get(tx, id)?.ok_or_else(|| AppError::not_found("政策版本", id.to_string()))?;
            ctx2.require_region(&old.region)?;
            if repo::used_since(tx, id, old.begin_date)? {
                return Err(AppError::Conflict("该政策已用于结算，只能结束不能撤销".into()));
            }
            if repo::retire(tx, id)? == 0 {
                return Err(AppError::Conflict("政策版本已停用".into()));
            }
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "policy.retire",
                    target_kind: "policy",
                    target_id: &id.to_string(),
                    region: &old.region,
                    before: Some("{\"status\":\"active\"}".into()),
                    after: Some("{\"status\":\"retired\"}".into()),
                },
            )?;
            Ok(repo::get(tx, id)?.expect("exists"))
        })
        .await?;
    app.policies.invalidate();
    Ok(view(&row))
}

/// Stores a policy from trusted configuration (the demo, `yibao policy load`),
/// skipping it if an identical document is already stored.
pub fn store_trusted(tx: &mut dyn Tx, policy: &ValidPolicy, created_by: &str, now_ms: i64) -> AppResult<Option<i64>> {
    let (document, sha256) = document_of(policy);
    let versions = repo::versions(tx, &policy.region, policy.insutype)?;
    if versions.iter().any(|v| v.sha256 == sha256) {
        return Ok(None);
    }
    for v in &versions {
        if periods_overlap(parse_stored(v)?.policy(), policy.policy()) {
            return Err(AppError::Conflict(format!("与现行版本 {} 期间重叠", v.id)));
        }
    }
    let id = yibao_store::ids::next_id();
    repo::insert(
        tx,
        &PolicyRow {
            id,
            region: policy.region.clone(),
            insutype: policy.insutype,
            name: policy.name.clone(),
            begin_date: policy.begin_date,
            end_date: policy.end_date,
            status: "active".into(),
            document,
            sha256,
            created_by: created_by.into(),
            created_at_ms: now_ms,
        },
    )?;
    Ok(Some(id))
}
