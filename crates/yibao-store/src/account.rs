//! Personal accounts: balances, immutable movements with running balances,
//! and 家庭共济 authorizations. Only the application's account module writes
//! here, through [`append`], which keeps the balance equal to the sum of the
//! movements.

use yibao_domain::account::{FamilyAuthorization, MovementKind};
use yibao_domain::division::DivisionCode;
use yibao_domain::enrollment::Relation;
use yibao_domain::{Date, Money, Parsed};

use crate::params;
use crate::sql::{DbError, DbResult, Row, RowsExpected, Tx};

fn decode<T>(r: Parsed<T>) -> DbResult<T> {
    r.map_err(|e| DbError::decode(format!("{}: {}", e.field, e.reason)))
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    pub psn_no: String,
    pub insu_admdvs: DivisionCode,
    pub balance: Money,
    pub seq: i64,
}

/// The account; `lock` locks it for update (write jobs only).
pub fn get(tx: &mut dyn Tx, psn_no: &str, lock: bool) -> DbResult<Option<Account>> {
    let lock = if lock { tx.for_update() } else { "" };
    tx.query_opt(
        &format!("SELECT psn_no, insu_admdvs, balance_fen, seq FROM account WHERE psn_no = $1{lock}"),
        params![psn_no],
    )?
    .map(|r| {
        Ok(Account {
            psn_no: r.text(0)?,
            insu_admdvs: decode(DivisionCode::parse(&r.text(1)?))?,
            balance: r.money(2)?,
            seq: r.i64(3)?,
        })
    })
    .transpose()
}

/// Opens an account with a zero balance if there is none.
pub fn open(tx: &mut dyn Tx, psn_no: &str, region: DivisionCode, now_ms: i64) -> DbResult<()> {
    let opened = tx.execute(
        "INSERT INTO account (psn_no, insu_admdvs, balance_fen, seq, updated_at_ms) VALUES ($1, $2, 0, 0, $3) \
         ON CONFLICT (psn_no) DO NOTHING",
        params![psn_no, region.as_str(), now_ms],
    )?;
    if opened > 0 {
        // Whether there is an account is a coverage input.
        crate::enrollment::bump_coverage_seq(tx, &[psn_no])?;
    }
    Ok(())
}

/// Moves an account to another region (transfer in).
pub fn set_region(tx: &mut dyn Tx, psn_no: &str, region: DivisionCode, now_ms: i64) -> DbResult<u64> {
    tx.execute(
        "UPDATE account SET insu_admdvs = $1, updated_at_ms = $2 WHERE psn_no = $3",
        params![region.as_str(), now_ms, psn_no],
    )
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Movement {
    pub id: i64,
    pub psn_no: String,
    pub seq: i64,
    pub kind: MovementKind,
    /// Signed: credits positive, debits negative.
    pub amount: Money,
    pub balance_after: Money,
    pub reference: String,
    pub related_ref: Option<String>,
    /// Who used the money, when not the owner (家庭共济).
    pub user_psn_no: Option<String>,
    pub authorization_id: Option<i64>,
    pub move_date: Date,
}

const MOVEMENT_COLUMNS: &str = "id, psn_no, seq, kind, amount_fen, balance_after_fen, reference, related_ref, \
    user_psn_no, authorization_id, move_date";

fn movement_from_row(r: &Row) -> DbResult<Movement> {
    Ok(Movement {
        id: r.i64(0)?,
        psn_no: r.text(1)?,
        seq: r.i64(2)?,
        kind: decode(MovementKind::parse(&r.text(3)?))?,
        amount: r.money(4)?,
        balance_after: r.money(5)?,
        reference: r.text(6)?,
        related_ref: r.opt_text(7)?,
        user_psn_no: r.opt_text(8)?,
        authorization_id: r.get(9)?,
        move_date: r.date(10)?,
    })
}

/// Appends a movement whose `seq` and `balance_after` the caller computed
/// from the locked account, and sets the account's balance. The unique
/// (kind, reference, psn_no) makes a repeated movement fail. Deferred
/// ([`Tx::execute_deferred`]).
pub fn append(tx: &mut dyn Tx, m: &Movement, now_ms: i64) -> DbResult<()> {
    tx.execute_deferred(
        &format!(
            "INSERT INTO account_movement ({MOVEMENT_COLUMNS}, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ),
        params![
            m.id,
            m.psn_no.as_str(),
            m.seq,
            m.kind.as_str(),
            m.amount,
            m.balance_after,
            m.reference.as_str(),
            m.related_ref.clone(),
            m.user_psn_no.clone(),
            m.authorization_id,
            m.move_date,
            now_ms
        ],
        None,
    )?;
    tx.execute_deferred(
        "UPDATE account SET balance_fen = $1, seq = $2, updated_at_ms = $3 WHERE psn_no = $4 AND seq = $5",
        params![m.balance_after, m.seq, now_ms, m.psn_no.as_str(), m.seq - 1],
        Some(RowsExpected { rows: 1, kind: crate::DbErrorKind::Retryable, what: "account changed concurrently" }),
    )
}

pub fn movements(tx: &mut dyn Tx, psn_no: &str, limit: i64, offset: i64) -> DbResult<(Vec<Movement>, i64)> {
    let total = tx.query_one("SELECT COUNT(*) FROM account_movement WHERE psn_no = $1", params![psn_no])?.i64(0)?;
    let rows = tx.query(
        &format!("SELECT {MOVEMENT_COLUMNS} FROM account_movement WHERE psn_no = $1 ORDER BY seq LIMIT $2 OFFSET $3"),
        params![psn_no, limit, offset],
    )?;
    Ok((rows.iter().map(movement_from_row).collect::<DbResult<_>>()?, total))
}

/// The sum of an account's movements (for checks).
pub fn movements_sum(tx: &mut dyn Tx, psn_no: &str) -> DbResult<Money> {
    Ok(Money::from_fen(
        tx.query_one(
            "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM account_movement WHERE psn_no = $1",
            params![psn_no],
        )?
        .i64(0)?,
    ))
}

/// What a family member spent under an authorization in a calendar year.
pub fn used_under(tx: &mut dyn Tx, authorization_id: i64, year: i32) -> DbResult<Money> {
    let r = tx.query_one(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM account_movement WHERE authorization_id = $1 \
         AND move_date >= $2 AND move_date <= $3",
        params![authorization_id, format!("{year:04}-01-01"), format!("{year:04}-12-31")],
    )?;
    // Debits are negative, reversals of them positive: the net use.
    Ok(-Money::from_fen(r.i64(0)?))
}

pub fn insert_authorization(tx: &mut dyn Tx, a: &FamilyAuthorization, created_by: &str, now_ms: i64) -> DbResult<()> {
    tx.execute(
        "INSERT INTO family_authorization (id, owner_psn_no, user_psn_no, relation, yearly_limit_fen, begin_date, \
         end_date, created_by, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![
            a.id,
            a.owner_psn_no.as_str(),
            a.user_psn_no.as_str(),
            a.relation.as_str(),
            a.yearly_limit,
            a.begin_date,
            a.end_date,
            created_by,
            now_ms
        ],
    )?;
    Ok(())
}

fn auth_from_row(r: &Row) -> DbResult<FamilyAuthorization> {
    Ok(FamilyAuthorization {
        id: r.i64(0)?,
        owner_psn_no: r.text(1)?,
        user_psn_no: r.text(2)?,
        relation: decode(Relation::parse(&r.text(3)?))?,
        yearly_limit: r.money(4)?,
        begin_date: r.date(5)?,
        end_date: r.get(6)?,
    })
}

const AUTH_COLUMNS: &str = "id, owner_psn_no, user_psn_no, relation, yearly_limit_fen, begin_date, end_date";

/// Authorizations granted by `owner_psn_no` (or, with `as_user`, received).
pub fn authorizations(tx: &mut dyn Tx, psn_no: &str, as_user: bool) -> DbResult<Vec<FamilyAuthorization>> {
    let column = if as_user { "user_psn_no" } else { "owner_psn_no" };
    tx.query(
        &format!(
            "SELECT {AUTH_COLUMNS} FROM family_authorization WHERE {column} = $1 ORDER BY begin_date, id LIMIT 100"
        ),
        params![psn_no],
    )?
    .iter()
    .map(auth_from_row)
    .collect()
}

pub fn authorization(tx: &mut dyn Tx, id: i64) -> DbResult<Option<FamilyAuthorization>> {
    tx.query_opt(&format!("SELECT {AUTH_COLUMNS} FROM family_authorization WHERE id = $1"), params![id])?
        .map(|r| auth_from_row(&r))
        .transpose()
}

pub fn end_authorization(tx: &mut dyn Tx, id: i64, end_date: Date) -> DbResult<u64> {
    tx.execute("UPDATE family_authorization SET end_date = $1 WHERE id = $2", params![end_date, id])
}

/// A person's movement of a kind with a reference, if any.
pub fn movement_by_ref_of(
    tx: &mut dyn Tx,
    psn_no: &str,
    kind: MovementKind,
    reference: &str,
) -> DbResult<Option<Movement>> {
    tx.query_opt(
        &format!("SELECT {MOVEMENT_COLUMNS} FROM account_movement WHERE psn_no = $1 AND kind = $2 AND reference = $3"),
        params![psn_no, kind.as_str(), reference],
    )?
    .map(|r| movement_from_row(&r))
    .transpose()
}
