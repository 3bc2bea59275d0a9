//! Reference data: parsed from the CSV files in `data/` (embedded in the
//! binary, or read from a directory by `yibao import`) and loaded into the
//! database, idempotently: each dataset records the SHA-256 of its source
//! files, and an unchanged dataset is skipped.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use yibao_domain::catalog::CatalogItem;
use yibao_domain::codes::{ChrgitmLv, ListType};
use yibao_domain::division::{Division, DivisionCode, DivisionLevel};
use yibao_domain::{Date, Money};
use yibao_store::reference::{CodeValueRow, DrugCategoryRow, NamedCode};
use yibao_store::{Db, Tx, catalog as catalog_repo, reference as repo};

use crate::error::{AppError, AppResult};

/// The files, as named in `data/`.
pub const FILES: [&str; 14] = [
    "admdvs.csv",
    "code_values.csv",
    "consumables.csv",
    "drug_categories.csv",
    "drug_codes.csv",
    "drug_limit_rules.csv",
    "drugs.csv",
    "drugs_tcm_herbs.csv",
    "icd10.csv",
    "icd10_map.csv",
    "procedures.csv",
    "procedures_map.csv",
    "service_categories.csv",
    "service_items.csv",
];

macro_rules! embed {
    ($($f:literal),+) => { &[$(($f, include_bytes!(concat!("../../../data/", $f)) as &[u8])),+] };
}

/// The reference files compiled into the binary.
pub const EMBEDDED: &[(&str, &[u8])] = embed!(
    "admdvs.csv",
    "code_values.csv",
    "consumables.csv",
    "drug_categories.csv",
    "drug_codes.csv",
    "drug_limit_rules.csv",
    "drugs.csv",
    "drugs_tcm_herbs.csv",
    "icd10.csv",
    "icd10_map.csv",
    "procedures.csv",
    "procedures_map.csv",
    "service_categories.csv",
    "service_items.csv"
);

/// The date from which the 2024 national drug catalogue is in force. It is
/// the newest catalogue available to yibao (see data/SOURCES.md), so its
/// entries carry no end date.
pub fn catalog_2024_begin() -> Date {
    Date::from_ymd(2025, 1, 1).unwrap()
}

/// The raw files of one source.
pub struct Files {
    files: HashMap<&'static str, Vec<u8>>,
}

impl Files {
    pub fn embedded() -> Files {
        Files { files: EMBEDDED.iter().map(|(n, b)| (*n, b.to_vec())).collect() }
    }

    /// Reads every file from `dir`; a missing file is an error naming it.
    pub fn from_dir(dir: &Path) -> AppResult<Files> {
        let mut files = HashMap::new();
        for name in FILES {
            let path = dir.join(name);
            let bytes = std::fs::read(&path)
                .map_err(|e| AppError::invalid("dir", format!("无法读取 {}：{e}", path.display())))?;
            files.insert(name, bytes);
        }
        Ok(Files { files })
    }

    fn get(&self, name: &str) -> &[u8] {
        self.files.get(name).map(Vec::as_slice).expect("file listed in FILES")
    }

    fn sha256(&self, names: &[&str]) -> String {
        let mut h = Sha256::new();
        for n in names {
            h.update(n.as_bytes());
            h.update(self.get(n));
        }
        hex::encode(h.finalize())
    }
}

/// Pinyin initials of a name, uppercase, for search: 阿莫西林胶囊 → AMXLJN.
/// ASCII letters and digits are kept; other characters are dropped.
pub fn initials(name: &str) -> String {
    use pinyin::ToPinyin;
    name.chars()
        .filter_map(|c| {
            if c.is_ascii_alphanumeric() {
                Some(c.to_ascii_uppercase())
            } else {
                c.to_pinyin().and_then(|p| p.first_letter().chars().next()).map(|l| l.to_ascii_uppercase())
            }
        })
        .collect()
}

fn csv_rows(bytes: &[u8], file: &str) -> AppResult<Vec<BTreeMap<String, String>>> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| AppError::invalid(file, format!("表头无法读取：{e}")))?
        .iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| AppError::invalid(file, format!("第{}行无法读取：{e}", i + 2)))?;
        out.push(headers.iter().cloned().zip(record.iter().map(str::to_owned)).collect());
    }
    Ok(out)
}

fn field<'a>(row: &'a BTreeMap<String, String>, name: &str, file: &str) -> AppResult<&'a str> {
    row.get(name).map(String::as_str).ok_or_else(|| AppError::invalid(file, format!("缺少列 {name}")))
}

fn opt(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() { None } else { Some(t.to_owned()) }
}

pub fn parse_divisions(files: &Files) -> AppResult<Vec<Division>> {
    let f = "admdvs.csv";
    csv_rows(files.get(f), f)?
        .iter()
        .map(|r| {
            let level: u8 = field(r, "level", f)?.parse().map_err(|_| AppError::invalid(f, "level 无效"))?;
            Ok(Division {
                code: DivisionCode::parse(field(r, "code", f)?)?,
                name: field(r, "name", f)?.to_owned(),
                level: DivisionLevel::from_number(level).ok_or_else(|| AppError::invalid(f, "level 无效"))?,
                parent: opt(field(r, "parent_code", f)?).map(|p| DivisionCode::parse(&p)).transpose()?,
                stat_only: field(r, "stat_only", f)? == "Y",
            })
        })
        .collect()
}

fn parse_named(files: &Files, f: &str) -> AppResult<Vec<NamedCode>> {
    csv_rows(files.get(f), f)?
        .iter()
        .map(|r| {
            let name = field(r, "name", f)?.to_owned();
            Ok(NamedCode { code: field(r, "code", f)?.to_owned(), pinyin: initials(&name), name })
        })
        .collect()
}

fn parse_map(files: &Files, f: &str) -> AppResult<Vec<(String, String)>> {
    csv_rows(files.get(f), f)?
        .iter()
        .map(|r| Ok((field(r, "from_code", f)?.to_owned(), field(r, "to_code", f)?.to_owned())))
        .collect()
}

/// Parses "63.00元(10mg/支)" into the cap and its unit; "*" (not published)
/// and empty text give no cap.
pub fn parse_pay_standard(text: &str) -> (Option<Money>, Option<String>) {
    let t = text.trim();
    let Some((amount, rest)) = t.split_once('元') else { return (None, None) };
    let Ok(money) = Money::parse_yuan(amount.trim()) else { return (None, None) };
    let unit = rest.trim().trim_start_matches(['(', '（']).trim_end_matches([')', '）']).trim();
    (Some(money), opt(unit))
}

/// Parses "2024年1月1日至2025年12月31日".
pub fn parse_agreement_period(text: &str) -> (Option<Date>, Option<Date>) {
    let parse = |s: &str| -> Option<Date> {
        let (y, rest) = s.trim().split_once('年')?;
        let (m, rest) = rest.split_once('月')?;
        let d = rest.trim_end_matches('日');
        Date::from_ymd(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()
    };
    match text.split_once('至') {
        Some((a, b)) => (parse(a), parse(b)),
        None => (None, None),
    }
}

fn section_letter(section: &str) -> Option<&'static str> {
    Some(match section {
        "西药" => "X",
        "中成药" => "Z",
        "协议期内谈判药品(西药)" => "TX",
        "协议期内谈判药品(中成药)" => "TZ",
        "竞价药品" => "JX",
        _ => return None,
    })
}

/// The whole catalog from the national files: generic drug entries, herbal
/// pieces, product codes (linked to a generic entry by name), service items
/// and consumables. Pure: the same files give the same items.
pub fn parse_catalog(files: &Files) -> AppResult<Vec<CatalogItem>> {
    let begin = catalog_2024_begin();
    let base = |code: String, list_type, name: String| CatalogItem {
        code,
        list_type,
        name,
        class: None,
        selfpay_prop: None,
        price_cap: None,
        price_cap_unit: None,
        restriction: None,
        dosage_form: None,
        category_code: None,
        category_name: None,
        negotiated: false,
        generic_code: None,
        agreement_begin: None,
        agreement_end: None,
        begin_date: begin,
        end_date: None,
    };
    let mut items = Vec::new();

    let f = "drugs.csv";
    let mut variants: HashMap<(String, String), u32> = HashMap::new();
    for r in csv_rows(files.get(f), f)? {
        let section = field(&r, "section", f)?;
        let letter =
            section_letter(section).ok_or_else(|| AppError::invalid(f, format!("未知的目录部分 {section}")))?;
        let no: u32 = field(&r, "catalog_no", f)?.parse().map_err(|_| AppError::invalid(f, "catalog_no 无效"))?;
        let v = variants.entry((letter.to_owned(), no.to_string())).or_insert(0);
        *v += 1;
        let mut item = base(
            format!("YP2024-{letter}-{no:04}-{v:02}"),
            ListType::WesternAndPatentDrug,
            field(&r, "name", f)?.to_owned(),
        );
        item.class = Some(match field(&r, "class", f)? {
            "甲" => ChrgitmLv::ClassA,
            "乙" => ChrgitmLv::ClassB,
            other => return Err(AppError::invalid(f, format!("未知的甲乙分类 {other}"))),
        });
        let (cap, unit) = parse_pay_standard(field(&r, "pay_standard", f)?);
        item.price_cap = cap;
        item.price_cap_unit = unit;
        item.restriction = opt(field(&r, "restriction", f)?);
        item.dosage_form = opt(field(&r, "dosage_form", f)?);
        item.category_code = opt(field(&r, "category_code", f)?);
        item.category_name = opt(field(&r, "category_name", f)?);
        item.negotiated = letter.starts_with('T') || letter == "JX";
        let (ab, ae) = parse_agreement_period(field(&r, "agreement_period", f)?);
        item.agreement_begin = ab;
        item.agreement_end = ae;
        items.push(item);
    }
    let generic_count = items.len();

    let f = "drugs_tcm_herbs.csv";
    for r in csv_rows(files.get(f), f)? {
        let no: u32 = field(&r, "no", f)?.parse().map_err(|_| AppError::invalid(f, "no 无效"))?;
        let mut item = base(format!("YP2024-H-{no:04}"), ListType::HerbalPieces, field(&r, "name", f)?.to_owned());
        if field(&r, "single_use_not_paid", f)? == "Y" {
            item.restriction = Some("单独使用时不予支付，且全部由这些饮片组成的处方也不予支付".into());
        }
        items.push(item);
    }

    // Product codes: link to the generic entry with the longest name that
    // prefixes the product name, among entries of a related category.
    let f = "drug_codes.csv";
    let generics = &items[..generic_count];
    let keys: Vec<GenericKey<'_>> = generics.iter().map(|g| GenericKey::new(&g.name)).collect();
    let mut by_category: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, g) in generics.iter().enumerate() {
        if let Some(c) = g.category_code.as_deref() {
            by_category.entry(&c[..c.len().min(4)]).or_default().push(i);
        }
    }
    let mut products: BTreeMap<String, CatalogItem> = BTreeMap::new();
    for r in csv_rows(files.get(f), f)? {
        let code = field(&r, "code", f)?.to_owned();
        if products.contains_key(&code) {
            continue;
        }
        let name = field(&r, "name", f)?.to_owned();
        let category: String = code.chars().take(6).collect();
        let link = by_category
            .get(&category[..category.len().min(4)])
            .into_iter()
            .flatten()
            .filter_map(|&i| keys[i].match_len(&name).map(|len| (len, &generics[i])))
            .max_by(|(la, a), (lb, b)| la.cmp(lb).then_with(|| b.code.cmp(&a.code)))
            .map(|(_, g)| g);
        let mut item = base(code.clone(), ListType::WesternAndPatentDrug, name);
        item.category_code = Some(category);
        if let Some(g) = link {
            item.generic_code = Some(g.code.clone());
            item.class = g.class;
            item.restriction = g.restriction.clone();
            item.dosage_form = g.dosage_form.clone();
            item.category_name = g.category_name.clone();
            item.negotiated = g.negotiated;
        }
        products.insert(code, item);
    }
    items.extend(products.into_values());

    let f = "service_categories.csv";
    let categories: HashMap<String, String> = csv_rows(files.get(f), f)?
        .iter()
        .map(|r| Ok((field(r, "code", f)?.to_owned(), field(r, "name", f)?.to_owned())))
        .collect::<AppResult<_>>()?;
    let f = "service_items.csv";
    for r in csv_rows(files.get(f), f)? {
        let mut item =
            base(field(&r, "code", f)?.to_owned(), ListType::MedicalService, field(&r, "name", f)?.to_owned());
        let spec = field(&r, "spec_code", f)?;
        if let Some(len) = (2..=spec.len()).rev().find(|&n| categories.contains_key(&spec[..n])) {
            item.category_code = Some(spec[..len].to_owned());
            item.category_name = categories.get(&spec[..len]).cloned();
        }
        items.push(item);
    }

    let f = "consumables.csv";
    let mut seen = std::collections::HashSet::new();
    for r in csv_rows(files.get(f), f)? {
        let code = field(&r, "code", f)?.to_owned();
        if !seen.insert(code.clone()) {
            continue;
        }
        let mut item = base(code, ListType::MedicalConsumable, field(&r, "name", f)?.to_owned());
        item.category_name = opt(field(&r, "domain", f)?);
        items.push(item);
    }
    Ok(items)
}

/// Dosage-form words that end Chinese patent medicine names.
const FORM_WORDS: [&str; 24] = [
    "软胶囊",
    "胶囊",
    "颗粒",
    "口服液",
    "合剂",
    "糖浆",
    "注射液",
    "滴丸",
    "丸",
    "片",
    "散",
    "膏",
    "贴膏",
    "酊",
    "栓",
    "搽剂",
    "喷雾剂",
    "气雾剂",
    "滴眼液",
    "乳膏",
    "凝胶",
    "茶",
    "露",
    "酒",
];

/// How well a generic catalog name matches a product name (the length of
/// the matched stem), or `None`. Western generic names match when contained
/// in the product name, so salts and forms around them do not matter
/// ("甲磺酸酚妥拉明片" ⊃ "酚妥拉明"). Chinese patent names such as
/// "通宣理肺丸(片、胶囊、颗粒)" match a product that starts with their stem
/// ("通宣理肺") and goes on with a dosage form.
pub fn generic_match_len(generic: &str, product: &str) -> Option<usize> {
    GenericKey::new(generic).match_len(product)
}

/// A generic name prepared for matching against many product names.
struct GenericKey<'a> {
    base: &'a str,
    base_chars: usize,
    stem: &'a str,
    stem_chars: usize,
}

impl<'a> GenericKey<'a> {
    fn new(generic: &'a str) -> GenericKey<'a> {
        let g = generic.trim_start_matches("注射用");
        let base = g.split(['(', '（']).next().unwrap_or(g);
        let stem = FORM_WORDS.iter().find_map(|w| base.strip_suffix(w)).unwrap_or(base);
        GenericKey { base, base_chars: base.chars().count(), stem, stem_chars: stem.chars().count() }
    }

    fn match_len(&self, product: &str) -> Option<usize> {
        let p = product.trim_start_matches("注射用");
        if self.base_chars >= 2 && p.contains(self.base) {
            return Some(self.base_chars);
        }
        if self.stem_chars >= 2
            && let Some(rest) = p.strip_prefix(self.stem)
            && FORM_WORDS.iter().any(|w| rest.starts_with(w))
        {
            return Some(self.stem_chars);
        }
        None
    }
}

/// Outcome of loading one dataset.
#[derive(utoipa::ToSchema, Clone, Debug, serde::Serialize)]
pub struct DatasetReport {
    pub name: &'static str,
    pub rows: i64,
    /// False when the dataset was already loaded with the same content.
    pub loaded: bool,
}

type Loader = fn(&Files, &mut dyn Tx) -> AppResult<i64>;

fn load_divisions(files: &Files, tx: &mut dyn Tx) -> AppResult<i64> {
    let rows = parse_divisions(files)?;
    // The table must be consistent before it is stored.
    yibao_domain::Divisions::new(rows.iter().cloned())?;
    repo::upsert_divisions(tx, &rows)?;
    Ok(rows.len() as i64)
}

fn load_code_values(files: &Files, tx: &mut dyn Tx) -> AppResult<i64> {
    let f = "code_values.csv";
    let rows: Vec<CodeValueRow> = csv_rows(files.get(f), f)?
        .iter()
        .map(|r| {
            let field_name = field(r, "field", f)?.to_owned();
            let code = field(r, "code", f)?.to_owned();
            let national = is_national(&field_name, &code);
            Ok(CodeValueRow {
                field: field_name,
                name: field(r, "name", f)?.to_owned(),
                field_label: field(r, "field_label", f)?.to_owned(),
                code,
                national,
            })
        })
        .collect::<AppResult<_>>()?;
    repo::upsert_code_values(tx, &rows)?;
    Ok(rows.len() as i64)
}

/// Whether a code-value row is one of the national codes yibao knows as an enum.
pub fn is_national(field: &str, code: &str) -> bool {
    use yibao_domain::codes::*;
    match field {
        "hosp_lv" => HospLv::ALL.iter().any(|v| v.code() == code),
        "insutype" => Insutype::ALL.iter().any(|v| v.code() == code),
        "med_type" => MedType::ALL.iter().any(|v| v.code() == code),
        "med_chrgitm_type" => MedChrgitmType::ALL.iter().any(|v| v.code() == code),
        "chrgitm_lv" => ChrgitmLv::ALL.iter().any(|v| v.code() == code),
        "psn_type" => PsnType::ALL.iter().any(|v| v.code() == code),
        "gend" => Gend::ALL.iter().any(|v| v.code() == code),
        _ => false,
    }
}

fn load_diagnoses(files: &Files, tx: &mut dyn Tx) -> AppResult<i64> {
    let rows = parse_named(files, "icd10.csv")?;
    repo::upsert_diagnoses(tx, &rows)?;
    let map = parse_map(files, "icd10_map.csv")?;
    repo::upsert_diagnosis_map(tx, &map)?;
    Ok(rows.len() as i64)
}

fn load_procedures(files: &Files, tx: &mut dyn Tx) -> AppResult<i64> {
    let rows = parse_named(files, "procedures.csv")?;
    repo::upsert_procedures(tx, &rows)?;
    let map = parse_map(files, "procedures_map.csv")?;
    repo::upsert_procedure_map(tx, &map)?;
    Ok(rows.len() as i64)
}

fn load_drug_rules(files: &Files, tx: &mut dyn Tx) -> AppResult<i64> {
    let f = "drug_categories.csv";
    let cats: Vec<DrugCategoryRow> = csv_rows(files.get(f), f)?
        .iter()
        .map(|r| {
            Ok(DrugCategoryRow {
                code: field(r, "code", f)?.to_owned(),
                name: field(r, "name", f)?.to_owned(),
                parent_code: opt(field(r, "parent_code", f)?),
                section: field(r, "section", f)?.to_owned(),
            })
        })
        .collect::<AppResult<_>>()?;
    repo::upsert_drug_categories(tx, &cats)?;
    let f = "drug_limit_rules.csv";
    let limits: Vec<(String, String, String, String)> = csv_rows(files.get(f), f)?
        .iter()
        .map(|r| {
            Ok((
                field(r, "name", f)?.to_owned(),
                field(r, "limit_type", f)?.to_owned(),
                field(r, "limit_value", f)?.to_owned(),
                field(r, "limit_note", f)?.to_owned(),
            ))
        })
        .collect::<AppResult<_>>()?;
    repo::upsert_drug_limit_rules(tx, &limits)?;
    let f = "drug_codes.csv";
    let rules: Vec<(String, String, String)> = csv_rows(files.get(f), f)?
        .iter()
        .map(|r| {
            Ok((
                field(r, "code", f)?.to_owned(),
                field(r, "limit_type", f)?.to_owned(),
                field(r, "limit_value", f)?.to_owned(),
            ))
        })
        .collect::<AppResult<_>>()?;
    repo::upsert_drug_code_rules(tx, &rules)?;
    Ok(rules.len() as i64)
}

fn load_catalog(files: &Files, tx: &mut dyn Tx) -> AppResult<i64> {
    let items = parse_catalog(files)?;
    let source = "national-2024";
    let rows: Vec<catalog_repo::ItemRow<'_>> =
        items.iter().map(|item| catalog_repo::ItemRow { item, pinyin: initials(&item.name), source }).collect();
    catalog_repo::upsert_items(tx, &rows)?;
    Ok(items.len() as i64)
}

/// Datasets in load order, with the files each depends on.
const DATASETS: [(&str, &[&str], Loader); 6] = [
    ("divisions", &["admdvs.csv"], load_divisions),
    ("code_values", &["code_values.csv"], load_code_values),
    ("diagnoses", &["icd10.csv", "icd10_map.csv"], load_diagnoses),
    ("procedures", &["procedures.csv", "procedures_map.csv"], load_procedures),
    ("drug_rules", &["drug_categories.csv", "drug_limit_rules.csv", "drug_codes.csv"], load_drug_rules),
    (
        "catalog",
        &[
            "drugs.csv",
            "drugs_tcm_herbs.csv",
            "drug_codes.csv",
            "service_categories.csv",
            "service_items.csv",
            "consumables.csv",
        ],
        load_catalog,
    ),
];

fn embedded_files() -> &'static Files {
    static FILES_ONCE: OnceLock<Files> = OnceLock::new();
    FILES_ONCE.get_or_init(Files::embedded)
}

/// Loads every dataset whose content changed (all of them on first start),
/// each in its own transaction.
pub async fn load(db: &Db, files: Option<Files>, force: bool) -> AppResult<Vec<DatasetReport>> {
    let files: std::sync::Arc<Files> = match files {
        Some(f) => std::sync::Arc::new(f),
        None => std::sync::Arc::new(Files { files: embedded_files().files.clone() }),
    };
    let mut reports = Vec::new();
    for (name, deps, loader) in DATASETS {
        let hash = files.sha256(deps);
        let files = files.clone();
        let report = db
            .write(move |tx: &mut dyn Tx| {
                if !force && repo::dataset_hash(tx, name)?.as_deref() == Some(hash.as_str()) {
                    let rows = tx
                        .query_one(
                            "SELECT row_count FROM reference_dataset WHERE name = $1",
                            yibao_store::params![name],
                        )?
                        .i64(0)?;
                    return Ok(DatasetReport { name, rows, loaded: false });
                }
                let rows = loader(&files, tx)?;
                repo::record_dataset(tx, name, &hash, rows, yibao_store::now_ms())?;
                Ok::<_, AppError>(DatasetReport { name, rows, loaded: true })
            })
            .await?;
        if report.loaded {
            tracing::info!(dataset = name, rows = report.rows, "reference data loaded");
        }
        reports.push(report);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinyin_initials() {
        assert_eq!(initials("阿莫西林胶囊"), "AMXLJN");
        assert_eq!(initials("维生素B12注射液"), "WSSB12ZSY");
        assert_eq!(initials("（）-"), "");
    }

    #[test]
    fn generic_names_match_products() {
        assert_eq!(generic_match_len("酚妥拉明", "甲磺酸酚妥拉明片"), Some(4));
        assert_eq!(generic_match_len("通宣理肺丸(片、胶囊、颗粒)", "通宣理肺胶囊"), Some(4));
        assert_eq!(generic_match_len("阿帕他胺", "阿帕他胺片"), Some(4));
        assert_eq!(generic_match_len("益母草膏(颗粒)", "益母草颗粒"), Some(3));
        assert_eq!(generic_match_len("奥昔布宁", "他达拉非片"), None);
    }

    #[test]
    fn pay_standard_and_period() {
        assert_eq!(parse_pay_standard("63.00元(10mg/支)"), (Some(Money::from_fen(6300)), Some("10mg/支".into())));
        assert_eq!(parse_pay_standard("*"), (None, None));
        assert_eq!(parse_pay_standard(""), (None, None));
        let (a, b) = parse_agreement_period("2024年1月1日至2025年12月31日");
        assert_eq!(a.unwrap().to_string(), "2024-01-01");
        assert_eq!(b.unwrap().to_string(), "2025-12-31");
    }

    #[test]
    fn embedded_files_parse_with_published_counts() {
        let files = embedded_files();
        assert_eq!(parse_divisions(files).unwrap().len(), 3348);
        assert_eq!(parse_named(files, "icd10.csv").unwrap().len(), 33_304);
        assert_eq!(parse_named(files, "procedures.csv").unwrap().len(), 13_686);
        let items = parse_catalog(files).unwrap();
        let count = |t: ListType| items.iter().filter(|i| i.list_type == t).count();
        // 3,889 generic drug rows + 13,738 distinct product codes.
        assert_eq!(count(ListType::WesternAndPatentDrug), 3889 + 13_738);
        assert_eq!(count(ListType::HerbalPieces), 892);
        assert_eq!(count(ListType::MedicalService), 3144);
        assert_eq!(count(ListType::MedicalConsumable), items.iter().filter(|i| i.code.starts_with('C')).count());
        let codes: std::collections::HashSet<_> = items.iter().map(|i| &i.code).collect();
        assert_eq!(codes.len(), items.len(), "catalog codes are unique");
        // Most product codes find their generic entry.
        let products: Vec<_> = items.iter().filter(|i| i.code.len() >= 20 && !i.code.starts_with("YP")).collect();
        let linked = products.iter().filter(|p| p.generic_code.is_some()).count();
        // Many rule-book products are not in the national catalog at all
        // (e.g. 西地那非), so a large share stays unlinked by design.
        assert!(linked * 100 / products.len() >= 40, "linked {linked} of {}", products.len());
        // Every national code value in code_values.csv is known to the enums.
        let f = "code_values.csv";
        let national =
            csv_rows(files.get(f), f).unwrap().iter().filter(|r| is_national(&r["field"], &r["code"])).count();
        assert!(national >= 50, "{national}");
        // Amoxicillin is a 甲 drug in the 2024 catalog.
        assert!(items.iter().any(|i| i.name.starts_with("阿莫西林") && i.class == Some(ChrgitmLv::ClassA)));
    }
}
