//! 基金核算: the chart of accounts, journal entries, the posting rules of every
//! money movement, clearing arithmetic and reconciliation comparison. Pure:
//! the application layer reads and writes, this module decides.
//!
//! # The ledger in one paragraph
//!
//! Every fund of every pooling region is its own accounting entity (各项基金
//! 分别建账、分别核算): an account is `(region, fund, account code, sub)`, and
//! every journal entry balances debits against credits **within each
//! (region, fund)**, hence also in total. Entries are immutable; a correction
//! is a reversing entry with the same lines and negated amounts on the same
//! side (红字冲销), so an expense account shows gross settlements less
//! reversals. Amounts are [`Money`] (fen); a line's amount is never zero.
//!
//! # Chart of accounts (科目表)
//!
//! | code | name | class | sub |
//! |---|---|---|---|
//! | 1001 | 收入户存款 | asset | |
//! | 1002 | 支出户存款 | asset | |
//! | 1003 | 财政专户存款 | asset | |
//! | 1201 | 应收异地就医垫付款 | asset | the insured (owing) region |
//! | 2101 | 应付定点医药机构款 | liability | institution code |
//! | 2102 | 应付质量保证金 | liability | institution code |
//! | 2201 | 应付异地就医款 | liability | the treating (advancing) region |
//! | 3001 | 基金结余（期初） | net assets | |
//! | 4001 | 保险费收入 | income | |
//! | 4002 | 财政补贴收入 | income | |
//! | 4003 | 利息收入 | income | |
//! | 4004 | 转移收入 | income | |
//! | 4005 | 资助参保收入 | income | |
//! | 4006 | 统筹基金划入收入 | income | |
//! | 5001 | 医疗待遇支出 | expense | med_type |
//! | 5002 | 资助参保支出 | expense | |
//! | 5003 | 划入个人账户支出 | expense | |
//! | 5004 | 转移支出 | expense | |
//! | 5005 | 个人账户一次性支付 | expense | `death` / `emigration` |
//!
//! A fund's balance (基金结余) is its net assets: 3001 + income − expense,
//! which by the accounting identity equals assets − liabilities.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::codes::{ClrType, Insutype, MedType};
use crate::date::Date;
use crate::division::DivisionCode;
use crate::error::{FieldError, Parsed};
use crate::institution::InstitutionCode;
use crate::money::{Money, Ratio};

/// Lines per journal entry at most (a settlement with every fund part,
/// cross-region, has 32).
pub const ENTRY_LINES_MAX: usize = 64;
/// Length of a business reference (setl_id, bill id, clearing id).
pub const REFERENCE_CHARS_MAX: usize = 64;

// ---------------------------------------------------------------------------
// Funds

/// The funds a region keeps, with their national fund codes (基金支付类型).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Fund {
    /// 职工基本医疗保险统筹基金
    EmployeePool,
    /// 职工基本医疗保险个人账户基金
    EmployeeAccount,
    /// 公务员医疗补助基金
    CivilServant,
    /// 大额医疗费用补助基金
    LargeAmount,
    /// 离休人员医疗保障基金
    RetiredCadre,
    /// 一至六级残疾军人医疗补助基金
    DisabledServicemen,
    /// 企业补充医疗保险基金
    EnterpriseSupplementary,
    /// 城乡居民基本医疗保险基金
    ResidentPool,
    /// 城乡居民大病医疗保险基金
    SeriousIllness,
    /// 生育保险基金
    Maternity,
    /// 医疗救助基金
    MedicalAssistance,
    /// 其他基金
    Other,
}

impl Fund {
    pub const ALL: [Fund; 12] = [
        Fund::EmployeePool,
        Fund::EmployeeAccount,
        Fund::CivilServant,
        Fund::LargeAmount,
        Fund::RetiredCadre,
        Fund::DisabledServicemen,
        Fund::EnterpriseSupplementary,
        Fund::ResidentPool,
        Fund::SeriousIllness,
        Fund::Maternity,
        Fund::MedicalAssistance,
        Fund::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Fund::EmployeePool => "310100",
            Fund::EmployeeAccount => "310200",
            Fund::CivilServant => "320100",
            Fund::LargeAmount => "330100",
            Fund::RetiredCadre => "340100",
            Fund::DisabledServicemen => "350100",
            Fund::EnterpriseSupplementary => "370100",
            Fund::ResidentPool => "390100",
            Fund::SeriousIllness => "390200",
            Fund::Maternity => "510100",
            Fund::MedicalAssistance => "610100",
            Fund::Other => "999997",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Fund::EmployeePool => "职工基本医疗保险统筹基金",
            Fund::EmployeeAccount => "职工基本医疗保险个人账户基金",
            Fund::CivilServant => "公务员医疗补助基金",
            Fund::LargeAmount => "大额医疗费用补助基金",
            Fund::RetiredCadre => "离休人员医疗保障基金",
            Fund::DisabledServicemen => "一至六级残疾军人医疗补助基金",
            Fund::EnterpriseSupplementary => "企业补充医疗保险基金",
            Fund::ResidentPool => "城乡居民基本医疗保险基金",
            Fund::SeriousIllness => "城乡居民大病医疗保险基金",
            Fund::Maternity => "生育保险基金",
            Fund::MedicalAssistance => "医疗救助基金",
            Fund::Other => "其他基金",
        }
    }

    pub fn parse(code: &str) -> Parsed<Fund> {
        let c = code.trim();
        Fund::ALL
            .into_iter()
            .find(|f| f.code() == c)
            .ok_or_else(|| FieldError::new("fund", format!("基金编码“{c}”无效（应为基金支付类型编码，如 310100）")))
    }

    /// The fund that receives contributions of, and pays the basic benefit
    /// (`hifp_pay`) of, an insurance type.
    pub fn pool_of(insutype: Insutype) -> Fund {
        use Insutype::*;
        match insutype {
            EmployeeBasic => Fund::EmployeePool,
            CivilServantSubsidy => Fund::CivilServant,
            LargeAmountSubsidy => Fund::LargeAmount,
            RetiredCadre => Fund::RetiredCadre,
            DisabledServicemen => Fund::DisabledServicemen,
            EnterpriseSupplementary => Fund::EnterpriseSupplementary,
            RuralCooperative | ResidentBasic | UrbanResidentBasic => Fund::ResidentPool,
            ResidentSeriousIllness => Fund::SeriousIllness,
            Maternity => Fund::Maternity,
            RedArmyVeteran | OtherSpecial | LongTermCare => Fund::Other,
        }
    }

    /// The personal-account fund of an insurance type: only 职工医保 has
    /// personal accounts.
    pub fn personal_account_of(insutype: Insutype) -> Option<Fund> {
        (insutype == Insutype::EmployeeBasic).then_some(Fund::EmployeeAccount)
    }
}

impl fmt::Display for Fund {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Fund {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

// ---------------------------------------------------------------------------
// Accounts

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// 借
    Debit,
    /// 贷
    Credit,
}

impl Side {
    pub fn code(self) -> &'static str {
        match self {
            Side::Debit => "D",
            Side::Credit => "C",
        }
    }

    pub fn parse(code: &str) -> Parsed<Side> {
        match code {
            "D" => Ok(Side::Debit),
            "C" => Ok(Side::Credit),
            _ => Err(FieldError::new("side", format!("借贷方向“{code}”无效"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Side::Debit => "借",
            Side::Credit => "贷",
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountClass {
    /// 资产
    Asset,
    /// 负债
    Liability,
    /// 基金（净资产）
    NetAssets,
    /// 收入
    Income,
    /// 支出
    Expense,
}

impl AccountClass {
    pub fn name(self) -> &'static str {
        match self {
            AccountClass::Asset => "资产",
            AccountClass::Liability => "负债",
            AccountClass::NetAssets => "基金",
            AccountClass::Income => "收入",
            AccountClass::Expense => "支出",
        }
    }

    /// The side on which the balance normally lies.
    pub fn normal_side(self) -> Side {
        match self {
            AccountClass::Asset | AccountClass::Expense => Side::Debit,
            AccountClass::Liability | AccountClass::NetAssets | AccountClass::Income => Side::Credit,
        }
    }
}

/// What an account's `sub` (明细) is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SubKind {
    None,
    Institution,
    Region,
    MedType,
    PayoutReason,
}

macro_rules! accounts {
    ($( $variant:ident = $code:literal, $name:literal, $class:ident, $sub:ident; )+) => {
        /// 会计科目.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
        pub enum Account { $( $variant ),+ }

        impl Account {
            pub const ALL: &'static [Account] = &[ $( Account::$variant ),+ ];

            pub fn code(self) -> &'static str {
                match self { $( Account::$variant => $code ),+ }
            }

            pub fn name(self) -> &'static str {
                match self { $( Account::$variant => $name ),+ }
            }

            pub fn class(self) -> AccountClass {
                match self { $( Account::$variant => AccountClass::$class ),+ }
            }

            pub fn sub_kind(self) -> SubKind {
                match self { $( Account::$variant => SubKind::$sub ),+ }
            }
        }
    };
}

accounts! {
    BankIncome = "1001", "收入户存款", Asset, None;
    BankExpense = "1002", "支出户存款", Asset, None;
    Treasury = "1003", "财政专户存款", Asset, None;
    ReceivableRegion = "1201", "应收异地就医垫付款", Asset, Region;
    PayableInstitution = "2101", "应付定点医药机构款", Liability, Institution;
    DepositWithheld = "2102", "应付质量保证金", Liability, Institution;
    PayableRegion = "2201", "应付异地就医款", Liability, Region;
    FundBalance = "3001", "基金结余（期初）", NetAssets, None;
    IncomeContribution = "4001", "保险费收入", Income, None;
    IncomeSubsidy = "4002", "财政补贴收入", Income, None;
    IncomeInterest = "4003", "利息收入", Income, None;
    IncomeTransferIn = "4004", "转移收入", Income, None;
    IncomeAssistance = "4005", "资助参保收入", Income, None;
    IncomeAllocation = "4006", "统筹基金划入收入", Income, None;
    ExpenseBenefit = "5001", "医疗待遇支出", Expense, MedType;
    ExpenseAssistance = "5002", "资助参保支出", Expense, None;
    ExpenseAllocation = "5003", "划入个人账户支出", Expense, None;
    ExpenseTransferOut = "5004", "转移支出", Expense, None;
    ExpensePayout = "5005", "个人账户一次性支付", Expense, PayoutReason;
}

impl Account {
    pub fn parse(code: &str) -> Parsed<Account> {
        let c = code.trim();
        Account::ALL
            .iter()
            .copied()
            .find(|a| a.code() == c)
            .ok_or_else(|| FieldError::new("account", format!("科目编码“{c}”无效")))
    }

    pub fn is_bank(self) -> bool {
        matches!(self, Account::BankIncome | Account::BankExpense | Account::Treasury)
    }

    /// Checks that `sub` has the form this account expects.
    pub fn check_sub(self, sub: &str) -> Result<(), String> {
        let ok = match self.sub_kind() {
            SubKind::None => sub.is_empty(),
            SubKind::Institution => InstitutionCode::parse(sub).is_ok(),
            SubKind::Region => DivisionCode::parse(sub).is_ok(),
            SubKind::MedType => MedType::from_code(sub).is_some_and(|m| m.code() == sub),
            SubKind::PayoutReason => matches!(sub, "death" | "emigration"),
        };
        if ok { Ok(()) } else { Err(format!("科目 {} 的明细“{sub}”无效", self.code())) }
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Fund {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let entries: Vec<(&'static str, &'static str)> = Fund::ALL.iter().map(|f| (f.code(), f.name())).collect();
        crate::openapi::code_table("基金", &entries)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Fund {}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Account {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let entries: Vec<(&'static str, &'static str)> = Account::ALL.iter().map(|a| (a.code(), a.name())).collect();
        crate::openapi::code_table("会计科目", &entries)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Account {}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Account {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// One account of the ledger.
#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct AccountKey {
    pub region: DivisionCode,
    pub fund: Fund,
    pub account: Account,
    /// Institution code, counterpart region, med_type or payout reason; empty
    /// for accounts without detail.
    pub sub: String,
}

impl AccountKey {
    pub fn new(region: DivisionCode, fund: Fund, account: Account, sub: impl Into<String>) -> AccountKey {
        AccountKey { region, fund, account, sub: sub.into() }
    }

    pub fn plain(region: DivisionCode, fund: Fund, account: Account) -> AccountKey {
        AccountKey::new(region, fund, account, "")
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.region, self.fund, self.account)?;
        if !self.sub.is_empty() {
            write!(f, "/{}", self.sub)?;
        }
        Ok(())
    }
}

/// One line of a journal entry. Reversals keep the side and negate the
/// amount (红字), so `amount` may be negative but never zero.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Line {
    pub key: AccountKey,
    pub side: Side,
    pub amount: Money,
}

impl Line {
    pub fn debit(key: AccountKey, amount: Money) -> Line {
        Line { key, side: Side::Debit, amount }
    }

    pub fn credit(key: AccountKey, amount: Money) -> Line {
        Line { key, side: Side::Credit, amount }
    }

    /// The line's effect in debit-positive terms.
    pub fn signed(&self) -> Money {
        match self.side {
            Side::Debit => self.amount,
            Side::Credit => -self.amount,
        }
    }
}

/// What caused an entry.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// 期初余额
    Opening,
    /// 缴费到账
    Contribution,
    /// 个人账户划入（统筹划入、转入、计息）
    AccountCredit,
    /// 个人账户转出或一次性支付
    AccountWithdrawal,
    /// 结算
    Settlement,
    /// 结算冲正
    Reversal,
    /// 清算预留质量保证金
    Withholding,
    /// 向定点医药机构拨付
    Payment,
    /// 异地就医跨区清算
    RegionClearing,
    /// 银行账户间划拨
    Transfer,
    /// 演示历史收支（仅演示数据）
    DemoHistory,
}

impl EntryKind {
    pub const ALL: [EntryKind; 11] = [
        EntryKind::Opening,
        EntryKind::Contribution,
        EntryKind::AccountCredit,
        EntryKind::AccountWithdrawal,
        EntryKind::Settlement,
        EntryKind::Reversal,
        EntryKind::Withholding,
        EntryKind::Payment,
        EntryKind::RegionClearing,
        EntryKind::Transfer,
        EntryKind::DemoHistory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Opening => "opening",
            EntryKind::Contribution => "contribution",
            EntryKind::AccountCredit => "account_credit",
            EntryKind::AccountWithdrawal => "account_withdrawal",
            EntryKind::Settlement => "settlement",
            EntryKind::Reversal => "reversal",
            EntryKind::Withholding => "withholding",
            EntryKind::Payment => "payment",
            EntryKind::RegionClearing => "region_clearing",
            EntryKind::Transfer => "transfer",
            EntryKind::DemoHistory => "demo_history",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EntryKind::Opening => "期初余额",
            EntryKind::Contribution => "缴费到账",
            EntryKind::AccountCredit => "个人账户划入",
            EntryKind::AccountWithdrawal => "个人账户支出",
            EntryKind::Settlement => "结算",
            EntryKind::Reversal => "结算冲正",
            EntryKind::Withholding => "预留质量保证金",
            EntryKind::Payment => "拨付定点医药机构",
            EntryKind::RegionClearing => "异地就医清算",
            EntryKind::Transfer => "银行账户划拨",
            EntryKind::DemoHistory => "演示历史收支",
        }
    }

    pub fn parse(text: &str) -> Parsed<EntryKind> {
        EntryKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| FieldError::new("kind", format!("凭证类型“{text}”无效")))
    }
}

/// A journal entry (记账凭证) before it is written.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    pub kind: EntryKind,
    /// The business reference: setl_id, bill id, clearing id, …
    pub reference: String,
    /// For a reversal: the reference of the entry it reverses.
    pub reverses: Option<String>,
    /// The accounting date (the business event's date).
    pub entry_date: Date,
    pub memo: String,
    pub lines: Vec<Line>,
}

impl Entry {
    /// The invariants every entry keeps; checked before anything is written.
    /// - 1 ≤ lines ≤ [`ENTRY_LINES_MAX`], no zero amount, every `sub` well formed;
    /// - debits = credits within each (region, fund), hence in total;
    /// - a reference of bounded length.
    pub fn check(&self) -> Result<(), String> {
        if self.lines.is_empty() {
            return Err("凭证没有分录".into());
        }
        if self.lines.len() > ENTRY_LINES_MAX {
            return Err(format!("凭证分录超过{ENTRY_LINES_MAX}条"));
        }
        let r = self.reference.chars().count();
        if r == 0 || r > REFERENCE_CHARS_MAX {
            return Err(format!("业务编号应为1至{REFERENCE_CHARS_MAX}个字符"));
        }
        let mut per_fund: BTreeMap<(DivisionCode, Fund), i128> = BTreeMap::new();
        for line in &self.lines {
            if line.amount.is_zero() {
                return Err(format!("科目 {} 的分录金额为零", line.key));
            }
            line.key.account.check_sub(&line.key.sub)?;
            *per_fund.entry((line.key.region, line.key.fund)).or_default() += i128::from(line.signed().fen());
        }
        for ((region, fund), net) in per_fund {
            if net != 0 {
                return Err(format!("凭证在 {region} {} 内借贷不平（差额 {net} 分）", fund.name()));
            }
        }
        Ok(())
    }

    /// Σ debits and Σ credits (equal for a checked entry).
    pub fn totals(&self) -> (Money, Money) {
        let mut debit = Money::ZERO;
        let mut credit = Money::ZERO;
        for l in &self.lines {
            match l.side {
                Side::Debit => debit += l.amount,
                Side::Credit => credit += l.amount,
            }
        }
        (debit, credit)
    }

    /// The reversing entry (红字): the same accounts and sides, negated amounts.
    pub fn reversal(&self, reference: String, entry_date: Date, memo: String) -> Entry {
        Entry {
            kind: EntryKind::Reversal,
            reference,
            reverses: Some(self.reference.clone()),
            entry_date,
            memo,
            lines: self.lines.iter().map(|l| Line { key: l.key.clone(), side: l.side, amount: -l.amount }).collect(),
        }
    }
}

// ---------------------------------------------------------------------------
// Posting rules

/// The fund parts of a settlement, as the settlement record names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FundPays {
    /// 统筹基金 (the pool of the insurance type)
    pub hifp_pay: Money,
    /// 公务员医疗补助
    pub cvlserv_pay: Money,
    /// 企业补充医疗保险
    pub hifes_pay: Money,
    /// 居民大病保险
    pub hifmi_pay: Money,
    /// 职工大额医疗费用补助
    pub hifob_pay: Money,
    /// 医疗救助
    pub maf_pay: Money,
    /// 其他
    pub oth_pay: Money,
    /// 个人账户
    pub acct_pay: Money,
}

impl FundPays {
    /// The amount each fund pays, in fund order, zeros left out.
    pub fn by_fund(&self, insutype: Insutype) -> Vec<(Fund, Money)> {
        let parts = [
            (Fund::pool_of(insutype), self.hifp_pay),
            (Fund::CivilServant, self.cvlserv_pay),
            (Fund::EnterpriseSupplementary, self.hifes_pay),
            (Fund::SeriousIllness, self.hifmi_pay),
            (Fund::LargeAmount, self.hifob_pay),
            (Fund::MedicalAssistance, self.maf_pay),
            (Fund::Other, self.oth_pay),
            (Fund::EmployeeAccount, self.acct_pay),
        ];
        let mut out: BTreeMap<Fund, Money> = BTreeMap::new();
        for (fund, amount) in parts {
            *out.entry(fund).or_insert(Money::ZERO) += amount;
        }
        out.into_iter().filter(|(_, m)| !m.is_zero()).collect()
    }

    pub fn total(&self) -> Money {
        self.hifp_pay
            + self.cvlserv_pay
            + self.hifes_pay
            + self.hifmi_pay
            + self.hifob_pay
            + self.maf_pay
            + self.oth_pay
            + self.acct_pay
    }
}

/// The facts of a settlement the ledger needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettlementFacts {
    /// 参保地: the region whose funds pay.
    pub insu_admdvs: DivisionCode,
    /// 就医地: the region whose ledger holds the payable to the institution.
    pub mdtrtarea_admvs: DivisionCode,
    pub fixmedins_code: InstitutionCode,
    pub insutype: Insutype,
    pub med_type: MedType,
    pub pays: FundPays,
}

/// Lines of a settlement. Per fund part `x`:
/// - local (参保地 = 就医地 = R): R: Dr 5001[med_type] x / Cr 2101[institution] x;
/// - cross-region (insured A, treated B): A: Dr 5001[med_type] x / Cr 2201[B] x
///   (A owes B); B: Dr 1201[A] x / Cr 2101[institution] x (B advances).
///
/// Every part must be non-negative (a reversal is posted from the original's
/// lines, not from here).
pub fn settlement_lines(s: &SettlementFacts) -> Parsed<Vec<Line>> {
    let mut lines = Vec::new();
    let a = s.insu_admdvs;
    let b = s.mdtrtarea_admvs;
    let inst = s.fixmedins_code.as_str();
    for (fund, x) in s.pays.by_fund(s.insutype) {
        if x.is_negative() {
            return Err(FieldError::new("amounts", format!("{}支付金额不能为负数", fund.name())));
        }
        lines.push(Line::debit(AccountKey::new(a, fund, Account::ExpenseBenefit, s.med_type.code()), x));
        if a == b {
            lines.push(Line::credit(AccountKey::new(a, fund, Account::PayableInstitution, inst), x));
        } else {
            lines.push(Line::credit(AccountKey::new(a, fund, Account::PayableRegion, b.as_str()), x));
            lines.push(Line::debit(AccountKey::new(b, fund, Account::ReceivableRegion, a.as_str()), x));
            lines.push(Line::credit(AccountKey::new(b, fund, Account::PayableInstitution, inst), x));
        }
    }
    Ok(lines)
}

/// The money of a paid contribution bill.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContributionFacts {
    pub employer_share: Money,
    pub personal_share: Money,
    pub government_subsidy: Money,
    pub assistance_paid: Money,
    pub to_personal_accounts: Money,
}

/// Lines of a paid contribution in region R for insurance type T, pool P =
/// the pool of T, A = its personal-account fund:
/// - P: Dr 1001 (total − to accounts) / Cr 4001 (employer + personal − to
///   accounts), Cr 4002 (subsidy), Cr 4005 (assistance);
/// - A: Dr 1001 / Cr 4001 (to accounts);
/// - 医疗救助: Dr 5002 / Cr 1002 (assistance: the assistance fund pays the
///   contribution of an assistance-group member).
pub fn contribution_lines(region: DivisionCode, insutype: Insutype, c: &ContributionFacts) -> Parsed<Vec<Line>> {
    let fields = [
        ("employer_share", c.employer_share),
        ("personal_share", c.personal_share),
        ("government_subsidy", c.government_subsidy),
        ("assistance_paid", c.assistance_paid),
        ("to_personal_accounts", c.to_personal_accounts),
    ];
    for (field, m) in fields {
        if m.is_negative() {
            return Err(FieldError::new(field, "金额不能为负数"));
        }
    }
    let paid_by_payers = c.employer_share + c.personal_share;
    if c.to_personal_accounts > paid_by_payers {
        return Err(FieldError::new("to_personal_accounts", "划入个人账户的金额不能超过单位和个人缴费之和"));
    }
    let pool = Fund::pool_of(insutype);
    let key = |fund, account| AccountKey::plain(region, fund, account);
    let mut lines = Vec::new();
    let to_pool = paid_by_payers - c.to_personal_accounts + c.government_subsidy + c.assistance_paid;
    if !to_pool.is_zero() {
        lines.push(Line::debit(key(pool, Account::BankIncome), to_pool));
    }
    let contribution = paid_by_payers - c.to_personal_accounts;
    if !contribution.is_zero() {
        lines.push(Line::credit(key(pool, Account::IncomeContribution), contribution));
    }
    if !c.government_subsidy.is_zero() {
        lines.push(Line::credit(key(pool, Account::IncomeSubsidy), c.government_subsidy));
    }
    if !c.assistance_paid.is_zero() {
        lines.push(Line::credit(key(pool, Account::IncomeAssistance), c.assistance_paid));
        lines.push(Line::debit(key(Fund::MedicalAssistance, Account::ExpenseAssistance), c.assistance_paid));
        lines.push(Line::credit(key(Fund::MedicalAssistance, Account::BankExpense), c.assistance_paid));
    }
    if !c.to_personal_accounts.is_zero() {
        let Some(account_fund) = Fund::personal_account_of(insutype) else {
            return Err(FieldError::new(
                "to_personal_accounts",
                format!("{}没有个人账户，划入个人账户金额应为0", insutype.name()),
            ));
        };
        lines.push(Line::debit(key(account_fund, Account::BankIncome), c.to_personal_accounts));
        lines.push(Line::credit(key(account_fund, Account::IncomeContribution), c.to_personal_accounts));
    }
    if lines.is_empty() {
        return Err(FieldError::new("employer_share", "缴费金额合计不能为零"));
    }
    Ok(lines)
}

/// Why a personal account is credited outside a contribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreditSource {
    /// From the employee pool: pool Dr 5003 / Cr 1002, accounts Dr 1001 / Cr 4006.
    RetireeAllocation,
    /// From another region: accounts Dr 1001 / Cr 4004.
    TransferIn,
    /// Interest: accounts Dr 1001 / Cr 4003.
    Interest,
}

pub fn account_credit_lines(region: DivisionCode, source: CreditSource, amount: Money) -> Parsed<Vec<Line>> {
    if !amount.is_positive() {
        return Err(FieldError::new("amount", "金额应大于零"));
    }
    let acct = |account| AccountKey::plain(region, Fund::EmployeeAccount, account);
    Ok(match source {
        CreditSource::RetireeAllocation => vec![
            Line::debit(AccountKey::plain(region, Fund::EmployeePool, Account::ExpenseAllocation), amount),
            Line::credit(AccountKey::plain(region, Fund::EmployeePool, Account::BankExpense), amount),
            Line::debit(acct(Account::BankIncome), amount),
            Line::credit(acct(Account::IncomeAllocation), amount),
        ],
        CreditSource::TransferIn => {
            vec![Line::debit(acct(Account::BankIncome), amount), Line::credit(acct(Account::IncomeTransferIn), amount)]
        }
        CreditSource::Interest => {
            vec![Line::debit(acct(Account::BankIncome), amount), Line::credit(acct(Account::IncomeInterest), amount)]
        }
    })
}

/// A personal-account balance leaving: `transfer_out` → Dr 5004, `death` or
/// `emigration` → Dr 5005[reason]; Cr 1002.
pub fn account_withdrawal_lines(region: DivisionCode, reason: &str, amount: Money) -> Parsed<Vec<Line>> {
    if !amount.is_positive() {
        return Err(FieldError::new("amount", "金额应大于零"));
    }
    let expense = match reason {
        "transfer_out" => AccountKey::plain(region, Fund::EmployeeAccount, Account::ExpenseTransferOut),
        "death" | "emigration" => AccountKey::new(region, Fund::EmployeeAccount, Account::ExpensePayout, reason),
        _ => {
            return Err(FieldError::new(
                "reason",
                format!("支出原因“{reason}”无效，应为 transfer_out、death 或 emigration"),
            ));
        }
    };
    Ok(vec![
        Line::debit(expense, amount),
        Line::credit(AccountKey::plain(region, Fund::EmployeeAccount, Account::BankExpense), amount),
    ])
}

/// Withholding at clearing: Dr 2101[inst] / Cr 2102[inst].
pub fn withholding_lines(region: DivisionCode, inst: &InstitutionCode, per_fund: &[(Fund, Money)]) -> Vec<Line> {
    let mut lines = Vec::new();
    for &(fund, x) in per_fund.iter().filter(|(_, x)| !x.is_zero()) {
        lines.push(Line::debit(AccountKey::new(region, fund, Account::PayableInstitution, inst.as_str()), x));
        lines.push(Line::credit(AccountKey::new(region, fund, Account::DepositWithheld, inst.as_str()), x));
    }
    lines
}

/// Payment to an institution: Dr 2101[inst] / Cr 1002 for a positive amount;
/// a negative amount (the institution repays) is Dr 1002 / Cr 2101.
pub fn payment_lines(region: DivisionCode, inst: &InstitutionCode, per_fund: &[(Fund, Money)]) -> Vec<Line> {
    let mut lines = Vec::new();
    for &(fund, x) in per_fund.iter().filter(|(_, x)| !x.is_zero()) {
        let payable = AccountKey::new(region, fund, Account::PayableInstitution, inst.as_str());
        let bank = AccountKey::plain(region, fund, Account::BankExpense);
        if x.is_positive() {
            lines.push(Line::debit(payable, x));
            lines.push(Line::credit(bank, x));
        } else {
            lines.push(Line::debit(bank, -x));
            lines.push(Line::credit(payable, -x));
        }
    }
    lines
}

/// Cross-region clearing of one fund between regions A and B for a period,
/// where A owes B `a_owes_b` and B owes A `b_owes_a` (negative after
/// reversals of earlier-cleared settlements; such lines are 红字):
/// - A: Dr 2201[B] a_owes_b, Cr 1201[B] b_owes_a, and the net through A's bank;
/// - B: Dr 2201[A] b_owes_a, Cr 1201[A] a_owes_b, and the net through B's bank.
///
/// Only the net moves: A pays B `a_owes_b − b_owes_a` (or receives it).
pub fn region_clearing_lines(
    a: DivisionCode,
    b: DivisionCode,
    fund: Fund,
    a_owes_b: Money,
    b_owes_a: Money,
) -> Parsed<Vec<Line>> {
    if a == b {
        return Err(FieldError::new("region", "同一统筹区之间不需要清算"));
    }
    let mut lines = Vec::new();
    let mut side = |own: DivisionCode, other: DivisionCode, owes: Money, owed: Money| {
        let k = |account, sub: &str| AccountKey::new(own, fund, account, sub);
        if !owes.is_zero() {
            lines.push(Line::debit(k(Account::PayableRegion, other.as_str()), owes));
        }
        if !owed.is_zero() {
            lines.push(Line::credit(k(Account::ReceivableRegion, other.as_str()), owed));
        }
        let net = owes - owed;
        if net.is_positive() {
            lines.push(Line::credit(k(Account::BankExpense, ""), net));
        } else if net.is_negative() {
            lines.push(Line::debit(k(Account::BankIncome, ""), -net));
        }
    };
    side(a, b, a_owes_b, b_owes_a);
    side(b, a, b_owes_a, a_owes_b);
    Ok(lines)
}

/// A transfer between two bank accounts of one fund (划拨), e.g. 收入户 →
/// 财政专户 → 支出户: Dr `to` / Cr `from`.
pub fn transfer_lines(
    region: DivisionCode,
    fund: Fund,
    from: Account,
    to: Account,
    amount: Money,
) -> Parsed<Vec<Line>> {
    if !from.is_bank() || !to.is_bank() || from == to {
        return Err(FieldError::new("to_account", "划拨只能在不同的银行存款科目（1001、1002、1003）之间进行"));
    }
    if !amount.is_positive() {
        return Err(FieldError::new("amount", "金额应大于零"));
    }
    Ok(vec![
        Line::debit(AccountKey::plain(region, fund, to), amount),
        Line::credit(AccountKey::plain(region, fund, from), amount),
    ])
}

/// An opening fund balance held in the fiscal account: Dr 1003 / Cr 3001.
pub fn opening_lines(region: DivisionCode, fund: Fund, amount: Money) -> Parsed<Vec<Line>> {
    if !amount.is_positive() {
        return Err(FieldError::new("amount", "期初余额应大于零"));
    }
    Ok(vec![
        Line::debit(AccountKey::plain(region, fund, Account::Treasury), amount),
        Line::credit(AccountKey::plain(region, fund, Account::FundBalance), amount),
    ])
}

// ---------------------------------------------------------------------------
// Periods, clearing arithmetic, sustainability

/// A calendar month `yyyy-MM` (会计期间, 清算期间).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Month {
    year: i32,
    month: u8,
}

impl Month {
    pub fn parse(text: &str) -> Parsed<Month> {
        let t = text.trim();
        let bad = || FieldError::new("period", format!("期间“{t}”无效，应为 yyyy-MM"));
        let (y, m) = t.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || !(1900..=2999).contains(&year) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }

    pub fn of(date: Date) -> Month {
        Month { year: date.year(), month: date.month() }
    }

    pub fn first_day(self) -> Date {
        Date::from_ymd(self.year, self.month, 1).expect("valid month")
    }

    pub fn last_day(self) -> Date {
        self.next().first_day().add_days(-1)
    }

    pub fn next(self) -> Month {
        self.add_months(1)
    }

    pub fn add_months(self, months: i32) -> Month {
        let total = self.year * 12 + i32::from(self.month) - 1 + months;
        Month { year: total.div_euclid(12), month: (total.rem_euclid(12) + 1) as u8 }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The quality deposit withheld from a net amount: `net × share` rounded
/// half-up, nothing from a negative net; and what remains to pay. The two
/// always sum to `net`.
pub fn withhold(net: Money, share: Ratio) -> (Money, Money) {
    assert!(share.is_at_most_one(), "withholding share above one");
    let withheld = if net.is_positive() { net.mul_ratio(share) } else { Money::ZERO };
    let pay = net - withheld;
    assert_eq!(withheld + pay, net);
    (withheld, pay)
}

/// 可支付月数 in hundredths of a month: `balance ÷ (expense of 12 months ÷ 12)`,
/// rounded half-up; `None` without expense.
pub fn payable_months_centi(balance: Money, expense_12_months: Money) -> Option<i64> {
    if !expense_12_months.is_positive() {
        return None;
    }
    let n = i128::from(balance.fen()) * 12 * 100;
    let v = crate::money::round_half_up(n, i128::from(expense_12_months.fen()));
    Some(i64::try_from(v).unwrap_or(if v > 0 { i64::MAX } else { i64::MIN }))
}

/// Formats hundredths as a decimal text ("15.23", "-0.50").
pub fn centi_text(centi: i64) -> String {
    let sign = if centi < 0 { "-" } else { "" };
    let a = centi.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

// ---------------------------------------------------------------------------
// Reconciliation (对账): comparing an institution's records with ours

/// Totals of one (insutype, clr_type) group: rows (settlements and reversals
/// each count one), and amounts summed with reversals negative.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Totals {
    pub count: i64,
    pub medfee_sumamt: Money,
    pub fund_pay_sumamt: Money,
    pub acct_pay: Money,
}

/// One settlement (or reversal) as either side records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetailRecord {
    pub setl_id: String,
    pub medfee_sumamt: Money,
    pub fund_pay_sumamt: Money,
    pub acct_pay: Money,
    pub reversal: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// 平台有、机构无
    MissingAtInstitution,
    /// 机构有、平台无
    MissingOnPlatform,
    /// 金额或笔数不符
    AmountDiffers,
    /// 冲正标志不符
    ReversalFlagDiffers,
}

/// One difference found by a reconciliation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub kind: DifferenceKind,
    /// The settlement id (details) or `insutype/clr_type` (totals).
    pub key: String,
    /// The field that differs (`count`, `medfee_sumamt`, …); empty when a record is missing.
    pub field: String,
    pub platform: String,
    pub institution: String,
    /// 中文说明
    pub description: String,
}

/// Compares submitted totals per (insutype, clr_type) with the platform's.
/// A group present on one side only counts as all zeros on the other.
pub fn compare_totals(
    platform: &BTreeMap<(Insutype, ClrType), Totals>,
    submitted: &BTreeMap<(Insutype, ClrType), Totals>,
) -> Vec<Difference> {
    let mut keys: Vec<&(Insutype, ClrType)> = platform.keys().chain(submitted.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let p = platform.get(k).copied().unwrap_or_default();
        let s = submitted.get(k).copied().unwrap_or_default();
        let key = format!("{}/{}", k.0.code(), k.1.code());
        let label = format!("{}、{}", k.0.name(), k.1.name());
        let mut diff = |field: &str, cn: &str, pv: String, sv: String| {
            if pv != sv {
                out.push(Difference {
                    kind: DifferenceKind::AmountDiffers,
                    key: key.clone(),
                    field: field.into(),
                    description: format!("{label}：{cn}平台为 {pv}，机构为 {sv}"),
                    platform: pv,
                    institution: sv,
                });
            }
        };
        diff("count", "结算笔数", p.count.to_string(), s.count.to_string());
        diff("medfee_sumamt", "医疗费总额", p.medfee_sumamt.to_string(), s.medfee_sumamt.to_string());
        diff("fund_pay_sumamt", "基金支付总额", p.fund_pay_sumamt.to_string(), s.fund_pay_sumamt.to_string());
        diff("acct_pay", "个人账户支付", p.acct_pay.to_string(), s.acct_pay.to_string());
    }
    out
}

/// Compares an institution's detail list with the platform's, by setl_id.
/// Reports each missing record once and each differing field of a common
/// record once. A setl_id listed twice by the institution is a difference too.
pub fn compare_details(platform: &[DetailRecord], submitted: &[DetailRecord]) -> Vec<Difference> {
    let ours: BTreeMap<&str, &DetailRecord> = platform.iter().map(|r| (r.setl_id.as_str(), r)).collect();
    let mut theirs: BTreeMap<&str, &DetailRecord> = BTreeMap::new();
    let mut out = Vec::new();
    for r in submitted {
        if theirs.insert(r.setl_id.as_str(), r).is_some() {
            out.push(Difference {
                kind: DifferenceKind::AmountDiffers,
                key: r.setl_id.clone(),
                field: "setl_id".into(),
                platform: String::new(),
                institution: r.setl_id.clone(),
                description: format!("结算 {} 在机构明细中重复出现", r.setl_id),
            });
        }
    }
    for (id, p) in &ours {
        let Some(s) = theirs.get(id) else {
            out.push(Difference {
                kind: DifferenceKind::MissingAtInstitution,
                key: (*id).to_owned(),
                field: String::new(),
                platform: p.medfee_sumamt.to_string(),
                institution: String::new(),
                description: format!(
                    "平台有结算 {id}（医疗费总额 {}，基金支付 {}），机构明细中没有",
                    p.medfee_sumamt, p.fund_pay_sumamt
                ),
            });
            continue;
        };
        let fields: [(&str, &str, Money, Money); 3] = [
            ("medfee_sumamt", "医疗费总额", p.medfee_sumamt, s.medfee_sumamt),
            ("fund_pay_sumamt", "基金支付总额", p.fund_pay_sumamt, s.fund_pay_sumamt),
            ("acct_pay", "个人账户支付", p.acct_pay, s.acct_pay),
        ];
        for (field, cn, pv, sv) in fields {
            if pv != sv {
                out.push(Difference {
                    kind: DifferenceKind::AmountDiffers,
                    key: (*id).to_owned(),
                    field: field.into(),
                    platform: pv.to_string(),
                    institution: sv.to_string(),
                    description: format!("结算 {id} 的{cn}不符：平台为 {pv}，机构为 {sv}"),
                });
            }
        }
        if p.reversal != s.reversal {
            let flag = |b: bool| if b { "冲正" } else { "正常结算" };
            out.push(Difference {
                kind: DifferenceKind::ReversalFlagDiffers,
                key: (*id).to_owned(),
                field: "reversal".into(),
                platform: flag(p.reversal).into(),
                institution: flag(s.reversal).into(),
                description: format!(
                    "结算 {id} 的冲正标志不符：平台为{}，机构为{}",
                    flag(p.reversal),
                    flag(s.reversal)
                ),
            });
        }
    }
    for (id, s) in &theirs {
        if !ours.contains_key(id) {
            out.push(Difference {
                kind: DifferenceKind::MissingOnPlatform,
                key: (*id).to_owned(),
                field: String::new(),
                platform: String::new(),
                institution: s.medfee_sumamt.to_string(),
                description: format!("机构有结算 {id}（医疗费总额 {}），平台在对账期间内没有此记录", s.medfee_sumamt),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    fn inst() -> InstitutionCode {
        InstitutionCode::parse("H33020300001").unwrap()
    }

    fn entry(lines: Vec<Line>) -> Entry {
        Entry {
            kind: EntryKind::Settlement,
            reference: "S1".into(),
            reverses: None,
            entry_date: Date::parse("2026-10-01").unwrap(),
            memo: String::new(),
            lines,
        }
    }

    #[test]
    fn chart_codes_are_unique_and_parse_back() {
        let mut codes: Vec<&str> = Account::ALL.iter().map(|a| a.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Account::ALL.len());
        for a in Account::ALL {
            assert_eq!(Account::parse(a.code()).unwrap(), *a);
            let first = a.code().as_bytes()[0];
            let class = match first {
                b'1' => AccountClass::Asset,
                b'2' => AccountClass::Liability,
                b'3' => AccountClass::NetAssets,
                b'4' => AccountClass::Income,
                _ => AccountClass::Expense,
            };
            assert_eq!(a.class(), class, "{a:?}");
        }
        for f in Fund::ALL {
            assert_eq!(Fund::parse(f.code()).unwrap(), f);
        }
        assert_eq!(Fund::parse("123").unwrap_err().field, "fund");
    }

    #[test]
    fn local_settlement_posts_expense_against_institution_payable() {
        let s = SettlementFacts {
            insu_admdvs: d("330200"),
            mdtrtarea_admvs: d("330200"),
            fixmedins_code: inst(),
            insutype: Insutype::EmployeeBasic,
            med_type: MedType::GeneralInpatient,
            pays: FundPays {
                hifp_pay: Money::from_fen(80_000),
                hifob_pay: Money::from_fen(5_000),
                acct_pay: Money::from_fen(1_000),
                ..FundPays::default()
            },
        };
        let lines = settlement_lines(&s).unwrap();
        assert_eq!(lines.len(), 6);
        let e = entry(lines);
        e.check().unwrap();
        assert_eq!(e.totals(), (Money::from_fen(86_000), Money::from_fen(86_000)));
        assert!(
            e.lines
                .iter()
                .any(|l| l.key == AccountKey::new(d("330200"), Fund::EmployeePool, Account::ExpenseBenefit, "21")
                    && l.amount.fen() == 80_000)
        );
        assert!(e.lines.iter().any(|l| l.key
            == AccountKey::new(d("330200"), Fund::EmployeeAccount, Account::PayableInstitution, "H33020300001")
            && l.side == Side::Credit));
    }

    #[test]
    fn cross_region_settlement_books_advance_and_debt() {
        let s = SettlementFacts {
            insu_admdvs: d("330100"),
            mdtrtarea_admvs: d("330200"),
            fixmedins_code: inst(),
            insutype: Insutype::ResidentBasic,
            med_type: MedType::GeneralOutpatient,
            pays: FundPays { hifp_pay: Money::from_fen(1_000), ..FundPays::default() },
        };
        let e = entry(settlement_lines(&s).unwrap());
        e.check().unwrap();
        let find = |region: &str, account: Account| {
            e.lines.iter().find(|l| l.key.region == d(region) && l.key.account == account).unwrap().clone()
        };
        assert_eq!(find("330100", Account::ExpenseBenefit).side, Side::Debit);
        assert_eq!(find("330100", Account::PayableRegion).key.sub, "330200");
        assert_eq!(find("330200", Account::ReceivableRegion).key.sub, "330100");
        assert_eq!(find("330200", Account::PayableInstitution).key.sub, "H33020300001");
    }

    #[test]
    fn check_refuses_unbalanced_zero_and_cross_fund_entries() {
        let k = |fund, account| AccountKey::plain(d("330200"), fund, account);
        let unbalanced = entry(vec![
            Line::debit(k(Fund::EmployeePool, Account::BankIncome), Money::from_fen(100)),
            Line::credit(k(Fund::EmployeePool, Account::IncomeContribution), Money::from_fen(99)),
        ]);
        assert!(unbalanced.check().unwrap_err().contains("借贷不平"));
        // Balanced in total but across two funds: each fund must balance.
        let cross = entry(vec![
            Line::debit(k(Fund::EmployeePool, Account::BankIncome), Money::from_fen(100)),
            Line::credit(k(Fund::ResidentPool, Account::IncomeContribution), Money::from_fen(100)),
        ]);
        assert!(cross.check().is_err());
        let zero = entry(vec![Line::debit(k(Fund::EmployeePool, Account::BankIncome), Money::ZERO)]);
        assert!(zero.check().unwrap_err().contains("为零"));
        assert!(entry(vec![]).check().is_err());
        let bad_sub = entry(vec![
            Line::debit(
                AccountKey::new(d("330200"), Fund::EmployeePool, Account::ExpenseBenefit, "77"),
                Money::from_fen(1),
            ),
            Line::credit(k(Fund::EmployeePool, Account::BankExpense), Money::from_fen(1)),
        ]);
        assert!(bad_sub.check().unwrap_err().contains("明细"));
    }

    #[test]
    fn contribution_splits_pool_accounts_and_assistance() {
        let c = ContributionFacts {
            employer_share: Money::from_yuan(800),
            personal_share: Money::from_yuan(200),
            government_subsidy: Money::ZERO,
            assistance_paid: Money::ZERO,
            to_personal_accounts: Money::from_yuan(200),
        };
        let e = entry(contribution_lines(d("330200"), Insutype::EmployeeBasic, &c).unwrap());
        e.check().unwrap();
        assert_eq!(e.totals().0, Money::from_yuan(1000));
        let resident = ContributionFacts {
            personal_share: Money::from_yuan(380),
            government_subsidy: Money::from_yuan(670),
            assistance_paid: Money::from_yuan(100),
            ..ContributionFacts::default()
        };
        let e = entry(contribution_lines(d("330200"), Insutype::ResidentBasic, &resident).unwrap());
        e.check().unwrap();
        assert!(
            e.lines
                .iter()
                .any(|l| l.key.fund == Fund::MedicalAssistance && l.key.account == Account::ExpenseAssistance)
        );
        let bad = ContributionFacts { to_personal_accounts: Money::from_yuan(1), ..resident };
        assert_eq!(
            contribution_lines(d("330200"), Insutype::ResidentBasic, &bad).unwrap_err().field,
            "to_personal_accounts"
        );
        let negative = ContributionFacts { personal_share: Money::from_fen(-1), ..ContributionFacts::default() };
        assert_eq!(
            contribution_lines(d("330200"), Insutype::ResidentBasic, &negative).unwrap_err().field,
            "personal_share"
        );
    }

    #[test]
    fn region_clearing_moves_only_the_net() {
        let lines = region_clearing_lines(
            d("330100"),
            d("330200"),
            Fund::EmployeePool,
            Money::from_yuan(1000),
            Money::from_yuan(300),
        )
        .unwrap();
        let e = entry(lines);
        e.check().unwrap();
        let bank = |region: &str| -> Money {
            e.lines.iter().filter(|l| l.key.region == d(region) && l.key.account.is_bank()).map(Line::signed).sum()
        };
        assert_eq!(bank("330100"), Money::from_yuan(-700), "杭州 pays the net");
        assert_eq!(bank("330200"), Money::from_yuan(700), "宁波 receives it");
    }

    #[test]
    fn months_and_withholding() {
        let m = Month::parse("2026-02").unwrap();
        assert_eq!(m.last_day().to_string(), "2026-02-28");
        assert_eq!(m.add_months(-3).to_string(), "2025-11");
        assert_eq!(Month::parse("2026-13").unwrap_err().field, "period");
        assert!(Month::parse("2026-1").is_err());
        assert_eq!(
            withhold(Money::from_fen(100_001), Ratio::percent(5)),
            (Money::from_fen(5_000), Money::from_fen(95_001))
        );
        assert_eq!(withhold(Money::from_fen(-500), Ratio::percent(5)), (Money::ZERO, Money::from_fen(-500)));
        assert_eq!(payable_months_centi(Money::from_yuan(1200), Money::from_yuan(1200)), Some(1200));
        assert_eq!(payable_months_centi(Money::from_yuan(100), Money::ZERO), None);
        assert_eq!(centi_text(1523), "15.23");
        assert_eq!(centi_text(-50), "-0.50");
    }

    fn detail(id: usize, fen: i64, reversal: bool) -> DetailRecord {
        DetailRecord {
            setl_id: format!("S{id:04}"),
            medfee_sumamt: Money::from_fen(fen),
            fund_pay_sumamt: Money::from_fen(fen / 2),
            acct_pay: Money::from_fen(fen / 10),
            reversal,
        }
    }

    proptest! {
        /// Any settlement's lines balance per fund and in total, and its
        /// reversal cancels it account by account.
        #[test]
        fn settlement_and_reversal_cancel(
            parts in proptest::collection::vec(0i64..10_000_000, 8),
            cross in any::<bool>(),
            insutype in proptest::sample::select(Insutype::ALL.to_vec()),
        ) {
            let m = |i: usize| Money::from_fen(parts[i]);
            let pays = FundPays { hifp_pay: m(0), cvlserv_pay: m(1), hifes_pay: m(2), hifmi_pay: m(3),
                hifob_pay: m(4), maf_pay: m(5), oth_pay: m(6), acct_pay: m(7) };
            let s = SettlementFacts {
                insu_admdvs: d("330200"),
                mdtrtarea_admvs: if cross { d("110100") } else { d("330200") },
                fixmedins_code: inst(), insutype, med_type: MedType::GeneralOutpatient, pays,
            };
            let lines = settlement_lines(&s).unwrap();
            if pays.total().is_zero() {
                prop_assert!(lines.is_empty());
                return Ok(());
            }
            let e = entry(lines);
            prop_assert!(e.check().is_ok());
            prop_assert_eq!(e.totals().0, if cross { pays.total() + pays.total() } else { pays.total() });
            let r = e.reversal("R1".into(), Date::parse("2026-10-02").unwrap(), String::new());
            prop_assert!(r.check().is_ok());
            let mut net: BTreeMap<AccountKey, Money> = BTreeMap::new();
            for l in e.lines.iter().chain(&r.lines) {
                *net.entry(l.key.clone()).or_insert(Money::ZERO) += l.signed();
            }
            prop_assert!(net.values().all(|m| m.is_zero()));
        }

        /// Dropping one record and altering another is reported as exactly
        /// those two differences.
        #[test]
        fn details_report_exactly_the_planted_differences(
            n in 2usize..60, drop in 0usize..60, alter in 0usize..60, delta in 1i64..10_000,
        ) {
            let platform: Vec<DetailRecord> = (0..n).map(|i| detail(i, 1_000 + i as i64 * 37, i % 7 == 3)).collect();
            let drop = drop % n;
            let alter = if alter % n == drop { (drop + 1) % n } else { alter % n };
            let mut submitted = platform.clone();
            submitted[alter].medfee_sumamt += Money::from_fen(delta);
            submitted.remove(drop);
            let diffs = compare_details(&platform, &submitted);
            prop_assert_eq!(diffs.len(), 2, "{:?}", diffs);
            prop_assert!(diffs.iter().any(|x| x.kind == DifferenceKind::MissingAtInstitution && x.key == platform[drop].setl_id));
            prop_assert!(diffs.iter().any(|x| x.kind == DifferenceKind::AmountDiffers && x.key == platform[alter].setl_id
                && x.field == "medfee_sumamt"));
            prop_assert!(compare_details(&platform, &platform).is_empty());
        }

        #[test]
        fn withholding_parts_sum_to_net(net in -1_000_000_000i64..1_000_000_000, ppm in 0u32..=1_000_000) {
            let (w, p) = withhold(Money::from_fen(net), Ratio::from_ppm(ppm));
            prop_assert_eq!(w + p, Money::from_fen(net));
            prop_assert!(!w.is_negative());
        }
    }
}
