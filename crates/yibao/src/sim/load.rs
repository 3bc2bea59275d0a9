//! The load generator: simulated HIS clients running the national
//! interface's flows over HTTP against a running `yibao serve`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use yibao_domain::{Date, DateTime, Money, Quantity, UnitPrice};

use super::http::{Conn, HttpError};

pub const PATH: &str = "/fsi/api/rsfComIfsService/callService";
pub const CLIENTS_MAX: usize = 1024;
/// Nice value of the client threads (lower priority than the server's).
pub const CLIENT_NICE: i32 = 10;
/// Distinct error kinds kept per run; later ones are counted as "other".
const ERROR_KINDS_MAX: usize = 200;
/// Latency samples kept per transaction code and client.
const SAMPLES_PER_CLIENT_MAX: usize = 2_000_000;

/// A person the clients may see.
#[derive(Clone)]
pub struct SimPerson {
    pub psn_no: String,
    pub certno: String,
    pub insutype: String,
    pub has_account: bool,
    pub weight: u32,
}

/// A billable item with the price this simulated region's HIS charges.
#[derive(Clone)]
pub struct Item {
    pub code: String,
    pub pric: String,
    pub max_cnt: u64,
}

/// Items by kind: drugs of 甲类, of 乙类, of 丙类 (excluded here),
/// service items, consumables.
#[derive(Clone, Default)]
pub struct Catalog {
    pub drugs_a: Vec<Item>,
    pub drugs_b: Vec<Item>,
    pub drugs_c: Vec<Item>,
    pub services: Vec<Item>,
    pub consumables: Vec<Item>,
}

impl Catalog {
    /// A fee line's item: 50 % 甲类 drugs, 22 % 乙类 drugs, 5 % 丙类 drugs,
    /// 18 % service items, 5 % consumables.
    fn draw(&self, rng: &mut yibao_app::demo::Rng) -> &Item {
        let (list, fallback) = match rng.below(100) {
            0..50 => (&self.drugs_a, &self.drugs_a),
            50..72 => (&self.drugs_b, &self.drugs_a),
            72..77 => (&self.drugs_c, &self.drugs_b),
            77..95 => (&self.services, &self.drugs_a),
            _ => (&self.consumables, &self.drugs_a),
        };
        let list = if list.is_empty() { fallback } else { list };
        rng.pick(list)
    }
}

/// A deterministic plausible price for an item (yuan, two decimals): drugs
/// 2–150, service items 5–300, consumables 3–800, skewed low.
pub fn price_of(code: &str, kind: &str) -> (String, u64) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in code.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let (lo, hi, max_cnt) = match kind {
        "201" => (500u64, 30_000u64, 2),
        "301" => (300, 80_000, 3),
        _ => (200, 15_000, 6),
    };
    // Square of a uniform draw: many cheap items, few dear ones.
    let u = h % 10_000;
    let fen = lo + (hi - lo) * u * u / 100_000_000;
    (format!("{}.{:02}", fen / 100, fen % 100), max_cnt)
}

#[derive(Clone)]
pub struct Institution {
    pub code: String,
    pub pharmacy: bool,
}

#[derive(Clone)]
pub struct LoadConfig {
    pub addr: String,
    pub clients: usize,
    pub duration: Duration,
    /// Visits per second (open loop); None: closed loop at maximum.
    pub rate: Option<f64>,
    pub cancel_share: f64,
    pub reversal_share: f64,
    pub inpatient_share: f64,
    pub pharmacy_share: f64,
    pub lines: usize,
    pub seed: u64,
    pub timeout: Duration,
    /// Keep the first successful output of each transaction code (for
    /// `yibao sim echo`; see [`ClientResult::outputs`]).
    pub record_outputs: bool,
}

/// Why a message did not succeed, as far as the HIS can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// The server answered with an error: by the interface's contract it
    /// changed nothing.
    Refused,
    /// No answer it could read (connection lost, timeout, HTTP error): the
    /// message may or may not have taken effect.
    Unanswered,
}

/// What one client saw.
#[derive(Default)]
pub struct ClientResult {
    pub latencies_us: HashMap<&'static str, Vec<u32>>,
    pub errors: HashMap<String, u64>,
    pub acks: yibao_app::sim::Acks,
    pub visits: HashMap<&'static str, u64>,
    pub outpatient_settled: u64,
    pub settled: u64,
    pub lag_us_max: u64,
    /// The first successful `output` of each transaction code, as JSON
    /// text, when the run records outputs.
    pub outputs: HashMap<&'static str, String>,
}

impl ClientResult {
    fn error(&mut self, key: String) {
        let key = if self.errors.len() >= ERROR_KINDS_MAX && !self.errors.contains_key(&key) {
            "other".to_owned()
        } else {
            key
        };
        *self.errors.entry(key).or_default() += 1;
    }
}

struct Client<'a> {
    conn: Conn,
    code: String,
    opter: String,
    sign_no: String,
    id: usize,
    seq: u64,
    rng: yibao_app::demo::Rng,
    cfg: &'a LoadConfig,
    out: ClientResult,
}

/// The ids a client takes from an answer. The rest of the answer is skipped
/// without being built: the load generator shares the cores with the server
/// it measures, and building every answer as a `Value` took a quarter of
/// its CPU.
#[derive(Default, Deserialize)]
struct Ids {
    #[serde(default)]
    sign_no: Option<String>,
    #[serde(default)]
    mdtrt_id: Option<String>,
    #[serde(default)]
    setl_id: Option<String>,
}

/// `output.signinoutb` (9001).
#[derive(Deserialize)]
struct SignInOut {
    signinoutb: Ids,
}

/// `output.data` (2201).
#[derive(Deserialize)]
struct InData {
    data: Ids,
}

/// `output.result` (2401).
#[derive(Deserialize)]
struct InResult {
    result: Ids,
}

/// `output.setlinfo` (2101, 2102, 2207, 2304).
#[derive(Deserialize)]
struct InSetlinfo {
    setlinfo: Ids,
}

/// A request envelope, serialized as it is built: the load generator shares
/// the cores with the server it measures, and a `Value` per message (a map
/// node and two strings per field, built, written and freed) was a fifth of
/// its CPU.
#[derive(Serialize)]
struct Envelope<'a, I: Serialize> {
    infno: &'a str,
    msgid: &'a str,
    mdtrtarea_admvs: &'static str,
    insuplc_admdvs: &'static str,
    recer_sys_code: &'static str,
    dev_no: &'static str,
    dev_safe_info: &'static str,
    cainfo: &'static str,
    signtype: &'static str,
    infver: &'static str,
    opter_type: &'static str,
    opter: &'a str,
    opter_name: &'static str,
    inf_time: String,
    fixmedins_code: &'a str,
    fixmedins_name: &'static str,
    sign_no: &'a str,
    input: &'a I,
}

/// A fee line as a HIS sends it (2204, 2301) or, without `hospital`, as a
/// pharmacy does (2101).
#[derive(Clone, Serialize)]
struct FeeLine {
    feedetl_sn: String,
    fee_ocur_time: String,
    med_list_codg: String,
    medins_list_codg: String,
    det_item_fee_sumamt: String,
    cnt: String,
    pric: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    hospital: Option<HospitalLine>,
}

/// The fields of a line only hospitals send.
#[derive(Clone, Serialize)]
struct HospitalLine {
    mdtrt_id: String,
    psn_no: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    med_type: Option<&'static str>,
    chrg_bchno: &'static str,
    rx_circ_flag: &'static str,
    bilg_dept_codg: &'static str,
    bilg_dept_name: &'static str,
    bilg_dr_codg: &'static str,
    bilg_dr_name: &'static str,
    hosp_appr_flag: &'static str,
}

/// `input` of 2204 and 2301.
#[derive(Serialize)]
struct Feedetail<'a> {
    feedetail: &'a [FeeLine],
}

/// An answer's envelope, with the output as `T`.
#[derive(Deserialize)]
struct Answer<T> {
    infcode: i64,
    #[serde(default)]
    err_msg: Option<String>,
    #[serde(default = "Option::default")]
    output: Option<T>,
}

/// Replaces digits by '#' so that errors group by kind, not by id.
fn kind_of(msg: &str) -> String {
    msg.chars().take(60).map(|c| if c.is_ascii_digit() { '#' } else { c }).collect()
}

fn now() -> DateTime {
    DateTime::from_unix_ms(yibao_store::now_ms())
}

fn stamp(t: DateTime) -> String {
    t.to_string()
}

impl Client<'_> {
    fn msgid(&mut self) -> String {
        self.seq += 1;
        let t: String = stamp(now()).chars().filter(char::is_ascii_digit).collect();
        format!("{}{t}{:04}{:08}", self.code, self.id % 10_000, self.seq % 100_000_000)
    }

    fn envelope(&self, infno: &str, msgid: &str, input: &impl Serialize) -> Vec<u8> {
        let envelope = Envelope {
            infno,
            msgid,
            mdtrtarea_admvs: "330200",
            insuplc_admdvs: "",
            recer_sys_code: "YBXT",
            dev_no: "",
            dev_safe_info: "",
            cainfo: "",
            signtype: "",
            infver: "V1.0",
            opter_type: "1",
            opter: &self.opter,
            opter_name: "模拟操作员",
            inf_time: stamp(now()),
            fixmedins_code: &self.code,
            fixmedins_name: "模拟机构",
            sign_no: &self.sign_no,
            input,
        };
        serde_json::to_vec(&envelope).expect("serializes")
    }

    /// Sends one transaction with this msgid; returns the output on success.
    fn send<T: DeserializeOwned>(
        &mut self,
        infno: &'static str,
        msgid: &str,
        input: &impl Serialize,
    ) -> Result<T, Failure> {
        let body = self.envelope(infno, msgid, input);
        let started = Instant::now();
        let r = self.conn.post_json(PATH, &body);
        let us = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        let samples = self.out.latencies_us.entry(infno).or_default();
        if samples.len() < SAMPLES_PER_CLIENT_MAX {
            samples.push(us);
        }
        match r {
            Err(HttpError::Io(m)) => {
                self.out.error(format!("{infno} io: {m}"));
                Err(Failure::Unanswered)
            }
            Err(HttpError::Protocol(m)) => {
                self.out.error(format!("{infno} protocol: {m}"));
                Err(Failure::Unanswered)
            }
            Ok((status, _)) if status != 200 => {
                self.out.error(format!("{infno} http {status}"));
                Err(Failure::Unanswered)
            }
            Ok((_, bytes)) => match serde_json::from_slice::<Answer<T>>(&bytes) {
                Ok(Answer { infcode: 0, output: Some(output), .. }) => {
                    if self.cfg.record_outputs && !self.out.outputs.contains_key(infno) {
                        self.record(infno, &bytes);
                    }
                    Ok(output)
                }
                Ok(Answer { infcode: 0, .. }) => {
                    self.out.error(format!("{infno} answer without output"));
                    Err(Failure::Unanswered)
                }
                Ok(a) => {
                    self.out.error(format!("{infno} {}", kind_of(a.err_msg.as_deref().unwrap_or("?"))));
                    Err(Failure::Refused)
                }
                Err(e) => {
                    self.out.error(format!("{infno} answer not understood: {}", kind_of(&e.to_string())));
                    Err(Failure::Unanswered)
                }
            },
        }
    }

    /// Keeps an answer's `output` as JSON text (once per code and client).
    fn record(&mut self, infno: &'static str, answer: &[u8]) {
        if let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(answer)
            && let Some(output) = answer.remove("output")
        {
            self.out.outputs.insert(infno, output.to_string());
        }
    }

    fn call<T: DeserializeOwned>(&mut self, infno: &'static str, input: &impl Serialize) -> Result<T, Failure> {
        let msgid = self.msgid();
        self.send(infno, &msgid, input)
    }

    fn sign_in(&mut self) -> Result<(), Failure> {
        let input = json!({"signIn": {"opter_no": self.opter, "mac": "00-11-22-33-44-55", "ip": "10.0.0.1"}});
        let out: SignInOut = self.call("9001", &input)?;
        self.sign_no = out.signinoutb.sign_no.unwrap_or_default();
        Ok(())
    }

    /// `n` fee lines dated `at`: a hospital's for visit `mdtrt_id`, or with
    /// `None` a pharmacy's (the drug fields only).
    fn lines(&mut self, catalog: &Catalog, n: usize, mdtrt_id: Option<&str>, at: DateTime) -> (Vec<FeeLine>, Money) {
        let mut total = Money::ZERO;
        let mut out = Vec::with_capacity(n);
        let fee_ocur_time = stamp(at);
        for k in 0..n {
            let item = catalog.draw(&mut self.rng).clone();
            let cnt = 1 + self.rng.below(item.max_cnt);
            let amount = Money::price_times_quantity(
                UnitPrice::parse(&item.pric).expect("price"),
                Quantity::parse(&cnt.to_string()).expect("count"),
            )
            .expect("amount");
            total += amount;
            out.push(FeeLine {
                feedetl_sn: (k + 1).to_string(),
                fee_ocur_time: fee_ocur_time.clone(),
                medins_list_codg: format!("HIS-{}", item.code),
                med_list_codg: item.code,
                det_item_fee_sumamt: amount.to_string(),
                cnt: cnt.to_string(),
                pric: item.pric,
                hospital: mdtrt_id.map(|mdtrt_id| HospitalLine {
                    mdtrt_id: mdtrt_id.to_owned(),
                    psn_no: String::new(),
                    med_type: None,
                    chrg_bchno: "B1",
                    rx_circ_flag: "0",
                    bilg_dept_codg: "01",
                    bilg_dept_name: "内科",
                    bilg_dr_codg: "D01",
                    bilg_dr_name: "模拟医生",
                    hosp_appr_flag: "0",
                }),
            });
        }
        (out, total)
    }

    /// The settlement message and what follows it: a share cancelled
    /// (2208-style `cancel`), a share whose answer is treated as lost
    /// (timeout) and reversed with 2601.
    fn settle(
        &mut self,
        infno: &'static str,
        cancel: &'static str,
        input: &Value,
        mdtrt_id: &str,
        psn_no: &str,
    ) -> Result<(), Failure> {
        let msgid = self.msgid();
        let r = self.send::<InSetlinfo>(infno, &msgid, input);
        let timed_out = r.is_err() || self.rng.below(1_000_000) < (self.cfg.reversal_share * 1e6) as u64;
        if timed_out {
            // The HIS did not get (or "lost") the answer: 冲正 by msgid.
            let rev = json!({"data": {"psn_no": psn_no, "omsgid": msgid, "oinfno": infno}});
            if self.call::<IgnoredAny>("2601", &rev).is_ok() {
                self.out.acks.reversed.push((mdtrt_id.to_owned(), msgid));
            }
            return Err(r.err().unwrap_or(Failure::Unanswered));
        }
        let out = r?;
        let setl_id = out.setlinfo.setl_id.unwrap_or_default();
        self.out.acks.settled.push(setl_id.clone());
        self.out.settled += 1;
        if self.rng.below(1_000_000) < (self.cfg.cancel_share * 1e6) as u64 {
            let c = json!({"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}});
            match self.call::<IgnoredAny>(cancel, &c) {
                Ok(_) => self.out.acks.cancelled.push(setl_id),
                // The server may have cancelled it and died (or timed out)
                // before answering: either state is right.
                Err(Failure::Unanswered) => self.out.acks.cancel_unanswered.push(setl_id),
                Err(Failure::Refused) => {}
            }
        }
        Ok(())
    }

    fn outpatient(&mut self, p: &SimPerson, catalog: &Catalog) -> Result<(), Failure> {
        let t = now();
        self.call::<IgnoredAny>(
            "1101",
            &json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": p.certno, "psn_cert_type": "01"}}),
        )?;
        let reg: InData = self.call(
            "2201",
            &json!({"data": {"psn_no": p.psn_no, "insutype": p.insutype, "begntime": stamp(t), "mdtrt_cert_type": "02",
            "mdtrt_cert_no": p.certno, "ipt_otp_no": format!("MZ{}", self.seq), "atddr_no": "D01", "dr_name": "模拟医生",
            "dept_code": "01", "dept_name": "内科", "caty": "A03"}}),
        )?;
        let mdtrt_id = reg.data.mdtrt_id.unwrap_or_default();
        let (lines, total) = self.lines(catalog, self.cfg.lines, Some(&mdtrt_id), t);
        self.call::<IgnoredAny>("2204", &Feedetail { feedetail: &lines })?;
        let acct = if p.has_account && self.rng.chance(60) { "1" } else { "0" };
        let data = json!({"data": {"psn_no": p.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": p.certno,
            "med_type": "11", "medfee_sumamt": total.to_string(), "psn_setlway": "01", "mdtrt_id": mdtrt_id,
            "chrg_bchno": "B1", "insutype": p.insutype, "acct_used_flag": acct}});
        self.call::<IgnoredAny>("2206", &data)?;
        self.settle("2207", "2208", &data, &mdtrt_id, &p.psn_no)?;
        self.out.outpatient_settled += 1;
        Ok(())
    }

    fn inpatient(&mut self, p: &SimPerson, catalog: &Catalog) -> Result<(), Failure> {
        let end = now();
        let begin = DateTime::from_unix_ms(yibao_store::now_ms() - 3 * 86_400_000);
        let adm: InResult = self.call(
            "2401",
            &json!({"mdtrtinfo": {"psn_no": p.psn_no, "insutype": p.insutype, "begntime": stamp(begin),
            "mdtrt_cert_type": "02", "mdtrt_cert_no": p.certno, "med_type": "21", "ipt_no": format!("ZY{}", self.seq),
            "atddr_no": "D01", "chfpdr_name": "模拟医生", "adm_diag_dscr": "肺炎", "adm_dept_codg": "03",
            "adm_dept_name": "呼吸科", "adm_bed": "12", "dscg_maindiag_code": "J18.900", "dscg_maindiag_name": "肺炎"},
            "diseinfo": [{"psn_no": p.psn_no, "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": 1,
            "diag_code": "J18.900", "diag_name": "肺炎", "diag_dept": "呼吸科", "dise_dor_no": "D01",
            "dise_dor_name": "模拟医生", "diag_time": stamp(begin), "vali_flag": "1"}]}),
        )?;
        let mdtrt_id = adm.result.mdtrt_id.unwrap_or_default();
        let n = 20 + self.rng.below(41) as usize;
        let (mut lines, total) = self.lines(catalog, n, Some(&mdtrt_id), begin);
        for l in lines.iter_mut().filter_map(|l| l.hospital.as_mut()) {
            l.psn_no.clone_from(&p.psn_no);
            l.med_type = Some("21");
        }
        let second = lines.split_off(n / 2);
        self.call::<IgnoredAny>("2301", &Feedetail { feedetail: &lines })?;
        self.call::<IgnoredAny>("2301", &Feedetail { feedetail: &second })?;
        self.call::<IgnoredAny>(
            "2402",
            &json!({"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "insutype": p.insutype,
            "endtime": stamp(end), "dscg_way": "1", "dscg_dept_codg": "03", "dscg_dept_name": "呼吸科"}, "diseinfo": []}),
        )?;
        let settle = json!({"data": {"psn_no": p.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": p.certno,
            "medfee_sumamt": total.to_string(), "psn_setlway": "01", "mdtrt_id": mdtrt_id, "insutype": p.insutype,
            "acct_used_flag": "0", "mid_setl_flag": "0"}});
        self.call::<IgnoredAny>("2303", &settle)?;
        self.settle("2304", "2305", &settle, &mdtrt_id, &p.psn_no)
    }

    fn pharmacy(&mut self, p: &SimPerson, catalog: &Catalog) -> Result<(), Failure> {
        let t = now();
        let n = 1 + self.rng.below(4) as usize;
        let drugs =
            Catalog { drugs_a: catalog.drugs_a.clone(), drugs_b: catalog.drugs_b.clone(), ..Default::default() };
        let (lines, total) = self.lines(&drugs, n, None, t);
        let acct = if p.has_account { "1" } else { "0" };
        let data = json!({"psn_no": p.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": p.certno, "insutype": p.insutype,
            "medfee_sumamt": total.to_string(), "psn_setlway": "01", "acct_used_flag": acct});
        let pre: InSetlinfo = self.call("2101", &json!({"data": data, "feedetail": lines}))?;
        let mdtrt_id = pre.setlinfo.mdtrt_id.unwrap_or_default();
        let mut settle = data;
        settle["mdtrt_id"] = json!(mdtrt_id);
        self.settle("2102", "2103", &json!({"data": settle}), &mdtrt_id, &p.psn_no)
    }
}

/// Draws an index with probability proportional to the weights (prefix sums).
fn draw_weighted(rng: &mut yibao_app::demo::Rng, prefix: &[u64]) -> usize {
    let total = *prefix.last().expect("non-empty");
    let x = rng.below(total);
    prefix.partition_point(|&s| s <= x)
}

/// A 2204 message of `cfg.lines` fee lines from `institution`, byte for
/// byte as a client of this load sends one (the calibration parses it).
pub fn sample_2204(cfg: &LoadConfig, catalog: &Catalog, institution: &str) -> Vec<u8> {
    let mut c = Client {
        conn: Conn::new(&cfg.addr, cfg.timeout),
        code: institution.to_owned(),
        opter: "S0000".into(),
        sign_no: String::new(),
        id: 0,
        seq: 0,
        rng: yibao_app::demo::Rng::new(cfg.seed),
        cfg,
        out: ClientResult::default(),
    };
    let msgid = c.msgid();
    let (lines, _) = c.lines(catalog, cfg.lines, Some("7351234567890123456"), now());
    c.envelope("2204", &msgid, &Feedetail { feedetail: &lines })
}

/// Runs the load; returns each client's result and the measured wall time.
pub fn run(
    cfg: &LoadConfig,
    persons: &[SimPerson],
    institutions: &[Institution],
    catalog: &Catalog,
) -> (Vec<ClientResult>, Duration) {
    let hospitals: Vec<&Institution> = institutions.iter().filter(|i| !i.pharmacy).collect();
    let pharmacies: Vec<&Institution> = institutions.iter().filter(|i| i.pharmacy).collect();
    let next_visit = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    // The clock starts when every client has signed in: a sign-in (9001)
    // opens an operator's shift, not a visit, and an open-loop schedule that
    // started while 64 sign-ins were queued began with a backlog (measured:
    // the schedule fell 151 ms behind at 1,000 visits/s, which set the p99 of
    // the first write of a visit).
    let signed_in = std::sync::Barrier::new(cfg.clients);
    let clock = std::sync::OnceLock::<Instant>::new();
    let created = Instant::now();
    let pharmacy_clients =
        if pharmacies.is_empty() { 0 } else { ((cfg.clients as f64) * cfg.pharmacy_share).round() as usize };
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cfg.clients)
            .map(|id| {
                let is_pharmacy = id < pharmacy_clients;
                let inst = if is_pharmacy {
                    pharmacies[id % pharmacies.len()]
                } else {
                    hospitals[(id - pharmacy_clients) % hospitals.len()]
                };
                let (next_visit, stop, signed_in, clock) = (&next_visit, &stop, &signed_in, &clock);
                // Each client sees its own persons, so that no two clients
                // treat the same person at once (as in life).
                let mine: Vec<&SimPerson> = persons.iter().skip(id).step_by(cfg.clients).collect();
                scope.spawn(move || {
                    // The load generator shares the cores with the server it
                    // measures; it yields them, as it would on its own host.
                    yibao_store::engine::set_thread_nice(CLIENT_NICE);
                    let mut prefix = Vec::with_capacity(mine.len());
                    let mut sum = 0u64;
                    for p in &mine {
                        sum += u64::from(p.weight.max(1));
                        prefix.push(sum);
                    }
                    let mut c = Client {
                        conn: Conn::new(&cfg.addr, cfg.timeout),
                        code: inst.code.clone(),
                        opter: format!("S{id:04}"),
                        sign_no: String::new(),
                        id,
                        seq: 0,
                        rng: yibao_app::demo::Rng::new(cfg.seed ^ (id as u64).wrapping_mul(0x9E37)),
                        cfg,
                        out: ClientResult::default(),
                    };
                    let ready = !mine.is_empty() && c.sign_in().is_ok();
                    // Every client waits here, ready or not, or the others would wait forever.
                    signed_in.wait();
                    if !ready {
                        return c.out;
                    }
                    let started = *clock.get_or_init(Instant::now);
                    let deadline = started + cfg.duration;
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        if let Some(rate) = cfg.rate {
                            let n = next_visit.fetch_add(1, Ordering::Relaxed);
                            let due = started + Duration::from_secs_f64(n as f64 / rate);
                            if due >= deadline {
                                break;
                            }
                            let now = Instant::now();
                            if due > now {
                                std::thread::sleep(due - now);
                            } else {
                                c.out.lag_us_max = c.out.lag_us_max.max((now - due).as_micros() as u64);
                            }
                        } else if Instant::now() >= deadline {
                            break;
                        }
                        let p = mine[draw_weighted(&mut c.rng, &prefix)];
                        let kind = if is_pharmacy {
                            "pharmacy"
                        } else if c.rng.below(1_000_000) < (cfg.inpatient_share * 1e6) as u64 {
                            "inpatient"
                        } else {
                            "outpatient"
                        };
                        *c.out.visits.entry(kind).or_default() += 1;
                        let _ = match kind {
                            "pharmacy" => c.pharmacy(p, catalog),
                            "inpatient" => c.inpatient(p, catalog),
                            _ => c.outpatient(p, catalog),
                        };
                    }
                    c.out
                })
            })
            .collect();
        let results: Vec<ClientResult> = handles.into_iter().map(|h| h.join().expect("client thread")).collect();
        stop.store(true, Ordering::Relaxed);
        results
    });
    (results, clock.get().copied().unwrap_or(created).elapsed())
}

/// Percentiles of microsecond samples, in milliseconds.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Latency {
    pub count: usize,
    pub per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

pub fn latency(mut samples: Vec<u32>, seconds: f64) -> Latency {
    samples.sort_unstable();
    let at = |q: f64| {
        if samples.is_empty() {
            return 0.0;
        }
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        f64::from(samples[i]) / 1000.0
    };
    Latency {
        count: samples.len(),
        per_s: samples.len() as f64 / seconds,
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        p999_ms: at(0.999),
        max_ms: samples.last().map(|v| f64::from(*v) / 1000.0).unwrap_or(0.0),
    }
}

/// Today's date in China time (the fee lines and visits are dated today).
pub fn today() -> Date {
    now().date()
}
