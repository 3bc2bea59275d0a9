//! Catalog use cases: search, look up, resolve "as of date D in region R",
//! and regional overrides.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use yibao_domain::auth::Permission;
use yibao_domain::catalog::{self, CatalogItem, CatalogOverride, ResolvedItem};
use yibao_domain::codes::{ChrgitmLv, ListType};
use yibao_domain::{Date, Money, Ratio};
use yibao_store::{Tx, catalog as repo};

use crate::audit::{self, Change};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::{App, Page, paging};

/// Overrides held in memory: resolution happens on every fee line, and
/// overrides change rarely (staff edits), so they are cached and the cache
/// is dropped on every change made through this node.
#[derive(Clone, Default)]
pub struct CatalogCache {
    overrides: Arc<RwLock<Option<Arc<OverrideIndex>>>>,
    items: Arc<RwLock<Option<Arc<ItemIndex>>>>,
    /// One load at a time: when the cache is cold (start, after an import)
    /// the requests arriving together wait for one load instead of each
    /// reading the whole catalog (measured: 64 concurrent 2204s each loading
    /// 22k items made the first uploads take 2–6 s).
    loading: Arc<tokio::sync::Mutex<()>>,
}

/// Every catalog item by code, in memory: the settlement path classifies
/// every fee line, and the catalog changes only on import.
#[derive(Default)]
pub struct ItemIndex {
    by_code: HashMap<String, CatalogItem>,
}

impl ItemIndex {
    pub fn get(&self, code: &str) -> Option<&CatalogItem> {
        self.by_code.get(code)
    }

    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }
}

/// A consistent view of items and overrides, for resolving many lines at once.
#[derive(Clone)]
pub struct CatalogView {
    pub items: Arc<ItemIndex>,
    pub overrides: Arc<OverrideIndex>,
}

impl CatalogView {
    /// The item as it applies in `region` on `date`, or `None` when the code
    /// is not in the catalog.
    pub fn resolve(&self, code: &str, region: &str, date: Date) -> Option<(&CatalogItem, ResolvedItem)> {
        let item = self.items.get(code)?;
        Some((item, catalog::resolve(item, &self.overrides.candidates(code), region, date)))
    }
}

#[derive(Default)]
pub struct OverrideIndex {
    by_code: HashMap<String, Vec<CatalogOverride>>,
    kind_level: Vec<CatalogOverride>,
}

impl OverrideIndex {
    pub fn new(all: Vec<CatalogOverride>) -> OverrideIndex {
        let mut index = OverrideIndex::default();
        for o in all {
            match &o.code {
                Some(code) => index.by_code.entry(code.clone()).or_default().push(o),
                None => index.kind_level.push(o),
            }
        }
        index
    }

    /// Every override that could apply to `code`.
    pub fn candidates(&self, code: &str) -> Vec<&CatalogOverride> {
        self.kind_level.iter().chain(self.by_code.get(code).into_iter().flatten()).collect()
    }
}

impl CatalogCache {
    pub fn invalidate(&self) {
        *self.overrides.write().unwrap() = None;
        *self.items.write().unwrap() = None;
    }

    pub async fn items(&self, app: &App) -> AppResult<Arc<ItemIndex>> {
        if let Some(index) = self.items.read().unwrap().clone() {
            return Ok(index);
        }
        let _loading = self.loading.lock().await;
        if let Some(index) = self.items.read().unwrap().clone() {
            return Ok(index);
        }
        let all = app.db.read(|tx: &mut dyn Tx| Ok::<_, AppError>(repo::all_items(tx)?)).await?;
        let index = Arc::new(ItemIndex { by_code: all.into_iter().map(|i| (i.code.clone(), i)).collect() });
        *self.items.write().unwrap() = Some(index.clone());
        Ok(index)
    }

    pub async fn view(&self, app: &App) -> AppResult<CatalogView> {
        Ok(CatalogView { items: self.items(app).await?, overrides: self.overrides(app).await? })
    }

    pub async fn overrides(&self, app: &App) -> AppResult<Arc<OverrideIndex>> {
        if let Some(index) = self.overrides.read().unwrap().clone() {
            return Ok(index);
        }
        let _loading = self.loading.lock().await;
        if let Some(index) = self.overrides.read().unwrap().clone() {
            return Ok(index);
        }
        let all = app.db.read(|tx: &mut dyn Tx| Ok::<_, AppError>(repo::all_overrides(tx)?)).await?;
        let index = Arc::new(OverrideIndex::new(all));
        *self.overrides.write().unwrap() = Some(index.clone());
        Ok(index)
    }
}

/// A catalog entry as the API shows it: the item and what it means for
/// payment where it was resolved.
#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct Entry {
    pub code: String,
    pub name: String,
    pub kind: &'static str,
    pub list_type: ListType,
    pub list_type_name: &'static str,
    /// 甲/乙/丙 code (01/02/03), `null` when neither the catalog nor the region sets one.
    pub class: Option<ChrgitmLv>,
    pub class_name: Option<&'static str>,
    /// 先行自付比例; `null` for 乙 items whose region has not set one.
    pub selfpay_prop: Option<Ratio>,
    /// 最高支付标准 per unit.
    pub price_cap: Option<Money>,
    pub price_cap_unit: Option<String>,
    /// 限定支付范围.
    pub restriction: Option<String>,
    pub dosage_form: Option<String>,
    pub category_code: Option<String>,
    pub category_name: Option<String>,
    pub negotiated: bool,
    pub generic_code: Option<String>,
    pub agreement_begin: Option<Date>,
    pub agreement_end: Option<Date>,
    pub in_force: bool,
    /// Where and when the item was resolved; `region` empty for national rules only.
    pub resolved_region: String,
    pub resolved_date: Date,
    pub applied_overrides: Vec<i64>,
}

pub fn kind_of(list_type: ListType) -> &'static str {
    match list_type {
        ListType::WesternAndPatentDrug | ListType::HospitalPreparation | ListType::EthnicDrug => "drug",
        ListType::HerbalPieces => "herb",
        ListType::MedicalService => "service",
        ListType::MedicalConsumable => "consumable",
    }
}

/// Parses a kind filter: `drug`, `herb`, `service`, `consumable` or a list_type code.
pub fn parse_kind(text: &str) -> AppResult<Vec<ListType>> {
    Ok(match text {
        "drug" => vec![ListType::WesternAndPatentDrug, ListType::HospitalPreparation, ListType::EthnicDrug],
        "herb" => vec![ListType::HerbalPieces],
        "service" => vec![ListType::MedicalService],
        "consumable" => vec![ListType::MedicalConsumable],
        other => vec![ListType::parse(other).map_err(|_| {
            AppError::invalid("kind", format!("类别“{other}”无效，应为 drug、herb、service、consumable 或目录类别代码"))
        })?],
    })
}

fn entry(item: &CatalogItem, resolved: &ResolvedItem, index: &OverrideIndex, region: &str, date: Date) -> Entry {
    let selfpay_configured = item.selfpay_prop.is_some()
        || resolved
            .applied_overrides
            .iter()
            .any(|id| index.candidates(&item.code).iter().any(|o| o.id == *id && o.selfpay_prop.is_some()));
    let selfpay_prop = match resolved.class {
        Some(ChrgitmLv::ClassB) | Some(ChrgitmLv::ClassCReimbursable) if !selfpay_configured => None,
        Some(_) => Some(resolved.selfpay_prop),
        None => None,
    };
    Entry {
        code: item.code.clone(),
        name: item.name.clone(),
        kind: kind_of(item.list_type),
        list_type: item.list_type,
        list_type_name: item.list_type.name(),
        class: resolved.class,
        class_name: resolved.class.map(|c| c.name()),
        selfpay_prop,
        price_cap: resolved.price_cap,
        price_cap_unit: item.price_cap_unit.clone(),
        restriction: resolved.restriction.clone(),
        dosage_form: item.dosage_form.clone(),
        category_code: item.category_code.clone(),
        category_name: item.category_name.clone(),
        negotiated: item.negotiated,
        generic_code: item.generic_code.clone(),
        agreement_begin: item.agreement_begin,
        agreement_end: item.agreement_end,
        in_force: item.in_force_on(date),
        resolved_region: region.to_owned(),
        resolved_date: date,
        applied_overrides: resolved.applied_overrides.clone(),
    }
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[derive(utoipa::ToSchema, Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub q: Option<String>,
    pub kind: Option<String>,
    pub class: Option<String>,
    /// Resolve for this region (6-digit admdvs); national rules only if absent.
    pub region: Option<String>,
    /// Resolve as of this date; today if absent.
    pub date: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Longest search text accepted.
const SEARCH_TEXT_CHARS_MAX: usize = 50;

fn parse_region_date(app: &App, region: Option<&str>, date: Option<&str>, today: Date) -> AppResult<(String, Date)> {
    let region = match region.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => app.divisions().parse(r).map_err(|e| e.named("region"))?.as_str().to_owned(),
        None => String::new(),
    };
    let date = match date.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => Date::parse(d).map_err(|e| e.named("date"))?,
        None => today,
    };
    Ok((region, date))
}

pub async fn search(app: &App, query: SearchQuery, today: Date) -> AppResult<Page<Entry>> {
    let text = query.q.as_deref().unwrap_or("").trim().to_owned();
    if text.is_empty() {
        return Err(AppError::invalid("q", "请输入名称、拼音首字母或编码"));
    }
    if text.chars().count() > SEARCH_TEXT_CHARS_MAX {
        return Err(AppError::invalid("q", format!("查询内容不能超过{SEARCH_TEXT_CHARS_MAX}个字符")));
    }
    let list_types = match query.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => parse_kind(k)?,
        None => Vec::new(),
    };
    let class = query
        .class
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| ChrgitmLv::parse(c).map_err(|e| e.named("class")))
        .transpose()?;
    let (limit, offset) = paging(query.limit, query.offset)?;
    let (region, date) = parse_region_date(app, query.region.as_deref(), query.date.as_deref(), today)?;
    let search = repo::Search { text, list_types, class, limit, offset };
    let (items, total) = app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::search(tx, &search)?)).await?;
    let index = app.catalog.overrides(app).await?;
    let items = items
        .iter()
        .map(|item| {
            let resolved = catalog::resolve(item, &index.candidates(&item.code), &region, date);
            entry(item, &resolved, &index, &region, date)
        })
        .collect();
    Ok(Page { total, limit, offset, items })
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub entry: Entry,
    /// 两库 rules on this product code (限定性别/年龄/…).
    pub rules: Vec<Rule>,
    /// Product codes linked to this generic entry (first 50).
    pub products: Vec<ProductRef>,
    /// Overrides that could apply here, applied or not.
    pub overrides: Vec<CatalogOverride>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct Rule {
    pub limit_type: String,
    pub limit_value: String,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct ProductRef {
    pub code: String,
    pub name: String,
}

pub async fn get(app: &App, code: &str, region: Option<&str>, date: Option<&str>, today: Date) -> AppResult<Detail> {
    let code = catalog::parse_catalog_code(code).map_err(|e| e.named("code"))?;
    let (region, date) = parse_region_date(app, region, date, today)?;
    let lookup = code.clone();
    let (item, rules, products) = app
        .db
        .read(move |tx: &mut dyn Tx| {
            let Some(item) = repo::get(tx, &lookup)? else {
                return Err(AppError::not_found("目录项目", lookup.clone()));
            };
            let rules = repo::rules_of(tx, &lookup)?;
            let products = repo::products_of(tx, &lookup, 50)?;
            Ok((item, rules, products))
        })
        .await?;
    let index = app.catalog.overrides(app).await?;
    let candidates = index.candidates(&item.code);
    let resolved = catalog::resolve(&item, &candidates, &region, date);
    Ok(Detail {
        entry: entry(&item, &resolved, &index, &region, date),
        rules: rules.into_iter().map(|(limit_type, limit_value)| Rule { limit_type, limit_value }).collect(),
        products: products.into_iter().map(|p| ProductRef { code: p.code, name: p.name }).collect(),
        overrides: candidates
            .into_iter()
            .filter(|o| region.starts_with(&o.region_prefix) || region.is_empty())
            .cloned()
            .collect(),
    })
}

/// A new regional override as staff enter it.
#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOverride {
    /// Division-code prefix of the region setting it ("3302" for a city).
    pub region_prefix: String,
    pub code: Option<String>,
    pub list_type: Option<ListType>,
    pub class_filter: Option<ChrgitmLv>,
    pub begin_date: Date,
    pub end_date: Option<Date>,
    pub class: Option<ChrgitmLv>,
    pub selfpay_prop: Option<Ratio>,
    pub price_cap: Option<Money>,
    pub restriction: Option<String>,
    pub note: Option<String>,
}

pub async fn create_override(app: &App, ctx: &Ctx, input: NewOverride) -> AppResult<CatalogOverride> {
    ctx.require(Permission::WriteCatalog)?;
    ctx.require_region(&input.region_prefix)?;
    let o = CatalogOverride {
        id: yibao_store::ids::next_id(),
        region_prefix: input.region_prefix.trim().to_owned(),
        code: input.code.map(|c| c.trim().to_owned()),
        list_type: input.list_type,
        class_filter: input.class_filter,
        begin_date: input.begin_date,
        end_date: input.end_date,
        class: input.class,
        selfpay_prop: input.selfpay_prop,
        price_cap: input.price_cap,
        restriction: input.restriction.map(|r| r.trim().to_owned()),
        note: input.note.unwrap_or_default().trim().to_owned(),
    };
    o.validate()?;
    if o.note.chars().count() > 500 {
        return Err(AppError::invalid("note", "说明不能超过500个字符"));
    }
    if !o.region_prefix.is_empty() && app.divisions().parse(&format!("{:0<6}", o.region_prefix)).is_err() {
        return Err(AppError::invalid("region_prefix", format!("区划“{}”不存在", o.region_prefix)));
    }
    let ctx2 = ctx.clone();
    let stored = o.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            if let Some(code) = &stored.code
                && repo::get(tx, code)?.is_none()
            {
                return Err(AppError::invalid("code", format!("目录项目“{code}”不存在")));
            }
            repo::insert_override(tx, &stored, &ctx2.actor.id, ctx2.now_ms)?;
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "catalog.override.create",
                    target_kind: "catalog_override",
                    target_id: &stored.id.to_string(),
                    region: &stored.region_prefix,
                    before: None,
                    after: audit::image(&stored),
                },
            )
        })
        .await?;
    app.catalog.invalidate();
    Ok(o)
}

/// Ends an override on `end_date` (inclusive). Overrides are never deleted:
/// settlements made under them must stay explainable.
pub async fn end_override(app: &App, ctx: &Ctx, id: i64, end_date: Date) -> AppResult<CatalogOverride> {
    ctx.require(Permission::WriteCatalog)?;
    let ctx2 = ctx.clone();
    let updated = app
        .db
        .write(move |tx: &mut dyn Tx| {
            let Some(before) = repo::get_override(tx, id)? else {
                return Err(AppError::not_found("目录调整", id.to_string()));
            };
            ctx2.require_region(&before.region_prefix)?;
            if end_date < before.begin_date {
                return Err(AppError::invalid("end_date", "结束日期早于开始日期"));
            }
            if before.end_date.is_some_and(|e| e < end_date) {
                return Err(AppError::invalid("end_date", "只能提前结束，不能延长已结束的调整"));
            }
            repo::end_override(tx, id, end_date)?;
            let after = CatalogOverride { end_date: Some(end_date), ..before.clone() };
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "catalog.override.end",
                    target_kind: "catalog_override",
                    target_id: &id.to_string(),
                    region: &before.region_prefix,
                    before: audit::image(&before),
                    after: audit::image(&after),
                },
            )?;
            Ok(after)
        })
        .await?;
    app.catalog.invalidate();
    Ok(updated)
}

pub async fn list_overrides(
    app: &App,
    ctx: &Ctx,
    limit: Option<i64>,
    offset: Option<i64>,
) -> AppResult<Vec<CatalogOverride>> {
    let (limit, offset) = paging(limit, offset)?;
    let prefix = ctx.actor.scope.prefix().to_owned();
    app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::list_overrides(tx, &prefix, limit, offset)?)).await
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct CodeName {
    pub code: String,
    pub name: String,
}

/// Searches ICD-10 医保版 diagnoses or ICD-9-CM-3 procedures.
pub async fn search_codes(app: &App, diagnoses: bool, q: &str, limit: Option<i64>) -> AppResult<Vec<CodeName>> {
    let q = q.trim().to_owned();
    if q.is_empty() {
        return Err(AppError::invalid("q", "请输入名称、拼音首字母或编码"));
    }
    if q.chars().count() > SEARCH_TEXT_CHARS_MAX {
        return Err(AppError::invalid("q", format!("查询内容不能超过{SEARCH_TEXT_CHARS_MAX}个字符")));
    }
    let (limit, _) = paging(limit, None)?;
    let rows = app
        .db
        .read(move |tx: &mut dyn Tx| {
            Ok::<_, AppError>(if diagnoses {
                yibao_store::reference::search_diagnoses(tx, &q, limit)?
            } else {
                yibao_store::reference::search_procedures(tx, &q, limit)?
            })
        })
        .await?;
    Ok(rows.into_iter().map(|(code, name)| CodeName { code, name }).collect())
}
