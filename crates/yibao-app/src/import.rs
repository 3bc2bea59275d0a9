//! Batch imports: persons and employers from CSV or Excel (.xlsx), and death
//! records as a civil-registry interface provides them. Every row is
//! validated and reported (bad ID check digit, unknown division, duplicate,
//! missing field…); valid rows go in, invalid rows are reported with their
//! reasons, never silently dropped.

use std::collections::HashSet;
use std::io::Cursor;

use serde::Serialize;
use yibao_domain::auth::Permission;
use yibao_domain::codes::{Insutype, PsnType};
use yibao_domain::enrollment::StopReason;
use yibao_domain::{Date, FieldError, Money, Ratio, ResidentId};
use yibao_store::{Tx, enrollment as persons};

use crate::App;
use crate::audit::{self, Change};
use crate::ctx::Ctx;
use crate::employer::{NewEmployer, insert_employer, parse_employer};
use crate::enrollment::{NewEnrollment, NewPerson, insert_person, parse_person};
use crate::error::{AppError, AppResult};

/// Largest file accepted.
pub const FILE_BYTES_MAX: usize = 10 * 1024 * 1024;
/// Most data rows in one file.
pub const ROWS_MAX: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// By file name extension (`.csv`, `.xlsx`).
    pub fn of_name(name: &str) -> AppResult<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Ok(Format::Csv)
        } else if lower.ends_with(".xlsx") {
            Ok(Format::Xlsx)
        } else {
            Err(AppError::invalid("file", "文件应为 .csv 或 .xlsx"))
        }
    }

    pub fn parse(text: &str) -> AppResult<Format> {
        match text {
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(AppError::invalid("format", "格式应为 csv 或 xlsx")),
        }
    }
}

/// The header and data rows of a file, cells as trimmed text.
pub fn read_table(bytes: &[u8], format: Format) -> AppResult<(Vec<String>, Vec<Vec<String>>)> {
    if bytes.len() > FILE_BYTES_MAX {
        return Err(AppError::invalid("file", format!("文件不能超过{}MB", FILE_BYTES_MAX / 1024 / 1024)));
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    match format {
        Format::Csv => {
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            let text = std::str::from_utf8(bytes).map_err(|_| AppError::invalid("file", "CSV 文件应为 UTF-8 编码"))?;
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
            for record in reader.records() {
                let record = record.map_err(|e| AppError::invalid("file", format!("CSV 格式错误：{e}")))?;
                rows.push(record.iter().map(|c| c.trim().to_owned()).collect());
                if rows.len() > ROWS_MAX + 1 {
                    return Err(AppError::invalid("file", format!("文件不能超过{ROWS_MAX}行数据")));
                }
            }
        }
        Format::Xlsx => {
            use calamine::{Data, Reader};
            let mut book = calamine::Xlsx::new(Cursor::new(bytes.to_vec()))
                .map_err(|e| AppError::invalid("file", format!("无法读取 Excel 文件：{e}")))?;
            let range = book
                .worksheet_range_at(0)
                .ok_or_else(|| AppError::invalid("file", "Excel 文件没有工作表"))?
                .map_err(|e| AppError::invalid("file", format!("无法读取工作表：{e}")))?;
            for row in range.rows() {
                rows.push(
                    row.iter()
                        .map(|c| match c {
                            Data::String(s) => s.trim().to_owned(),
                            Data::Int(i) => i.to_string(),
                            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
                            Data::Float(f) => f.to_string(),
                            Data::Bool(b) => b.to_string(),
                            // Excel serial days since 1899-12-30 (25569 is 1970-01-01).
                            Data::DateTime(d) => {
                                Date::from_days_since_epoch(d.as_f64().floor() as i32 - 25_569).to_string()
                            }
                            Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
                            Data::Error(_) | Data::Empty => String::new(),
                        })
                        .collect(),
                );
                if rows.len() > ROWS_MAX + 1 {
                    return Err(AppError::invalid("file", format!("文件不能超过{ROWS_MAX}行数据")));
                }
            }
        }
    }
    if rows.is_empty() {
        return Err(AppError::invalid("file", "文件为空"));
    }
    let header = rows.remove(0);
    rows.retain(|r| r.iter().any(|c| !c.is_empty()));
    Ok((header, rows))
}

/// Column lookup by Chinese or English header.
struct Columns(Vec<String>);

impl Columns {
    fn find(&self, names: &[&str]) -> Option<usize> {
        self.0.iter().position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    }

    fn require(&self, field: &str, names: &[&str]) -> AppResult<usize> {
        self.find(names).ok_or_else(|| AppError::invalid("file", format!("缺少“{}”列（{field}）", names[0])))
    }
}

fn cell(row: &[String], col: Option<usize>) -> &str {
    col.and_then(|c| row.get(c)).map(String::as_str).unwrap_or("")
}

fn required<'a>(row: &'a [String], col: Option<usize>, field: &str) -> Result<&'a str, FieldError> {
    let v = cell(row, col);
    if v.is_empty() { Err(FieldError::new(field, "必填字段为空")) } else { Ok(v) }
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct RowReport {
    /// Row number in the file (the header is row 1).
    pub row: usize,
    /// The row's key (ID number masked, or the credit code).
    pub key: String,
    pub accepted: bool,
    /// The number assigned (psn_no, emp_no) when accepted.
    pub assigned: Option<String>,
    pub errors: Vec<FieldError>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct ImportReport {
    pub kind: &'static str,
    pub total: usize,
    pub accepted: usize,
    pub rejected: usize,
    /// rejected / total, as a ratio.
    pub rejected_share: Ratio,
    pub rows: Vec<RowReport>,
}

fn finish(kind: &'static str, rows: Vec<RowReport>) -> ImportReport {
    let total = rows.len();
    let rejected = rows.iter().filter(|r| !r.accepted).count();
    let share = if total == 0 {
        Ratio::ZERO
    } else {
        Ratio::from_ppm(yibao_domain::money::round_half_up(rejected as i128 * 1_000_000, total as i128) as u32)
    };
    ImportReport { kind, total, accepted: total - rejected, rejected, rejected_share: share, rows }
}

fn field_errors(e: AppError) -> Vec<FieldError> {
    match e {
        AppError::Invalid(f) => f,
        other => vec![FieldError::new("", other.to_string())],
    }
}

/// Imports persons, enrolling each in the scheme the row names. Columns:
/// 姓名 psn_name, 身份证号 certno, 居住区划 admdvs, 参保地 insu_admdvs, 险种 insutype,
/// 人员类别 psn_type, 参保日期 begin_date, and optionally 单位编号 emp_no,
/// 缴费基数 base, 电话 tel, 地址 address.
pub async fn persons(app: &App, ctx: &Ctx, bytes: &[u8], format: Format) -> AppResult<ImportReport> {
    ctx.require(Permission::WriteEnrollment)?;
    let (header, rows) = read_table(bytes, format)?;
    let cols = Columns(header);
    let c_name = cols.require("psn_name", &["姓名", "psn_name"])?;
    let c_cert = cols.require("certno", &["身份证号", "证件号码", "certno"])?;
    let c_admdvs = cols.require("admdvs", &["居住区划", "区划", "admdvs"])?;
    let c_insu = cols.find(&["参保地", "insu_admdvs"]);
    let c_insutype = cols.find(&["险种", "insutype"]);
    let c_type = cols.find(&["人员类别", "psn_type"]);
    let c_begin = cols.find(&["参保日期", "begin_date"]);
    let c_emp = cols.find(&["单位编号", "emp_no"]);
    let c_base = cols.find(&["缴费基数", "base"]);
    let c_tel = cols.find(&["电话", "tel"]);
    let c_addr = cols.find(&["地址", "address"]);
    let mut reports = Vec::new();
    let mut valid: Vec<(usize, NewEnrollmentRow)> = Vec::new();
    let mut seen = HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        let row_no = i + 2;
        let certno = cell(row, Some(c_cert)).to_owned();
        let mut errors = Vec::new();
        let parsed = (|| -> Result<NewEnrollmentRow, Vec<FieldError>> {
            let name = required(row, Some(c_name), "psn_name").map_err(|e| vec![e])?;
            let cert = required(row, Some(c_cert), "certno").map_err(|e| vec![e])?;
            let admdvs = required(row, Some(c_admdvs), "admdvs").map_err(|e| vec![e])?;
            let person = NewPerson {
                psn_cert_type: None,
                certno: cert.to_owned(),
                psn_name: name.to_owned(),
                gend: None,
                brdy: None,
                naty: None,
                admdvs: admdvs.to_owned(),
                tel: Some(cell(row, c_tel).to_owned()),
                address: Some(cell(row, c_addr).to_owned()),
            };
            let parsed_person = parse_person(app, &person).map_err(field_errors)?;
            let insutype_text = cell(row, c_insutype);
            let enrollment = if insutype_text.is_empty() {
                None
            } else {
                let insutype = Insutype::parse(insutype_text).map_err(|e| vec![e])?;
                let psn_type =
                    PsnType::parse(required(row, c_type, "psn_type").map_err(|e| vec![e])?).map_err(|e| vec![e])?;
                let begin = Date::parse(required(row, c_begin, "begin_date").map_err(|e| vec![e])?)
                    .map_err(|e| vec![e.named("begin_date")])?;
                let insu = match cell(row, c_insu) {
                    "" => admdvs.to_owned(),
                    v => v.to_owned(),
                };
                let base = match cell(row, c_base) {
                    "" => None,
                    v => Some(Money::parse_yuan(v).map_err(|e| vec![e.named("base")])?),
                };
                let emp = Some(cell(row, c_emp).to_owned()).filter(|e| !e.is_empty());
                let input = NewEnrollment {
                    psn_no: Some(String::new()),
                    person: None,
                    insutype,
                    psn_type,
                    insu_admdvs: insu,
                    begin_date: begin,
                    emp_no: emp,
                    base,
                    cvlserv_flag: None,
                    assistance_category: None,
                    waiting_exempt: None,
                };
                Some(crate::enrollment::check_import_terms(app, ctx, &input).map_err(field_errors)?)
            };
            Ok(NewEnrollmentRow { person: parsed_person, enrollment })
        })();
        match parsed {
            Ok(r) => {
                if !seen.insert(r.person.certificate.certno.clone()) {
                    errors.push(FieldError::new("certno", "与文件中前面的行重复"));
                } else {
                    valid.push((reports.len(), r));
                }
            }
            Err(e) => errors.extend(e),
        }
        reports.push(RowReport {
            row: row_no,
            key: yibao_domain::resident_id::mask(&certno),
            accepted: errors.is_empty(),
            assigned: None,
            errors,
        });
    }
    let ctx2 = ctx.clone();
    let results = app
        .db
        .write(move |tx: &mut dyn Tx| {
            let certnos: Vec<String> = valid.iter().map(|(_, r)| r.person.certificate.certno.clone()).collect();
            let existing = persons::existing_certnos(tx, &certnos)?;
            let mut out: Vec<(usize, Result<String, Vec<FieldError>>)> = Vec::new();
            for (idx, r) in &valid {
                if existing.contains(&r.person.certificate.certno) {
                    out.push((*idx, Err(vec![FieldError::new("certno", "该证件号码已登记（重复）")])));
                    continue;
                }
                if let Some(t) = &r.enrollment
                    && let Err(e) = crate::enrollment::precheck_terms(tx, t)
                {
                    out.push((*idx, Err(field_errors(e))));
                    continue;
                }
                let region = r.enrollment.as_ref().map(|t| t.region).unwrap_or(r.person.admdvs);
                let person = insert_person(tx, &ctx2, r.person.clone(), region)?;
                if let Some(t) = &r.enrollment {
                    crate::enrollment::enroll_terms_in_job(tx, &ctx2, &person.psn_no, t)?;
                }
                out.push((*idx, Ok(person.psn_no)));
            }
            Ok::<_, AppError>(out)
        })
        .await?;
    for (idx, r) in results {
        match r {
            Ok(psn_no) => reports[idx].assigned = Some(psn_no),
            Err(errors) => {
                reports[idx].accepted = false;
                reports[idx].errors = errors;
            }
        }
    }
    Ok(finish("persons", reports))
}

struct NewEnrollmentRow {
    person: yibao_domain::enrollment::Person,
    enrollment: Option<crate::enrollment::Terms>,
}

/// Imports employers. Columns: 统一社会信用代码 uscc, 单位名称 emp_name, 参保地
/// insu_admdvs, 所在区划 admdvs, and optionally 地址 address, 联系人 contact, 电话 tel.
pub async fn employers(app: &App, ctx: &Ctx, bytes: &[u8], format: Format) -> AppResult<ImportReport> {
    ctx.require(Permission::WriteEnrollment)?;
    let (header, rows) = read_table(bytes, format)?;
    let cols = Columns(header);
    let c_uscc = cols.require("uscc", &["统一社会信用代码", "uscc"])?;
    let c_name = cols.require("emp_name", &["单位名称", "emp_name"])?;
    let c_insu = cols.require("insu_admdvs", &["参保地", "insu_admdvs"])?;
    let c_admdvs = cols.find(&["所在区划", "admdvs"]);
    let c_addr = cols.find(&["地址", "address"]);
    let c_contact = cols.find(&["联系人", "contact"]);
    let c_tel = cols.find(&["电话", "tel"]);
    let mut reports = Vec::new();
    let mut valid = Vec::new();
    let mut seen = HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        let key = cell(row, Some(c_uscc)).to_owned();
        let input = NewEmployer {
            uscc: key.clone(),
            emp_name: cell(row, Some(c_name)).to_owned(),
            insu_admdvs: cell(row, Some(c_insu)).to_owned(),
            admdvs: match cell(row, c_admdvs) {
                "" => cell(row, Some(c_insu)).to_owned(),
                v => v.to_owned(),
            },
            address: Some(cell(row, c_addr).to_owned()),
            contact: Some(cell(row, c_contact).to_owned()),
            tel: Some(cell(row, c_tel).to_owned()),
        };
        let mut errors = Vec::new();
        for (col, field) in [(Some(c_uscc), "uscc"), (Some(c_name), "emp_name"), (Some(c_insu), "insu_admdvs")] {
            if let Err(e) = required(row, col, field) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            match parse_employer(app, &input).and_then(|e| ctx.require_region(e.insu_admdvs.as_str()).map(|_| e)) {
                Ok(e) if !seen.insert(e.uscc) => errors.push(FieldError::new("uscc", "与文件中前面的行重复")),
                Ok(e) => valid.push((reports.len(), e)),
                Err(e) => errors.extend(field_errors(e)),
            }
        }
        reports.push(RowReport { row: i + 2, key, accepted: errors.is_empty(), assigned: None, errors });
    }
    let ctx2 = ctx.clone();
    let results = app
        .db
        .write(move |tx: &mut dyn Tx| {
            let mut out = Vec::new();
            for (idx, e) in &valid {
                if yibao_store::employer::by_uscc(tx, e.uscc.as_str())?.is_some() {
                    out.push((*idx, Err(FieldError::new("uscc", "该统一社会信用代码已登记（重复）"))));
                    continue;
                }
                let stored = insert_employer(tx, &ctx2, e.clone())?;
                out.push((*idx, Ok(stored.emp_no)));
            }
            Ok::<_, AppError>(out)
        })
        .await?;
    for (idx, r) in results {
        match r {
            Ok(no) => reports[idx].assigned = Some(no),
            Err(e) => {
                reports[idx].accepted = false;
                reports[idx].errors = vec![e];
            }
        }
    }
    Ok(finish("employers", reports))
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct SettlementToReview {
    pub psn_no: String,
    pub setl_id: String,
    pub setl_date: Date,
    pub fixmedins_code: String,
    pub medfee_sumamt: Money,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct DeathImportReport {
    #[serde(flatten)]
    pub rows: ImportReport,
    /// Settlements dated after a death, for review (疑点).
    pub settlements_to_review: Vec<SettlementToReview>,
}

/// Imports death records (身份证号 certno, 死亡日期 death_date): records the
/// date, stops the open enrollment as of that date, and lists settlements
/// dated after it for review.
pub async fn deaths(app: &App, ctx: &Ctx, bytes: &[u8], format: Format) -> AppResult<DeathImportReport> {
    ctx.require(Permission::WriteEnrollment)?;
    let (header, rows) = read_table(bytes, format)?;
    let cols = Columns(header);
    let c_cert = cols.require("certno", &["身份证号", "证件号码", "certno"])?;
    let c_date = cols.require("death_date", &["死亡日期", "death_date"])?;
    let today = ctx.today();
    let mut reports = Vec::new();
    let mut valid = Vec::new();
    let mut seen = HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        let certno = cell(row, Some(c_cert)).to_owned();
        let parsed = (|| -> Result<(ResidentId, Date), FieldError> {
            let id = ResidentId::parse(required(row, Some(c_cert), "certno")?)?;
            let date = Date::parse(required(row, Some(c_date), "death_date")?).map_err(|e| e.named("death_date"))?;
            if date > today {
                return Err(FieldError::new("death_date", "死亡日期晚于今天"));
            }
            if date < id.birth_date() {
                return Err(FieldError::new("death_date", "死亡日期早于出生日期"));
            }
            Ok((id, date))
        })();
        let mut errors = Vec::new();
        match parsed {
            Ok((id, _)) if !seen.insert(id) => errors.push(FieldError::new("certno", "与文件中前面的行重复")),
            Ok(v) => valid.push((reports.len(), v)),
            Err(e) => errors.push(e),
        }
        reports.push(RowReport {
            row: i + 2,
            key: yibao_domain::resident_id::mask(&certno),
            accepted: errors.is_empty(),
            assigned: None,
            errors,
        });
    }
    let ctx2 = ctx.clone();
    let (results, review) = app
        .db
        .write(move |tx: &mut dyn Tx| {
            let mut out = Vec::new();
            let mut review = Vec::new();
            for (idx, (id, date)) in &valid {
                let Some(person) = persons::person_by_certno(tx, id.as_str())? else {
                    out.push((*idx, Err(FieldError::new("certno", "本平台没有该人员"))));
                    continue;
                };
                let in_scope = ctx2.actor.scope.covers(person.admdvs.as_str())
                    || persons::enrollments_of(tx, &person.psn_no)?
                        .iter()
                        .any(|e| ctx2.actor.scope.covers(e.insu_admdvs.as_str()));
                if !in_scope {
                    out.push((*idx, Err(FieldError::new("certno", "该人员不在当前账号的管辖范围内"))));
                    continue;
                }
                if person.death_date == Some(*date) {
                    out.push((*idx, Ok(person.psn_no.clone())));
                } else {
                    persons::set_death_date(tx, &person.psn_no, *date, ctx2.now_ms)?;
                    if let Some(open) = persons::open_basic_enrollment(tx, &person.psn_no)? {
                        let end = (*date).max(open.enrollment.begin_date.add_days(-1));
                        crate::enrollment::stop_in_job(tx, &ctx2, open, end, StopReason::Death)?;
                    }
                    audit::record(
                        tx,
                        &ctx2,
                        Change {
                            action: "person.death",
                            target_kind: "person",
                            target_id: &person.psn_no,
                            region: person.admdvs.as_str(),
                            before: audit::image(&person),
                            after: audit::image(&serde_json::json!({"death_date": date})),
                        },
                    )?;
                    out.push((*idx, Ok(person.psn_no.clone())));
                }
                for r in tx.query(
                    "SELECT setl_id, setl_date, fixmedins_code, medfee_sumamt_fen FROM settlement WHERE psn_no = $1 \
                     AND setl_date > $2 AND reversal_of IS NULL AND reversed_by IS NULL ORDER BY setl_date LIMIT 100",
                    yibao_store::params![person.psn_no.as_str(), *date],
                )? {
                    review.push(SettlementToReview {
                        psn_no: person.psn_no.clone(),
                        setl_id: r.text(0)?,
                        setl_date: r.date(1)?,
                        fixmedins_code: r.text(2)?,
                        medfee_sumamt: r.money(3)?,
                    });
                }
            }
            Ok::<_, AppError>((out, review))
        })
        .await?;
    for (idx, r) in results {
        match r {
            Ok(no) => reports[idx].assigned = Some(no),
            Err(e) => {
                reports[idx].accepted = false;
                reports[idx].errors = vec![e];
            }
        }
    }
    Ok(DeathImportReport { rows: finish("deaths", reports), settlements_to_review: review })
}
