//! Reference data: divisions, code values, diagnoses, procedures, drug
//! categories and rules, and the record of which dataset version is loaded.

use yibao_domain::division::{Division, DivisionCode, DivisionLevel};

use crate::catalog::escape_like;
use crate::params;
use crate::sql::{DbError, DbResult, Tx, Value, insert_many};

/// The hash of the dataset currently loaded under `name`, if any.
pub fn dataset_hash(tx: &mut dyn Tx, name: &str) -> DbResult<Option<String>> {
    tx.query_opt("SELECT sha256 FROM reference_dataset WHERE name = $1", params![name])?.map(|r| r.text(0)).transpose()
}

pub fn record_dataset(tx: &mut dyn Tx, name: &str, sha256: &str, rows: i64, now_ms: i64) -> DbResult<()> {
    tx.execute(
        "INSERT INTO reference_dataset (name, sha256, row_count, loaded_at_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, row_count = excluded.row_count, \
         loaded_at_ms = excluded.loaded_at_ms",
        params![name, sha256, rows, now_ms],
    )?;
    Ok(())
}

pub fn datasets(tx: &mut dyn Tx) -> DbResult<Vec<(String, String, i64, i64)>> {
    tx.query("SELECT name, sha256, row_count, loaded_at_ms FROM reference_dataset ORDER BY name", params![])?
        .iter()
        .map(|r| Ok((r.text(0)?, r.text(1)?, r.i64(2)?, r.i64(3)?)))
        .collect()
}

pub fn upsert_divisions(tx: &mut dyn Tx, rows: &[Division]) -> DbResult<u64> {
    let values: Vec<Vec<Value>> = rows
        .iter()
        .map(|d| {
            vec![
                d.code.as_str().into(),
                d.name.as_str().into(),
                i64::from(d.level.number()).into(),
                d.parent.map(|p| p.as_str().to_owned()).into(),
                d.stat_only.into(),
            ]
        })
        .collect();
    insert_many(
        tx,
        "INSERT INTO division (code, name, level, parent_code, stat_only)",
        5,
        values,
        "ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, \
         parent_code = excluded.parent_code, stat_only = excluded.stat_only",
    )
}

pub fn all_divisions(tx: &mut dyn Tx) -> DbResult<Vec<Division>> {
    tx.query("SELECT code, name, level, parent_code, stat_only FROM division", params![])?
        .iter()
        .map(|r| {
            let code = r.text(0)?;
            let level = r.i64(2)?;
            Ok(Division {
                code: DivisionCode::parse(&code).map_err(|e| DbError::decode(e.reason))?,
                name: r.text(1)?,
                level: DivisionLevel::from_number(level as u8)
                    .ok_or_else(|| DbError::decode(format!("bad division level {level}")))?,
                parent: r
                    .opt_text(3)?
                    .map(|p| DivisionCode::parse(&p).map_err(|e| DbError::decode(e.reason)))
                    .transpose()?,
                stat_only: r.bool(4)?,
            })
        })
        .collect()
}

/// (code, name) pairs with pinyin initials, for diagnoses and procedures.
pub struct NamedCode {
    pub code: String,
    pub name: String,
    pub pinyin: String,
}

fn upsert_named(tx: &mut dyn Tx, table: &str, rows: &[NamedCode]) -> DbResult<u64> {
    let values: Vec<Vec<Value>> =
        rows.iter().map(|n| vec![n.code.as_str().into(), n.name.as_str().into(), n.pinyin.as_str().into()]).collect();
    insert_many(
        tx,
        &format!("INSERT INTO {table} (code, name, pinyin)"),
        3,
        values,
        "ON CONFLICT (code) DO UPDATE SET name = excluded.name, pinyin = excluded.pinyin",
    )
}

pub fn upsert_diagnoses(tx: &mut dyn Tx, rows: &[NamedCode]) -> DbResult<u64> {
    upsert_named(tx, "diagnosis", rows)
}

pub fn upsert_procedures(tx: &mut dyn Tx, rows: &[NamedCode]) -> DbResult<u64> {
    upsert_named(tx, "procedure_item", rows)
}

fn upsert_map(tx: &mut dyn Tx, table: &str, pairs: &[(String, String)]) -> DbResult<u64> {
    let values: Vec<Vec<Value>> = pairs.iter().map(|(f, t)| vec![f.as_str().into(), t.as_str().into()]).collect();
    insert_many(
        tx,
        &format!("INSERT INTO {table} (from_code, to_code)"),
        2,
        values,
        "ON CONFLICT (from_code) DO UPDATE SET to_code = excluded.to_code",
    )
}

pub fn upsert_diagnosis_map(tx: &mut dyn Tx, pairs: &[(String, String)]) -> DbResult<u64> {
    upsert_map(tx, "diagnosis_map", pairs)
}

pub fn upsert_procedure_map(tx: &mut dyn Tx, pairs: &[(String, String)]) -> DbResult<u64> {
    upsert_map(tx, "procedure_map", pairs)
}

fn search_named(tx: &mut dyn Tx, table: &str, text: &str, limit: i64) -> DbResult<Vec<(String, String)>> {
    let t = text.trim();
    let like = format!("%{}%", escape_like(t));
    let prefix = format!("{}%", escape_like(t));
    let upper = format!("%{}%", escape_like(&t.to_uppercase()));
    tx.query(
        &format!(
            "SELECT code, name FROM {table} WHERE code LIKE $1 ESCAPE '\\' OR name LIKE $2 ESCAPE '\\' \
             OR pinyin LIKE $3 ESCAPE '\\' ORDER BY CASE WHEN code = $4 THEN 0 WHEN code LIKE $1 ESCAPE '\\' \
             THEN 1 ELSE 2 END, length(name), code LIMIT $5"
        ),
        params![prefix, like, upper, t, limit],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?)))
    .collect()
}

pub fn search_diagnoses(tx: &mut dyn Tx, text: &str, limit: i64) -> DbResult<Vec<(String, String)>> {
    search_named(tx, "diagnosis", text, limit)
}

pub fn search_procedures(tx: &mut dyn Tx, text: &str, limit: i64) -> DbResult<Vec<(String, String)>> {
    search_named(tx, "procedure_item", text, limit)
}

/// The 医保版 diagnosis for a code, following the conversion map (which may
/// chain) at most a few steps.
pub fn resolve_diagnosis(tx: &mut dyn Tx, code: &str) -> DbResult<Option<(String, String)>> {
    resolve_named(tx, "diagnosis", "diagnosis_map", code)
}

pub fn resolve_procedure(tx: &mut dyn Tx, code: &str) -> DbResult<Option<(String, String)>> {
    resolve_named(tx, "procedure_item", "procedure_map", code)
}

fn resolve_named(tx: &mut dyn Tx, table: &str, map: &str, code: &str) -> DbResult<Option<(String, String)>> {
    let mut current = code.trim().to_owned();
    // Chains in the published maps are at most two steps; the bound stops cycles.
    for _ in 0..5 {
        if let Some(r) = tx.query_opt(&format!("SELECT code, name FROM {table} WHERE code = $1"), params![&current])? {
            return Ok(Some((r.text(0)?, r.text(1)?)));
        }
        match tx.query_opt(&format!("SELECT to_code FROM {map} WHERE from_code = $1"), params![&current])? {
            Some(r) => current = r.text(0)?,
            None => return Ok(None),
        }
    }
    Ok(None)
}

pub struct CodeValueRow {
    pub field: String,
    pub code: String,
    pub name: String,
    pub field_label: String,
    pub national: bool,
}

pub fn upsert_code_values(tx: &mut dyn Tx, rows: &[CodeValueRow]) -> DbResult<u64> {
    let values: Vec<Vec<Value>> = rows
        .iter()
        .map(|c| {
            vec![
                c.field.as_str().into(),
                c.code.as_str().into(),
                c.name.as_str().into(),
                c.field_label.as_str().into(),
                c.national.into(),
            ]
        })
        .collect();
    insert_many(
        tx,
        "INSERT INTO code_value (field, code, name, field_label, national)",
        5,
        values,
        "ON CONFLICT (field, code) DO UPDATE SET name = excluded.name, field_label = excluded.field_label, \
         national = excluded.national",
    )
}

pub fn code_values(tx: &mut dyn Tx, field: &str) -> DbResult<Vec<CodeValueRow>> {
    tx.query(
        "SELECT field, code, name, field_label, national FROM code_value WHERE field = $1 ORDER BY code",
        params![field],
    )?
    .iter()
    .map(|r| {
        Ok(CodeValueRow {
            field: r.text(0)?,
            code: r.text(1)?,
            name: r.text(2)?,
            field_label: r.text(3)?,
            national: r.bool(4)?,
        })
    })
    .collect()
}

pub struct DrugCategoryRow {
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub section: String,
}

pub fn upsert_drug_categories(tx: &mut dyn Tx, rows: &[DrugCategoryRow]) -> DbResult<u64> {
    let values: Vec<Vec<Value>> = rows
        .iter()
        .map(|c| {
            vec![
                c.code.as_str().into(),
                c.name.as_str().into(),
                c.parent_code.clone().into(),
                c.section.as_str().into(),
            ]
        })
        .collect();
    insert_many(
        tx,
        "INSERT INTO drug_category (code, name, parent_code, section)",
        4,
        values,
        "ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent_code = excluded.parent_code, \
         section = excluded.section",
    )
}

/// (code, limit_type, limit_value)
pub fn upsert_drug_code_rules(tx: &mut dyn Tx, rows: &[(String, String, String)]) -> DbResult<u64> {
    let values: Vec<Vec<Value>> =
        rows.iter().map(|(c, t, v)| vec![c.as_str().into(), t.as_str().into(), v.as_str().into()]).collect();
    insert_many(tx, "INSERT INTO drug_code_rule (code, limit_type, limit_value)", 3, values, "ON CONFLICT DO NOTHING")
}

/// (name, limit_type, limit_value, limit_note)
pub fn upsert_drug_limit_rules(tx: &mut dyn Tx, rows: &[(String, String, String, String)]) -> DbResult<u64> {
    let values: Vec<Vec<Value>> = rows
        .iter()
        .map(|(n, t, v, note)| vec![n.as_str().into(), t.as_str().into(), v.as_str().into(), note.as_str().into()])
        .collect();
    insert_many(
        tx,
        "INSERT INTO drug_limit_rule (name, limit_type, limit_value, limit_note)",
        4,
        values,
        "ON CONFLICT (name, limit_type, limit_value) DO UPDATE SET limit_note = excluded.limit_note",
    )
}

/// Every product-code rule (for the in-memory rule checks of 3101/3102).
pub fn all_drug_code_rules(tx: &mut dyn Tx) -> DbResult<Vec<(String, String, String)>> {
    tx.query("SELECT code, limit_type, limit_value FROM drug_code_rule", params![])?
        .iter()
        .map(|r| Ok((r.text(0)?, r.text(1)?, r.text(2)?)))
        .collect()
}

pub fn count(tx: &mut dyn Tx, table: &str) -> DbResult<i64> {
    // Table names come from code, never from input.
    assert!(table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "table name");
    tx.query_one(&format!("SELECT COUNT(*) FROM {table}"), params![])?.i64(0)
}
