//! Contribution policies, bills, paid periods, payment orders and
//! reconciliation runs.

use yibao_domain::codes::Insutype;
use yibao_domain::contribution::{Bill, BillKind, BillLine, BillStatus, ContributionPolicy};
use yibao_domain::division::DivisionCode;
use yibao_domain::enrollment::PaidPeriod;
use yibao_domain::payment::{Channel, OrderStatus, RecordedPayment};
use yibao_domain::{Date, Money, Parsed};

use crate::params;
use crate::sql::{DbError, DbResult, Read, Row, Tx, Value, insert_many};

fn decode<T>(r: Parsed<T>) -> DbResult<T> {
    r.map_err(|e| DbError::decode(format!("{}: {}", e.field, e.reason)))
}

// ---------------------------------------------------------------- policies

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoredPolicy {
    pub id: i64,
    pub sha256: String,
    pub policy: ContributionPolicy,
}

pub fn insert_policy(
    tx: &mut dyn Tx,
    id: i64,
    p: &ContributionPolicy,
    sha256: &str,
    created_by: &str,
    now_ms: i64,
) -> DbResult<()> {
    let document = serde_json::to_string(p).map_err(|e| DbError::decode(e.to_string()))?;
    tx.execute(
        "INSERT INTO contribution_policy (id, region, insutype, name, begin_date, document, sha256, created_by, \
         created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![
            id,
            p.region.as_str(),
            p.insutype.code(),
            p.name.as_str(),
            p.begin_date,
            document,
            sha256,
            created_by,
            now_ms
        ],
    )?;
    Ok(())
}

fn policy_from_row(r: &Row) -> DbResult<StoredPolicy> {
    Ok(StoredPolicy {
        id: r.i64(0)?,
        sha256: r.text(1)?,
        policy: decode(ContributionPolicy::from_json_str(&r.text(2)?))?,
    })
}

/// SQL for the id of the contribution policy in force for a region and a
/// scheme on a day: the latest begin date on or before it (NULL: none). Every
/// query that picks a version uses this text, so that ids picked by
/// different queries (a visit's coverage snapshot and its later check) are
/// picked by one rule.
macro_rules! policy_in_force_id {
    ($region:literal, $insutype:literal, $day:literal) => {
        concat!(
            "(SELECT p.id FROM contribution_policy p WHERE p.region = ",
            $region,
            " AND p.insutype = ",
            $insutype,
            " AND p.begin_date <= ",
            $day,
            " ORDER BY p.begin_date DESC LIMIT 1)"
        )
    };
}

/// The version in force on `date`: the latest begin date on or before it.
pub fn policy_on(tx: &mut dyn Tx, region: &str, insutype: Insutype, date: Date) -> DbResult<Option<StoredPolicy>> {
    tx.query_opt(
        concat!(
            "SELECT id, sha256, document FROM contribution_policy WHERE id = ",
            policy_in_force_id!("$1", "$2", "$3")
        ),
        params![region, insutype.code(), date],
    )?
    .map(|r| policy_from_row(&r))
    .transpose()
}

/// The policy [`policy_on`] returns for the region and scheme of one of a
/// person's enrollments on `date` (None: the region keeps none). Read by the
/// person, not by the enrollment, so that a job can name the read ahead
/// ([`Tx::prefetch`]) with the enrollments; only the asked enrollment's
/// document is decoded.
pub fn policy_of_enrollment(
    tx: &mut dyn Tx,
    psn_no: &str,
    enrollment_id: i64,
    date: Date,
) -> DbResult<Option<StoredPolicy>> {
    for r in policies_of_enrollments_read(psn_no, date).query(tx)? {
        if r.i64(3)? == enrollment_id {
            // The policy's columns are NULL when the region keeps none.
            return r.get::<Option<i64>>(0)?.map(|_| policy_from_row(&r)).transpose();
        }
    }
    Ok(None)
}

/// The read of [`policy_of_enrollment`], to prefetch: every enrollment of the
/// person with its policy.
pub fn policies_of_enrollments_read(psn_no: &str, date: Date) -> Read {
    Read::new(
        concat!(
            "SELECT c.id, c.sha256, c.document, e.id FROM enrollment e LEFT JOIN contribution_policy c ON c.id = ",
            policy_in_force_id!("e.insu_admdvs", "e.insutype", "$1"),
            " WHERE e.psn_no = $2 ORDER BY e.id"
        )
        .to_owned(),
        params![date, psn_no],
    )
}

/// The read of [`policy_id_of_visit`], to prefetch. Keyed by the visit
/// alone, so that it can be named before the visit is read: the policy's
/// region, insurance and date are the visit's (`begntime` is stored as
/// `YYYY-MM-DD HH:MM:SS`, `begin_date` as `YYYY-MM-DD`, so its first ten
/// characters are the day).
pub fn policy_id_of_visit_read(mdtrt_id: &str) -> Read {
    Read::new(
        concat!(
            "SELECT ",
            policy_in_force_id!("v.insu_admdvs", "v.insutype", "substr(v.begntime, 1, 10)"),
            " FROM visit v WHERE v.mdtrt_id = $1"
        )
        .to_owned(),
        params![mdtrt_id],
    )
}

/// The id of the policy [`policy_on`] returns for the visit's insured
/// region, insurance and day, without reading its document (policies are
/// never changed once stored, so the id names the rules). `None`: no policy
/// (or no such visit).
pub fn policy_id_of_visit(tx: &mut dyn Tx, mdtrt_id: &str) -> DbResult<Option<i64>> {
    Ok(policy_id_of_visit_read(mdtrt_id).query_opt(tx)?.map(|r| r.get::<Option<i64>>(0)).transpose()?.flatten())
}

pub fn policy_exists(tx: &mut dyn Tx, region: &str, insutype: Insutype, begin: Date) -> DbResult<bool> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM contribution_policy WHERE region = $1 AND insutype = $2 AND begin_date = $3",
            params![region, insutype.code(), begin],
        )?
        .is_some())
}

pub fn policies_of(tx: &mut dyn Tx, region_prefix: &str) -> DbResult<Vec<StoredPolicy>> {
    tx.query(
        "SELECT id, sha256, document FROM contribution_policy WHERE region LIKE $1 \
         ORDER BY region, insutype, begin_date LIMIT 500",
        params![format!("{}%", crate::catalog::escape_like(region_prefix))],
    )?
    .iter()
    .map(policy_from_row)
    .collect()
}

// ---------------------------------------------------------------- bills

fn payer_key(b: &Bill) -> String {
    match (&b.emp_no, &b.hh_no, &b.psn_no) {
        (Some(e), _, _) => format!("E:{e}"),
        (None, Some(h), _) => format!("H:{h}"),
        (None, None, Some(p)) => format!("P:{p}"),
        _ => String::new(),
    }
}

/// Inserts a bill with its lines. Fails with a unique violation if the payer
/// already has a bill for the period, or a person a line for it.
pub fn insert_bill(tx: &mut dyn Tx, b: &Bill, now_ms: i64) -> DbResult<()> {
    insert_bills(tx, std::slice::from_ref(b), now_ms)
}

pub fn insert_bills(tx: &mut dyn Tx, bills: &[Bill], now_ms: i64) -> DbResult<()> {
    let rows: Vec<Vec<Value>> = bills
        .iter()
        .map(|b| {
            vec![
                b.bill_id.as_str().into(),
                b.kind.as_str().into(),
                payer_key(b).into(),
                b.insu_admdvs.as_str().into(),
                b.insutype.code().into(),
                b.period.as_str().into(),
                b.emp_no.clone().into(),
                b.psn_no.clone().into(),
                b.hh_no.clone().into(),
                b.employer_share.into(),
                b.personal_share.into(),
                b.government_subsidy.into(),
                b.assistance_paid.into(),
                b.to_accounts.into(),
                b.amount_due.into(),
                b.status.as_str().into(),
                b.paid_date.into(),
                b.paid_order_no.clone().into(),
                now_ms.into(),
                now_ms.into(),
            ]
        })
        .collect();
    insert_many(
        tx,
        "INSERT INTO bill (bill_id, kind, payer_key, insu_admdvs, insutype, period, emp_no, psn_no, hh_no, \
         employer_share_fen, personal_share_fen, government_subsidy_fen, assistance_paid_fen, to_accounts_fen, \
         amount_due_fen, status, paid_date, paid_order_no, created_at_ms, updated_at_ms)",
        20,
        rows,
        "",
    )?;
    let lines: Vec<Vec<Value>> = bills
        .iter()
        .flat_map(|b| {
            b.lines.iter().map(move |l| {
                vec![
                    b.bill_id.as_str().into(),
                    l.psn_no.as_str().into(),
                    l.enrollment_id.into(),
                    b.period.as_str().into(),
                    l.category.as_str().into(),
                    l.base.into(),
                    l.employer_share.into(),
                    l.personal_share.into(),
                    l.government_subsidy.into(),
                    l.assistance_paid.into(),
                    l.to_account.into(),
                ]
            })
        })
        .collect();
    insert_many(
        tx,
        "INSERT INTO bill_line (bill_id, psn_no, enrollment_id, period, category, base_fen, employer_share_fen, \
         personal_share_fen, government_subsidy_fen, assistance_paid_fen, to_account_fen)",
        11,
        lines,
        "",
    )?;
    Ok(())
}

const BILL_COLUMNS: &str = "bill_id, kind, insu_admdvs, insutype, period, emp_no, psn_no, hh_no, employer_share_fen, \
    personal_share_fen, government_subsidy_fen, assistance_paid_fen, to_accounts_fen, amount_due_fen, status, \
    paid_date, paid_order_no";

fn bill_from_row(r: &Row) -> DbResult<Bill> {
    Ok(Bill {
        bill_id: r.text(0)?,
        kind: decode(BillKind::parse(&r.text(1)?))?,
        insu_admdvs: decode(DivisionCode::parse(&r.text(2)?))?,
        insutype: decode(Insutype::parse(&r.text(3)?))?,
        period: r.text(4)?,
        emp_no: r.opt_text(5)?,
        psn_no: r.opt_text(6)?,
        hh_no: r.opt_text(7)?,
        employer_share: r.money(8)?,
        personal_share: r.money(9)?,
        government_subsidy: r.money(10)?,
        assistance_paid: r.money(11)?,
        to_accounts: r.money(12)?,
        amount_due: r.money(13)?,
        status: decode(BillStatus::parse(&r.text(14)?))?,
        paid_date: r.get(15)?,
        paid_order_no: r.opt_text(16)?,
        lines: Vec::new(),
    })
}

fn lines_of(tx: &mut dyn Tx, bill_id: &str) -> DbResult<Vec<BillLine>> {
    tx.query(
        "SELECT psn_no, enrollment_id, category, base_fen, employer_share_fen, personal_share_fen, \
         government_subsidy_fen, assistance_paid_fen, to_account_fen FROM bill_line WHERE bill_id = $1 ORDER BY psn_no",
        params![bill_id],
    )?
    .iter()
    .map(|r| {
        Ok(BillLine {
            psn_no: r.text(0)?,
            enrollment_id: r.i64(1)?,
            category: r.text(2)?,
            base: r.money(3)?,
            employer_share: r.money(4)?,
            personal_share: r.money(5)?,
            government_subsidy: r.money(6)?,
            assistance_paid: r.money(7)?,
            to_account: r.money(8)?,
        })
    })
    .collect()
}

/// A bill with its lines; `lock` locks it for update (write jobs only).
pub fn bill(tx: &mut dyn Tx, bill_id: &str, lock: bool) -> DbResult<Option<Bill>> {
    let lock = if lock { tx.for_update() } else { "" };
    let Some(r) =
        tx.query_opt(&format!("SELECT {BILL_COLUMNS} FROM bill WHERE bill_id = $1{lock}"), params![bill_id])?
    else {
        return Ok(None);
    };
    let mut b = bill_from_row(&r)?;
    b.lines = lines_of(tx, bill_id)?;
    Ok(Some(b))
}

#[derive(Clone, Debug, Default)]
pub struct BillFilter {
    pub region_prefix: String,
    pub emp_no: Option<String>,
    pub psn_no: Option<String>,
    pub hh_no: Option<String>,
    pub period: Option<String>,
    pub status: Option<BillStatus>,
    pub limit: i64,
    pub offset: i64,
}

/// Bills without their lines, newest period first. A person's bills include
/// those of their employer and household (any bill with a line for them).
pub fn list_bills(tx: &mut dyn Tx, f: &BillFilter) -> DbResult<(Vec<Bill>, i64)> {
    let where_ = "FROM bill WHERE insu_admdvs LIKE $1 AND ($2 = '' OR emp_no = $2) AND ($3 = '' OR hh_no = $3) \
                  AND ($4 = '' OR period = $4) AND ($5 = '' OR status = $5) \
                  AND ($6 = '' OR bill_id IN (SELECT bill_id FROM bill_line WHERE psn_no = $6))";
    let p: Vec<Value> = vec![
        format!("{}%", crate::catalog::escape_like(&f.region_prefix)).into(),
        f.emp_no.clone().unwrap_or_default().into(),
        f.hh_no.clone().unwrap_or_default().into(),
        f.period.clone().unwrap_or_default().into(),
        f.status.map(|s| s.as_str()).unwrap_or("").into(),
        f.psn_no.clone().unwrap_or_default().into(),
    ];
    let total = tx.query_one(&format!("SELECT COUNT(*) {where_}"), &p)?.i64(0)?;
    let mut paged = p.clone();
    paged.push(f.limit.into());
    paged.push(f.offset.into());
    let rows =
        tx.query(&format!("SELECT {BILL_COLUMNS} {where_} ORDER BY period DESC, bill_id LIMIT $7 OFFSET $8"), &paged)?;
    Ok((rows.iter().map(bill_from_row).collect::<DbResult<_>>()?, total))
}

pub fn mark_bill_paid(tx: &mut dyn Tx, bill_id: &str, paid_date: Date, order_no: &str, now_ms: i64) -> DbResult<u64> {
    tx.execute(
        "UPDATE bill SET status = 'paid', paid_date = $1, paid_order_no = $2, updated_at_ms = $3 \
         WHERE bill_id = $4 AND status = 'unpaid'",
        params![paid_date, order_no, now_ms, bill_id],
    )
}

/// Which of these persons already have a bill line for the period.
pub fn assessed_persons(tx: &mut dyn Tx, period: &str, region: &str) -> DbResult<std::collections::HashSet<String>> {
    tx.query(
        "SELECT l.psn_no FROM bill_line l JOIN bill b ON b.bill_id = l.bill_id WHERE l.period = $1 \
         AND b.insu_admdvs = $2",
        params![period, region],
    )?
    .iter()
    .map(|r| r.text(0))
    .collect()
}

// ---------------------------------------------------------------- paid periods

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaidRow {
    pub psn_no: String,
    pub enrollment_id: i64,
    pub insutype: Insutype,
    pub period: PaidPeriod,
    /// `bill`, `history` or `transfer_in`.
    pub source: &'static str,
    pub source_ref: String,
}

pub fn insert_paid(tx: &mut dyn Tx, rows: &[PaidRow], now_ms: i64) -> DbResult<u64> {
    let values: Vec<Vec<Value>> = rows
        .iter()
        .map(|p| {
            vec![
                crate::ids::next_id().into(),
                p.psn_no.as_str().into(),
                p.enrollment_id.into(),
                p.insutype.code().into(),
                p.period.start.into(),
                p.period.end.into(),
                p.period.paid_on.into(),
                p.source.into(),
                p.source_ref.as_str().into(),
                now_ms.into(),
            ]
        })
        .collect();
    let inserted = insert_many(
        tx,
        "INSERT INTO paid_period (id, psn_no, enrollment_id, insutype, start_date, end_date, paid_on, source, \
         source_ref, created_at_ms)",
        10,
        values,
        "ON CONFLICT (enrollment_id, start_date, source) DO NOTHING",
    )?;
    if inserted > 0 {
        let psn_nos: Vec<&str> = rows.iter().map(|p| p.psn_no.as_str()).collect();
        crate::enrollment::bump_coverage_seq(tx, &psn_nos)?;
    }
    Ok(inserted)
}

/// Paid periods of one of a person's enrollments, by start date. Read by
/// the person, not by the enrollment, so that a job can name the read ahead
/// ([`Tx::prefetch`]) with the enrollments.
pub fn paid_of_enrollment(tx: &mut dyn Tx, psn_no: &str, enrollment_id: i64) -> DbResult<Vec<PaidPeriod>> {
    let mut paid = Vec::new();
    for r in paid_of_enrollments_read(psn_no).query(tx)? {
        if r.i64(0)? == enrollment_id {
            paid.push(PaidPeriod { start: r.date(1)?, end: r.date(2)?, paid_on: r.date(3)? });
        }
    }
    Ok(paid)
}

/// The read of [`paid_of_enrollment`], to prefetch: the paid periods of every
/// enrollment of the person.
pub fn paid_of_enrollments_read(psn_no: &str) -> Read {
    Read::new(
        "SELECT p.enrollment_id, p.start_date, p.end_date, p.paid_on FROM paid_period p \
         JOIN enrollment e ON e.id = p.enrollment_id WHERE e.psn_no = $1 ORDER BY p.start_date, p.enrollment_id"
            .to_owned(),
        params![psn_no],
    )
}

/// Every paid period of a person for one scheme (all regions and enrollments).
pub fn paid_of_person(tx: &mut dyn Tx, psn_no: &str, insutype: Insutype) -> DbResult<Vec<PaidPeriod>> {
    tx.query(
        "SELECT start_date, end_date, paid_on FROM paid_period WHERE psn_no = $1 AND insutype = $2 ORDER BY start_date",
        params![psn_no, insutype.code()],
    )?
    .iter()
    .map(|r| Ok(PaidPeriod { start: r.date(0)?, end: r.date(1)?, paid_on: r.date(2)? }))
    .collect()
}

// ---------------------------------------------------------------- payment orders

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Order {
    pub order_no: String,
    pub bill_id: String,
    pub channel: Channel,
    pub amount: Money,
    pub status: OrderStatus,
    /// What the channel gave back on creation: a prepay id / code URL, a
    /// trade number, a batch number.
    pub channel_ref: String,
    pub channel_txn_id: Option<String>,
    /// Paid after the platform had closed it.
    pub late: bool,
    pub paid_date: Option<Date>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

const ORDER_COLUMNS: &str = "order_no, bill_id, channel, amount_fen, status, channel_ref, channel_txn_id, late, \
    paid_date, created_at_ms, expires_at_ms";

fn order_from_row(r: &Row) -> DbResult<Order> {
    Ok(Order {
        order_no: r.text(0)?,
        bill_id: r.text(1)?,
        channel: decode(Channel::parse(&r.text(2)?))?,
        amount: r.money(3)?,
        status: decode(OrderStatus::parse(&r.text(4)?))?,
        channel_ref: r.text(5)?,
        channel_txn_id: r.opt_text(6)?,
        late: r.bool(7)?,
        paid_date: r.get(8)?,
        created_at_ms: r.i64(9)?,
        expires_at_ms: r.i64(10)?,
    })
}

pub fn insert_order(tx: &mut dyn Tx, o: &Order, created_by: &str, now_ms: i64) -> DbResult<()> {
    tx.execute(
        &format!(
            "INSERT INTO payment_order ({ORDER_COLUMNS}, created_by, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ),
        params![
            o.order_no.as_str(),
            o.bill_id.as_str(),
            o.channel.as_str(),
            o.amount,
            o.status.as_str(),
            o.channel_ref.as_str(),
            o.channel_txn_id.clone(),
            o.late,
            o.paid_date,
            o.created_at_ms,
            o.expires_at_ms,
            created_by,
            now_ms
        ],
    )?;
    Ok(())
}

/// An order; `lock` locks it for update (write jobs only).
pub fn order(tx: &mut dyn Tx, order_no: &str, lock: bool) -> DbResult<Option<Order>> {
    let lock = if lock { tx.for_update() } else { "" };
    tx.query_opt(&format!("SELECT {ORDER_COLUMNS} FROM payment_order WHERE order_no = $1{lock}"), params![order_no])?
        .map(|r| order_from_row(&r))
        .transpose()
}

pub fn orders_of_bill(tx: &mut dyn Tx, bill_id: &str) -> DbResult<Vec<Order>> {
    tx.query(
        &format!("SELECT {ORDER_COLUMNS} FROM payment_order WHERE bill_id = $1 ORDER BY created_at_ms, order_no"),
        params![bill_id],
    )?
    .iter()
    .map(order_from_row)
    .collect()
}

pub fn update_order(tx: &mut dyn Tx, o: &Order, now_ms: i64) -> DbResult<u64> {
    tx.execute(
        "UPDATE payment_order SET status = $1, channel_txn_id = $2, late = $3, paid_date = $4, updated_at_ms = $5 \
         WHERE order_no = $6",
        params![o.status.as_str(), o.channel_txn_id.clone(), o.late, o.paid_date, now_ms, o.order_no.as_str()],
    )
}

/// Open online orders whose time ran out before `now_ms` (at most `limit`).
pub fn expired_orders(tx: &mut dyn Tx, now_ms: i64, limit: i64) -> DbResult<Vec<Order>> {
    tx.query(
        &format!(
            "SELECT {ORDER_COLUMNS} FROM payment_order WHERE status = 'created' AND expires_at_ms < $1 \
             ORDER BY expires_at_ms LIMIT $2"
        ),
        params![now_ms, limit],
    )?
    .iter()
    .map(order_from_row)
    .collect()
}

/// Payments a channel made on a day (the platform's side of reconciliation):
/// orders paid that day, including late ones and refunds due (the channel
/// holds that money too).
pub fn paid_on_day(
    tx: &mut dyn Tx,
    channel: Channel,
    day: Date,
    region_prefix: &str,
) -> DbResult<Vec<RecordedPayment>> {
    tx.query(
        "SELECT o.order_no, o.channel_txn_id, o.amount_fen FROM payment_order o JOIN bill b ON b.bill_id = o.bill_id \
         WHERE o.channel = $1 AND o.paid_date = $2 AND o.status IN ('paid', 'refund_due') AND b.insu_admdvs LIKE $3 \
         ORDER BY o.order_no",
        params![channel.as_str(), day, format!("{}%", crate::catalog::escape_like(region_prefix))],
    )?
    .iter()
    .map(|r| {
        Ok(RecordedPayment {
            order_no: r.text(0)?,
            channel_txn_id: r.opt_text(1)?.unwrap_or_default(),
            amount: r.money(2)?,
        })
    })
    .collect()
}

pub fn insert_reconciliation(
    tx: &mut dyn Tx,
    channel: Channel,
    day: Date,
    report: &yibao_domain::payment::ReconReport,
    created_by: &str,
    now_ms: i64,
) -> DbResult<i64> {
    let id = crate::ids::next_id();
    let json = serde_json::to_string(report).map_err(|e| DbError::decode(e.to_string()))?;
    tx.execute(
        "INSERT INTO reconciliation (id, channel, day, matched, missing, extra, mismatched, report, created_by, \
         created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        params![
            id,
            channel.as_str(),
            day,
            report.matched,
            report.missing.len(),
            report.extra.len(),
            report.mismatched.len(),
            json,
            created_by,
            now_ms
        ],
    )?;
    Ok(id)
}
