//! 对账 over the national interface: 3201 (对总账), 3202 (对明细账) and the
//! 9101 file upload that carries 3202's detail file.
//!
//! The comparison itself is `yibao_app::fund::reconcile`; here the spec's
//! fields are mapped onto it. An institution reconciles its own settlements
//! only: the scope's institution is the one the message comes from.

use serde::Deserialize;
use serde_json::{Value, json};
use yibao_app::fsi::{self as fsi_app, FsiCtx};
use yibao_app::fund::reconcile::{self, ReconcileScope, Reconciliation, SubmittedTotals};
use yibao_app::{App, AppError, AppResult};
use yibao_domain::codes::{ClrType, Insutype, deserialize_code_text};
use yibao_domain::{Date, DateTime, DivisionCode, Money};
use yibao_store::Tx;

use super::Reply;

/// How long an uploaded or generated file may be fetched.
pub(super) const FILE_TTL_MS: i64 = 24 * 3600 * 1000;

/// A kept file: its 文件查询号 and the instant it may no longer be fetched.
pub(super) struct KeptFile {
    pub file_qury_no: String,
    pub expires_at_ms: i64,
}

/// Keeps a file for the message's institution for [`FILE_TTL_MS`] under a
/// new 文件查询号 (9101 uploads, 3202 results, 13xx catalogue files).
pub(super) fn keep_file(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    filename: &str,
    content: Vec<u8>,
    data_cnt: i64,
) -> AppResult<KeptFile> {
    let file_qury_no = yibao_store::ids::next_id().to_string();
    let expires_at_ms = ctx.now_ms + FILE_TTL_MS;
    yibao_store::fsi::insert_file(
        tx,
        &yibao_store::fsi::FsiFile {
            file_qury_no: file_qury_no.clone(),
            fixmedins_code: ctx.fixmedins_code().to_owned(),
            filename: filename.to_owned(),
            content,
            data_cnt,
            expires_at_ms,
        },
        ctx.now_ms,
    )?;
    Ok(KeptFile { file_qury_no, expires_at_ms })
}
/// Characters of `stmt_rslt_dscr` (str 200 in the spec).
const STMT_RSLT_DSCR_CHARS_MAX: usize = 200;

/// 3201 `data`.
#[derive(Clone, Debug, Deserialize)]
pub struct TotalsIn {
    pub insutype: Insutype,
    pub clr_type: ClrType,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub setl_optins: String,
    pub stmt_begndate: Date,
    pub stmt_enddate: Date,
    pub medfee_sumamt: Money,
    pub fund_pay_sumamt: Money,
    pub acct_pay: Money,
    pub fixmedins_setl_cnt: i64,
    /// 退费结算标志: accepted; reversals always count as rows of their own.
    #[serde(default)]
    pub refd_setl_flag: Option<Value>,
}

/// 3202 `data`.
#[derive(Clone, Debug, Deserialize)]
pub struct DetailsIn {
    #[serde(default)]
    pub clr_type: Option<ClrType>,
    #[serde(default)]
    pub insutype: Option<Insutype>,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub setl_optins: String,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub file_qury_no: String,
    pub stmt_begndate: Date,
    pub stmt_enddate: Date,
    pub medfee_sumamt: Money,
    pub fund_pay_sumamt: Money,
    #[serde(default)]
    pub cash_payamt: Option<Money>,
    pub fixmedins_setl_cnt: i64,
    #[serde(default)]
    pub refd_setl_flag: Option<Value>,
}

/// 9101 `fsUploadIn`: the file travels Base64-encoded in `in` (a multipart
/// upload's `file` part is put there by the endpoint).
#[derive(Clone, Debug, Deserialize)]
pub struct UploadIn {
    #[serde(rename = "in")]
    pub content: UploadContent,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub filename: String,
    #[serde(default)]
    pub fixmedins_code: Option<String>,
}

/// The bytes of an upload: Base64 text (as Java clients serialize byte[])
/// or an array of byte values.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum UploadContent {
    Base64(String),
    Bytes(Vec<u8>),
}

/// 结算经办机构: a division code. Within one node every settlement of an
/// institution is cleared by one agency, so it is checked and echoed.
fn setl_optins(field: &str, value: &str) -> AppResult<String> {
    let code = DivisionCode::parse(value.trim()).map_err(|e| e.named(field))?;
    Ok(code.as_str().to_owned())
}

fn stmtinfo(setl_optins: &str, r: &Reconciliation) -> Value {
    let mut dscr = r.summary.clone();
    for d in r.differences.iter().take(3) {
        dscr.push_str(&format!("；{}", d.description));
    }
    json!({
        "setl_optins": setl_optins,
        "stmt_rslt": if r.matched { "0" } else { "1" },
        "stmt_rslt_dscr": dscr.chars().take(STMT_RSLT_DSCR_CHARS_MAX).collect::<String>(),
    })
}

/// 3201 医药机构费用结算对总账.
pub fn totals(tx: &mut dyn Tx, ctx: &FsiCtx, d: &TotalsIn) -> AppResult<Value> {
    let optins = setl_optins("input.data.setl_optins", &d.setl_optins)?;
    let scope = ReconcileScope {
        fixmedins_code: ctx.institution.code,
        begin_date: d.stmt_begndate,
        end_date: d.stmt_enddate,
        insutype: Some(d.insutype),
        clr_type: Some(d.clr_type),
    };
    let submitted = [SubmittedTotals {
        insutype: d.insutype,
        clr_type: d.clr_type,
        count: d.fixmedins_setl_cnt,
        medfee_sumamt: d.medfee_sumamt,
        fund_pay_sumamt: d.fund_pay_sumamt,
        acct_pay: d.acct_pay,
    }];
    let r = reconcile::reconcile_totals(tx, &scope, &submitted).map_err(|e| prefixed(e, "input.data."))?;
    Ok(json!({ "stmtinfo": stmtinfo(&optins, &r) }))
}

/// The app layer names scope fields by its own names; say them as the spec does.
fn prefixed(e: AppError, prefix: &str) -> AppError {
    match e {
        AppError::Invalid(fields) => AppError::Invalid(
            fields
                .into_iter()
                .map(|mut f| {
                    f.field = match f.field.as_str() {
                        "end_date" => format!("{prefix}stmt_enddate"),
                        "begin_date" => format!("{prefix}stmt_begndate"),
                        "totals[0].count" => format!("{prefix}fixmedins_setl_cnt"),
                        "totals[0].insutype" => format!("{prefix}insutype"),
                        other if other.starts_with("file") => other.to_owned(),
                        other => format!("{prefix}{other}"),
                    };
                    f
                })
                .collect(),
        ),
        other => other,
    }
}

/// 3202 医药机构费用结算对明细账: the detail file uploaded with 9101 is
/// compared with the platform's rows; the differences go into a result
/// file fetched with 9102, and the verdict is answered at once as well.
pub async fn details(app: &App, ctx: FsiCtx, d: DetailsIn) -> AppResult<Reply> {
    let received_ms = ctx.now_ms;
    let file_no = fsi_app::parse_id("input.data.file_qury_no", &d.file_qury_no, 40)?;
    let node = ctx.node_admdvs.clone();
    let output = app
        .db
        .write(move |tx: &mut dyn Tx| {
            fsi_app::check_signin(tx, &ctx)?;
            let optins = setl_optins("input.data.setl_optins", &d.setl_optins)?;
            let code = ctx.fixmedins_code().to_owned();
            let file = match yibao_store::fsi::file(tx, &file_no)? {
                Some(f) if f.fixmedins_code != code => {
                    return Err(AppError::invalid("input.data.file_qury_no", "文件不属于本机构"));
                }
                Some(f) if f.expires_at_ms <= ctx.now_ms => {
                    return Err(AppError::invalid("input.data.file_qury_no", "文件已过期，请重新上传（9101）"));
                }
                Some(f) => f,
                None => return Err(AppError::invalid("input.data.file_qury_no", "文件查询号不存在，请先上传（9101）")),
            };
            let rows = reconcile::parse_detail_file(&file.content)?;
            // The message's totals describe its own file: a mismatch means
            // the institution sent the wrong file or the wrong figures.
            let sums = reconcile::detail_sums(&rows)?;
            for (field, ours, theirs) in [
                ("fixmedins_setl_cnt", sums.count.to_string(), d.fixmedins_setl_cnt.to_string()),
                ("medfee_sumamt", sums.medfee_sumamt.to_string(), d.medfee_sumamt.to_string()),
                ("fund_pay_sumamt", sums.fund_pay_sumamt.to_string(), d.fund_pay_sumamt.to_string()),
            ] {
                if ours != theirs {
                    return Err(AppError::invalid(
                        format!("input.data.{field}"),
                        format!("与明细文件合计不符：报文为{theirs}，文件合计为{ours}"),
                    ));
                }
            }
            let scope = ReconcileScope {
                fixmedins_code: ctx.institution.code,
                begin_date: d.stmt_begndate,
                end_date: d.stmt_enddate,
                insutype: d.insutype,
                clr_type: d.clr_type,
            };
            let r = reconcile::reconcile_details(tx, &scope, &rows).map_err(|e| prefixed(e, "input.data."))?;
            let filename = format!("3202_{}_{}.txt", ctx.fixmedins_code(), ctx.now.compact());
            let kept = keep_file(tx, &ctx, &filename, reconcile::result_file(&r), r.differences.len() as i64)?;
            Ok::<_, AppError>(json!({
                "fileinfo": {
                    "file_qury_no": kept.file_qury_no,
                    "filename": filename,
                    "dld_endtime": DateTime::from_unix_ms(kept.expires_at_ms).to_string(),
                },
                "stmtinfo": stmtinfo(&optins, &r),
            }))
        })
        .await?;
    Ok(Reply::Output {
        output: output.into(),
        inf_refmsgid: fsi_app::new_refmsgid(&node, DateTime::from_unix_ms(received_ms)),
    })
}

/// 9101 文件上传: keeps the file for a day under a new 文件查询号.
pub async fn upload(app: &App, ctx: FsiCtx, u: UploadIn) -> AppResult<Reply> {
    let received_ms = ctx.now_ms;
    use base64::Engine as _;
    let content = match u.content {
        UploadContent::Base64(text) => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| AppError::invalid("input.fsUploadIn.in", "文件内容应为Base64编码"))?,
        UploadContent::Bytes(bytes) => bytes,
    };
    if content.is_empty() {
        return Err(AppError::invalid("input.fsUploadIn.in", "文件不能为空"));
    }
    if content.len() > reconcile::DETAIL_FILE_BYTES_MAX {
        return Err(AppError::invalid(
            "input.fsUploadIn.in",
            format!("文件超过{}MB", reconcile::DETAIL_FILE_BYTES_MAX / 1024 / 1024),
        ));
    }
    let filename = fsi_app::parse_id("input.fsUploadIn.filename", &u.filename, 200)?;
    if filename.contains(['/', '\\', '"']) {
        return Err(AppError::invalid("input.fsUploadIn.filename", "文件名不能含有 / \\ \""));
    }
    if let Some(code) = u.fixmedins_code.as_deref().map(str::trim).filter(|c| !c.is_empty())
        && code != ctx.fixmedins_code()
    {
        return Err(AppError::invalid("input.fsUploadIn.fixmedins_code", "与报文的定点医药机构编号不符"));
    }
    let node = ctx.node_admdvs.clone();
    let output = app
        .db
        .write(move |tx: &mut dyn Tx| {
            fsi_app::check_signin(tx, &ctx)?;
            let lines = content.iter().filter(|&&b| b == b'\n').count() as i64;
            // The job may run again after a failed group commit: copy the bytes.
            let kept = keep_file(tx, &ctx, &filename, content.clone(), lines)?;
            Ok::<_, AppError>(json!({
                "file_qury_no": kept.file_qury_no,
                "filename": filename,
                "dld_endtime": DateTime::from_unix_ms(kept.expires_at_ms).to_string(),
            }))
        })
        .await?;
    Ok(Reply::Output {
        output: output.into(),
        inf_refmsgid: fsi_app::new_refmsgid(&node, DateTime::from_unix_ms(received_ms)),
    })
}
