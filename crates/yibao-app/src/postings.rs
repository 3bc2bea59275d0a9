//! Money movements the fund ledger records.
//!
//! Every business module that moves money calls one of these functions
//! inside the same database job as the business change, so the ledger and
//! the business records can never disagree: either both are written or
//! neither is. The fund module implements them as balanced journal entries.
//!
//! This file is the contract between modules: callers build the event,
//! the fund module decides the accounts. Changing an event's fields is a
//! change to every caller.

use serde::Serialize;
use yibao_domain::codes::{ClrType, Insutype, MedType};
use yibao_domain::division::DivisionCode;
use yibao_domain::institution::InstitutionCode;
use yibao_domain::{Date, Money};
use yibao_store::Tx;
use yibao_store::settlement::Amounts;

use crate::error::AppResult;

/// A contribution bill was paid (参保缴费到账).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContributionCollected {
    /// The bill's id (the business reference of the entries).
    pub bill_id: String,
    /// The payment's id on the channel (order number), for reconciliation.
    pub payment_ref: String,
    /// `wechat`, `alipay`, `bank_debit`, `counter`, or `assistance` (资助参保).
    pub channel: String,
    /// The pooling region the contribution belongs to.
    pub insu_admdvs: DivisionCode,
    pub insutype: Insutype,
    /// The person, for an individual bill (residents, flexible workers).
    pub psn_no: Option<String>,
    /// The employer, for an employer's bill.
    pub employer_id: Option<String>,
    /// `yyyy-MM` for monthly (employees), `yyyy` for yearly (residents).
    pub period: String,
    pub paid_date: Date,
    /// Employer share (单位缴费).
    pub employer_share: Money,
    /// Personal share (个人缴费).
    pub personal_share: Money,
    /// Government subsidy recorded with the bill (财政补助, residents).
    pub government_subsidy: Money,
    /// Paid by 医疗救助 on behalf of an assistance-group member (资助参保).
    pub assistance_paid: Money,
    /// Of the total, the part credited to personal accounts (the rest goes
    /// to the pooled fund). The enrollment module decides the split.
    pub to_personal_accounts: Money,
}

impl ContributionCollected {
    pub fn total(&self) -> Money {
        self.employer_share + self.personal_share + self.government_subsidy + self.assistance_paid
    }
}

/// Why a personal account was credited other than from a contribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountCreditSource {
    /// A retiree's fixed monthly amount, allocated from the pooled fund.
    RetireeAllocation,
    /// Balance brought in by a transfer from another region (关系转移).
    TransferIn,
    /// Interest credited to accounts.
    Interest,
}

/// A personal account was credited from the pooled fund, a transfer or
/// interest (credits that are part of a contribution are in
/// [`ContributionCollected::to_personal_accounts`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountCredited {
    pub reference: String,
    pub psn_no: String,
    pub insu_admdvs: DivisionCode,
    pub source: AccountCreditSource,
    pub amount: Money,
    pub date: Date,
}

/// A personal account balance left the region (transfer out) or was paid
/// out (death, emigration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountWithdrawn {
    pub reference: String,
    pub psn_no: String,
    pub insu_admdvs: DivisionCode,
    /// `transfer_out`, `death`, `emigration`.
    pub reason: String,
    pub amount: Money,
    pub date: Date,
}

/// A settlement (or, with `reversal_of`, its reversal with negated amounts)
/// was recorded. The fund parts become expenses of the insured region's funds
/// payable to the institution; `acct_pay` comes out of the personal-account
/// fund. When the treating region differs from the insured region, the
/// treating region advances the money and the insured region owes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettlementPosted {
    pub setl_id: String,
    pub reversal_of: Option<String>,
    pub setl_date: Date,
    pub insu_admdvs: DivisionCode,
    pub mdtrtarea_admvs: DivisionCode,
    pub fixmedins_code: InstitutionCode,
    pub insutype: Insutype,
    pub med_type: MedType,
    pub clr_type: ClrType,
    pub amounts: Amounts,
}

/// Records a paid contribution.
pub fn contribution_collected(tx: &mut dyn Tx, event: &ContributionCollected) -> AppResult<()> {
    crate::fund::post_contribution(tx, event)
}

/// Records a personal-account credit that is not part of a contribution.
pub fn account_credited(tx: &mut dyn Tx, event: &AccountCredited) -> AppResult<()> {
    crate::fund::post_account_credit(tx, event)
}

/// Records a personal-account balance leaving the region or paid out.
pub fn account_withdrawn(tx: &mut dyn Tx, event: &AccountWithdrawn) -> AppResult<()> {
    crate::fund::post_account_withdrawal(tx, event)
}

/// Records a settlement or a reversal. A reversal posts the exact reverse of
/// the original's entry (found by `reversal_of`) and is refused when the
/// original was already reversed or its fund amounts differ.
pub fn settlement_posted(tx: &mut dyn Tx, event: &SettlementPosted) -> AppResult<()> {
    crate::fund::post_settlement(tx, event)
}
