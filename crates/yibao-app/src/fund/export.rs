//! Statements and balances as files for 财务: CSV (UTF-8 with BOM, so that
//! Excel shows the Chinese headings) and Excel (.xlsx). Amounts are exact:
//! yuan with two decimals as text in CSV; in Excel each amount is the formula
//! `=fen/100` (Excel does the division, the file carries the exact integer)
//! with its exact result cached, and the integer fen in a column of its own.

use yibao_domain::auth::Permission;
use yibao_store::Tx;

use super::{BalanceQuery, Statement, StatementQuery, balances, statement_in, statement_params};
use crate::App;
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};

fn csv_bytes(header: &[&str], rows: Vec<Vec<String>>) -> AppResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(|e| AppError::Internal(e.to_string()))?;
    for r in rows {
        w.write_record(&r).map_err(|e| AppError::Internal(e.to_string()))?;
    }
    let mut out = b"\xEF\xBB\xBF".to_vec();
    out.extend(w.into_inner().map_err(|e| AppError::Internal(e.to_string()))?);
    Ok(out)
}

/// The income and expense statement as CSV: the lines, then the monthly totals.
pub fn statement_csv(s: &Statement) -> AppResult<Vec<u8>> {
    let mut rows: Vec<Vec<String>> = s
        .lines
        .iter()
        .map(|l| {
            vec![
                l.month.clone(),
                l.region.to_string(),
                l.fund.code().into(),
                l.fund_name.into(),
                l.class.name().into(),
                l.account.code().into(),
                l.account_name.into(),
                l.sub.clone(),
                l.sub_name.clone(),
                l.amount.to_string(),
            ]
        })
        .collect();
    for t in &s.totals {
        for (label, amount) in [("收入合计", t.income), ("支出合计", t.expense), ("本期结余", t.surplus)] {
            rows.push(vec![
                t.month.clone(),
                t.region.to_string(),
                t.fund.code().into(),
                t.fund_name.into(),
                label.into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                amount.to_string(),
            ]);
        }
    }
    csv_bytes(
        &["月份", "统筹区", "基金编码", "基金名称", "类别", "科目编码", "科目名称", "明细", "明细名称", "金额（元）"],
        rows,
    )
}

/// Integers of at most 2^53 are exact in the IEEE doubles Excel stores.
const EXCEL_EXACT_FEN_MAX: i64 = 1 << 53;

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::Internal(format!("Excel: {e}"))
}

/// Writes an amount as `=fen/100` (with the exact yuan text as cached
/// result) at `col` and the integer fen at `fen_col`.
fn write_amount(
    ws: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    col: u16,
    fen_col: u16,
    amount: yibao_domain::Money,
    format: &rust_xlsxwriter::Format,
) -> AppResult<()> {
    let fen = amount.fen();
    if fen.abs() > EXCEL_EXACT_FEN_MAX {
        return Err(AppError::Internal(format!("金额 {amount} 超出 Excel 可精确表示的范围")));
    }
    let formula = rust_xlsxwriter::Formula::new(format!("={fen}/100")).set_result(amount.to_string());
    ws.write_formula_with_format(row, col, formula, format).map_err(xlsx_err)?;
    ws.write(row, fen_col, fen).map_err(xlsx_err)?;
    Ok(())
}

/// The income and expense statement as an Excel workbook: sheet 收支明细
/// (the lines) and sheet 月度合计 (income, expense and surplus per month and fund).
pub fn statement_xlsx(s: &Statement) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    {
        let ws = wb.add_worksheet();
        ws.set_name("收支明细").map_err(xlsx_err)?;
        let head = [
            "月份",
            "统筹区",
            "基金编码",
            "基金名称",
            "类别",
            "科目编码",
            "科目名称",
            "明细",
            "明细名称",
            "金额（元）",
            "金额（分）",
        ];
        for (c, h) in head.iter().enumerate() {
            ws.write_with_format(0, c as u16, *h, &bold).map_err(xlsx_err)?;
        }
        for (i, l) in s.lines.iter().enumerate() {
            let r = i as u32 + 1;
            let texts = [
                l.month.clone(),
                l.region.to_string(),
                l.fund.code().into(),
                l.fund_name.into(),
                l.class.name().into(),
                l.account.code().into(),
                l.account_name.into(),
                l.sub.clone(),
                l.sub_name.clone(),
            ];
            for (c, t) in texts.iter().enumerate() {
                ws.write(r, c as u16, t.as_str()).map_err(xlsx_err)?;
            }
            write_amount(ws, r, 9, 10, l.amount, &money)?;
        }
        ws.set_column_width(3, 28).map_err(xlsx_err)?;
        ws.set_column_width(6, 18).map_err(xlsx_err)?;
        ws.set_column_width(9, 18).map_err(xlsx_err)?;
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("月度合计").map_err(xlsx_err)?;
        let head = [
            "月份",
            "统筹区",
            "基金编码",
            "基金名称",
            "收入（元）",
            "支出（元）",
            "本期结余（元）",
            "收入（分）",
            "支出（分）",
            "本期结余（分）",
        ];
        for (c, h) in head.iter().enumerate() {
            ws.write_with_format(0, c as u16, *h, &bold).map_err(xlsx_err)?;
        }
        for (i, t) in s.totals.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write(r, 0, t.month.as_str()).map_err(xlsx_err)?;
            ws.write(r, 1, t.region.as_str()).map_err(xlsx_err)?;
            ws.write(r, 2, t.fund.code()).map_err(xlsx_err)?;
            ws.write(r, 3, t.fund_name).map_err(xlsx_err)?;
            write_amount(ws, r, 4, 7, t.income, &money)?;
            write_amount(ws, r, 5, 8, t.expense, &money)?;
            write_amount(ws, r, 6, 9, t.surplus, &money)?;
        }
        ws.set_column_width(3, 28).map_err(xlsx_err)?;
    }
    wb.save_to_buffer().map_err(xlsx_err)
}

/// The statement as a file: CSV, or Excel when `xlsx`.
pub async fn statement_file(app: &App, ctx: &Ctx, q: StatementQuery, xlsx: bool) -> AppResult<(String, Vec<u8>)> {
    ctx.require(Permission::ReadFund)?;
    let (prefix, from, to, fund) = statement_params(ctx, &q)?;
    let s = app.db.read(move |tx: &mut dyn Tx| statement_in(tx, &prefix, from, to, fund)).await?;
    let region = if s.region_prefix.is_empty() { "all" } else { &s.region_prefix };
    let ext = if xlsx { "xlsx" } else { "csv" };
    let name = format!("fund-statement-{region}-{from}-{to}.{ext}");
    Ok((name, if xlsx { statement_xlsx(&s)? } else { statement_csv(&s)? }))
}

/// Account balances (科目余额表) as CSV.
pub async fn balances_file(app: &App, ctx: &Ctx, q: BalanceQuery) -> AppResult<(String, Vec<u8>)> {
    let report = balances(app, ctx, q).await?;
    let mut rows = report
        .accounts
        .iter()
        .map(|a| {
            vec![
                a.region.to_string(),
                a.fund.code().into(),
                a.fund_name.into(),
                a.account.code().into(),
                a.account_name.into(),
                a.class.name().into(),
                a.sub.clone(),
                a.sub_name.clone(),
                a.debit.to_string(),
                a.credit.to_string(),
                a.side.name().into(),
                a.balance.to_string(),
            ]
        })
        .collect::<Vec<_>>();
    rows.push(vec![
        "合计".into(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        report.debit_total.to_string(),
        report.credit_total.to_string(),
        String::new(),
        (report.debit_total - report.credit_total).to_string(),
    ]);
    let as_of = report.as_of.map(|d| d.to_string()).unwrap_or_else(|| "now".into());
    let name = format!("fund-balances-{as_of}.csv");
    Ok((
        name,
        csv_bytes(
            &[
                "统筹区",
                "基金编码",
                "基金名称",
                "科目编码",
                "科目名称",
                "类别",
                "明细",
                "明细名称",
                "借方发生额",
                "贷方发生额",
                "余额方向",
                "余额",
            ],
            rows,
        )?,
    ))
}
