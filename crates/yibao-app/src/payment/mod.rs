//! Paying contribution bills: orders on a channel, signed notifications,
//! counter payments, closing unpaid orders, daily reconciliation.
//!
//! Every channel is a [`channels::ChannelAdapter`] (signature, acknowledgement,
//! statement format). Orders are created at the channel before the database
//! job (the call to the channel is the side effect a job may not have); the
//! notification is verified before the job, and the job applies the domain's
//! [`yibao_domain::payment::decide`] under a lock on the order and the bill,
//! so duplicated and out-of-order notifications never count twice. A refused
//! notification (bad signature, unknown order, wrong amount) is answered
//! with the channel's failure acknowledgement and an audit record of the
//! attempt, written in a job of its own so the refusal itself is kept.

pub mod channels;
pub mod sim;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use yibao_domain::auth::{Permission, RegionScope};
use yibao_domain::contribution::BillStatus;
use yibao_domain::payment::{self as rules, Channel, Decision, OrderState, OrderStatus, ReconReport};
use yibao_domain::{Date, DateTime, Money};
use yibao_store::Tx;
use yibao_store::contribution::{self as repo, Order};

use crate::App;
use crate::audit::{self, Change};
use crate::contribution::{OrderView, settle_bill};
use crate::ctx::{Actor, ActorKind, Ctx};
use crate::error::{AppError, AppResult};
use channels::{AlipayAdapter, BankAdapter, ChannelAdapter, WechatAdapter};
use sim::Simulator;

/// Most bills in one bank debit batch.
pub const BATCH_BILLS_MAX: usize = 1000;
/// Most orders closed by one run (the next run takes the rest).
pub const CLOSE_ORDERS_MAX: i64 = 1000;
/// Largest statement accepted.
pub const STATEMENT_BYTES_MAX: usize = 8 * 1024 * 1024;

/// The channels the platform is configured for, and their simulators.
#[derive(Clone, Default)]
pub struct Payments {
    adapters: Vec<Arc<dyn ChannelAdapter>>,
    simulators: Vec<Arc<Simulator>>,
}

impl Payments {
    /// No channel configured: online payment is unavailable (counter only).
    pub fn none() -> Payments {
        Payments::default()
    }

    /// The three online channels backed by local simulators with TEST-ONLY
    /// keys (demo and tests).
    pub fn simulated() -> Payments {
        let alipay =
            AlipayAdapter::from_pem(sim::SIM_ALIPAY_APP_ID, sim::SIM_ALIPAY_PUBLIC_KEY_PEM).expect("fixture key");
        Payments {
            adapters: vec![
                Arc::new(WechatAdapter {
                    api_key: sim::SIM_WECHAT_API_KEY.into(),
                    mch_id: sim::SIM_WECHAT_MCH_ID.into(),
                }),
                Arc::new(alipay),
                Arc::new(BankAdapter {
                    hmac_key: sim::SIM_BANK_HMAC_KEY.into(),
                    merchant_no: sim::SIM_BANK_MERCHANT_NO.into(),
                }),
            ],
            simulators: [Channel::Wechat, Channel::Alipay, Channel::BankDebit]
                .into_iter()
                .map(|c| Arc::new(Simulator::new(c)))
                .collect(),
        }
    }

    pub fn adapter(&self, channel: Channel) -> AppResult<Arc<dyn ChannelAdapter>> {
        self.adapters
            .iter()
            .find(|a| a.channel() == channel)
            .cloned()
            .ok_or_else(|| AppError::Unavailable(format!("未配置{}渠道", channel.name())))
    }

    /// The simulator of a channel (demo and tests only).
    pub fn simulator(&self, channel: Channel) -> AppResult<Arc<Simulator>> {
        self.simulators
            .iter()
            .find(|s| s.channel() == channel)
            .cloned()
            .ok_or_else(|| AppError::Unavailable(format!("{}渠道没有模拟器", channel.name())))
    }

    /// Creates the order at the channel; returns what the channel gave back.
    fn create_at_channel(&self, channel: Channel, order_no: &str, amount: Money) -> AppResult<String> {
        self.adapter(channel)?;
        // A production adapter calls the channel's API here; the simulators
        // stand in for it.
        Ok(self.simulator(channel)?.create_order(order_no, amount))
    }
}

fn order_prefix(channel: Channel) -> &'static str {
    match channel {
        Channel::Wechat => "WX",
        Channel::Alipay => "ZFB",
        Channel::BankDebit => "DK",
        Channel::Counter => "GT",
        Channel::Assistance => "A",
    }
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub bill_id: String,
    /// `wechat`, `alipay` or `bank_debit`.
    pub channel: String,
}

fn check_payable(bill: &yibao_domain::contribution::Bill) -> AppResult<()> {
    match bill.status {
        BillStatus::Paid => Err(AppError::Conflict(format!("账单 {} 已缴费", bill.bill_id))),
        BillStatus::Cancelled => Err(AppError::Conflict(format!("账单 {} 已作废", bill.bill_id))),
        BillStatus::Unpaid if !bill.amount_due.is_positive() => Err(AppError::Conflict("账单应缴金额为0".into())),
        BillStatus::Unpaid => Ok(()),
    }
}

/// Creates a payment order for a bill on an online channel (经办 for a
/// payer at the counter's screen, or the payer's self-service).
pub async fn create_order(app: &App, ctx: &Ctx, input: NewOrder) -> AppResult<OrderView> {
    ctx.require(Permission::WriteEnrollment)?;
    let channel = Channel::parse(&input.channel)?;
    if !channel.is_online() {
        return Err(AppError::invalid("channel", "柜台缴费请使用 POST /api/v1/bills/{bill_id}/counter-payment"));
    }
    let bill_id = input.bill_id.trim().to_owned();
    let bill = {
        let id = bill_id.clone();
        app.db
            .read(move |tx: &mut dyn Tx| {
                repo::bill(tx, &id, false)?.ok_or_else(|| AppError::not_found("缴费账单", id.clone()))
            })
            .await?
    };
    ctx.require_region(bill.insu_admdvs.as_str())?;
    check_payable(&bill)?;
    let order_no = format!("{}{}", order_prefix(channel), yibao_store::ids::next_id());
    let channel_ref = app.payments.create_at_channel(channel, &order_no, bill.amount_due)?;
    let ctx2 = ctx.clone();
    let order = Order {
        order_no: order_no.clone(),
        bill_id: bill_id.clone(),
        channel,
        amount: bill.amount_due,
        status: OrderStatus::Created,
        channel_ref,
        channel_txn_id: None,
        late: false,
        paid_date: None,
        created_at_ms: ctx.now_ms,
        expires_at_ms: ctx.now_ms + channel.order_timeout_ms(),
    };
    app.db
        .write(move |tx: &mut dyn Tx| {
            let bill =
                repo::bill(tx, &bill_id, true)?.ok_or_else(|| AppError::not_found("缴费账单", bill_id.clone()))?;
            check_payable(&bill)?;
            if bill.amount_due != order.amount {
                return Err(AppError::Conflict("账单金额已变更，请重新下单".into()));
            }
            repo::insert_order(tx, &order, &ctx2.actor.id, ctx2.now_ms)?;
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "payment.order.create",
                    target_kind: "payment_order",
                    target_id: &order.order_no,
                    region: bill.insu_admdvs.as_str(),
                    before: None,
                    after: audit::image(&order),
                },
            )?;
            Ok(OrderView::from(order.clone()))
        })
        .await
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankBatch {
    /// Bills to debit (at most 1000).
    pub bill_ids: Vec<String>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct BankBatchResult {
    pub batch_size: usize,
    pub orders: Vec<OrderView>,
}

/// Sends a batch of bills to the bank for debit (银行批量代扣); each
/// record's result comes back as its own signed callback.
pub async fn bank_batch(app: &App, ctx: &Ctx, input: BankBatch) -> AppResult<BankBatchResult> {
    if input.bill_ids.is_empty() || input.bill_ids.len() > BATCH_BILLS_MAX {
        return Err(AppError::invalid("bill_ids", format!("一批代扣应有1至{BATCH_BILLS_MAX}张账单")));
    }
    let mut orders = Vec::new();
    for (i, bill_id) in input.bill_ids.into_iter().enumerate() {
        let o =
            create_order(app, ctx, NewOrder { bill_id, channel: "bank_debit".into() }).await.map_err(|e| match e {
                AppError::Invalid(f) => {
                    AppError::Invalid(f.into_iter().map(|f| f.within(&format!("bill_ids[{i}]"))).collect())
                }
                other => other,
            })?;
        orders.push(o);
    }
    Ok(BankBatchResult { batch_size: orders.len(), orders })
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterPayment {
    /// The amount received; must equal the amount due.
    pub amount: Money,
    /// The receipt number of the counter (票据号).
    pub receipt_no: String,
}

/// Records a payment received at the counter (柜台缴费), with no callback.
pub async fn counter_payment(app: &App, ctx: &Ctx, bill_id: &str, input: CounterPayment) -> AppResult<OrderView> {
    ctx.require(Permission::WriteEnrollment)?;
    let receipt = input.receipt_no.trim().to_owned();
    if receipt.is_empty() || receipt.chars().count() > 40 {
        return Err(AppError::invalid("receipt_no", "票据号不能为空且不超过40个字符"));
    }
    let bill_id = bill_id.trim().to_owned();
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let mut bill =
                repo::bill(tx, &bill_id, true)?.ok_or_else(|| AppError::not_found("缴费账单", bill_id.clone()))?;
            ctx2.require_region(bill.insu_admdvs.as_str())?;
            check_payable(&bill)?;
            if input.amount != bill.amount_due {
                return Err(AppError::invalid(
                    "amount",
                    format!("实收金额 {} 元与应缴金额 {} 元不符", input.amount, bill.amount_due),
                ));
            }
            let today = ctx2.today();
            let order = Order {
                order_no: format!("GT{}", yibao_store::ids::next_id()),
                bill_id: bill_id.clone(),
                channel: Channel::Counter,
                amount: input.amount,
                status: OrderStatus::Paid,
                channel_ref: receipt.clone(),
                channel_txn_id: Some(receipt.clone()),
                late: false,
                paid_date: Some(today),
                created_at_ms: ctx2.now_ms,
                expires_at_ms: ctx2.now_ms,
            };
            repo::insert_order(tx, &order, &ctx2.actor.id, ctx2.now_ms)?;
            settle_bill(tx, &ctx2, &mut bill, &order.order_no, Channel::Counter, today)?;
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "payment.counter",
                    target_kind: "payment_order",
                    target_id: &order.order_no,
                    region: bill.insu_admdvs.as_str(),
                    before: None,
                    after: audit::image(&order),
                },
            )?;
            Ok(OrderView::from(order))
        })
        .await
}

/// The channel calling back: the acting identity of callbacks.
pub fn channel_ctx(channel: Channel, ip: String, request_id: String, now_ms: i64) -> Ctx {
    Ctx {
        actor: Actor {
            kind: ActorKind::System,
            id: format!("channel:{}", channel.as_str()),
            name: channel.name().into(),
            roles: vec![],
            scope: RegionScope::national(),
        },
        ip,
        request_id,
        now_ms,
    }
}

/// What the platform answers a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyOutcome {
    pub accepted: bool,
    /// What was done, or why refused (Chinese).
    pub message: String,
    pub content_type: &'static str,
    pub body: String,
}

enum Applied {
    Done(String),
    Refused(String),
}

/// Handles a channel's notification. Never fails for the channel's own
/// mistakes: the outcome says accepted or not, with the acknowledgement body
/// to send back; refusals are audited.
pub async fn notify(app: &App, ctx: &Ctx, channel: Channel, body: Vec<u8>) -> AppResult<NotifyOutcome> {
    let adapter = app.payments.adapter(channel)?;
    let verified = adapter.verify(&body);
    let ctx2 = ctx.clone();
    let applied = app
        .db
        .write(move |tx: &mut dyn Tx| {
            let notice = match &verified {
                Ok(n) => n.clone(),
                Err(refused) => {
                    reject(tx, &ctx2, channel, refused.claimed_order_no.as_deref(), &refused.reason)?;
                    return Ok(Applied::Refused(refused.reason.clone()));
                }
            };
            let Some(mut order) = repo::order(tx, &notice.order_no, true)? else {
                let reason = format!("订单 {} 不存在", notice.order_no);
                reject(tx, &ctx2, channel, Some(&notice.order_no), &reason)?;
                return Ok(Applied::Refused(reason));
            };
            if order.channel != channel {
                let reason = format!("订单 {} 不是{}订单", order.order_no, channel.name());
                reject(tx, &ctx2, channel, Some(&order.order_no), &reason)?;
                return Ok(Applied::Refused(reason));
            }
            let mut bill = repo::bill(tx, &order.bill_id, true)?
                .ok_or_else(|| AppError::Internal(format!("订单 {} 的账单不存在", order.order_no)))?;
            let state =
                OrderState { status: order.status, amount: order.amount, channel_txn_id: order.channel_txn_id.clone() };
            let before = audit::image(&order);
            let today = ctx2.today();
            let decision = rules::decide(&state, &notice, bill.status == BillStatus::Paid);
            let message = match &decision {
                Decision::Settle { late } => {
                    order.status = OrderStatus::Paid;
                    order.channel_txn_id = Some(notice.channel_txn_id.clone());
                    order.late = *late;
                    order.paid_date = Some(today);
                    repo::update_order(tx, &order, ctx2.now_ms)?;
                    settle_bill(tx, &ctx2, &mut bill, &order.order_no, channel, today)?;
                    if *late { "订单关闭后到账，已补记缴费" } else { "缴费成功" }
                }
                Decision::RefundDue => {
                    order.status = OrderStatus::RefundDue;
                    order.channel_txn_id = Some(notice.channel_txn_id.clone());
                    order.late = state.status != OrderStatus::Created;
                    order.paid_date = Some(today);
                    repo::update_order(tx, &order, ctx2.now_ms)?;
                    "账单已由其他订单缴清，本笔记为重复缴费待退款"
                }
                Decision::Fail => {
                    order.status = OrderStatus::Failed;
                    repo::update_order(tx, &order, ctx2.now_ms)?;
                    "支付失败，已记录"
                }
                Decision::Duplicate => return Ok(Applied::Done("重复通知，已处理过".into())),
                Decision::Stale => return Ok(Applied::Done("过期的失败通知，忽略".into())),
                Decision::Reject(reason) => {
                    reject(tx, &ctx2, channel, Some(&order.order_no), reason)?;
                    return Ok(Applied::Refused(reason.clone()));
                }
            };
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "payment.notify",
                    target_kind: "payment_order",
                    target_id: &order.order_no,
                    region: bill.insu_admdvs.as_str(),
                    before,
                    after: audit::image(&serde_json::json!({"order": order, "decision": decision})),
                },
            )?;
            Ok::<_, AppError>(Applied::Done(message.to_owned()))
        })
        .await?;
    let (accepted, message) = match applied {
        Applied::Done(m) => (true, m),
        Applied::Refused(m) => {
            tracing::warn!(channel = channel.as_str(), reason = %m, "payment notification refused");
            (false, m)
        }
    };
    let (content_type, body) = adapter.ack(accepted, &message);
    Ok(NotifyOutcome { accepted, message, content_type, body })
}

/// Records a refused notification (in the notification's own job).
fn reject(tx: &mut dyn Tx, ctx: &Ctx, channel: Channel, order_no: Option<&str>, reason: &str) -> AppResult<()> {
    let region = match order_no {
        Some(no) => tx
            .query_opt(
                "SELECT b.insu_admdvs FROM payment_order o JOIN bill b ON b.bill_id = o.bill_id WHERE o.order_no = $1",
                yibao_store::params![no],
            )?
            .map(|r| r.text(0))
            .transpose()?
            .unwrap_or_default(),
        None => String::new(),
    };
    audit::record_rejected(
        tx,
        ctx,
        Change {
            action: "payment.notify",
            target_kind: "payment_order",
            target_id: order_no.unwrap_or(""),
            region: &region,
            before: None,
            after: audit::image(&serde_json::json!({"channel": channel.as_str(), "rejected_because": reason})),
        },
        reason,
    )
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct CloseReport {
    pub closed: Vec<String>,
}

/// Closes online orders whose time ran out before `now_ms` (run
/// periodically by `yibao serve`, and on demand). A payment that still
/// arrives for a closed order is accepted late (see [`notify`]).
pub async fn close_expired(app: &App, ctx: &Ctx, now_ms: i64) -> AppResult<CloseReport> {
    ctx.require(Permission::WriteEnrollment)?;
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let mut closed = Vec::new();
            for mut o in repo::expired_orders(tx, now_ms, CLOSE_ORDERS_MAX)? {
                if !ctx2.actor.scope.prefix().is_empty() {
                    let region = repo::bill(tx, &o.bill_id, false)?
                        .map(|b| b.insu_admdvs.as_str().to_owned())
                        .unwrap_or_default();
                    if !ctx2.actor.scope.covers(&region) {
                        continue;
                    }
                }
                let before = audit::image(&o);
                o.status = OrderStatus::Closed;
                repo::update_order(tx, &o, ctx2.now_ms)?;
                let region =
                    repo::bill(tx, &o.bill_id, false)?.map(|b| b.insu_admdvs.as_str().to_owned()).unwrap_or_default();
                audit::record(
                    tx,
                    &ctx2,
                    Change {
                        action: "payment.order.close",
                        target_kind: "payment_order",
                        target_id: &o.order_no,
                        region: &region,
                        before,
                        after: audit::image(&o),
                    },
                )?;
                closed.push(o.order_no);
            }
            Ok(CloseReport { closed })
        })
        .await
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileInput {
    /// `wechat`, `alipay` or `bank_debit`.
    pub channel: String,
    pub day: Date,
    /// The channel's statement file as text, in the channel's own format.
    pub statement: String,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct ReconResult {
    pub id: i64,
    pub channel: Channel,
    pub day: Date,
    pub balanced: bool,
    #[serde(flatten)]
    pub report: ReconReport,
}

/// Daily reconciliation of a channel's statement against the payments the
/// platform recorded that day (财务).
pub async fn reconcile(app: &App, ctx: &Ctx, input: ReconcileInput) -> AppResult<ReconResult> {
    ctx.require(Permission::WriteFund)?;
    let channel = Channel::parse(&input.channel)?;
    if input.statement.len() > STATEMENT_BYTES_MAX {
        return Err(AppError::invalid("statement", "对账单过大"));
    }
    let lines = app.payments.adapter(channel)?.parse_statement(&input.statement)?;
    let scope = ctx.actor.scope.prefix().to_owned();
    let ctx2 = ctx.clone();
    let day = input.day;
    app.db
        .write(move |tx: &mut dyn Tx| {
            let platform = repo::paid_on_day(tx, channel, day, &scope)?;
            let report = rules::reconcile(&platform, &lines);
            let id = repo::insert_reconciliation(tx, channel, day, &report, &ctx2.actor.id, ctx2.now_ms)?;
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "payment.reconcile",
                    target_kind: "reconciliation",
                    target_id: &id.to_string(),
                    region: &scope,
                    before: None,
                    after: audit::image(&report),
                },
            )?;
            Ok(ReconResult { id, channel, day, balanced: report.balanced(), report })
        })
        .await
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedPayment {
    /// false: the payment fails (e.g. insufficient funds for a debit).
    #[serde(default = "yes")]
    pub success: bool,
}

fn yes() -> bool {
    true
}

/// Demo: the simulator pays an order and delivers its notification, as the
/// channel would.
pub async fn simulate(app: &App, ctx: &Ctx, order_no: &str, input: SimulatedPayment) -> AppResult<NotifyOutcome> {
    ctx.require(Permission::WriteEnrollment)?;
    let no = order_no.trim().to_owned();
    let order = {
        let no = no.clone();
        app.db
            .read(move |tx: &mut dyn Tx| {
                repo::order(tx, &no, false)?.ok_or_else(|| AppError::not_found("支付订单", no.clone()))
            })
            .await?
    };
    let sim = app.payments.simulator(order.channel)?;
    let body = sim.settle(&no, input.success, ctx.now_ms).map_err(AppError::Conflict)?;
    notify(app, &channel_ctx(order.channel, String::new(), ctx.request_id.clone(), ctx.now_ms), order.channel, body)
        .await
}

/// Demo: a channel's statement for a day, as the simulator writes it.
pub fn simulated_statement(app: &App, channel: Channel, day: Date) -> AppResult<String> {
    Ok(app.payments.simulator(channel)?.statement(day))
}

/// The date of `now_ms` in China, for callers without a Ctx.
pub fn today_of(now_ms: i64) -> Date {
    DateTime::from_unix_ms(now_ms).date()
}
