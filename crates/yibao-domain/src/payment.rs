//! Contribution payments: channels, the life of a payment order, what a
//! channel's notification does to it, and daily reconciliation. Pure rules;
//! signatures and message formats are the adapters' business
//! (`yibao_app::payment`).
//!
//! Real-world behaviour this encodes:
//! - a channel retries its notification until acknowledged, so the same
//!   "paid" arrives several times: the second and later ones change nothing;
//! - an order not paid in time is closed by the platform, but the payer may
//!   already have paid (the channel's close raced the payment): a "paid"
//!   after "closed" is accepted, the order is marked paid late, and the bill
//!   is settled if it is still unpaid — if another order paid it meanwhile,
//!   the late payment is kept as a refund due (待退款), never counted twice;
//! - a failure notice after a success is stale and ignored;
//! - an amount that differs from the order, or a second transaction id for an
//!   order already paid, is refused (and audited by the caller).

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Parsed};
use crate::money::Money;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 微信支付
    Wechat,
    /// 支付宝
    Alipay,
    /// 银行代扣
    BankDebit,
    /// 柜台缴费 (staff-recorded)
    Counter,
    /// 医疗救助资助参保 (paid by the assistance fund at assessment)
    Assistance,
}

impl Channel {
    pub const ALL: [Channel; 5] =
        [Channel::Wechat, Channel::Alipay, Channel::BankDebit, Channel::Counter, Channel::Assistance];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Wechat => "wechat",
            Channel::Alipay => "alipay",
            Channel::BankDebit => "bank_debit",
            Channel::Counter => "counter",
            Channel::Assistance => "assistance",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Channel::Wechat => "微信支付",
            Channel::Alipay => "支付宝",
            Channel::BankDebit => "银行代扣",
            Channel::Counter => "柜台缴费",
            Channel::Assistance => "医疗救助资助",
        }
    }

    pub fn parse(text: &str) -> Parsed<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == text).ok_or_else(|| {
            FieldError::new("channel", format!("缴费渠道“{text}”无效，应为 wechat、alipay、bank_debit 或 counter"))
        })
    }

    /// Channels that call back with signed notifications.
    pub fn is_online(self) -> bool {
        matches!(self, Channel::Wechat | Channel::Alipay | Channel::BankDebit)
    }

    /// How long an online order may stay unpaid before the platform closes it.
    pub fn order_timeout_ms(self) -> i64 {
        match self {
            // WeChat Pay and Alipay orders expire after two hours by default.
            Channel::Wechat | Channel::Alipay => 2 * 3600 * 1000,
            // A bank batch debit answers within a business day.
            Channel::BankDebit => 24 * 3600 * 1000,
            Channel::Counter | Channel::Assistance => i64::MAX,
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// 待支付
    Created,
    /// 已支付
    Paid,
    /// 已关闭 (timed out or cancelled before payment)
    Closed,
    /// 支付失败 (the channel said so, e.g. insufficient funds for a debit)
    Failed,
    /// 重复支付待退款 (paid after another order settled the bill)
    RefundDue,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "created",
            OrderStatus::Paid => "paid",
            OrderStatus::Closed => "closed",
            OrderStatus::Failed => "failed",
            OrderStatus::RefundDue => "refund_due",
        }
    }

    pub fn parse(text: &str) -> Parsed<OrderStatus> {
        [OrderStatus::Created, OrderStatus::Paid, OrderStatus::Closed, OrderStatus::Failed, OrderStatus::RefundDue]
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| FieldError::new("status", format!("订单状态“{text}”无效")))
    }

    /// Whether the channel has our money for this order.
    pub fn holds_money(self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::RefundDue)
    }
}

/// What a verified notification says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub order_no: String,
    /// The channel's transaction id (empty for a failure).
    pub channel_txn_id: String,
    pub amount: Money,
    pub paid: bool,
}

/// The order as stored, as far as a notification is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderState {
    pub status: OrderStatus,
    pub amount: Money,
    pub channel_txn_id: Option<String>,
}

/// What to do with a verified notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Mark the order paid and settle the bill (`late`: the order had been closed).
    Settle { late: bool },
    /// Mark the order paid but keep the money as a refund due: the bill was
    /// already paid by another order.
    RefundDue,
    /// The same payment again: acknowledge, change nothing.
    Duplicate,
    /// Mark the order failed.
    Fail,
    /// A failure that arrives after the order ended: acknowledge, change nothing.
    Stale,
    /// Refuse (and audit): the reason in Chinese.
    Reject(String),
}

/// Decides what a notification does. `bill_paid` says whether the bill is
/// already paid (by any order).
pub fn decide(order: &OrderState, notice: &Notice, bill_paid: bool) -> Decision {
    if notice.amount != order.amount {
        return Decision::Reject(format!("通知金额 {} 元与订单金额 {} 元不符", notice.amount, order.amount));
    }
    if !notice.paid {
        return match order.status {
            OrderStatus::Created => Decision::Fail,
            _ => Decision::Stale,
        };
    }
    if notice.channel_txn_id.trim().is_empty() {
        return Decision::Reject("支付成功通知缺少渠道交易号".into());
    }
    match order.status {
        OrderStatus::Paid | OrderStatus::RefundDue => {
            if order.channel_txn_id.as_deref() == Some(notice.channel_txn_id.as_str()) {
                Decision::Duplicate
            } else {
                Decision::Reject(format!(
                    "订单已由交易 {} 支付，又收到交易 {} 的支付通知",
                    order.channel_txn_id.as_deref().unwrap_or(""),
                    notice.channel_txn_id
                ))
            }
        }
        OrderStatus::Created | OrderStatus::Failed | OrderStatus::Closed => {
            if bill_paid {
                Decision::RefundDue
            } else {
                Decision::Settle { late: order.status != OrderStatus::Created }
            }
        }
    }
}

/// A payment as the platform recorded it, for reconciliation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPayment {
    pub order_no: String,
    pub channel_txn_id: String,
    pub amount: Money,
}

/// One successful payment line of a channel's statement.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    pub order_no: String,
    pub channel_txn_id: String,
    pub amount: Money,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub order_no: String,
    pub platform_amount: Money,
    pub channel_amount: Money,
}

/// 对账结果.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
pub struct ReconReport {
    pub matched: usize,
    pub matched_amount: Money,
    /// Paid on the platform, absent from the statement (长款待查).
    pub missing: Vec<RecordedPayment>,
    /// On the statement, not paid on the platform (短款/单边账).
    pub extra: Vec<StatementLine>,
    /// On both, with different amounts.
    pub mismatched: Vec<Mismatch>,
}

impl ReconReport {
    pub fn balanced(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.mismatched.is_empty()
    }
}

/// Compares the platform's payments with a channel's statement by order
/// number. A line appearing twice on the statement counts as extra the
/// second time.
pub fn reconcile(platform: &[RecordedPayment], statement: &[StatementLine]) -> ReconReport {
    let mut report = ReconReport::default();
    let mut by_order: std::collections::BTreeMap<&str, &RecordedPayment> =
        platform.iter().map(|p| (p.order_no.as_str(), p)).collect();
    for line in statement {
        match by_order.remove(line.order_no.as_str()) {
            Some(p) if p.amount == line.amount => {
                report.matched += 1;
                report.matched_amount += p.amount;
            }
            Some(p) => report.mismatched.push(Mismatch {
                order_no: p.order_no.clone(),
                platform_amount: p.amount,
                channel_amount: line.amount,
            }),
            None => report.extra.push(line.clone()),
        }
    }
    report.missing = by_order.into_values().cloned().collect();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn order(status: OrderStatus, txn: Option<&str>) -> OrderState {
        OrderState { status, amount: Money::from_yuan(100), channel_txn_id: txn.map(str::to_owned) }
    }

    fn paid(txn: &str, yuan: i64) -> Notice {
        Notice { order_no: "O1".into(), channel_txn_id: txn.into(), amount: Money::from_yuan(yuan), paid: true }
    }

    #[test]
    fn decisions() {
        assert_eq!(
            decide(&order(OrderStatus::Created, None), &paid("T1", 100), false),
            Decision::Settle { late: false }
        );
        assert_eq!(decide(&order(OrderStatus::Paid, Some("T1")), &paid("T1", 100), true), Decision::Duplicate);
        assert!(matches!(decide(&order(OrderStatus::Paid, Some("T1")), &paid("T2", 100), true), Decision::Reject(_)));
        assert!(matches!(decide(&order(OrderStatus::Created, None), &paid("T1", 99), false), Decision::Reject(_)));
        assert_eq!(decide(&order(OrderStatus::Closed, None), &paid("T1", 100), false), Decision::Settle { late: true });
        assert_eq!(decide(&order(OrderStatus::Closed, None), &paid("T1", 100), true), Decision::RefundDue);
        let failed = Notice { paid: false, channel_txn_id: String::new(), ..paid("", 100) };
        assert_eq!(decide(&order(OrderStatus::Created, None), &failed, false), Decision::Fail);
        assert_eq!(decide(&order(OrderStatus::Paid, Some("T1")), &failed, true), Decision::Stale);
        assert_eq!(Channel::parse("bank_debit").unwrap(), Channel::BankDebit);
        assert_eq!(Channel::parse("cash").unwrap_err().field, "channel");
    }

    #[test]
    fn reconciliation_reports_each_difference() {
        let p = |o: &str, y: i64| RecordedPayment {
            order_no: o.into(),
            channel_txn_id: format!("T{o}"),
            amount: Money::from_yuan(y),
        };
        let l = |o: &str, y: i64| StatementLine {
            order_no: o.into(),
            channel_txn_id: format!("T{o}"),
            amount: Money::from_yuan(y),
        };
        let r = reconcile(&[p("A", 10), p("B", 20), p("C", 30)], &[l("A", 10), l("C", 31), l("D", 5)]);
        assert_eq!(r.matched, 1);
        assert_eq!(r.matched_amount, Money::from_yuan(10));
        assert_eq!(r.missing, vec![p("B", 20)]);
        assert_eq!(r.extra, vec![l("D", 5)]);
        assert_eq!(r.mismatched.len(), 1);
        assert!(!r.balanced());
        assert!(reconcile(&[p("A", 1)], &[l("A", 1)]).balanced());
    }

    proptest! {
        /// Whatever order notifications arrive in, and however often, a bill
        /// is settled at most once, and an order holding money is either the
        /// one that settled it or a refund due.
        #[test]
        fn no_double_counting(events in proptest::collection::vec((0usize..3, 0usize..4, proptest::bool::ANY), 0..40)) {
            // Three orders of one bill; events: (order, kind 0 paid / 1 dup paid / 2 failed / 3 close, _).
            let mut orders = [order(OrderStatus::Created, None), order(OrderStatus::Created, None), order(OrderStatus::Created, None)];
            let mut settled_by: Option<usize> = None;
            let mut settlements = 0;
            for (i, kind, _) in events {
                let txn = format!("T{i}");
                if kind == 3 {
                    if orders[i].status == OrderStatus::Created { orders[i].status = OrderStatus::Closed; }
                    continue;
                }
                let notice = if kind == 2 { Notice { paid: false, channel_txn_id: String::new(), ..paid("", 100) } } else { paid(&txn, 100) };
                match decide(&orders[i], &notice, settled_by.is_some()) {
                    Decision::Settle { .. } => {
                        settlements += 1;
                        settled_by = Some(i);
                        orders[i].status = OrderStatus::Paid;
                        orders[i].channel_txn_id = Some(txn);
                    }
                    Decision::RefundDue => {
                        orders[i].status = OrderStatus::RefundDue;
                        orders[i].channel_txn_id = Some(txn);
                    }
                    Decision::Fail => orders[i].status = OrderStatus::Failed,
                    Decision::Duplicate | Decision::Stale => {}
                    Decision::Reject(_) => prop_assert!(false, "consistent notices are never rejected"),
                }
            }
            prop_assert!(settlements <= 1);
            for (i, o) in orders.iter().enumerate() {
                if o.status == OrderStatus::Paid {
                    prop_assert_eq!(settled_by, Some(i));
                }
            }
        }
    }
}
