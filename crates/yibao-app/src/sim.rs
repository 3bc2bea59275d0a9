//! The simulator's population and verification (`yibao sim`).
//!
//! [`populate`] bulk-loads a pooling region (宁波 330200, the demo region's
//! rules) at a chosen scale with realistic distributions, deterministic for
//! a seed: an age pyramid, the in-service / retired / resident mix by age,
//! employers, resident households, personal accounts with opening balances,
//! designated hospitals of every level and pharmacies in proportion to the
//! population. [`profile`] gives the per-person figures a load generator
//! draws visits from (chronic disease, visits a year). [`verify_in`] checks
//! that a database is consistent after a run; [`history`] bulk-loads
//! settlement history, marked as such, to measure throughput on a full
//! table. Every name and number is synthetic (模拟).

use std::collections::HashMap;

use yibao_domain::catalog::CatalogOverride;
use yibao_domain::codes::{ChrgitmLv, ClrWay, Gend, HospLv, Insutype, MedType, PsnCertType, PsnType};
use yibao_domain::division::DivisionCode;
use yibao_domain::employer::{CreditCode, Employer, EmployerStatus, compose_emp_no};
use yibao_domain::enrollment::{Certificate, Enrollment, EnrollmentStatus, Person, Relation};
use yibao_domain::institution::{Agreement, Institution, InstitutionCode, InstitutionKind, InstitutionStatus};
use yibao_domain::settlement::{AccumulatorDelta, Accumulators};
use yibao_domain::{Date, DateTime, Money, Ratio, ResidentId};
use yibao_store::Tx;
use yibao_store::enrollment::{Household, HouseholdMember};
use yibao_store::sim as repo;

use crate::App;
use crate::demo::{self, COUNTIES, Rng};
use crate::error::{AppError, AppResult};

/// The simulated pooling region: the demo region's rules and institutions.
pub const SIM_REGION: &str = demo::DEMO_REGION;
pub const PERSONS_MAX: usize = 20_000_000;
/// Persons per write job of the bulk load.
const PERSONS_PER_JOB: usize = 100_000;
/// History rows per write job.
const HISTORY_PER_JOB: usize = 50_000;
pub const HISTORY_MAX: usize = 50_000_000;

/// China's age pyramid (7th census, 2020), per mille of the population in
/// five-year groups from 0–4 to 85+.
const AGE_PYRAMID_PERMILLE: [u64; 18] = [54, 64, 61, 53, 53, 66, 88, 72, 69, 83, 86, 72, 52, 50, 34, 22, 15, 9];

/// Per-person figures a load generator draws visits from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    pub chronic: bool,
    /// Outpatient visits a year.
    pub visits_per_year: u32,
}

/// Deterministic for a person: chronic-disease prevalence rises with age
/// (about 1 % of children, 5 % under 45, 20 % at 45–59, 45 % at 60–74, 60 %
/// above); outpatient visits a year follow age, and double and a half with
/// a chronic disease.
pub fn profile(psn_no: &str, age: i32) -> Profile {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in psn_no.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let prevalence = match age {
        ..18 => 1,
        18..45 => 5,
        45..60 => 20,
        60..75 => 45,
        _ => 60,
    };
    let chronic = h % 100 < prevalence;
    let base = match age {
        ..5 => 8,
        5..18 => 3,
        18..45 => 3,
        45..60 => 6,
        60..75 => 10,
        _ => 14,
    };
    Profile { chronic, visits_per_year: if chronic { base * 5 / 2 } else { base } }
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PopulateReport {
    pub region: String,
    pub seed: u64,
    pub persons: usize,
    pub employees_active: usize,
    pub employees_retired: usize,
    pub residents: usize,
    pub chronic: usize,
    pub households: usize,
    pub employers: usize,
    pub accounts: usize,
    pub hospitals_by_level: Vec<(String, usize)>,
    pub pharmacies: usize,
    pub catalog_class_c_items: usize,
    pub elapsed_ms: u128,
}

/// Hospitals and pharmacies for a population: 三级 one per 100,000
/// persons, 二级 one per 40,000, 一级 (community and township) one per
/// 8,000, pharmacies one per 2,500; never fewer than the demo region's.
pub fn institutions(persons: usize, year: i32) -> Vec<Institution> {
    let mut out = demo::institutions(year);
    let mut seq: HashMap<(InstitutionKind, usize), u32> = HashMap::new();
    for i in &out {
        let county = COUNTIES.iter().position(|c| c.0 == i.admdvs.as_str()).unwrap_or(0);
        *seq.entry((i.kind, county)).or_default() += 1;
    }
    let want: [(Option<HospLv>, usize, &str); 7] = [
        (Some(HospLv::ThreeA), persons / 150_000, "模拟三甲医院"),
        (Some(HospLv::ThreeB), persons / 300_000, "模拟三乙医院"),
        (Some(HospLv::TwoA), persons / 70_000, "模拟二甲医院"),
        (Some(HospLv::TwoB), persons / 90_000, "模拟二乙医院"),
        (Some(HospLv::OneA), persons / 16_000, "模拟社区卫生服务中心"),
        (Some(HospLv::OneUngraded), persons / 16_000, "模拟乡镇卫生院"),
        (None, persons / 2_500, "模拟大药房"),
    ];
    for (lv, target, label) in want {
        let have = out.iter().filter(|i| i.hosp_lv == lv).count();
        for n in have..target {
            let county = n % COUNTIES.len();
            let kind = if lv.is_some() { InstitutionKind::Hospital } else { InstitutionKind::Pharmacy };
            let s = seq.entry((kind, county)).or_default();
            *s += 1;
            let division = DivisionCode::parse(COUNTIES[county].0).expect("county");
            let code = InstitutionCode::compose(kind, division, *s);
            out.push(Institution {
                agreements: vec![Agreement {
                    agreement_no: format!("XY{}{}", code.as_str(), year - 1),
                    begin_date: Date::from_ymd(year - 1, 1, 1).expect("date"),
                    end_date: Date::from_ymd(year + 1, 12, 31).expect("date"),
                    status: InstitutionStatus::Active,
                }],
                code,
                name: format!("{}{label}{}号", COUNTIES[county].1, n + 1),
                kind,
                hosp_lv: lv,
                admdvs: division,
                address: format!("浙江省宁波市{}模拟路{}号", COUNTIES[county].1, 100 + n),
                status: InstitutionStatus::Active,
            });
        }
    }
    out
}

/// The persons of one chunk `first..first + count` (1-based numbers), with
/// their enrollments; the rng carries over chunks.
fn persons_chunk(
    rng: &mut Rng,
    first: usize,
    count: usize,
    today: Date,
    seen: &mut std::collections::HashSet<String>,
) -> (Vec<Person>, Vec<Enrollment>) {
    let region = DivisionCode::parse(SIM_REGION).expect("region");
    let total: u64 = AGE_PYRAMID_PERMILLE.iter().sum();
    let mut persons = Vec::with_capacity(count);
    let mut enrollments = Vec::with_capacity(count);
    while persons.len() < count {
        let mut draw = rng.below(total);
        let mut group = 0;
        while draw >= AGE_PYRAMID_PERMILLE[group] {
            draw -= AGE_PYRAMID_PERMILLE[group];
            group += 1;
        }
        let age = (group as i32) * 5 + if group == 17 { rng.below(15) as i32 } else { rng.below(5) as i32 };
        let birth = today.add_days(-(age * 365 + rng.below(365) as i32) - 1);
        let county = rng.pick(&COUNTIES);
        let Ok(id) = ResidentId::compose(county.0, birth, rng.below(1000) as u16) else { continue };
        if !seen.insert(id.as_str().to_owned()) {
            continue;
        }
        let n = first + persons.len();
        let psn_no = format!("{SIM_REGION}{n:014}");
        let age = id.age_on(today);
        // Ningbo-like: most working-age people are employees; about half of
        // those over 60 draw an employee pension; the rest are residents.
        let (insutype, psn_type) = match age {
            a if a < 1 => (Insutype::ResidentBasic, PsnType::Newborn),
            a if a < 6 => (Insutype::ResidentBasic, PsnType::Preschool),
            a if a < 18 => (Insutype::ResidentBasic, PsnType::PupilStudent),
            a if a < 60 && rng.chance(70) => {
                let t = match rng.below(100) {
                    0..8 => PsnType::CivilServantActive,
                    8..18 => PsnType::FlexibleActive,
                    _ => PsnType::EmployeeActive,
                };
                (Insutype::EmployeeBasic, t)
            }
            a if a >= 60 && rng.chance(55) => (
                Insutype::EmployeeBasic,
                if rng.chance(8) { PsnType::CivilServantRetired } else { PsnType::EmployeeRetired },
            ),
            _ => (Insutype::ResidentBasic, PsnType::ResidentAdult),
        };
        let first_day = Date::from_ymd(2015.max(birth.year()), 1, 1).expect("date").max(birth);
        persons.push(Person {
            psn_no: psn_no.clone(),
            certificate: Certificate { psn_cert_type: PsnCertType::ResidentIdCard, certno: id.as_str().to_owned() },
            name: demo::synthetic_name(rng),
            gend: if id.sex() == yibao_domain::resident_id::Sex::Male { Gend::Male } else { Gend::Female },
            brdy: birth,
            naty: "01".into(),
            admdvs: DivisionCode::parse(county.0).expect("county"),
            tel: format!("13{}{:08}", rng.below(10), rng.below(100_000_000)),
            address: format!("浙江省宁波市{}模拟小区{}幢{}室", county.1, 1 + rng.below(60), 101 + rng.below(20)),
            death_date: None,
        });
        enrollments.push(Enrollment {
            id: 1_000_000 + n as i64,
            psn_no,
            insutype,
            psn_type,
            insu_admdvs: region,
            begin_date: first_day,
            end_date: None,
            status: EnrollmentStatus::Active,
            cvlserv_flag: psn_type.is_civil_servant(),
            assistance_category: None,
        });
    }
    (persons, enrollments)
}

/// Catalog items the simulated region pays nothing for (丙类): every 12th
/// western drug of 乙类, by code. Real regions exclude items the same way.
fn class_c_overrides(tx: &mut dyn Tx, today: Date) -> AppResult<Vec<CatalogOverride>> {
    let items = repo::billable_items(tx, "101", today, 10_000)?;
    let begin = Date::from_ymd(today.year() - 1, 1, 1).expect("date");
    Ok(items
        .iter()
        .filter(|i| i.class.as_deref() == Some(ChrgitmLv::ClassB.code()))
        .step_by(12)
        .enumerate()
        .map(|(k, i)| CatalogOverride {
            id: 1000 + k as i64,
            region_prefix: "3302".into(),
            code: Some(i.code.clone()),
            list_type: None,
            class_filter: None,
            begin_date: begin,
            end_date: None,
            class: Some(ChrgitmLv::ClassC),
            selfpay_prop: None,
            price_cap: None,
            restriction: None,
            note: "模拟：本统筹区不予支付（丙类）".into(),
        })
        .collect())
}

/// Bulk-loads a simulated region into an empty database (reference data
/// loaded). Refuses a database that already holds the demo or a simulation.
pub async fn populate(app: &App, seed: u64, count: usize, today: Date) -> AppResult<PopulateReport> {
    if count == 0 || count > PERSONS_MAX {
        return Err(AppError::invalid("persons", format!("人数应在 1 到 {PERSONS_MAX} 之间")));
    }
    let started = std::time::Instant::now();
    let year = today.year();
    let insts = institutions(count, year);
    let policies = demo::demo_policies()?;
    let ledger = demo::fund_history(seed, today);
    let mut report = PopulateReport { region: SIM_REGION.into(), seed, persons: count, ..Default::default() };
    for lv in [HospLv::ThreeA, HospLv::ThreeB, HospLv::TwoA, HospLv::TwoB, HospLv::OneA, HospLv::OneUngraded] {
        let n = insts.iter().filter(|i| i.hosp_lv == Some(lv)).count();
        report.hospitals_by_level.push((lv.code().to_owned(), n));
    }
    report.pharmacies = insts.iter().filter(|i| i.kind == InstitutionKind::Pharmacy).count();
    let marker = format!("seed={seed};persons={count}");
    let class_c = app
        .db
        .write(move |tx: &mut dyn Tx| {
            for set in ["demo", "sim"] {
                if yibao_store::reference::dataset_hash(tx, set)?.is_some() {
                    return Err(AppError::Conflict(format!("数据库已有{set}数据，请使用空数据库")));
                }
            }
            let now = yibao_store::now_ms();
            for inst in &insts {
                yibao_store::institution::insert(tx, inst, now)?;
            }
            let mut overrides = demo::catalog_overrides(today);
            let class_c = class_c_overrides(tx, today)?;
            let n = class_c.len();
            overrides.extend(class_c);
            for o in &overrides {
                yibao_store::catalog::insert_override(tx, o, "sim", now)?;
            }
            for entry in &ledger {
                crate::fund::post(tx, entry, "sim", now)?;
            }
            Ok::<_, AppError>(n)
        })
        .await?;
    report.catalog_class_c_items = class_c;
    for policy in policies {
        app.db
            .write(move |tx: &mut dyn Tx| crate::policy::store_trusted(tx, &policy, "sim", yibao_store::now_ms()))
            .await?;
    }

    let mut rng = Rng::new(seed);
    let mut seen = std::collections::HashSet::with_capacity(count);
    let region = DivisionCode::parse(SIM_REGION).expect("region");
    let mut employer_seq = 0u32;
    let mut household_seq = 0usize;
    let mut first = 1;
    while first <= count {
        let n = PERSONS_PER_JOB.min(count + 1 - first);
        let (persons, enrollments) = persons_chunk(&mut rng, first, n, today, &mut seen);
        // Employers of about 30 employees in service each.
        let active: Vec<&Enrollment> = enrollments
            .iter()
            .filter(|e| e.psn_type.category() == yibao_domain::codes::PersonCategory::Active)
            .collect();
        let mut employers = Vec::new();
        let mut staff: Vec<(String, Vec<i64>)> = Vec::new();
        for group in active.chunks(30) {
            employer_seq += 1;
            let county = employer_seq as usize % COUNTIES.len();
            let uscc = CreditCode::compose(&format!("91{}MA2{:06}", COUNTIES[county].0, employer_seq))?;
            let emp_no = compose_emp_no(region, employer_seq);
            employers.push(Employer {
                emp_no: emp_no.clone(),
                uscc,
                emp_name: format!("宁波模拟{}企业{}有限公司", COUNTIES[county].1, employer_seq),
                insu_admdvs: region,
                admdvs: DivisionCode::parse(COUNTIES[county].0).expect("county"),
                address: format!("浙江省宁波市{}模拟工业区{}号", COUNTIES[county].1, employer_seq),
                contact: demo::synthetic_name(&mut rng),
                tel: format!("0574{:08}", rng.below(100_000_000)),
                status: EmployerStatus::Active,
            });
            staff
                .push((emp_no, group.iter().filter(|e| e.psn_type != PsnType::FlexibleActive).map(|e| e.id).collect()));
        }
        // Residents in households of one to four, in draw order.
        let residents: Vec<(&Enrollment, &Person)> =
            enrollments.iter().zip(&persons).filter(|(e, _)| e.insutype == Insutype::ResidentBasic).collect();
        let mut households = Vec::new();
        let mut i = 0;
        while i < residents.len() {
            let size = (1 + rng.below(4) as usize).min(residents.len() - i);
            let group = &residents[i..i + size];
            let head = group.iter().min_by_key(|(_, p)| p.brdy).expect("non-empty");
            household_seq += 1;
            households.push(Household {
                hh_no: format!("H{SIM_REGION}{household_seq:08}"),
                head_psn_no: head.1.psn_no.clone(),
                admdvs: head.1.admdvs,
                address: head.1.address.clone(),
                members: group
                    .iter()
                    .map(|(e, p)| HouseholdMember {
                        psn_no: e.psn_no.clone(),
                        relation: if p.psn_no == head.1.psn_no {
                            Relation::Head
                        } else if p.age_on(today) < 18 {
                            Relation::Child
                        } else {
                            Relation::Spouse
                        },
                    })
                    .collect(),
            });
            i += size;
        }
        // Personal accounts of employees with last year's balance carried over.
        let accounts: Vec<repo::OpenedAccount> = enrollments
            .iter()
            .filter(|e| e.insutype == Insutype::EmployeeBasic)
            .map(|e| {
                let retired = e.psn_type.category() == yibao_domain::codes::PersonCategory::Retired;
                let yuan = if retired { 1_000 + rng.below(30_000) } else { 200 + rng.below(15_000) };
                repo::OpenedAccount {
                    psn_no: e.psn_no.clone(),
                    region,
                    opening: Money::from_yuan(yuan as i64),
                    date: Date::from_ymd(year, 1, 1).expect("date"),
                }
            })
            .collect();
        for (e, p) in enrollments.iter().zip(&persons) {
            match (e.insutype, e.psn_type.category()) {
                (Insutype::EmployeeBasic, yibao_domain::codes::PersonCategory::Retired) => {
                    report.employees_retired += 1
                }
                (Insutype::EmployeeBasic, _) => report.employees_active += 1,
                _ => report.residents += 1,
            }
            if profile(&p.psn_no, p.age_on(today)).chronic {
                report.chronic += 1;
            }
        }
        report.employers += employers.len();
        report.households += households.len();
        report.accounts += accounts.len();
        let last = first + n > count;
        let marker = marker.clone();
        app.db
            .write(move |tx: &mut dyn Tx| {
                let now = yibao_store::now_ms();
                yibao_store::enrollment::insert_persons(tx, &persons, now)?;
                yibao_store::enrollment::insert_enrollments(tx, &enrollments, now)?;
                yibao_store::employer::insert_many_employers(tx, &employers, now)?;
                for (emp_no, ids) in &staff {
                    yibao_store::enrollment::set_employer(tx, ids, emp_no, now)?;
                }
                repo::insert_households(tx, &households, now)?;
                let first_id = yibao_store::ids::next_id();
                // Reserve the ids the movements take.
                for _ in 1..accounts.len() {
                    yibao_store::ids::next_id();
                }
                repo::insert_accounts(tx, &accounts, first_id, now)?;
                if last {
                    yibao_store::reference::record_dataset(tx, "sim", &marker, count as i64, now)?;
                }
                Ok::<_, AppError>(())
            })
            .await?;
        first += n;
    }
    app.catalog.invalidate();
    app.policies.invalidate();
    report.elapsed_ms = started.elapsed().as_millis();
    Ok(report)
}

// ------------------------------------------------------------ verification

/// What the server acknowledged during a load run.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Acks {
    /// setl_id of every settlement answered with success (2207/2304/2102).
    pub settled: Vec<String>,
    /// setl_id of every settlement whose cancellation (2208/2305/2103) was answered with success.
    pub cancelled: Vec<String>,
    /// (mdtrt_id, msgid) of every settlement message reversed by a successful 2601.
    pub reversed: Vec<(String, String)>,
    /// setl_id of every acknowledged settlement whose cancellation was sent
    /// but never answered (the server died or timed out): it may or may not
    /// have taken effect, and either is correct.
    #[serde(default)]
    pub cancel_unanswered: Vec<String>,
}

impl Acks {
    /// Adds another client's acknowledgements (every field: the pattern
    /// names them all, so a new one cannot be forgotten here).
    pub fn merge(&mut self, other: Acks) {
        let Acks { settled, cancelled, reversed, cancel_unanswered } = other;
        self.settled.extend(settled);
        self.cancelled.extend(cancelled);
        self.reversed.extend(reversed);
        self.cancel_unanswered.extend(cancel_unanswered);
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub settlements: i64,
    pub reversals: i64,
    pub history_rows: i64,
    pub accumulators_checked: usize,
    pub checks: Vec<Check>,
}

/// Most accumulator rows read per query of the verification.
const ACCUMULATORS_PER_PAGE: i64 = 5_000;

fn examples(list: &[String]) -> String {
    list.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
}

/// Checks a database after a run. Every settlement in `acks.settled`
/// exists exactly once and is unreversed unless it was cancelled or
/// reversed; every cancellation and 2601 took effect; reversal rows and
/// originals name each other; the ledger balances and every settlement that
/// moved money has its entry; every accumulator equals the sum of its live
/// settlements' deltas; every account balance equals its movements.
pub fn verify_in(tx: &mut dyn Tx, acks: &Acks) -> AppResult<VerifyReport> {
    let mut checks = Vec::new();
    let mut check = |name: &'static str, failures: Vec<String>, total: usize| {
        let ok = failures.is_empty();
        let detail = if ok {
            format!("{total} checked")
        } else {
            format!("{} of {total} failed, e.g. {}", failures.len(), examples(&failures))
        };
        checks.push(Check { name, ok, detail });
    };

    // Acknowledged settlements.
    let stored = repo::settlements_by_id(tx, &acks.settled)?;
    let mut seen: HashMap<&str, (usize, Option<&str>)> = HashMap::new();
    for s in &stored {
        let e = seen.entry(s.setl_id.as_str()).or_insert((0, None));
        e.0 += 1;
        e.1 = s.reversed_by.as_deref();
    }
    let cancelled: std::collections::HashSet<&str> =
        acks.cancelled.iter().chain(&acks.cancel_unanswered).map(String::as_str).collect();
    let reversed_msgids: std::collections::HashSet<&str> = acks.reversed.iter().map(|(_, m)| m.as_str()).collect();
    let by_id: HashMap<&str, &str> = stored.iter().map(|s| (s.setl_id.as_str(), s.msgid.as_str())).collect();
    let mut missing = Vec::new();
    let mut wrongly_reversed = Vec::new();
    for id in &acks.settled {
        match seen.get(id.as_str()) {
            Some((1, reversed_by)) => {
                let may_be_reversed = cancelled.contains(id.as_str())
                    || by_id.get(id.as_str()).is_some_and(|m| reversed_msgids.contains(m));
                if reversed_by.is_some() && !may_be_reversed {
                    wrongly_reversed.push(format!("{id} reversed by {}", reversed_by.unwrap_or_default()));
                }
            }
            Some((n, _)) => missing.push(format!("{id} stored {n} times")),
            None => missing.push(format!("{id} missing")),
        }
    }
    check("acknowledged settlements exist exactly once", missing, acks.settled.len());
    check("acknowledged settlements not reversed unless cancelled", wrongly_reversed, acks.settled.len());

    // Cancellations.
    let stored = repo::settlements_by_id(tx, &acks.cancelled)?;
    let reversed: std::collections::HashSet<&str> =
        stored.iter().filter(|s| s.reversed_by.is_some()).map(|s| s.setl_id.as_str()).collect();
    let failed: Vec<String> = acks
        .cancelled
        .iter()
        .filter(|id| !reversed.contains(id.as_str()))
        .map(|id| format!("{id} not reversed"))
        .collect();
    check("every acknowledged cancellation took effect", failed, acks.cancelled.len());

    // 2601 reversals.
    let mut failed = Vec::new();
    for (mdtrt_id, msgid) in &acks.reversed {
        for s in repo::settlements_by_msgid(tx, mdtrt_id, msgid)? {
            if s.reversed_by.is_none() {
                failed.push(format!("{} of {msgid} not reversed", s.setl_id));
            }
        }
    }
    check("every acknowledged 2601 reversal took effect", failed, acks.reversed.len());

    let (settlements, reversals, history_rows) = repo::settlement_counts(tx)?;
    check(
        "reversal rows and originals name each other",
        repo::broken_reversals(tx)?,
        (settlements + reversals) as usize,
    );

    // Ledger.
    // A ledger out of balance may make the trial balance refuse to compute
    // fund positions: that is a failed check, not an error of the run.
    let mut failed = Vec::new();
    let mut accounts = 0;
    match crate::fund::trial_balance_in(tx, "", None) {
        Ok(tb) => {
            if !tb.difference.is_zero() {
                failed.push(format!(
                    "debits {} credits {} difference {}",
                    tb.debit_total, tb.credit_total, tb.difference
                ));
            }
            if tb.entries_unbalanced != 0 {
                failed.push(format!("{} journal entries do not balance", tb.entries_unbalanced));
            }
            accounts = tb.accounts.len();
        }
        Err(AppError::Internal(m)) => failed.push(m),
        Err(e) => return Err(e),
    }
    check("ledger trial balance is zero", failed, accounts);
    let failed: Vec<String> =
        repo::settlements_without_entry(tx)?.into_iter().map(|id| format!("{id} has no ledger entry")).collect();
    check("every settlement that moved money has its ledger entry", failed, settlements as usize);

    // Accumulators.
    let mut after = (String::new(), String::new(), i64::MIN);
    let mut failed = Vec::new();
    let mut checked = 0usize;
    let mut medfee_total = Money::ZERO;
    loop {
        let page = repo::accumulators_page(tx, &after, ACCUMULATORS_PER_PAGE)?;
        let (Some(first), Some(last)) = (page.first(), page.last()) else { break };
        let mut sums: HashMap<(String, String, i64), Accumulators> = HashMap::new();
        for (key, delta) in repo::deltas_between(tx, &first.0.0, &last.0.0)? {
            let delta: AccumulatorDelta =
                serde_json::from_str(&delta).map_err(|e| AppError::Internal(format!("stored delta: {e}")))?;
            sums.entry(key).or_default().apply(&delta);
        }
        for (key, state) in &page {
            let state: Accumulators =
                serde_json::from_str(state).map_err(|e| AppError::Internal(format!("stored accumulators: {e}")))?;
            medfee_total += state.medfee_total;
            let expected = sums.get(key).copied().unwrap_or_default();
            if state != expected {
                failed.push(format!(
                    "{} {} {}: medfee_total {} but settlements add up to {}",
                    key.0, key.1, key.2, state.medfee_total, expected.medfee_total
                ));
            }
            checked += 1;
        }
        after = last.0.clone();
    }
    let live = repo::live_medfee_total(tx)?;
    if live != medfee_total {
        failed.push(format!("Σ accumulators medfee_total {medfee_total} ≠ Σ live settlements {live}"));
    }
    check("accumulators equal the sum of their settlements", failed, checked);

    // Accounts: every one is compared, so every one is counted.
    let accounts = usize::try_from(repo::account_count(tx)?).expect("a count is not negative");
    let failed: Vec<String> = repo::account_mismatches(tx)?
        .into_iter()
        .map(|(psn, balance, sum)| format!("{psn} balance {balance} ≠ movements {sum}"))
        .collect();
    check("account balances equal their movements", failed, accounts);

    let ok = checks.iter().all(|c| c.ok);
    Ok(VerifyReport { ok, settlements, reversals, history_rows, accumulators_checked: checked, checks })
}

// ------------------------------------------------------------ history

/// Bulk-loads `count` settlement rows of last year, marked as history
/// (`msgid` [`repo::HISTORY_MSGID`]): they fill the settlement table and its
/// indexes as years of business would, but have no visit, ledger entry or
/// accumulator effect (verification counts them apart). Plausible amounts:
/// 60–90 % paid by the pool.
pub async fn history(app: &App, seed: u64, count: usize, today: Date) -> AppResult<usize> {
    if count > HISTORY_MAX {
        return Err(AppError::invalid("count", format!("历史结算数应不超过 {HISTORY_MAX}")));
    }
    let (persons, insts) = app
        .db
        .read(|tx: &mut dyn Tx| {
            let n = yibao_store::enrollment::count_persons(tx, "3302")?;
            let insts = repo::institutions(tx, "3302")?;
            Ok::<_, AppError>((n, insts))
        })
        .await?;
    let hospitals: Vec<InstitutionCode> = insts
        .iter()
        .filter(|(_, kind, _)| kind == "hospital")
        .filter_map(|(code, _, _)| InstitutionCode::parse(code).ok())
        .collect();
    if persons == 0 || hospitals.is_empty() {
        return Err(AppError::Conflict("数据库中没有模拟人群，请先运行 yibao sim populate".into()));
    }
    let region = DivisionCode::parse(SIM_REGION).expect("region");
    let year = today.year() - 1;
    let mut rng = Rng::new(seed ^ 0x4157);
    let mut done = 0;
    while done < count {
        let n = HISTORY_PER_JOB.min(count - done);
        let mut rows = Vec::with_capacity(n);
        for _ in 0..n {
            let psn = 1 + rng.below(persons as u64);
            let date = Date::from_ymd(year, 1, 1).expect("date").add_days(rng.below(365) as i32);
            let medfee = Money::from_fen(500 + rng.below(60_000) as i64);
            let pool = medfee.mul_ratio(Ratio::percent(60 + rng.below(31) as u32));
            let cash = medfee - pool;
            let id = yibao_store::ids::next_id().to_string();
            rows.push(yibao_store::settlement::SettlementRecord {
                setl_id: id.clone(),
                mdtrt_id: format!("H{id}"),
                psn_no: format!("{SIM_REGION}{psn:014}"),
                insutype: Insutype::ResidentBasic,
                psn_type: PsnType::ResidentAdult,
                med_type: MedType::GeneralOutpatient,
                clr_type: MedType::GeneralOutpatient.clr_type(),
                clr_way: ClrWay::FeeForService,
                insu_admdvs: region,
                mdtrtarea_admvs: region,
                fixmedins_code: *rng.pick(&hospitals),
                medins_setl_id: format!("HIST{id}"),
                setl_time: DateTime::from_unix_ms(i64::from(date.days_since_epoch()) * 86_400_000 + 3_600_000),
                setl_date: date,
                scheme_year: year,
                amounts: yibao_store::settlement::Amounts {
                    medfee_sumamt: medfee,
                    inscp_scp_amt: medfee,
                    hifp_pay: pool,
                    fund_pay_sumamt: pool,
                    psn_part_amt: cash,
                    psn_cash_pay: cash,
                    ..Default::default()
                },
                pool_prop_selfpay: Ratio::ZERO,
                policy_id: 0,
                setldetail: "[]".into(),
                accumulator_delta: "{}".into(),
                reversal_of: None,
                reversed_by: None,
                msgid: repo::HISTORY_MSGID.into(),
            });
        }
        app.db
            .write(move |tx: &mut dyn Tx| {
                yibao_store::settlement::insert_many(tx, &rows, yibao_store::now_ms())?;
                Ok::<_, AppError>(())
            })
            .await?;
        done += n;
    }
    Ok(done)
}
