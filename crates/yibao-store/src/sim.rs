//! SQL of the simulator (`yibao sim`): bulk loads of a synthetic population,
//! the storage baseline (a one-row durable transaction) and the queries of
//! the verification that follows every load run.

use yibao_domain::account::MovementKind;
use yibao_domain::division::DivisionCode;
use yibao_domain::fund::EntryKind;
use yibao_domain::{Date, Money};

use crate::params;
use crate::sql::{DbResult, Tx, Value, insert_many};

/// The `msgid` of settlement rows bulk-loaded as history: they have no
/// visit, no ledger entry and no accumulator effect, and verification
/// counts them apart.
pub const HISTORY_MSGID: &str = "SIM-HISTORY";

/// Most rows one verification query returns as examples of a failure.
pub const EXAMPLES_MAX: i64 = 20;

/// An opened personal account with its opening balance (上年结转).
pub struct OpenedAccount {
    pub psn_no: String,
    pub region: DivisionCode,
    pub opening: Money,
    pub date: Date,
}

/// Opens accounts with one opening-balance movement each (seq 1), in
/// multi-row statements. `first_id` numbers the movements.
pub fn insert_accounts(tx: &mut dyn Tx, accounts: &[OpenedAccount], first_id: i64, now_ms: i64) -> DbResult<u64> {
    let rows: Vec<Vec<Value>> = accounts
        .iter()
        .map(|a| vec![a.psn_no.as_str().into(), a.region.as_str().into(), a.opening.into(), 1i64.into(), now_ms.into()])
        .collect();
    insert_many(tx, "INSERT INTO account (psn_no, insu_admdvs, balance_fen, seq, updated_at_ms)", 5, rows, "")?;
    let psn_nos: Vec<&str> = accounts.iter().map(|a| a.psn_no.as_str()).collect();
    crate::enrollment::bump_coverage_seq(tx, &psn_nos)?;
    let year = accounts.first().map(|a| a.date.year()).unwrap_or(0);
    let reference = format!("opening:{year}");
    let rows: Vec<Vec<Value>> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            vec![
                (first_id + i as i64).into(),
                a.psn_no.as_str().into(),
                1i64.into(),
                MovementKind::OpeningBalance.as_str().into(),
                a.opening.into(),
                a.opening.into(),
                reference.as_str().into(),
                a.date.into(),
                now_ms.into(),
            ]
        })
        .collect();
    insert_many(
        tx,
        "INSERT INTO account_movement (id, psn_no, seq, kind, amount_fen, balance_after_fen, reference, move_date, \
         created_at_ms)",
        9,
        rows,
        "",
    )
}

/// A catalog item the simulated HIS may bill: (code, list type, class).
pub struct BillableItem {
    pub code: String,
    pub list_type: String,
    pub class: Option<String>,
}

/// Items of the given list types valid on `date`, in code order, at most `limit`.
pub fn billable_items(tx: &mut dyn Tx, list_type: &str, date: Date, limit: i64) -> DbResult<Vec<BillableItem>> {
    tx.query(
        "SELECT code, list_type, class FROM catalog_item WHERE list_type = $1 AND begin_date <= $2 \
         AND (end_date IS NULL OR end_date >= $2) ORDER BY code LIMIT $3",
        params![list_type, date, limit],
    )?
    .iter()
    .map(|r| Ok(BillableItem { code: r.text(0)?, list_type: r.text(1)?, class: r.opt_text(2)? }))
    .collect()
}

/// An insured person the simulated HIS may see.
pub struct SimPerson {
    pub psn_no: String,
    pub certno: String,
    pub insutype: String,
    pub psn_type: String,
    pub brdy: Date,
    pub has_account: bool,
}

/// Active basic enrollments of persons of region `region`, in psn_no order
/// after `after`, at most `limit`. `CROSS JOIN` makes SQLite walk persons in
/// key order (a page costs its own rows): driven by the region index instead,
/// every page sorted the whole region (≈ 60 s of CPU at 1 M persons).
pub fn persons_page(tx: &mut dyn Tx, region: &str, after: &str, limit: i64) -> DbResult<Vec<SimPerson>> {
    tx.query(
        "SELECT p.psn_no, p.certno, e.insutype, e.psn_type, p.brdy, \
                CASE WHEN a.psn_no IS NULL THEN 0 ELSE 1 END \
         FROM person p CROSS JOIN enrollment e LEFT JOIN account a ON a.psn_no = p.psn_no \
         WHERE e.psn_no = p.psn_no AND e.insu_admdvs = $1 AND e.status = 'active' AND e.insutype IN ('310', '390') \
           AND p.psn_no > $2 \
           AND p.death_date IS NULL \
         ORDER BY p.psn_no LIMIT $3",
        params![region, after, limit],
    )?
    .iter()
    .map(|r| {
        Ok(SimPerson {
            psn_no: r.text(0)?,
            certno: r.text(1)?,
            insutype: r.text(2)?,
            psn_type: r.text(3)?,
            brdy: r.date(4)?,
            has_account: r.i64(5)? == 1,
        })
    })
    .collect()
}

/// Active institutions of a region prefix: (code, kind, hosp_lv).
pub fn institutions(tx: &mut dyn Tx, prefix: &str) -> DbResult<Vec<(String, String, Option<String>)>> {
    tx.query(
        "SELECT code, kind, hosp_lv FROM institution WHERE admdvs LIKE $1 AND status = 'active' ORDER BY code",
        params![format!("{prefix}%")],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?, r.opt_text(2)?)))
    .collect()
}

// ------------------------------------------------------------ baseline

/// Creates the baseline's scratch table (a one-row durable transaction is
/// measured against it).
pub fn baseline_prepare(tx: &mut dyn Tx) -> DbResult<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS sim_baseline (id BIGINT PRIMARY KEY, payload TEXT NOT NULL, at_ms BIGINT NOT NULL)",
    )
}

pub fn baseline_insert(tx: &mut dyn Tx, id: i64, now_ms: i64) -> DbResult<()> {
    tx.execute("INSERT INTO sim_baseline (id, payload, at_ms) VALUES ($1, $2, $3)", params![id, "baseline", now_ms])?;
    Ok(())
}

pub fn baseline_drop(tx: &mut dyn Tx) -> DbResult<()> {
    tx.execute_batch("DROP TABLE IF EXISTS sim_baseline")
}

// ------------------------------------------------------------ verification

/// What one settlement id looks like in storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSettlement {
    pub setl_id: String,
    pub reversed_by: Option<String>,
    pub msgid: String,
}

/// The stored rows of these settlement ids (any that exist).
pub fn settlements_by_id(tx: &mut dyn Tx, ids: &[String]) -> DbResult<Vec<StoredSettlement>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let params: Vec<Value> = chunk.iter().map(|s| s.as_str().into()).collect();
        let rows = tx.query(
            &format!(
                "SELECT setl_id, reversed_by, msgid FROM settlement WHERE setl_id IN ({})",
                crate::sql::placeholders(1, chunk.len())
            ),
            &params,
        )?;
        for r in rows {
            out.push(StoredSettlement { setl_id: r.text(0)?, reversed_by: r.opt_text(1)?, msgid: r.text(2)? });
        }
    }
    Ok(out)
}

/// Settlements (not reversals) of visit `mdtrt_id` made by message
/// `msgid`: what a 2601 of that msgid had to reverse.
pub fn settlements_by_msgid(tx: &mut dyn Tx, mdtrt_id: &str, msgid: &str) -> DbResult<Vec<StoredSettlement>> {
    tx.query(
        "SELECT setl_id, reversed_by, msgid FROM settlement WHERE mdtrt_id = $1 AND msgid = $2 \
         AND reversal_of IS NULL",
        params![mdtrt_id, msgid],
    )?
    .iter()
    .map(|r| Ok(StoredSettlement { setl_id: r.text(0)?, reversed_by: r.opt_text(1)?, msgid: r.text(2)? }))
    .collect()
}

/// Reversed settlements whose reversal row is missing, or reversal rows
/// whose original does not name them: examples, at most [`EXAMPLES_MAX`].
pub fn broken_reversals(tx: &mut dyn Tx) -> DbResult<Vec<String>> {
    let rows = tx.query(
        "SELECT s.setl_id FROM settlement s WHERE s.reversed_by IS NOT NULL AND NOT EXISTS \
           (SELECT 1 FROM settlement r WHERE r.setl_id = s.reversed_by AND r.reversal_of = s.setl_id) \
         UNION ALL \
         SELECT r.setl_id FROM settlement r WHERE r.reversal_of IS NOT NULL AND NOT EXISTS \
           (SELECT 1 FROM settlement s WHERE s.setl_id = r.reversal_of AND s.reversed_by = r.setl_id) \
         LIMIT $1",
        params![EXAMPLES_MAX],
    )?;
    rows.iter().map(|r| r.text(0)).collect()
}

/// Settlement and reversal rows (history excepted) that moved fund or
/// account money but have no ledger entry (kind settlement or reversal): examples, at most [`EXAMPLES_MAX`].
pub fn settlements_without_entry(tx: &mut dyn Tx) -> DbResult<Vec<String>> {
    let rows = tx.query(
        "SELECT s.setl_id FROM settlement s WHERE s.msgid <> $1 \
           AND (s.fund_pay_sumamt_fen <> 0 OR s.acct_pay_fen <> 0) \
           AND NOT EXISTS (SELECT 1 FROM fund_entry e WHERE e.reference = s.setl_id \
                 AND e.kind = CASE WHEN s.reversal_of IS NULL THEN $2 ELSE $3 END) \
         LIMIT $4",
        params![HISTORY_MSGID, EntryKind::Settlement.as_str(), EntryKind::Reversal.as_str(), EXAMPLES_MAX],
    )?;
    rows.iter().map(|r| r.text(0)).collect()
}

/// Counts of settlement rows: (live settlements, live reversals, history rows).
pub fn settlement_counts(tx: &mut dyn Tx) -> DbResult<(i64, i64, i64)> {
    let r = tx.query_one(
        "SELECT CAST(SUM(CASE WHEN msgid <> $1 AND reversal_of IS NULL THEN 1 ELSE 0 END) AS BIGINT), \
                CAST(SUM(CASE WHEN msgid <> $1 AND reversal_of IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT), \
                CAST(SUM(CASE WHEN msgid = $1 THEN 1 ELSE 0 END) AS BIGINT) FROM settlement",
        params![HISTORY_MSGID],
    )?;
    Ok((
        r.get::<Option<i64>>(0)?.unwrap_or(0),
        r.get::<Option<i64>>(1)?.unwrap_or(0),
        r.get::<Option<i64>>(2)?.unwrap_or(0),
    ))
}

/// How many accounts there are: what [`account_mismatches`] compares.
pub fn account_count(tx: &mut dyn Tx) -> DbResult<i64> {
    tx.query_one("SELECT COUNT(*) FROM account", &[])?.i64(0)
}

/// Accounts whose balance differs from the sum of their movements, or whose
/// last movement's running balance differs from the balance: (psn_no,
/// balance, sum of movements), at most [`EXAMPLES_MAX`].
pub fn account_mismatches(tx: &mut dyn Tx) -> DbResult<Vec<(String, Money, Money)>> {
    let rows = tx.query(
        "SELECT a.psn_no, a.balance_fen, COALESCE(m.total, 0) FROM account a \
         LEFT JOIN (SELECT psn_no, CAST(SUM(amount_fen) AS BIGINT) AS total, MAX(seq) AS last_seq \
                    FROM account_movement GROUP BY psn_no) m ON m.psn_no = a.psn_no \
         WHERE a.balance_fen <> COALESCE(m.total, 0) OR a.seq <> COALESCE(m.last_seq, 0) \
         LIMIT $1",
        params![EXAMPLES_MAX],
    )?;
    rows.iter().map(|r| Ok((r.text(0)?, r.money(1)?, r.money(2)?))).collect()
}

/// An accumulator's key: (psn_no, insutype, scheme year).
pub type AccumulatorKey = (String, String, i64);
/// A key with a JSON document (an accumulator state or a settlement's delta).
pub type KeyedJson = (AccumulatorKey, String);

/// Accumulator rows in key order after (psn_no, insutype, year), at most `limit`.
pub fn accumulators_page(tx: &mut dyn Tx, after: &AccumulatorKey, limit: i64) -> DbResult<Vec<KeyedJson>> {
    let rows = tx.query(
        "SELECT psn_no, insutype, year, state FROM accumulator \
         WHERE psn_no > $1 OR (psn_no = $1 AND (insutype > $2 OR (insutype = $2 AND year > $3))) \
         ORDER BY psn_no, insutype, year LIMIT $4",
        params![after.0.as_str(), after.1.as_str(), after.2, limit],
    )?;
    rows.iter().map(|r| Ok(((r.text(0)?, r.text(1)?, r.i64(2)?), r.text(3)?))).collect()
}

/// Live, unreversed settlements of persons `from..=to`: (key, accumulator delta).
pub fn deltas_between(tx: &mut dyn Tx, from: &str, to: &str) -> DbResult<Vec<KeyedJson>> {
    let rows = tx.query(
        "SELECT psn_no, insutype, scheme_year, accumulator_delta FROM settlement \
         WHERE psn_no >= $1 AND psn_no <= $2 AND reversal_of IS NULL AND reversed_by IS NULL AND msgid <> $3",
        params![from, to, HISTORY_MSGID],
    )?;
    rows.iter().map(|r| Ok(((r.text(0)?, r.text(1)?, r.i64(2)?), r.text(3)?))).collect()
}

/// Σ medfee_sumamt of live, unreversed settlements: what the accumulators'
/// medfee_total must add up to.
pub fn live_medfee_total(tx: &mut dyn Tx) -> DbResult<Money> {
    let r = tx.query_one(
        "SELECT CAST(COALESCE(SUM(medfee_sumamt_fen), 0) AS BIGINT) FROM settlement \
         WHERE reversal_of IS NULL AND reversed_by IS NULL AND msgid <> $1",
        params![HISTORY_MSGID],
    )?;
    r.money(0)
}

/// Inserts households and their members in multi-row statements.
pub fn insert_households(tx: &mut dyn Tx, households: &[crate::enrollment::Household], now_ms: i64) -> DbResult<u64> {
    let rows: Vec<Vec<Value>> = households
        .iter()
        .map(|h| {
            vec![
                h.hh_no.as_str().into(),
                h.head_psn_no.as_str().into(),
                h.admdvs.as_str().into(),
                h.address.as_str().into(),
                now_ms.into(),
            ]
        })
        .collect();
    insert_many(tx, "INSERT INTO household (hh_no, head_psn_no, admdvs, address, created_at_ms)", 5, rows, "")?;
    let rows: Vec<Vec<Value>> = households
        .iter()
        .flat_map(|h| {
            h.members
                .iter()
                .map(|m| vec![m.psn_no.as_str().into(), h.hh_no.as_str().into(), m.relation.as_str().into()])
        })
        .collect();
    insert_many(tx, "INSERT INTO household_member (psn_no, hh_no, relation)", 3, rows, "")
}
