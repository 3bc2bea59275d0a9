//! 个人账户: movements, the balance rule, and 家庭共济 authorizations.
//!
//! An account is a sequence of immutable movements, each with the balance
//! after it. Credits are positive, debits negative; a movement that would
//! make the balance negative is refused. So the balance is always the sum of
//! the movements and never negative (property-tested below).

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::enrollment::Relation;
use crate::error::{FieldError, Parsed};
use crate::money::Money;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// 个人缴费划入 (part of a paid contribution)
    ContributionCredit,
    /// 退休人员定额划入 (from the pooled fund)
    RetireeAllocation,
    /// 转移接续转入
    TransferIn,
    /// 利息
    Interest,
    /// 结算支付 (the owner's own care, or a family member's under 家庭共济)
    SettlementDebit,
    /// 结算冲正 (restores a settlement debit exactly)
    SettlementReversal,
    /// 转移接续转出
    TransferOut,
    /// 死亡清退 (paid to the heirs)
    DeathPayout,
    /// 上年结转 (the balance brought over when history was migrated)
    OpeningBalance,
}

impl MovementKind {
    pub const ALL: [MovementKind; 9] = [
        MovementKind::ContributionCredit,
        MovementKind::RetireeAllocation,
        MovementKind::TransferIn,
        MovementKind::Interest,
        MovementKind::SettlementDebit,
        MovementKind::SettlementReversal,
        MovementKind::TransferOut,
        MovementKind::DeathPayout,
        MovementKind::OpeningBalance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::ContributionCredit => "contribution_credit",
            MovementKind::RetireeAllocation => "retiree_allocation",
            MovementKind::TransferIn => "transfer_in",
            MovementKind::Interest => "interest",
            MovementKind::SettlementDebit => "settlement_debit",
            MovementKind::SettlementReversal => "settlement_reversal",
            MovementKind::TransferOut => "transfer_out",
            MovementKind::DeathPayout => "death_payout",
            MovementKind::OpeningBalance => "opening_balance",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MovementKind::ContributionCredit => "个人缴费划入",
            MovementKind::RetireeAllocation => "退休人员定额划入",
            MovementKind::TransferIn => "转移转入",
            MovementKind::Interest => "利息",
            MovementKind::SettlementDebit => "医疗费用支付",
            MovementKind::SettlementReversal => "结算冲正退回",
            MovementKind::TransferOut => "转移转出",
            MovementKind::DeathPayout => "死亡清退",
            MovementKind::OpeningBalance => "上年结转",
        }
    }

    pub fn parse(text: &str) -> Parsed<MovementKind> {
        MovementKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| FieldError::new("kind", format!("账户变动类型“{text}”无效")))
    }

    /// Whether the kind adds to the balance.
    pub fn is_credit(self) -> bool {
        matches!(
            self,
            MovementKind::ContributionCredit
                | MovementKind::RetireeAllocation
                | MovementKind::TransferIn
                | MovementKind::Interest
                | MovementKind::SettlementReversal
                | MovementKind::OpeningBalance
        )
    }

    /// The signed amount of a movement of this kind for a positive `amount`.
    pub fn signed(self, amount: Money) -> Money {
        if self.is_credit() { amount } else { -amount }
    }
}

/// Applies a signed amount to a balance. Refuses a zero or negative amount
/// magnitude and any result below zero, naming the shortfall.
pub fn apply(balance: Money, delta: Money) -> Parsed<Money> {
    if delta.is_zero() {
        return Err(FieldError::new("amount", "金额不能为0"));
    }
    let after = balance.checked_add(delta).ok_or_else(|| FieldError::new("amount", "金额超出允许范围"))?;
    if after.is_negative() {
        return Err(FieldError::new("amount", format!("个人账户余额不足：余额 {balance} 元，需支付 {} 元", -delta)));
    }
    Ok(after)
}

/// A 家庭共济 authorization: the owner lets a close relative use the account.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FamilyAuthorization {
    pub id: i64,
    pub owner_psn_no: String,
    pub user_psn_no: String,
    pub relation: Relation,
    /// Most the user may spend from the owner's account per calendar year.
    pub yearly_limit: Money,
    pub begin_date: Date,
    /// Last day, inclusive; `None` until revoked or ended.
    pub end_date: Option<Date>,
}

impl FamilyAuthorization {
    pub fn in_force_on(&self, date: Date) -> bool {
        self.begin_date <= date && self.end_date.is_none_or(|e| date <= e)
    }
}

/// Checks a new authorization's terms.
pub fn check_authorization_terms(owner: &str, user: &str, relation: Relation, yearly_limit: Money) -> Parsed<()> {
    if owner == user {
        return Err(FieldError::new("user_psn_no", "不能授权本人"));
    }
    if !relation.may_share_account() {
        return Err(FieldError::new("relation", "家庭共济只能授权配偶、父母、子女"));
    }
    if !yearly_limit.is_positive() {
        return Err(FieldError::new("yearly_limit", "年度限额应大于0"));
    }
    Ok(())
}

/// Whether a family member may spend `amount` on `date` having already spent
/// `used_in_year` this calendar year under the authorization.
pub fn check_family_use(auth: &FamilyAuthorization, used_in_year: Money, amount: Money, date: Date) -> Parsed<()> {
    if !auth.in_force_on(date) {
        return Err(FieldError::new("user_psn_no", format!("家庭共济授权在 {date} 不在有效期内")));
    }
    if used_in_year + amount > auth.yearly_limit {
        return Err(FieldError::new(
            "amount",
            format!(
                "超出家庭共济年度限额：限额 {} 元，本年已用 {used_in_year} 元，本次 {amount} 元",
                auth.yearly_limit
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn apply_refuses_overdraft_and_zero() {
        assert_eq!(apply(Money::from_yuan(10), Money::from_yuan(-10)).unwrap(), Money::ZERO);
        let e = apply(Money::from_yuan(10), Money::from_fen(-1001)).unwrap_err();
        assert!(e.reason.contains("余额不足"), "{}", e.reason);
        assert!(apply(Money::ZERO, Money::ZERO).is_err());
        assert_eq!(MovementKind::SettlementDebit.signed(Money::from_yuan(3)), Money::from_yuan(-3));
        assert_eq!(MovementKind::parse("interest").unwrap(), MovementKind::Interest);
    }

    #[test]
    fn family_use_respects_period_and_limit() {
        let d = |s: &str| Date::parse(s).unwrap();
        let auth = FamilyAuthorization {
            id: 1,
            owner_psn_no: "A".into(),
            user_psn_no: "B".into(),
            relation: Relation::Parent,
            yearly_limit: Money::from_yuan(500),
            begin_date: d("2026-01-01"),
            end_date: Some(d("2026-12-31")),
        };
        assert!(check_family_use(&auth, Money::from_yuan(300), Money::from_yuan(200), d("2026-05-01")).is_ok());
        assert!(check_family_use(&auth, Money::from_yuan(300), Money::from_fen(20_001), d("2026-05-01")).is_err());
        assert!(check_family_use(&auth, Money::ZERO, Money::from_yuan(1), d("2027-01-01")).is_err());
        assert!(check_authorization_terms("A", "A", Relation::Spouse, Money::from_yuan(1)).is_err());
        assert_eq!(
            check_authorization_terms("A", "B", Relation::Other, Money::from_yuan(1)).unwrap_err().field,
            "relation"
        );
    }

    proptest! {
        /// Whatever credits and debits are attempted, the balance equals the
        /// sum of the accepted movements and is never negative.
        #[test]
        fn balance_is_the_sum_of_movements_and_never_negative(
            ops in proptest::collection::vec((0usize..9, 1i64..100_000), 0..200)
        ) {
            let mut balance = Money::ZERO;
            let mut movements: Vec<(Money, Money)> = Vec::new();
            for (k, fen) in ops {
                let kind = MovementKind::ALL[k];
                let delta = kind.signed(Money::from_fen(fen));
                match apply(balance, delta) {
                    Ok(after) => {
                        balance = after;
                        movements.push((delta, after));
                    }
                    Err(_) => prop_assert!(balance + delta < Money::ZERO),
                }
                prop_assert!(!balance.is_negative());
            }
            let sum: Money = movements.iter().map(|(d, _)| *d).sum();
            prop_assert_eq!(sum, balance);
            // Each row's running balance is the prefix sum.
            let mut running = Money::ZERO;
            for (delta, after) in movements {
                running += delta;
                prop_assert_eq!(running, after);
            }
        }
    }
}
