//! The fund ledger's SQL: journal entries and lines (insert-only), balances
//! and movements summed from lines, clearing runs, settings, and the
//! settlement sums that clearing and reconciliation compare against.
//!
//! There is no update or delete of `fund_entry` or `fund_line` here, by
//! design: a correction is a new entry.

use yibao_domain::codes::{ClrType, Insutype};
use yibao_domain::division::DivisionCode;
use yibao_domain::fund::{
    Account, AccountKey, DetailRecord, Entry, EntryKind, Fund, FundPays, Line, Month, Side, Totals,
};
use yibao_domain::{Date, Money, Parsed};

use crate::params;
use crate::sql::{DbError, DbResult, Read, Row, Tx, Value, insert_many, insert_many_deferred};

fn decode<T>(r: Parsed<T>) -> DbResult<T> {
    r.map_err(|e| DbError::decode(format!("{}: {}", e.field, e.reason)))
}

/// `[low, high)` bounds of the region codes starting with `prefix` (codes are
/// digits, so `~` sorts after every code with the prefix). A range, unlike
/// LIKE, lets both databases use the index.
pub fn region_range(prefix: &str) -> (String, String) {
    (prefix.to_owned(), format!("{prefix}~"))
}

/// Writes an entry and its lines, deferred ([`Tx::execute_deferred`]). The
/// entry must already have been checked; the check is repeated here because
/// the ledger is the last line of defence: an unbalanced entry is never
/// written.
pub fn insert_entry(tx: &mut dyn Tx, id: i64, entry: &Entry, created_by: &str, now_ms: i64) -> DbResult<()> {
    entry
        .check()
        .map_err(|e| DbError::new(crate::DbErrorKind::Constraint, format!("refused unbalanced entry: {e}")))?;
    let (debit, credit) = entry.totals();
    assert_eq!(debit, credit, "checked entries balance");
    tx.execute_deferred(
        "INSERT INTO fund_entry (id, kind, reference, reverses, entry_date, memo, debit_fen, credit_fen, created_by, \
         created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        params![
            id,
            entry.kind.as_str(),
            entry.reference.as_str(),
            entry.reverses.clone(),
            entry.entry_date,
            entry.memo.as_str(),
            debit,
            credit,
            created_by,
            now_ms
        ],
        None,
    )?;
    let rows: Vec<Vec<Value>> = entry
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            vec![
                id.into(),
                (i + 1).into(),
                l.key.region.as_str().into(),
                l.key.fund.code().into(),
                l.key.account.code().into(),
                l.key.sub.as_str().into(),
                l.side.code().into(),
                l.amount.into(),
                entry.entry_date.into(),
            ]
        })
        .collect();
    insert_many_deferred(
        tx,
        "INSERT INTO fund_line (entry_id, line_no, region, fund, account, sub, side, amount_fen, entry_date)",
        9,
        rows,
        "",
        None,
    )
}

/// A stored entry with its lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    pub id: i64,
    pub entry: Entry,
    pub created_by: String,
    pub created_at_ms: i64,
}

const ENTRY_COLUMNS: &str = "id, kind, reference, reverses, entry_date, memo, created_by, created_at_ms";

fn line_from_row(r: &Row) -> DbResult<Line> {
    Ok(Line {
        key: AccountKey {
            region: decode(DivisionCode::parse(&r.text(0)?))?,
            fund: decode(Fund::parse(&r.text(1)?))?,
            account: decode(Account::parse(&r.text(2)?))?,
            sub: r.text(3)?,
        },
        side: decode(Side::parse(&r.text(4)?))?,
        amount: r.money(5)?,
    })
}

fn lines_of(tx: &mut dyn Tx, entry_id: i64) -> DbResult<Vec<Line>> {
    tx.query(
        "SELECT region, fund, account, sub, side, amount_fen FROM fund_line WHERE entry_id = $1 ORDER BY line_no",
        params![entry_id],
    )?
    .iter()
    .map(line_from_row)
    .collect()
}

fn entry_from_row(tx: &mut dyn Tx, r: &Row) -> DbResult<StoredEntry> {
    let id = r.i64(0)?;
    Ok(StoredEntry {
        id,
        entry: Entry {
            kind: decode(EntryKind::parse(&r.text(1)?))?,
            reference: r.text(2)?,
            reverses: r.opt_text(3)?,
            entry_date: r.date(4)?,
            memo: r.text(5)?,
            lines: lines_of(tx, id)?,
        },
        created_by: r.text(6)?,
        created_at_ms: r.i64(7)?,
    })
}

pub fn entry_by_reference(tx: &mut dyn Tx, kind: EntryKind, reference: &str) -> DbResult<Option<StoredEntry>> {
    let Some(row) = tx.query_opt(
        &format!("SELECT {ENTRY_COLUMNS} FROM fund_entry WHERE kind = $1 AND reference = $2"),
        params![kind.as_str(), reference],
    )?
    else {
        return Ok(None);
    };
    entry_from_row(tx, &row).map(Some)
}

/// The reference of the entry that reverses `reference`, if any.
pub fn reversed_by(tx: &mut dyn Tx, reference: &str) -> DbResult<Option<String>> {
    tx.query_opt("SELECT reference FROM fund_entry WHERE reverses = $1", params![reference])?
        .map(|r| r.text(0))
        .transpose()
}

#[derive(Clone, Debug, Default)]
pub struct EntryFilter {
    pub region_prefix: String,
    pub kind: Option<EntryKind>,
    pub reference: String,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub limit: i64,
    pub offset: i64,
}

/// Entries touching a region in the prefix, newest first.
pub fn entries(tx: &mut dyn Tx, f: &EntryFilter) -> DbResult<Vec<StoredEntry>> {
    let (lo, hi) = region_range(&f.region_prefix);
    let rows = tx.query(
        &format!(
            "SELECT {ENTRY_COLUMNS} FROM fund_entry e WHERE ($1 = '' OR e.kind = $1) AND ($2 = '' OR e.reference = $2) \
             AND e.entry_date >= $3 AND e.entry_date <= $4 AND EXISTS (SELECT 1 FROM fund_line l WHERE \
             l.entry_id = e.id AND l.region >= $5 AND l.region < $6) ORDER BY e.entry_date DESC, e.id DESC \
             LIMIT $7 OFFSET $8"
        ),
        params![
            f.kind.map(|k| k.as_str()).unwrap_or(""),
            f.reference.as_str(),
            f.from.map(|d| d.to_string()).unwrap_or_else(|| "0000-00-00".into()),
            f.to.map(|d| d.to_string()).unwrap_or_else(|| "9999-12-31".into()),
            lo,
            hi,
            f.limit,
            f.offset
        ],
    )?;
    rows.iter().map(|r| entry_from_row(tx, r)).collect()
}

/// Which lines to sum.
#[derive(Clone, Debug, Default)]
pub struct LineFilter {
    /// Region-code prefix ("" for every region).
    pub region_prefix: String,
    pub fund: Option<Fund>,
    pub account: Option<Account>,
    pub sub: Option<String>,
    /// First day included; `None` from the beginning.
    pub from: Option<Date>,
    /// Last day included; `None` up to the end.
    pub to: Option<Date>,
}

/// Debits and credits of one account over the filtered lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountTotal {
    pub key: AccountKey,
    pub debit: Money,
    pub credit: Money,
}

impl AccountTotal {
    /// Debit-positive balance.
    pub fn net(&self) -> Money {
        self.debit - self.credit
    }
}

const SUMS: &str = "CAST(SUM(CASE WHEN side = 'D' THEN amount_fen ELSE 0 END) AS BIGINT), \
                    CAST(SUM(CASE WHEN side = 'C' THEN amount_fen ELSE 0 END) AS BIGINT)";

const KEY_FILTER: &str = "region >= $1 AND region < $2 AND ($3 = '' OR fund = $3) AND ($4 = '' OR account = $4) \
                          AND ($5 = 0 OR sub = $6)";

fn key_from(r: &Row, at: usize) -> DbResult<AccountKey> {
    Ok(AccountKey {
        region: decode(DivisionCode::parse(&r.text(at)?))?,
        fund: decode(Fund::parse(&r.text(at + 1)?))?,
        account: decode(Account::parse(&r.text(at + 2)?))?,
        sub: r.text(at + 3)?,
    })
}

/// The last closed month, if any.
pub fn closed_through(tx: &mut dyn Tx) -> DbResult<Option<Month>> {
    closed_through_read().query_one(tx)?.opt_text(0)?.map(|m| decode(Month::parse(&m))).transpose()
}

/// The read of [`closed_through`], to prefetch ([`Tx::prefetch`]).
pub fn closed_through_read() -> Read {
    Read::new("SELECT MAX(month) FROM fund_close", params![])
}

/// How a date range is read: whole closed months from the snapshots, the
/// rest from the lines. Returns the parameters $7..$12 of the union query:
/// snapshot months `[ms, me]`, line dates `[from, to]` minus the gap
/// `[gap_lo, gap_hi]` the snapshots cover.
fn plan(closed: Option<Month>, from: Option<Date>, to: Option<Date>) -> [String; 6] {
    let from_text = from.map(|d| d.to_string()).unwrap_or_else(|| "0000-00-00".into());
    let to_text = to.map(|d| d.to_string()).unwrap_or_else(|| "9999-12-31".into());
    let none = || {
        [
            "9999-99".to_owned(),
            "0000-00".to_owned(),
            from_text.clone(),
            to_text.clone(),
            "9999-12-31".to_owned(),
            "9999-12-31".to_owned(),
        ]
    };
    let Some(closed) = closed else { return none() };
    // First whole month at or after `from`.
    let ms = match from {
        None => None,
        Some(d) if d.day() == 1 => Some(Month::of(d)),
        Some(d) => Some(Month::of(d).next()),
    };
    // Last whole month at or before `to`, and closed.
    let me = match to {
        None => closed,
        Some(d) if d == Month::of(d).last_day() => Month::of(d).min(closed),
        Some(d) => Month::of(d).add_months(-1).min(closed),
    };
    let gap_lo = match ms {
        None => "0000-00-00".to_owned(),
        Some(m) if m > me => return none(),
        Some(m) => m.first_day().to_string(),
    };
    [
        ms.map(|m| m.to_string()).unwrap_or_else(|| "0000-00".into()),
        me.to_string(),
        from_text,
        to_text,
        gap_lo,
        me.last_day().to_string(),
    ]
}

fn union_params(f: &LineFilter, closed: Option<Month>) -> Vec<Value> {
    let (lo, hi) = region_range(&f.region_prefix);
    let mut v: Vec<Value> = vec![
        lo.into(),
        hi.into(),
        f.fund.map(|x| x.code()).unwrap_or("").into(),
        f.account.map(|x| x.code()).unwrap_or("").into(),
        i64::from(f.sub.is_some()).into(),
        f.sub.clone().unwrap_or_default().into(),
    ];
    v.extend(plan(closed, f.from, f.to).into_iter().map(Value::from));
    v
}

/// Snapshot rows of whole closed months ∪ lines of the rest, as
/// (month, region, fund, account, sub, debit, credit).
const UNION: &str = "SELECT month AS m, region, fund, account, sub, debit_fen AS d, credit_fen AS c \
    FROM fund_month_balance WHERE {KEY} AND month >= $7 AND month <= $8 \
    UNION ALL SELECT substr(entry_date, 1, 7), region, fund, account, sub, \
    CASE WHEN side = 'D' THEN amount_fen ELSE 0 END, CASE WHEN side = 'C' THEN amount_fen ELSE 0 END \
    FROM fund_line WHERE {KEY} AND entry_date >= $9 AND entry_date <= $10 \
    AND (entry_date < $11 OR entry_date > $12)";

fn union_sql() -> String {
    UNION.replace("{KEY}", KEY_FILTER)
}

/// Σ debits and Σ credits per account over the filtered lines, in account
/// order. Whole closed months are read from their snapshot rows.
pub fn account_totals(tx: &mut dyn Tx, f: &LineFilter) -> DbResult<Vec<AccountTotal>> {
    let closed = closed_through(tx)?;
    tx.query(
        &format!(
            "SELECT region, fund, account, sub, CAST(SUM(d) AS BIGINT), CAST(SUM(c) AS BIGINT) FROM ({}) t \
             GROUP BY region, fund, account, sub ORDER BY region, fund, account, sub",
            union_sql()
        ),
        &union_params(f, closed),
    )?
    .iter()
    .map(|r| Ok(AccountTotal { key: key_from(r, 0)?, debit: r.money(4)?, credit: r.money(5)? }))
    .collect()
}

/// Σ per month (`yyyy-MM`) and account over the filtered lines.
pub fn monthly_totals(tx: &mut dyn Tx, f: &LineFilter) -> DbResult<Vec<(String, AccountTotal)>> {
    let closed = closed_through(tx)?;
    tx.query(
        &format!(
            "SELECT m, region, fund, account, sub, CAST(SUM(d) AS BIGINT), CAST(SUM(c) AS BIGINT) FROM ({}) t \
             GROUP BY m, region, fund, account, sub ORDER BY m, region, fund, account, sub",
            union_sql()
        ),
        &union_params(f, closed),
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, AccountTotal { key: key_from(r, 1)?, debit: r.money(5)?, credit: r.money(6)? })))
    .collect()
}

/// Takes the month-close guard (a row lock on PostgreSQL; SQLite's single
/// writer already serializes).
pub fn lock_close_guard(tx: &mut dyn Tx) -> DbResult<()> {
    tx.query_one(&format!("SELECT id FROM fund_close_guard WHERE id = 1{}", tx.for_update()), params![])?;
    Ok(())
}

/// The earliest entry date, if any entry exists.
pub fn first_entry_date(tx: &mut dyn Tx) -> DbResult<Option<Date>> {
    tx.query_one("SELECT MIN(entry_date) FROM fund_entry", params![])?.get(0)
}

/// Closes a month: writes its snapshot rows from the lines dated in it and
/// the close record. Returns (lines, Σ debit, Σ credit) of the month.
pub fn close_month(tx: &mut dyn Tx, month: Month, by: &str, now_ms: i64) -> DbResult<(i64, Money, Money)> {
    let (first, last) = (month.first_day(), month.last_day());
    let r = tx.query_one(
        &format!(
            "SELECT COUNT(*), {SUMS_L} FROM fund_entry e JOIN fund_line l ON l.entry_id = e.id \
             WHERE e.entry_date >= $1 AND e.entry_date <= $2"
        ),
        params![first, last],
    )?;
    let count = r.i64(0)?;
    let debit = Money::from_fen(r.get::<Option<i64>>(1)?.unwrap_or(0));
    let credit = Money::from_fen(r.get::<Option<i64>>(2)?.unwrap_or(0));
    if debit != credit {
        return Err(DbError::new(crate::DbErrorKind::Constraint, format!("month {month} does not balance")));
    }
    tx.execute(
        &format!(
            "INSERT INTO fund_month_balance (month, region, fund, account, sub, debit_fen, credit_fen) \
             SELECT CAST($1 AS TEXT), l.region, l.fund, l.account, l.sub, {SUMS_L} FROM fund_entry e \
             JOIN fund_line l ON l.entry_id = e.id WHERE e.entry_date >= $2 AND e.entry_date <= $3 \
             GROUP BY l.region, l.fund, l.account, l.sub"
        ),
        params![month.to_string(), first, last],
    )?;
    tx.execute(
        "INSERT INTO fund_close (month, line_count, debit_fen, credit_fen, closed_by, closed_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        params![month.to_string(), count, debit, credit, by, now_ms],
    )?;
    Ok((count, debit, credit))
}

const SUMS_L: &str = "CAST(SUM(CASE WHEN l.side = 'D' THEN l.amount_fen ELSE 0 END) AS BIGINT), \
                      CAST(SUM(CASE WHEN l.side = 'C' THEN l.amount_fen ELSE 0 END) AS BIGINT)";

/// Σ debits and Σ credits of the whole ledger (every region), and the
/// number of entries whose stored debit and credit totals differ (always 0:
/// a CHECK constraint forbids it).
pub fn grand_totals(tx: &mut dyn Tx) -> DbResult<(Money, Money, i64)> {
    let r = tx.query_one(&format!("SELECT {SUMS} FROM fund_line"), params![])?;
    let debit: Option<i64> = r.get(0)?;
    let credit: Option<i64> = r.get(1)?;
    let bad = tx.query_one("SELECT COUNT(*) FROM fund_entry WHERE debit_fen <> credit_fen", params![])?.i64(0)?;
    Ok((Money::from_fen(debit.unwrap_or(0)), Money::from_fen(credit.unwrap_or(0)), bad))
}

// ---------------------------------------------------------------------------
// Settings

pub fn setting(tx: &mut dyn Tx, region: &str) -> DbResult<Option<(u32, i64)>> {
    tx.query_opt("SELECT withhold_ppm, alert_months_centi FROM fund_setting WHERE region = $1", params![region])?
        .map(|r| Ok((r.get::<u32>(0)?, r.i64(1)?)))
        .transpose()
}

pub fn put_setting(
    tx: &mut dyn Tx,
    region: &str,
    withhold_ppm: u32,
    alert_months_centi: i64,
    by: &str,
    now_ms: i64,
) -> DbResult<()> {
    tx.execute(
        "INSERT INTO fund_setting (region, withhold_ppm, alert_months_centi, updated_by, updated_at_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (region) DO UPDATE SET withhold_ppm = excluded.withhold_ppm, \
         alert_months_centi = excluded.alert_months_centi, updated_by = excluded.updated_by, \
         updated_at_ms = excluded.updated_at_ms",
        params![region, withhold_ppm, alert_months_centi, by, now_ms],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Settlement sums for clearing

/// Fund parts of a group of settlement rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettlementSums {
    pub insu_admdvs: DivisionCode,
    pub mdtrtarea_admvs: DivisionCode,
    pub insutype: Insutype,
    pub reversal: bool,
    pub count: i64,
    pub pays: FundPays,
}

const PAY_SUMS: &str = "CAST(SUM(s.hifp_pay_fen) AS BIGINT), CAST(SUM(s.cvlserv_pay_fen) AS BIGINT), \
    CAST(SUM(s.hifes_pay_fen) AS BIGINT), CAST(SUM(s.hifmi_pay_fen) AS BIGINT), CAST(SUM(s.hifob_pay_fen) AS BIGINT), \
    CAST(SUM(s.maf_pay_fen) AS BIGINT), CAST(SUM(s.oth_pay_fen) AS BIGINT), CAST(SUM(s.acct_pay_fen) AS BIGINT)";

/// Claims for clearing `clearing_id` every settlement row not yet cleared of
/// this kind that matches: an institution's rows in its treating region
/// (`kind` = institution), or cross-region rows with both regions in the
/// prefix (`kind` = region); dated `from..=to`. Returns the rows claimed.
pub fn claim_for_clearing(
    tx: &mut dyn Tx,
    kind: &str,
    clearing_id: i64,
    institution: Option<(&str, &str)>,
    region_prefix: &str,
    from: Date,
    to: Date,
) -> DbResult<u64> {
    let unclaimed = "NOT EXISTS (SELECT 1 FROM fund_clearing_item c WHERE c.kind = $1 AND c.setl_id = s.setl_id)";
    match institution {
        Some((code, region)) => tx.execute(
            &format!(
                "INSERT INTO fund_clearing_item (kind, setl_id, clearing_id) SELECT CAST($1 AS TEXT), s.setl_id, CAST($2 AS BIGINT) \
                 FROM settlement s WHERE s.fixmedins_code = $3 AND s.mdtrtarea_admvs = $4 AND s.setl_date >= $5 AND s.setl_date <= $6 \
                 AND {unclaimed}"
            ),
            params![kind, clearing_id, code, region, from, to],
        ),
        None => {
            let (lo, hi) = region_range(region_prefix);
            tx.execute(
                &format!(
                    "INSERT INTO fund_clearing_item (kind, setl_id, clearing_id) SELECT CAST($1 AS TEXT), s.setl_id, CAST($2 AS BIGINT) \
                     FROM settlement s WHERE s.setl_date >= $3 AND s.setl_date <= $4 \
                     AND s.insu_admdvs <> s.mdtrtarea_admvs AND s.insu_admdvs >= $5 AND s.insu_admdvs < $6 \
                     AND s.mdtrtarea_admvs >= $5 AND s.mdtrtarea_admvs < $6 AND {unclaimed}"
                ),
                params![kind, clearing_id, from, to, lo, hi],
            )
        }
    }
}

/// Sums of the settlement rows a clearing claimed, grouped by regions,
/// insurance type and whether the row is a reversal.
pub fn clearing_sums(tx: &mut dyn Tx, kind: &str, clearing_id: i64) -> DbResult<Vec<SettlementSums>> {
    tx.query(
        &format!(
            "SELECT s.insu_admdvs, s.mdtrtarea_admvs, s.insutype, \
             CASE WHEN s.reversal_of IS NULL THEN 0 ELSE 1 END, COUNT(*), {PAY_SUMS} \
             FROM fund_clearing_item c JOIN settlement s ON s.setl_id = c.setl_id \
             WHERE c.kind = $1 AND c.clearing_id = $2 \
             GROUP BY s.insu_admdvs, s.mdtrtarea_admvs, s.insutype, CASE WHEN s.reversal_of IS NULL THEN 0 ELSE 1 END \
             ORDER BY 1, 2, 3, 4"
        ),
        params![kind, clearing_id],
    )?
    .iter()
    .map(|r| {
        let m = |i: usize| r.money(i);
        Ok(SettlementSums {
            insu_admdvs: decode(DivisionCode::parse(&r.text(0)?))?,
            mdtrtarea_admvs: decode(DivisionCode::parse(&r.text(1)?))?,
            insutype: decode(Insutype::parse(&r.text(2)?))?,
            reversal: r.bool(3)?,
            count: r.i64(4)?,
            pays: FundPays {
                hifp_pay: m(5)?,
                cvlserv_pay: m(6)?,
                hifes_pay: m(7)?,
                hifmi_pay: m(8)?,
                hifob_pay: m(9)?,
                maf_pay: m(10)?,
                oth_pay: m(11)?,
                acct_pay: m(12)?,
            },
        })
    })
    .collect()
}

/// What the ledger says a clearing's claimed rows owe, per fund: the
/// credit-positive movement of `account[sub]` in `region` made by the
/// settlement and reversal entries of those rows. Clearing compares this
/// with the settlement rows' own amounts before posting anything.
pub fn clearing_ledger_sums(
    tx: &mut dyn Tx,
    kind: &str,
    clearing_id: i64,
    region: &str,
    account: Account,
    sub: &str,
) -> DbResult<Vec<(Fund, Money)>> {
    tx.query(
        "SELECT l.fund, CAST(SUM(CASE WHEN l.side = 'C' THEN l.amount_fen ELSE -l.amount_fen END) AS BIGINT) \
         FROM fund_clearing_item c JOIN fund_entry e ON e.reference = c.setl_id \
         AND e.kind IN ('settlement', 'reversal') JOIN fund_line l ON l.entry_id = e.id \
         WHERE c.kind = $1 AND c.clearing_id = $2 AND l.region = $3 AND l.account = $4 AND l.sub = $5 \
         GROUP BY l.fund ORDER BY l.fund",
        params![kind, clearing_id, region, account.code(), sub],
    )?
    .iter()
    .map(|r| Ok((decode(Fund::parse(&r.text(0)?))?, r.money(1)?)))
    .collect()
}

/// (institution, treating region) pairs with settlement rows dated
/// `from..=to` not yet cleared, for a clearing of every institution.
pub fn institutions_to_clear(
    tx: &mut dyn Tx,
    region_prefix: &str,
    from: Date,
    to: Date,
) -> DbResult<Vec<(String, String)>> {
    let (lo, hi) = region_range(region_prefix);
    tx.query(
        "SELECT DISTINCT s.fixmedins_code, s.mdtrtarea_admvs FROM settlement s WHERE s.setl_date >= $1 \
         AND s.setl_date <= $2 AND s.mdtrtarea_admvs >= $3 AND s.mdtrtarea_admvs < $4 AND NOT EXISTS \
         (SELECT 1 FROM fund_clearing_item c WHERE c.kind = 'institution' AND c.setl_id = s.setl_id) \
         ORDER BY 1, 2",
        params![from, to, lo, hi],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?)))
    .collect()
}

// ---------------------------------------------------------------------------
// Clearing runs

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearingFund {
    pub fund: Fund,
    pub settled: Money,
    pub reversed: Money,
    pub net: Money,
    pub withheld: Money,
    pub payable: Money,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearingRecord {
    pub id: i64,
    pub region: String,
    pub fixmedins_code: String,
    pub period: String,
    pub withhold_ppm: u32,
    pub settled_count: i64,
    pub reversed_count: i64,
    pub settled: Money,
    pub reversed: Money,
    pub net: Money,
    pub withheld: Money,
    pub payable: Money,
    pub status: String,
    pub payment_ref: Option<String>,
    pub paid_date: Option<Date>,
    pub created_by: String,
    pub created_at_ms: i64,
    pub paid_by: Option<String>,
    pub paid_at_ms: Option<i64>,
    pub funds: Vec<ClearingFund>,
}

const CLEARING_COLUMNS: &str = "id, region, fixmedins_code, period, withhold_ppm, settled_count, reversed_count, \
    settled_fen, reversed_fen, net_fen, withheld_fen, payable_fen, status, payment_ref, paid_date, created_by, \
    created_at_ms, paid_by, paid_at_ms";

pub fn insert_clearing(tx: &mut dyn Tx, c: &ClearingRecord) -> DbResult<()> {
    tx.execute(
        &format!(
            "INSERT INTO fund_clearing ({CLEARING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18, $19)"
        ),
        params![
            c.id,
            c.region.as_str(),
            c.fixmedins_code.as_str(),
            c.period.as_str(),
            c.withhold_ppm,
            c.settled_count,
            c.reversed_count,
            c.settled,
            c.reversed,
            c.net,
            c.withheld,
            c.payable,
            c.status.as_str(),
            c.payment_ref.clone(),
            c.paid_date,
            c.created_by.as_str(),
            c.created_at_ms,
            c.paid_by.clone(),
            c.paid_at_ms
        ],
    )?;
    let rows: Vec<Vec<Value>> = c
        .funds
        .iter()
        .map(|f| {
            vec![
                c.id.into(),
                f.fund.code().into(),
                f.settled.into(),
                f.reversed.into(),
                f.net.into(),
                f.withheld.into(),
                f.payable.into(),
            ]
        })
        .collect();
    insert_many(
        tx,
        "INSERT INTO fund_clearing_fund (clearing_id, fund, settled_fen, reversed_fen, net_fen, withheld_fen, payable_fen)",
        7,
        rows,
        "",
    )?;
    Ok(())
}

fn clearing_from_row(tx: &mut dyn Tx, r: &Row) -> DbResult<ClearingRecord> {
    let id = r.i64(0)?;
    let funds = tx
        .query(
            "SELECT fund, settled_fen, reversed_fen, net_fen, withheld_fen, payable_fen FROM fund_clearing_fund \
             WHERE clearing_id = $1 ORDER BY fund",
            params![id],
        )?
        .iter()
        .map(|f| {
            Ok(ClearingFund {
                fund: decode(Fund::parse(&f.text(0)?))?,
                settled: f.money(1)?,
                reversed: f.money(2)?,
                net: f.money(3)?,
                withheld: f.money(4)?,
                payable: f.money(5)?,
            })
        })
        .collect::<DbResult<Vec<_>>>()?;
    Ok(ClearingRecord {
        id,
        region: r.text(1)?,
        fixmedins_code: r.text(2)?,
        period: r.text(3)?,
        withhold_ppm: r.get(4)?,
        settled_count: r.i64(5)?,
        reversed_count: r.i64(6)?,
        settled: r.money(7)?,
        reversed: r.money(8)?,
        net: r.money(9)?,
        withheld: r.money(10)?,
        payable: r.money(11)?,
        status: r.text(12)?,
        payment_ref: r.opt_text(13)?,
        paid_date: r.get(14)?,
        created_by: r.text(15)?,
        created_at_ms: r.i64(16)?,
        paid_by: r.opt_text(17)?,
        paid_at_ms: r.get(18)?,
        funds,
    })
}

pub fn clearing(tx: &mut dyn Tx, id: i64) -> DbResult<Option<ClearingRecord>> {
    let Some(row) =
        tx.query_opt(&format!("SELECT {CLEARING_COLUMNS} FROM fund_clearing WHERE id = $1"), params![id])?
    else {
        return Ok(None);
    };
    clearing_from_row(tx, &row).map(Some)
}

pub fn clearing_exists(tx: &mut dyn Tx, region: &str, code: &str, period: &str) -> DbResult<bool> {
    Ok(tx
        .query_opt(
            "SELECT id FROM fund_clearing WHERE region = $1 AND fixmedins_code = $2 AND period = $3",
            params![region, code, period],
        )?
        .is_some())
}

#[derive(Clone, Debug, Default)]
pub struct ClearingFilter {
    pub region_prefix: String,
    pub period: String,
    pub fixmedins_code: String,
    pub status: String,
    pub limit: i64,
    pub offset: i64,
}

pub fn clearings(tx: &mut dyn Tx, f: &ClearingFilter) -> DbResult<Vec<ClearingRecord>> {
    let (lo, hi) = region_range(&f.region_prefix);
    let rows = tx.query(
        &format!(
            "SELECT {CLEARING_COLUMNS} FROM fund_clearing WHERE region >= $1 AND region < $2 \
             AND ($3 = '' OR period = $3) AND ($4 = '' OR fixmedins_code = $4) AND ($5 = '' OR status = $5) \
             ORDER BY period DESC, region, fixmedins_code LIMIT $6 OFFSET $7"
        ),
        params![lo, hi, f.period.as_str(), f.fixmedins_code.as_str(), f.status.as_str(), f.limit, f.offset],
    )?;
    rows.iter().map(|r| clearing_from_row(tx, r)).collect()
}

/// Marks a cleared run paid; `false` if it was not in status `cleared`.
pub fn mark_paid(
    tx: &mut dyn Tx,
    id: i64,
    payment_ref: &str,
    paid_date: Date,
    by: &str,
    now_ms: i64,
) -> DbResult<bool> {
    let n = tx.execute(
        "UPDATE fund_clearing SET status = 'paid', payment_ref = $1, paid_date = $2, paid_by = $3, paid_at_ms = $4 \
         WHERE id = $5 AND status = 'cleared'",
        params![payment_ref, paid_date, by, now_ms, id],
    )?;
    Ok(n == 1)
}

// ---------------------------------------------------------------------------
// Cross-region clearing

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionClearingRecord {
    pub id: i64,
    pub run_id: i64,
    pub period: String,
    pub region_a: String,
    pub region_b: String,
    pub fund: Fund,
    pub a_owes_b: Money,
    pub b_owes_a: Money,
    pub net: Money,
    pub created_by: String,
    pub created_at_ms: i64,
}

pub fn insert_region_clearing(tx: &mut dyn Tx, c: &RegionClearingRecord) -> DbResult<()> {
    tx.execute(
        "INSERT INTO fund_region_clearing (id, run_id, period, region_a, region_b, fund, a_owes_b_fen, b_owes_a_fen, \
         net_fen, created_by, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        params![
            c.id,
            c.run_id,
            c.period.as_str(),
            c.region_a.as_str(),
            c.region_b.as_str(),
            c.fund.code(),
            c.a_owes_b,
            c.b_owes_a,
            c.net,
            c.created_by.as_str(),
            c.created_at_ms
        ],
    )?;
    Ok(())
}

pub fn region_clearings(tx: &mut dyn Tx, region_prefix: &str, period: &str) -> DbResult<Vec<RegionClearingRecord>> {
    let (lo, hi) = region_range(region_prefix);
    tx.query(
        "SELECT id, run_id, period, region_a, region_b, fund, a_owes_b_fen, b_owes_a_fen, net_fen, created_by, \
         created_at_ms FROM fund_region_clearing WHERE ($1 = '' OR period = $1) AND \
         ((region_a >= $2 AND region_a < $3) OR (region_b >= $2 AND region_b < $3)) \
         ORDER BY period DESC, region_a, region_b, fund",
        params![period, lo, hi],
    )?
    .iter()
    .map(|r| {
        Ok(RegionClearingRecord {
            id: r.i64(0)?,
            run_id: r.i64(1)?,
            period: r.text(2)?,
            region_a: r.text(3)?,
            region_b: r.text(4)?,
            fund: decode(Fund::parse(&r.text(5)?))?,
            a_owes_b: r.money(6)?,
            b_owes_a: r.money(7)?,
            net: r.money(8)?,
            created_by: r.text(9)?,
            created_at_ms: r.i64(10)?,
        })
    })
    .collect()
}

// ---------------------------------------------------------------------------
// Reconciliation: the platform's side

/// The settlement table's totals per (insutype, clr_type) for an institution,
/// dated `from..=to`, optionally narrowed to one insutype and/or clr_type.
pub fn settlement_totals(
    tx: &mut dyn Tx,
    code: &str,
    from: Date,
    to: Date,
    insutype: Option<Insutype>,
    clr_type: Option<ClrType>,
) -> DbResult<Vec<((Insutype, ClrType), Totals)>> {
    tx.query(
        "SELECT insutype, clr_type, COUNT(*), CAST(SUM(medfee_sumamt_fen) AS BIGINT), \
         CAST(SUM(fund_pay_sumamt_fen) AS BIGINT), CAST(SUM(acct_pay_fen) AS BIGINT) FROM settlement \
         WHERE fixmedins_code = $1 AND setl_date >= $2 AND setl_date <= $3 AND ($4 = '' OR insutype = $4) \
         AND ($5 = '' OR clr_type = $5) GROUP BY insutype, clr_type ORDER BY insutype, clr_type",
        params![code, from, to, insutype.map(|i| i.code()).unwrap_or(""), clr_type.map(|c| c.code()).unwrap_or("")],
    )?
    .iter()
    .map(|r| {
        Ok((
            (decode(Insutype::parse(&r.text(0)?))?, decode(ClrType::parse(&r.text(1)?))?),
            Totals {
                count: r.i64(2)?,
                medfee_sumamt: r.money(3)?,
                fund_pay_sumamt: r.money(4)?,
                acct_pay: r.money(5)?,
            },
        ))
    })
    .collect()
}

/// The settlement rows of an institution dated `from..=to`, at most `limit`.
pub fn settlement_details(
    tx: &mut dyn Tx,
    code: &str,
    from: Date,
    to: Date,
    insutype: Option<Insutype>,
    clr_type: Option<ClrType>,
    limit: i64,
) -> DbResult<Vec<DetailRecord>> {
    tx.query(
        "SELECT setl_id, medfee_sumamt_fen, fund_pay_sumamt_fen, acct_pay_fen, \
         CASE WHEN reversal_of IS NULL THEN 0 ELSE 1 END FROM settlement \
         WHERE fixmedins_code = $1 AND setl_date >= $2 AND setl_date <= $3 AND ($4 = '' OR insutype = $4) \
         AND ($5 = '' OR clr_type = $5) ORDER BY setl_id LIMIT $6",
        params![
            code,
            from,
            to,
            insutype.map(|i| i.code()).unwrap_or(""),
            clr_type.map(|c| c.code()).unwrap_or(""),
            limit
        ],
    )?
    .iter()
    .map(|r| {
        Ok(DetailRecord {
            setl_id: r.text(0)?,
            medfee_sumamt: r.money(1)?,
            fund_pay_sumamt: r.money(2)?,
            acct_pay: r.money(3)?,
            reversal: r.bool(4)?,
        })
    })
    .collect()
}
