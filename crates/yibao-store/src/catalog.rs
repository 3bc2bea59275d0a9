//! Catalog items and regional overrides.

use yibao_domain::Date;
use yibao_domain::catalog::{CatalogItem, CatalogOverride};
use yibao_domain::codes::{ChrgitmLv, ListType};

use crate::params;
use crate::sql::{DbError, DbResult, Row, Tx, Value, insert_many};

const ITEM_COLUMNS: &str = "code, list_type, name, class, selfpay_prop_ppm, price_cap_fen, price_cap_unit, \
    restriction, dosage_form, category_code, category_name, negotiated, generic_code, agreement_begin, \
    agreement_end, begin_date, end_date";

fn code_of<T>(field: &str, text: Option<String>, parse: impl Fn(&str) -> Option<T>) -> DbResult<Option<T>> {
    match text {
        None => Ok(None),
        Some(t) => parse(&t).map(Some).ok_or_else(|| DbError::decode(format!("bad {field} {t:?}"))),
    }
}

fn item_from_row(r: &Row) -> DbResult<CatalogItem> {
    Ok(CatalogItem {
        code: r.text(0)?,
        list_type: code_of("list_type", Some(r.text(1)?), ListType::from_code)?.unwrap(),
        name: r.text(2)?,
        class: code_of("class", r.opt_text(3)?, ChrgitmLv::from_code)?,
        selfpay_prop: r.get(4)?,
        price_cap: r.get(5)?,
        price_cap_unit: r.get(6)?,
        restriction: r.get(7)?,
        dosage_form: r.get(8)?,
        category_code: r.get(9)?,
        category_name: r.get(10)?,
        negotiated: r.bool(11)?,
        generic_code: r.get(12)?,
        agreement_begin: r.get(13)?,
        agreement_end: r.get(14)?,
        begin_date: r.date(15)?,
        end_date: r.get(16)?,
    })
}

/// An item with what only storage needs: its pinyin initials and its source.
pub struct ItemRow<'a> {
    pub item: &'a CatalogItem,
    pub pinyin: String,
    pub source: &'a str,
}

/// Inserts or refreshes items (by code).
pub fn upsert_items(tx: &mut dyn Tx, rows: &[ItemRow<'_>]) -> DbResult<u64> {
    let values: Vec<Vec<Value>> = rows
        .iter()
        .map(|r| {
            let i = r.item;
            vec![
                i.code.as_str().into(),
                i.list_type.code().into(),
                i.name.as_str().into(),
                i.class.map(|c| c.code()).into(),
                i.selfpay_prop.into(),
                i.price_cap.into(),
                i.price_cap_unit.clone().into(),
                i.restriction.clone().into(),
                i.dosage_form.clone().into(),
                i.category_code.clone().into(),
                i.category_name.clone().into(),
                i.negotiated.into(),
                i.generic_code.clone().into(),
                i.agreement_begin.into(),
                i.agreement_end.into(),
                i.begin_date.into(),
                i.end_date.into(),
                r.pinyin.as_str().into(),
                r.source.into(),
            ]
        })
        .collect();
    insert_many(
        tx,
        &format!("INSERT INTO catalog_item ({ITEM_COLUMNS}, pinyin, source)"),
        19,
        values,
        "ON CONFLICT (code) DO UPDATE SET list_type = excluded.list_type, name = excluded.name, \
         class = excluded.class, selfpay_prop_ppm = excluded.selfpay_prop_ppm, \
         price_cap_fen = excluded.price_cap_fen, price_cap_unit = excluded.price_cap_unit, \
         restriction = excluded.restriction, dosage_form = excluded.dosage_form, \
         category_code = excluded.category_code, category_name = excluded.category_name, \
         negotiated = excluded.negotiated, generic_code = excluded.generic_code, \
         agreement_begin = excluded.agreement_begin, agreement_end = excluded.agreement_end, \
         begin_date = excluded.begin_date, end_date = excluded.end_date, pinyin = excluded.pinyin, \
         source = excluded.source",
    )
}

pub fn get(tx: &mut dyn Tx, code: &str) -> DbResult<Option<CatalogItem>> {
    tx.query_opt(&format!("SELECT {ITEM_COLUMNS} FROM catalog_item WHERE code = $1"), params![code])?
        .map(|r| item_from_row(&r))
        .transpose()
}

/// Every item, for the in-memory catalog used on the settlement path.
pub fn all_items(tx: &mut dyn Tx) -> DbResult<Vec<CatalogItem>> {
    tx.query(&format!("SELECT {ITEM_COLUMNS} FROM catalog_item"), params![])?.iter().map(item_from_row).collect()
}

pub fn count(tx: &mut dyn Tx) -> DbResult<i64> {
    tx.query_one("SELECT COUNT(*) FROM catalog_item", params![])?.i64(0)
}

/// Product codes linked to a generic entry.
pub fn products_of(tx: &mut dyn Tx, generic_code: &str, limit: i64) -> DbResult<Vec<CatalogItem>> {
    tx.query(
        &format!("SELECT {ITEM_COLUMNS} FROM catalog_item WHERE generic_code = $1 ORDER BY code LIMIT $2"),
        params![generic_code, limit],
    )?
    .iter()
    .map(item_from_row)
    .collect()
}

#[derive(Clone, Debug, Default)]
pub struct Search {
    /// Chinese name substring, pinyin initials, or code prefix.
    pub text: String,
    pub list_types: Vec<ListType>,
    pub class: Option<ChrgitmLv>,
    pub limit: i64,
    pub offset: i64,
}

/// Search results, best first: exact name, name prefix, then by name length.
pub fn search(tx: &mut dyn Tx, s: &Search) -> DbResult<(Vec<CatalogItem>, i64)> {
    let text = s.text.trim();
    let like = format!("%{}%", escape_like(text));
    let prefix = format!("{}%", escape_like(text));
    let upper = format!("%{}%", escape_like(&text.to_uppercase()));
    // Up to six list types: fixed placeholders keep the statement cacheable.
    let mut types: Vec<Value> = s.list_types.iter().map(|t| Value::from(t.code())).collect();
    let filter_types = !types.is_empty();
    types.resize(6, Value::Null);
    let class = s.class.map(|c| c.code());
    let filter = "FROM catalog_item WHERE (name LIKE $1 ESCAPE '\\' OR pinyin LIKE $2 ESCAPE '\\' \
                  OR code LIKE $3 ESCAPE '\\') \
                  AND ($4 = 0 OR list_type IN ($5, $6, $7, $8, $9, $10)) \
                  AND ($11 = '' OR class = $11)";
    let mut params: Vec<Value> = vec![like.into(), upper.into(), prefix.clone().into(), i64::from(filter_types).into()];
    params.extend(types);
    params.push(class.unwrap_or("").into());
    let total = tx.query_one(&format!("SELECT COUNT(*) {filter}"), &params)?.i64(0)?;
    params.push(text.into());
    params.push(prefix.into());
    params.push(s.limit.into());
    params.push(s.offset.into());
    let rows = tx.query(
        &format!(
            "SELECT {ITEM_COLUMNS} {filter} ORDER BY CASE WHEN name = $12 THEN 0 WHEN name LIKE $13 ESCAPE '\\' \
             THEN 1 ELSE 2 END, length(name), code LIMIT $14 OFFSET $15"
        ),
        &params,
    )?;
    Ok((rows.iter().map(item_from_row).collect::<DbResult<_>>()?, total))
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

const OVERRIDE_COLUMNS: &str = "id, region_prefix, code, list_type, class_filter, begin_date, end_date, class, \
    selfpay_prop_ppm, price_cap_fen, restriction, note";

fn override_from_row(r: &Row) -> DbResult<CatalogOverride> {
    Ok(CatalogOverride {
        id: r.i64(0)?,
        region_prefix: r.text(1)?,
        code: r.get(2)?,
        list_type: code_of("list_type", r.opt_text(3)?, ListType::from_code)?,
        class_filter: code_of("class_filter", r.opt_text(4)?, ChrgitmLv::from_code)?,
        begin_date: r.date(5)?,
        end_date: r.get(6)?,
        class: code_of("class", r.opt_text(7)?, ChrgitmLv::from_code)?,
        selfpay_prop: r.get(8)?,
        price_cap: r.get(9)?,
        restriction: r.get(10)?,
        note: r.text(11)?,
    })
}

pub fn insert_override(tx: &mut dyn Tx, o: &CatalogOverride, created_by: &str, now_ms: i64) -> DbResult<()> {
    tx.execute(
        &format!(
            "INSERT INTO catalog_override ({OVERRIDE_COLUMNS}, created_by, created_at_ms) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ),
        params![
            o.id,
            o.region_prefix.as_str(),
            o.code.clone(),
            o.list_type.map(|t| t.code()),
            o.class_filter.map(|c| c.code()),
            o.begin_date,
            o.end_date,
            o.class.map(|c| c.code()),
            o.selfpay_prop,
            o.price_cap,
            o.restriction.clone(),
            o.note.as_str(),
            created_by,
            now_ms
        ],
    )?;
    Ok(())
}

pub fn get_override(tx: &mut dyn Tx, id: i64) -> DbResult<Option<CatalogOverride>> {
    tx.query_opt(&format!("SELECT {OVERRIDE_COLUMNS} FROM catalog_override WHERE id = $1"), params![id])?
        .map(|r| override_from_row(&r))
        .transpose()
}

/// Sets the last day an override is in force (overrides are ended, never deleted).
pub fn end_override(tx: &mut dyn Tx, id: i64, end_date: Date) -> DbResult<u64> {
    tx.execute("UPDATE catalog_override SET end_date = $1 WHERE id = $2", params![end_date, id])
}

/// Overrides that may apply to `code`: its own and every kind-level default.
pub fn overrides_for(tx: &mut dyn Tx, code: &str) -> DbResult<Vec<CatalogOverride>> {
    tx.query(
        &format!("SELECT {OVERRIDE_COLUMNS} FROM catalog_override WHERE code = $1 OR code IS NULL ORDER BY id"),
        params![code],
    )?
    .iter()
    .map(override_from_row)
    .collect()
}

/// Overrides set by regions under `prefix` (all when empty).
pub fn list_overrides(tx: &mut dyn Tx, prefix: &str, limit: i64, offset: i64) -> DbResult<Vec<CatalogOverride>> {
    tx.query(
        &format!(
            "SELECT {OVERRIDE_COLUMNS} FROM catalog_override WHERE region_prefix LIKE $1 ESCAPE '\\' \
             ORDER BY id DESC LIMIT $2 OFFSET $3"
        ),
        params![format!("{}%", escape_like(prefix)), limit, offset],
    )?
    .iter()
    .map(override_from_row)
    .collect()
}

pub fn all_overrides(tx: &mut dyn Tx) -> DbResult<Vec<CatalogOverride>> {
    tx.query(&format!("SELECT {OVERRIDE_COLUMNS} FROM catalog_override ORDER BY id"), params![])?
        .iter()
        .map(override_from_row)
        .collect()
}

/// The 两库 rules attached to a product code.
pub fn rules_of(tx: &mut dyn Tx, code: &str) -> DbResult<Vec<(String, String)>> {
    tx.query("SELECT limit_type, limit_value FROM drug_code_rule WHERE code = $1 ORDER BY limit_type", params![code])?
        .iter()
        .map(|r| Ok((r.text(0)?, r.text(1)?)))
        .collect()
}
