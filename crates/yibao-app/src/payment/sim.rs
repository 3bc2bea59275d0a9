//! Local simulators of the payment channels, for the demo and tests. Each
//! behaves like its channel in shape: it accepts an order and returns what
//! the channel returns (a prepay id and code URL, a trade number, a batch
//! number), and when the payer pays (or the debit fails) it produces the
//! signed notification the channel would send, which can be delivered
//! again (channels retry) or late. It also writes the day's statement in
//! the channel's format.
//!
//! The keys here are TEST-ONLY fixtures (`fixtures/*-TEST-ONLY-*.pem` and the
//! constants below), published with the source: a production platform must
//! be configured with the channels' real keys and never accept these.

use std::collections::BTreeMap;
use std::sync::Mutex;

use yibao_domain::payment::Channel;
use yibao_domain::{Date, DateTime, Money};

use super::channels::{AlipayAdapter, BankAdapter, WechatAdapter, to_flat_xml};

/// TEST-ONLY WeChat Pay API key of the simulator.
pub const SIM_WECHAT_API_KEY: &str = "yibaoSimTESTONLYwechatApiKey0001";
pub const SIM_WECHAT_MCH_ID: &str = "1900000109";
pub const SIM_WECHAT_APPID: &str = "wx0000000000yibao";
/// TEST-ONLY Alipay key pair of the simulator (the private key signs as Alipay would).
pub const SIM_ALIPAY_PRIVATE_KEY_PEM: &str = include_str!("../../fixtures/alipay-sim-TEST-ONLY-private.pem");
pub const SIM_ALIPAY_PUBLIC_KEY_PEM: &str = include_str!("../../fixtures/alipay-sim-TEST-ONLY-public.pem");
pub const SIM_ALIPAY_APP_ID: &str = "2021000000000000";
/// TEST-ONLY bank HMAC key of the simulator.
pub const SIM_BANK_HMAC_KEY: &str = "yibao-sim-TEST-ONLY-bank-hmac-key";
pub const SIM_BANK_MERCHANT_NO: &str = "330200YB0001";

#[derive(Clone, Debug)]
struct SimOrder {
    amount: Money,
    /// (transaction id, paid at ms, success)
    outcome: Option<(String, i64, bool)>,
    last_notification: Option<Vec<u8>>,
}

/// One channel's simulator.
pub struct Simulator {
    channel: Channel,
    orders: Mutex<BTreeMap<String, SimOrder>>,
    alipay_key: Option<rsa::RsaPrivateKey>,
    counter: Mutex<u64>,
}

impl Simulator {
    pub fn new(channel: Channel) -> Simulator {
        let alipay_key = (channel == Channel::Alipay)
            .then(|| AlipayAdapter::private_key_from_pem(SIM_ALIPAY_PRIVATE_KEY_PEM).expect("fixture key"));
        Simulator { channel, orders: Mutex::new(BTreeMap::new()), alipay_key, counter: Mutex::new(0) }
    }

    pub fn channel(&self) -> Channel {
        self.channel
    }

    fn next_txn(&self, now_ms: i64) -> String {
        let mut c = self.counter.lock().unwrap();
        *c += 1;
        let stamp = DateTime::from_unix_ms(now_ms).compact();
        match self.channel {
            Channel::Wechat => format!("4200{stamp}{:010}", *c),
            Channel::Alipay => format!("{}22001{:010}", &stamp[..8], *c),
            _ => format!("BK{stamp}{:06}", *c),
        }
    }

    /// The channel accepts an order; returns what it gives back.
    pub fn create_order(&self, order_no: &str, amount: Money) -> String {
        self.orders.lock().unwrap().entry(order_no.to_owned()).or_insert(SimOrder {
            amount,
            outcome: None,
            last_notification: None,
        });
        match self.channel {
            Channel::Wechat => format!("prepay_id=wx{order_no};code_url=weixin://wxpay/bizpayurl?pr={order_no}"),
            Channel::Alipay => format!("alipay_trade_precreate:qr_code=https://qr.alipay.com/{order_no}"),
            _ => format!("batch={order_no}"),
        }
    }

    /// The payer pays (or, with `success = false`, the payment fails:
    /// insufficient funds for a debit, a cancelled payment): returns the
    /// signed notification the channel sends.
    pub fn settle(&self, order_no: &str, success: bool, now_ms: i64) -> Result<Vec<u8>, String> {
        let txn = self.next_txn(now_ms);
        let mut orders = self.orders.lock().unwrap();
        let o = orders.get_mut(order_no).ok_or_else(|| format!("渠道没有订单 {order_no}"))?;
        if o.outcome.as_ref().is_some_and(|x| x.2) {
            return Err(format!("订单 {order_no} 已支付"));
        }
        o.outcome = Some((if success { txn } else { String::new() }, now_ms, success));
        let body = self.sign_notification(order_no, o);
        o.last_notification = Some(body.clone());
        Ok(body)
    }

    /// Pays an order successfully.
    pub fn pay(&self, order_no: &str, now_ms: i64) -> Result<Vec<u8>, String> {
        self.settle(order_no, true, now_ms)
    }

    /// The last notification again (the channel retries until acknowledged).
    pub fn resend(&self, order_no: &str) -> Option<Vec<u8>> {
        self.orders.lock().unwrap().get(order_no).and_then(|o| o.last_notification.clone())
    }

    fn sign_notification(&self, order_no: &str, o: &SimOrder) -> Vec<u8> {
        let (txn, at_ms, ok) = o.outcome.clone().expect("settled");
        let at = DateTime::from_unix_ms(at_ms);
        match self.channel {
            Channel::Wechat => {
                let code = if ok { "SUCCESS" } else { "FAIL" };
                let mut p: Vec<(String, String)> = vec![
                    ("appid".into(), SIM_WECHAT_APPID.into()),
                    ("mch_id".into(), SIM_WECHAT_MCH_ID.into()),
                    ("nonce_str".into(), format!("n{}", at_ms)),
                    ("out_trade_no".into(), order_no.into()),
                    ("transaction_id".into(), txn),
                    ("total_fee".into(), o.amount.fen().to_string()),
                    ("fee_type".into(), "CNY".into()),
                    ("trade_type".into(), "NATIVE".into()),
                    ("return_code".into(), "SUCCESS".into()),
                    ("result_code".into(), code.into()),
                    ("time_end".into(), at.compact()),
                    ("sign_type".into(), "HMAC-SHA256".into()),
                ];
                let sign = WechatAdapter::sign(SIM_WECHAT_API_KEY, &p);
                p.push(("sign".into(), sign));
                to_flat_xml(&p).into_bytes()
            }
            Channel::Alipay => {
                let mut p: Vec<(String, String)> = vec![
                    ("notify_time".into(), at.to_string()),
                    ("notify_type".into(), "trade_status_sync".into()),
                    ("notify_id".into(), format!("ntf{at_ms}")),
                    ("app_id".into(), SIM_ALIPAY_APP_ID.into()),
                    ("charset".into(), "utf-8".into()),
                    ("version".into(), "1.0".into()),
                    ("trade_no".into(), txn),
                    ("out_trade_no".into(), order_no.into()),
                    ("total_amount".into(), o.amount.to_string()),
                    ("trade_status".into(), if ok { "TRADE_SUCCESS" } else { "TRADE_CLOSED" }.into()),
                    ("gmt_payment".into(), at.to_string()),
                    ("subject".into(), "医保缴费".into()),
                ];
                let sign = AlipayAdapter::sign(self.alipay_key.as_ref().expect("alipay key"), &p);
                p.push(("sign_type".into(), "RSA2".into()));
                p.push(("sign".into(), sign));
                form_urlencoded::Serializer::new(String::new()).extend_pairs(p.iter()).finish().into_bytes()
            }
            _ => {
                let p: Vec<(String, String)> = vec![
                    ("merchant_no".into(), SIM_BANK_MERCHANT_NO.into()),
                    ("batch_no".into(), format!("batch={order_no}")),
                    ("order_no".into(), order_no.into()),
                    ("bank_serial".into(), txn),
                    ("amount".into(), o.amount.to_string()),
                    ("result".into(), if ok { "SUCCESS" } else { "FAIL" }.into()),
                    ("fail_reason".into(), if ok { "" } else { "余额不足" }.into()),
                    ("finished_at".into(), at.compact()),
                ];
                let sign = BankAdapter::sign(SIM_BANK_HMAC_KEY, &p);
                let mut map = serde_json::Map::new();
                for (k, v) in p {
                    map.insert(k, serde_json::Value::String(v));
                }
                map.insert("sign".into(), serde_json::Value::String(sign));
                serde_json::Value::Object(map).to_string().into_bytes()
            }
        }
    }

    /// The statement of successful payments of a day, in the channel's format.
    pub fn statement(&self, day: Date) -> String {
        let orders = self.orders.lock().unwrap();
        let paid: Vec<(&String, &SimOrder, &String, DateTime)> = orders
            .iter()
            .filter_map(|(no, o)| match &o.outcome {
                Some((txn, at, true)) if DateTime::from_unix_ms(*at).date() == day => {
                    Some((no, o, txn, DateTime::from_unix_ms(*at)))
                }
                _ => None,
            })
            .collect();
        let total: Money = paid.iter().map(|p| p.1.amount).sum();
        match self.channel {
            Channel::Wechat => {
                let mut s = String::from("交易时间,公众账号ID,商户号,微信订单号,商户订单号,交易状态,应结订单金额\n");
                for (no, o, txn, at) in &paid {
                    s.push_str(&format!(
                        "`{at},`{SIM_WECHAT_APPID},`{SIM_WECHAT_MCH_ID},`{txn},`{no},`SUCCESS,`{}\n",
                        o.amount
                    ));
                }
                s.push_str("总交易单数,应结订单总金额\n");
                s.push_str(&format!("`{},`{total}\n", paid.len()));
                s
            }
            Channel::Alipay => {
                let mut s = format!(
                    "#支付宝业务明细查询\n#账号：[{SIM_ALIPAY_APP_ID}]\n#起始日期：[{day} 00:00:00]   终止日期：[{day} 23:59:59]\n"
                );
                s.push_str(
                    "#-----------------------------------------业务明细列表----------------------------------------\n",
                );
                s.push_str(
                    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,订单金额（元）,商家实收（元）\n",
                );
                for (no, o, txn, at) in &paid {
                    s.push_str(&format!("{txn},{no},交易,医保缴费,{at},{at},{},{}\n", o.amount, o.amount));
                }
                s.push_str(
                    "#-----------------------------------------业务明细列表结束------------------------------------\n",
                );
                s.push_str(&format!("#交易合计：{}笔，商家实收共{total}元\n", paid.len()));
                s
            }
            _ => {
                let mut s = format!("H|{SIM_BANK_MERCHANT_NO}|{}|{}|{total}\n", day.compact(), paid.len());
                for (no, o, txn, _) in &paid {
                    s.push_str(&format!("D|{txn}|{no}|{}|SUCCESS\n", o.amount));
                }
                s.push_str(&format!("T|{}\n", paid.len()));
                s
            }
        }
    }
}
