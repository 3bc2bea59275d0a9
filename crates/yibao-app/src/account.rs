//! 个人账户: credits, settlement debits and their reversals, statements,
//! and 家庭共济 authorizations.
//!
//! # Contract for the settlement path
//!
//! These functions are synchronous and run inside the caller's database job
//! (the settlement's), so the account movement commits or rolls back with
//! the settlement:
//!
//! - [`balance`]`(tx, psn_no) -> AppResult<Money>`: the current balance
//!   (`NotFound` when the person has no account, e.g. residents);
//! - [`debit_for_settlement`]`(tx, owner_psn_no, user_psn_no, amount, setl_id, date, now_ms) -> AppResult<Money>`:
//!   takes `amount` from the owner's account for settlement `setl_id` and
//!   returns the owner's balance after. When `user_psn_no` differs from the
//!   owner, a 家庭共济 authorization from owner to user in force on `date` is
//!   required and its yearly limit enforced; the use is recorded on the
//!   movement (user and authorization). Refused with `Conflict` (balance
//!   short, no authorization, limit reached, already debited for this
//!   `setl_id`) or `Invalid` (amount not positive); nothing is written then;
//! - [`reverse_settlement_debit`]`(tx, setl_id, reversal_setl_id, now_ms) -> AppResult<Money>`:
//!   restores exactly what `setl_id` debited (every account it debited) and
//!   returns the (last) owner's balance after; a second reversal is refused
//!   with `Conflict`.
//!
//! Every movement is an immutable row with the running balance; the balance
//! is always the sum of the movements and never negative (the domain's
//! [`yibao_domain::account::apply`] refuses an overdraft, and the table has
//! a check constraint as a last line).

use serde::{Deserialize, Serialize};
use yibao_domain::account::{self as rules, FamilyAuthorization, MovementKind};
use yibao_domain::auth::Permission;
use yibao_domain::enrollment::Relation;
use yibao_domain::{Date, DateTime, Money};
use yibao_store::account::{self as repo, Movement};
use yibao_store::{Tx, enrollment as persons};

use crate::audit::{self, Change};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::{App, Page, paging};

/// The balance of a person's account.
pub fn balance(tx: &mut dyn Tx, psn_no: &str) -> AppResult<Money> {
    repo::get(tx, psn_no, false)?.map(|a| a.balance).ok_or_else(|| AppError::not_found("个人账户", psn_no))
}

/// One credit or debit to append.
pub(crate) struct Post<'a> {
    pub psn_no: &'a str,
    pub kind: MovementKind,
    /// Positive; the kind gives the sign.
    pub amount: Money,
    pub reference: &'a str,
    pub related_ref: Option<&'a str>,
    pub user_psn_no: Option<&'a str>,
    pub authorization_id: Option<i64>,
    pub date: Date,
}

/// Appends a movement to a locked account; refuses an overdraft or a
/// repeated (kind, reference).
pub(crate) fn post(tx: &mut dyn Tx, p: Post<'_>, now_ms: i64) -> AppResult<Movement> {
    if !p.amount.is_positive() {
        return Err(AppError::invalid("amount", "金额应大于0"));
    }
    let account = repo::get(tx, p.psn_no, true)?.ok_or_else(|| AppError::not_found("个人账户", p.psn_no))?;
    let delta = p.kind.signed(p.amount);
    let after = rules::apply(account.balance, delta).map_err(|e| AppError::Conflict(e.reason))?;
    if tx
        .query_opt(
            "SELECT 1 FROM account_movement WHERE kind = $1 AND reference = $2 AND psn_no = $3",
            yibao_store::params![p.kind.as_str(), p.reference, p.psn_no],
        )?
        .is_some()
    {
        return Err(AppError::Conflict(format!("账户已有{}记录（{}）", p.kind.name(), p.reference)));
    }
    let m = Movement {
        id: yibao_store::ids::next_id(),
        psn_no: p.psn_no.to_owned(),
        seq: account.seq + 1,
        kind: p.kind,
        amount: delta,
        balance_after: after,
        reference: p.reference.to_owned(),
        related_ref: p.related_ref.map(str::to_owned),
        user_psn_no: p.user_psn_no.map(str::to_owned),
        authorization_id: p.authorization_id,
        move_date: p.date,
    };
    repo::append(tx, &m, now_ms)?;
    Ok(m)
}

/// Debits an account for a settlement. See the module documentation.
pub fn debit_for_settlement(
    tx: &mut dyn Tx,
    owner_psn_no: &str,
    user_psn_no: &str,
    amount: Money,
    setl_id: &str,
    date: Date,
    now_ms: i64,
) -> AppResult<Money> {
    if !amount.is_positive() {
        return Err(AppError::invalid("acct_pay", "个人账户支付金额应大于0"));
    }
    let authorization = if owner_psn_no == user_psn_no {
        None
    } else {
        let auths = repo::authorizations(tx, owner_psn_no, false)?;
        let auth =
            auths.into_iter().find(|a| a.user_psn_no == user_psn_no && a.in_force_on(date)).ok_or_else(|| {
                AppError::Conflict(format!("{owner_psn_no} 未授权 {user_psn_no} 在 {date} 使用其个人账户（家庭共济）"))
            })?;
        let used = repo::used_under(tx, auth.id, date.year())?;
        rules::check_family_use(&auth, used, amount, date).map_err(|e| AppError::Conflict(e.reason))?;
        Some(auth)
    };
    let m = post(
        tx,
        Post {
            psn_no: owner_psn_no,
            kind: MovementKind::SettlementDebit,
            amount,
            reference: setl_id,
            related_ref: None,
            user_psn_no: authorization.as_ref().map(|a| a.user_psn_no.as_str()),
            authorization_id: authorization.as_ref().map(|a| a.id),
            date,
        },
        now_ms,
    )?;
    Ok(m.balance_after)
}

/// Restores what a settlement debited. See the module documentation.
pub fn reverse_settlement_debit(
    tx: &mut dyn Tx,
    setl_id: &str,
    reversal_setl_id: &str,
    now_ms: i64,
) -> AppResult<Money> {
    let debits = tx
        .query(
            "SELECT psn_no, amount_fen, user_psn_no, authorization_id FROM account_movement \
             WHERE kind = 'settlement_debit' AND reference = $1 ORDER BY seq",
            yibao_store::params![setl_id],
        )?
        .iter()
        .map(|r| Ok((r.text(0)?, r.money(1)?, r.opt_text(2)?, r.get::<Option<i64>>(3)?)))
        .collect::<Result<Vec<_>, yibao_store::DbError>>()?;
    if debits.is_empty() {
        return Err(AppError::not_found("个人账户结算支付", setl_id));
    }
    let date = DateTime::from_unix_ms(now_ms).date();
    let mut last = Money::ZERO;
    for (psn_no, amount, user, auth) in debits {
        let m = post(
            tx,
            Post {
                psn_no: &psn_no,
                kind: MovementKind::SettlementReversal,
                amount: -amount,
                reference: setl_id,
                related_ref: Some(reversal_setl_id),
                user_psn_no: user.as_deref(),
                authorization_id: auth,
                date,
            },
            now_ms,
        )
        .map_err(|e| match e {
            AppError::Conflict(_) => AppError::Conflict(format!("结算 {setl_id} 的个人账户支付已冲正，不能重复冲正")),
            other => other,
        })?;
        last = m.balance_after;
    }
    Ok(last)
}

// ---------------------------------------------------------------- API

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct MovementView {
    pub seq: i64,
    pub kind: MovementKind,
    pub kind_name: &'static str,
    /// Signed: credits positive, debits negative.
    pub amount: Money,
    pub balance_after: Money,
    pub reference: String,
    pub related_ref: Option<String>,
    pub user_psn_no: Option<String>,
    pub authorization_id: Option<i64>,
    pub move_date: Date,
}

impl From<Movement> for MovementView {
    fn from(m: Movement) -> MovementView {
        MovementView {
            seq: m.seq,
            kind: m.kind,
            kind_name: m.kind.name(),
            amount: m.amount,
            balance_after: m.balance_after,
            reference: m.reference,
            related_ref: m.related_ref,
            user_psn_no: m.user_psn_no,
            authorization_id: m.authorization_id,
            move_date: m.move_date,
        }
    }
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct Statement {
    pub psn_no: String,
    pub insu_admdvs: String,
    pub balance: Money,
    pub movements: Page<MovementView>,
}

#[derive(utoipa::IntoParams, Clone, Debug, Default, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The statement of an account: balance and movements with running balances.
pub async fn statement(app: &App, ctx: &Ctx, psn_no: &str, q: PageQuery) -> AppResult<Statement> {
    ctx.require(Permission::ReadBusiness)?;
    let (limit, offset) = paging(q.limit, q.offset)?;
    let psn_no = psn_no.trim().to_owned();
    let (account, items, total) = app
        .db
        .read(move |tx: &mut dyn Tx| {
            let account =
                repo::get(tx, &psn_no, false)?.ok_or_else(|| AppError::not_found("个人账户", psn_no.clone()))?;
            let (items, total) = repo::movements(tx, &psn_no, limit, offset)?;
            Ok::<_, AppError>((account, items, total))
        })
        .await?;
    ctx.require_region(account.insu_admdvs.as_str())?;
    Ok(Statement {
        psn_no: account.psn_no,
        insu_admdvs: account.insu_admdvs.as_str().to_owned(),
        balance: account.balance,
        movements: Page { total, limit, offset, items: items.into_iter().map(MovementView::from).collect() },
    })
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAuthorization {
    pub user_psn_no: String,
    /// `spouse`, `parent` or `child`.
    pub relation: String,
    /// Most the family member may use per calendar year.
    pub yearly_limit: Money,
    pub begin_date: Date,
    pub end_date: Option<Date>,
}

/// Authorizes a spouse, parent or child to use the owner's account (家庭共济).
pub async fn authorize(app: &App, ctx: &Ctx, owner: &str, input: NewAuthorization) -> AppResult<FamilyAuthorization> {
    ctx.require(Permission::WriteEnrollment)?;
    let relation = Relation::parse(&input.relation)?;
    let owner = owner.trim().to_owned();
    let user = input.user_psn_no.trim().to_owned();
    rules::check_authorization_terms(&owner, &user, relation, input.yearly_limit)?;
    if let Some(end) = input.end_date
        && end < input.begin_date
    {
        return Err(AppError::invalid("end_date", "结束日期早于开始日期"));
    }
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let account = repo::get(tx, &owner, true)?.ok_or_else(|| AppError::not_found("个人账户", owner.clone()))?;
            ctx2.require_region(account.insu_admdvs.as_str())?;
            persons::person(tx, &user)?.ok_or_else(|| AppError::not_found("参保人员", user.clone()))?;
            let existing = repo::authorizations(tx, &owner, false)?;
            if existing.iter().any(|a| {
                a.user_psn_no == user
                    && a.end_date.is_none_or(|e| e >= input.begin_date)
                    && input.end_date.is_none_or(|e| e >= a.begin_date)
            }) {
                return Err(AppError::Conflict("该家庭成员已有有效期重叠的共济授权".into()));
            }
            let a = FamilyAuthorization {
                id: yibao_store::ids::next_id(),
                owner_psn_no: owner.clone(),
                user_psn_no: user.clone(),
                relation,
                yearly_limit: input.yearly_limit,
                begin_date: input.begin_date,
                end_date: input.end_date,
            };
            repo::insert_authorization(tx, &a, &ctx2.actor.id, ctx2.now_ms)?;
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "account.authorization.create",
                    target_kind: "account",
                    target_id: &owner,
                    region: account.insu_admdvs.as_str(),
                    before: None,
                    after: audit::image(&a),
                },
            )?;
            Ok(a)
        })
        .await
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct AuthorizationView {
    #[serde(flatten)]
    pub authorization: FamilyAuthorization,
    /// Used this calendar year (today's year).
    pub used_this_year: Money,
}

/// Authorizations granted by an account's owner, with this year's use.
pub async fn authorizations(app: &App, ctx: &Ctx, owner: &str) -> AppResult<Vec<AuthorizationView>> {
    ctx.require(Permission::ReadBusiness)?;
    let owner = owner.trim().to_owned();
    let year = ctx.today().year();
    let (account, views) = app
        .db
        .read(move |tx: &mut dyn Tx| {
            let account =
                repo::get(tx, &owner, false)?.ok_or_else(|| AppError::not_found("个人账户", owner.clone()))?;
            let mut views = Vec::new();
            for a in repo::authorizations(tx, &owner, false)? {
                let used_this_year = repo::used_under(tx, a.id, year)?;
                views.push(AuthorizationView { authorization: a, used_this_year });
            }
            Ok::<_, AppError>((account, views))
        })
        .await?;
    ctx.require_region(account.insu_admdvs.as_str())?;
    Ok(views)
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// Last day the authorization is valid (default: today).
    pub end_date: Option<Date>,
}

/// Ends an authorization.
pub async fn revoke(app: &App, ctx: &Ctx, id: i64, input: Revocation) -> AppResult<FamilyAuthorization> {
    ctx.require(Permission::WriteEnrollment)?;
    let end = input.end_date.unwrap_or_else(|| ctx.today());
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let before =
                repo::authorization(tx, id)?.ok_or_else(|| AppError::not_found("家庭共济授权", id.to_string()))?;
            let account = repo::get(tx, &before.owner_psn_no, true)?
                .ok_or_else(|| AppError::not_found("个人账户", before.owner_psn_no.clone()))?;
            ctx2.require_region(account.insu_admdvs.as_str())?;
            if end < before.begin_date {
                return Err(AppError::invalid("end_date", "结束日期早于授权开始日期"));
            }
            repo::end_authorization(tx, id, end)?;
            let after = FamilyAuthorization { end_date: Some(end), ..before.clone() };
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "account.authorization.revoke",
                    target_kind: "account",
                    target_id: &before.owner_psn_no,
                    region: account.insu_admdvs.as_str(),
                    before: audit::image(&before),
                    after: audit::image(&after),
                },
            )?;
            Ok(after)
        })
        .await
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationRun {
    /// Pooling region (6 digits).
    pub region: String,
    /// `yyyy-MM`.
    pub month: String,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct AllocationReport {
    pub region: String,
    pub month: String,
    pub credited: usize,
    pub already_credited: usize,
    pub amount_each: Money,
    pub total: Money,
}

/// Credits every retiree of a region their fixed monthly amount (退休人员定额
/// 划入) from the pooled fund; a month already credited is skipped, so the
/// run can be repeated.
pub async fn allocate_retirees(app: &App, ctx: &Ctx, input: AllocationRun) -> AppResult<AllocationReport> {
    ctx.require(Permission::WriteFund)?;
    let region = app.divisions().parse(&input.region).map_err(|e| e.named("region"))?.code();
    ctx.require_region(region.as_str())?;
    let period = yibao_domain::contribution::Period::parse(&input.month).map_err(|e| e.named("month"))?;
    if !period.is_month() {
        return Err(AppError::invalid("month", "应为 yyyy-MM"));
    }
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let (credited, already, each) = crate::contribution::allocate_retirees_in_job(tx, &ctx2, region, period)?;
            let report = AllocationReport {
                region: region.as_str().to_owned(),
                month: period.to_string(),
                credited,
                already_credited: already,
                amount_each: each,
                total: Money::from_fen(each.fen() * credited as i64),
            };
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "account.retiree_allocation",
                    target_kind: "region",
                    target_id: region.as_str(),
                    region: region.as_str(),
                    before: None,
                    after: audit::image(&report),
                },
            )?;
            Ok(report)
        })
        .await
}
