//! The ledger under random sequences of business events, on a real database:
//! after every event the whole ledger balances, every account's balance (the
//! SQL aggregate the reports use) equals the sum of its entries' lines, the
//! balances as of any date equal the lines dated up to it, and the benefit
//! expense equals the fund parts of the settlement rows.

use std::collections::BTreeMap;

use proptest::prelude::*;
use yibao_app::AppError;
use yibao_app::fund::fixtures::{self, Bill, Visit};
use yibao_app::postings::{self, AccountCreditSource, AccountCredited, AccountWithdrawn};
use yibao_domain::codes::{Insutype, MedType};
use yibao_domain::division::DivisionCode;
use yibao_domain::fund::{Account, AccountKey, EntryKind, FundPays, Month};
use yibao_domain::{Date, Money};
use yibao_store::fund::{self as repo, EntryFilter, LineFilter};
use yibao_store::{Db, Tx};

#[derive(Clone, Debug)]
enum Event {
    Contribution {
        insutype: Insutype,
        employer: i64,
        personal: i64,
        subsidy: i64,
        assistance: i64,
        to_accounts: i64,
    },
    Settlement {
        cross: u8,
        resident: bool,
        inst: u8,
        med_type: MedType,
        medfee: i64,
        pays: [i64; 5],
    },
    Reversal {
        pick: usize,
    },
    SecondReversal {
        pick: usize,
    },
    Credit {
        source: u8,
        amount: i64,
    },
    Withdrawal {
        reason: u8,
        amount: i64,
    },
    /// Month close (月结) of the next open month.
    Close,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            prop::sample::select(vec![Insutype::EmployeeBasic, Insutype::ResidentBasic, Insutype::Maternity]),
            0i64..500_000,
            0i64..300_000,
            0i64..400_000,
            0i64..50_000,
            0i64..100
        )
            .prop_map(|(insutype, employer, personal, subsidy, assistance, pct)| {
                let (subsidy, assistance, to_accounts) = if insutype == Insutype::EmployeeBasic {
                    (0, 0, (employer + personal) * pct / 100)
                } else {
                    (subsidy, assistance, 0)
                };
                Event::Contribution { insutype, employer, personal: personal + 1, subsidy, assistance, to_accounts }
            }),
        (
            0u8..4,
            any::<bool>(),
            0u8..3,
            prop::sample::select(vec![
                MedType::GeneralOutpatient,
                MedType::GeneralInpatient,
                MedType::PharmacyPurchase
            ]),
            1i64..2_000_000,
            prop::array::uniform5(0i64..1_000)
        )
            .prop_map(|(cross, resident, inst, med_type, medfee, pays)| Event::Settlement {
                cross,
                resident,
                inst,
                med_type,
                medfee,
                pays
            }),
        any::<prop::sample::Index>().prop_map(|i| Event::Reversal { pick: i.index(1 << 16) }),
        any::<prop::sample::Index>().prop_map(|i| Event::SecondReversal { pick: i.index(1 << 16) }),
        (0u8..3, 1i64..100_000).prop_map(|(source, amount)| Event::Credit { source, amount }),
        (0u8..3, 1i64..100_000).prop_map(|(reason, amount)| Event::Withdrawal { reason, amount }),
        Just(Event::Close),
    ]
}

const INSTITUTIONS: [&str; 3] = ["H33020300001", "H33020500001", "P33010200001"];
const REGIONS: [&str; 3] = ["330200", "330100", "110100"];

fn d(s: &str) -> DivisionCode {
    DivisionCode::parse(s).unwrap()
}

/// Applies one event in its own job, as the owning module would.
fn apply(db: &Db, i: usize, e: &Event, settled: &mut Vec<(String, bool)>) -> Result<(), AppError> {
    let date = Date::parse("2026-09-01").unwrap().add_days((i % 60) as i32);
    match e.clone() {
        Event::Contribution { insutype, employer, personal, subsidy, assistance, to_accounts } => {
            let bill = Bill {
                bill_id: format!("B{i}"),
                region: d("330200"),
                insutype,
                paid_date: date,
                employer_share: Money::from_fen(employer),
                personal_share: Money::from_fen(personal),
                government_subsidy: Money::from_fen(subsidy),
                assistance_paid: Money::from_fen(assistance),
                to_personal_accounts: Money::from_fen(to_accounts),
            };
            db.write_blocking(move |tx: &mut dyn Tx| fixtures::contribute_in(tx, &bill))
        }
        Event::Settlement { cross, resident, inst, med_type, medfee, pays } => {
            // Fund parts in hundredths of the bill, so that they never exceed it.
            let part = |p: i64| Money::from_fen(medfee * p / 5_000);
            let pays = FundPays {
                hifp_pay: part(pays[0]),
                hifob_pay: if resident { Money::ZERO } else { part(pays[1]) },
                hifmi_pay: if resident { part(pays[1]) } else { Money::ZERO },
                maf_pay: part(pays[2]),
                cvlserv_pay: part(pays[3]),
                acct_pay: if resident { Money::ZERO } else { part(pays[4]) },
                ..FundPays::default()
            };
            let mut v = Visit::local(&format!("S{i}"), "2026-09-01", INSTITUTIONS[inst as usize], 0, 0);
            v.setl_date = date;
            v.medfee_sumamt = Money::from_fen(medfee);
            v.pays = pays;
            v.med_type = med_type;
            v.insutype = if resident { Insutype::ResidentBasic } else { Insutype::EmployeeBasic };
            // cross: 0 local, 1 insured elsewhere treated here, 2 insured here treated elsewhere, 3 both elsewhere.
            let (insured, treating) = match cross {
                0 => ("330200", "330200"),
                1 => (REGIONS[1 + i % 2], "330200"),
                2 => ("330200", REGIONS[1 + i % 2]),
                _ => ("330100", "110100"),
            };
            v.insu_admdvs = d(insured);
            v.mdtrtarea_admvs = d(treating);
            let id = v.setl_id.clone();
            db.write_blocking(move |tx: &mut dyn Tx| fixtures::settle_in(tx, &v).map(|_| ()))?;
            settled.push((id, false));
            Ok(())
        }
        Event::Reversal { pick } => {
            let open: Vec<usize> = (0..settled.len()).filter(|&k| !settled[k].1).collect();
            let Some(&k) = open.get(pick % open.len().max(1)) else { return Ok(()) };
            let original = settled[k].0.clone();
            let rid = format!("R{i}");
            db.write_blocking(move |tx: &mut dyn Tx| fixtures::reverse_in(tx, &original, &rid, date).map(|_| ()))?;
            settled[k].1 = true;
            Ok(())
        }
        Event::SecondReversal { pick } => {
            // The ledger itself refuses a second reversal of the same settlement.
            let done: Vec<usize> = (0..settled.len()).filter(|&k| settled[k].1).collect();
            let Some(&k) = done.get(pick % done.len().max(1)) else { return Ok(()) };
            let original = settled[k].0.clone();
            let rid = format!("RR{i}");
            let r = db.write_blocking(move |tx: &mut dyn Tx| {
                let o = yibao_store::settlement::get(tx, &original)?.unwrap();
                if (o.amounts.fund_pay_sumamt + o.amounts.acct_pay).is_zero() {
                    // Nothing was booked, so there is nothing to refuse.
                    return Err(AppError::Conflict("重复冲正".into()));
                }
                postings::settlement_posted(
                    tx,
                    &postings::SettlementPosted {
                        setl_id: rid.clone(),
                        reversal_of: Some(original.clone()),
                        setl_date: date,
                        insu_admdvs: o.insu_admdvs,
                        mdtrtarea_admvs: o.mdtrtarea_admvs,
                        fixmedins_code: o.fixmedins_code,
                        insutype: o.insutype,
                        med_type: o.med_type,
                        clr_type: o.clr_type,
                        amounts: o.amounts.negated(o.amounts.balc),
                    },
                )
            });
            match r {
                Err(AppError::Conflict(m)) => assert!(m.contains("重复冲正") || m.contains("没有记账凭证"), "{m}"),
                other => panic!("a second reversal must be refused: {other:?}"),
            }
            Ok(())
        }
        Event::Credit { source, amount } => {
            let source = [
                AccountCreditSource::RetireeAllocation,
                AccountCreditSource::TransferIn,
                AccountCreditSource::Interest,
            ][source as usize];
            let e = AccountCredited {
                reference: format!("C{i}"),
                psn_no: "33020000000000000001".into(),
                insu_admdvs: d("330200"),
                source,
                amount: Money::from_fen(amount),
                date,
            };
            db.write_blocking(move |tx: &mut dyn Tx| postings::account_credited(tx, &e))
        }
        Event::Close => {
            let ctx = yibao_app::Ctx::system_at("test", yibao_store::now_ms());
            let r = db.write_blocking(move |tx: &mut dyn Tx| {
                let next = match repo::closed_through(tx)? {
                    Some(c) => c.next(),
                    None => Month::parse("2026-08").unwrap(),
                };
                yibao_app::fund::close_month_in(tx, &ctx, next).map(|_| ())
            });
            match r {
                // A month that is not over yet cannot be closed.
                Err(AppError::Invalid(f)) if f[0].field == "month" => Ok(()),
                other => other,
            }
        }
        Event::Withdrawal { reason, amount } => {
            let e = AccountWithdrawn {
                reference: format!("W{i}"),
                psn_no: "33020000000000000001".into(),
                insu_admdvs: d("330200"),
                reason: ["transfer_out", "death", "emigration"][reason as usize].into(),
                amount: Money::from_fen(amount),
                date,
            };
            db.write_blocking(move |tx: &mut dyn Tx| postings::account_withdrawn(tx, &e))
        }
    }
}

/// Every line of the ledger, read entry by entry.
fn all_lines(db: &Db) -> Vec<(Date, AccountKey, Money)> {
    db.read_blocking(|tx: &mut dyn Tx| {
        let entries = repo::entries(tx, &EntryFilter { limit: 1_000_000, ..EntryFilter::default() })?;
        let mut out = Vec::new();
        for e in entries {
            e.entry.check().expect("stored entries balance");
            for l in e.entry.lines {
                out.push((e.entry.entry_date, l.key.clone(), l.signed()));
            }
        }
        Ok::<_, AppError>(out)
    })
    .unwrap()
}

fn check_ledger(db: &Db) {
    let lines = all_lines(db);
    let (debit, credit, bad) = db.read_blocking(|tx: &mut dyn Tx| Ok::<_, AppError>(repo::grand_totals(tx)?)).unwrap();
    assert_eq!(debit, credit, "trial balance is zero");
    assert_eq!(bad, 0);
    assert_eq!(lines.iter().map(|l| l.2).sum::<Money>(), Money::ZERO);
    let day = |s: &str| Some(Date::parse(s).unwrap());
    let ranges = [
        (None, None),
        (None, day("2026-09-15")),
        (None, day("2026-09-30")),
        (None, day("2026-10-31")),
        (day("2026-09-01"), day("2026-10-31")),
        (day("2026-09-16"), day("2026-10-15")),
        (day("2026-10-01"), None),
    ];
    for (from, to) in ranges {
        let mut expected: BTreeMap<AccountKey, Money> = BTreeMap::new();
        for (date, key, amount) in &lines {
            if to.is_none_or(|t| *date <= t) && from.is_none_or(|f| *date >= f) {
                *expected.entry(key.clone()).or_insert(Money::ZERO) += *amount;
            }
        }
        expected.retain(|_, m| !m.is_zero());
        let filter = LineFilter { from, to, ..LineFilter::default() };
        let totals =
            db.read_blocking(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::account_totals(tx, &filter)?)).unwrap();
        let mut got: BTreeMap<AccountKey, Money> = totals.into_iter().map(|t| (t.key.clone(), t.net())).collect();
        got.retain(|_, m| !m.is_zero());
        assert_eq!(got, expected, "each account's balance is the sum of its lines ({from:?} to {to:?})");
        if from.is_some() {
            continue;
        }
        // The report layer's identities hold too (it refuses otherwise).
        let filter = LineFilter { to, ..LineFilter::default() };
        db.read_blocking(move |tx: &mut dyn Tx| {
            let (accounts, d, c) = yibao_app::fund::balances_in(tx, &filter)?;
            assert_eq!(d, c);
            yibao_app::fund::positions(&accounts).map(|_| ())
        })
        .unwrap();
    }
    // Monthly movements (statements) are the lines grouped by month.
    let mut expected: BTreeMap<(String, AccountKey), Money> = BTreeMap::new();
    for (date, key, amount) in &lines {
        *expected.entry((date.to_string()[..7].to_owned(), key.clone())).or_insert(Money::ZERO) += *amount;
    }
    expected.retain(|_, m| !m.is_zero());
    let months = db
        .read_blocking(|tx: &mut dyn Tx| Ok::<_, AppError>(repo::monthly_totals(tx, &LineFilter::default())?))
        .unwrap();
    let mut got: BTreeMap<(String, AccountKey), Money> =
        months.into_iter().map(|(m, t)| ((m, t.key.clone()), t.net())).collect();
    got.retain(|_, m| !m.is_zero());
    assert_eq!(got, expected, "monthly movements are the lines grouped by month");
    // The ledger's benefit expense is what the settlement rows say the funds paid.
    let (ledger_expense, rows_paid) = db
        .read_blocking(|tx: &mut dyn Tx| {
            let f = LineFilter { account: Some(Account::ExpenseBenefit), ..LineFilter::default() };
            let e: Money = repo::account_totals(tx, &f)?.iter().map(|t| t.net()).sum();
            let r = tx.query_one(
                "SELECT CAST(COALESCE(SUM(fund_pay_sumamt_fen + acct_pay_fen), 0) AS BIGINT) FROM settlement",
                yibao_store::params![],
            )?;
            Ok::<_, AppError>((e, r.money(0)?))
        })
        .unwrap();
    assert_eq!(ledger_expense, rows_paid, "benefit expense = fund parts of the settlement rows");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_of_events_keeps_the_ledger_balanced(events in prop::collection::vec(event(), 1..30)) {
        let db = yibao_store::testing::sqlite();
        let mut settled = Vec::new();
        for (i, e) in events.iter().enumerate() {
            match apply(&db, i, e, &mut settled) {
                Ok(()) => {}
                // Bad events are refused with a field and write nothing.
                Err(AppError::Invalid(fields)) => prop_assert!(!fields.is_empty()),
                Err(other) => return Err(TestCaseError::fail(format!("{e:?}: {other}"))),
            }
            check_ledger(&db);
        }
        // Reversed settlements leave nothing behind in their institution's payable.
        let lines = all_lines(&db);
        let reversed = db.read_blocking(|tx: &mut dyn Tx| {
            Ok::<_, AppError>(repo::entries(tx, &EntryFilter { kind: Some(EntryKind::Reversal), limit: 10_000, ..EntryFilter::default() })?)
        }).unwrap();
        for r in reversed {
            let original = r.entry.reverses.clone().unwrap();
            let o = db.read_blocking(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::entry_by_reference(tx, EntryKind::Settlement, &original)?)).unwrap().unwrap();
            prop_assert_eq!(o.entry.lines.len(), r.entry.lines.len());
            for (a, b) in o.entry.lines.iter().zip(&r.entry.lines) {
                prop_assert_eq!(&a.key, &b.key);
                prop_assert_eq!(a.side, b.side);
                prop_assert_eq!(a.amount, -b.amount);
            }
        }
        prop_assert!(lines.iter().all(|l| !l.2.is_zero()));
    }
}

/// The same checks on PostgreSQL for one fixed sequence, when configured.
#[test]
fn fixed_sequence_on_postgres() {
    let Some(db) = yibao_store::testing::postgres() else {
        eprintln!("{} not set: PostgreSQL test skipped", yibao_store::testing::TEST_DATABASE_URL_ENV);
        return;
    };
    let events = vec![
        Event::Contribution {
            insutype: Insutype::EmployeeBasic,
            employer: 80_000,
            personal: 20_000,
            subsidy: 0,
            assistance: 0,
            to_accounts: 20_000,
        },
        Event::Contribution {
            insutype: Insutype::ResidentBasic,
            employer: 0,
            personal: 38_000,
            subsidy: 67_000,
            assistance: 10_000,
            to_accounts: 0,
        },
        Event::Settlement {
            cross: 0,
            resident: false,
            inst: 0,
            med_type: MedType::GeneralInpatient,
            medfee: 1_000_000,
            pays: [3_000, 200, 0, 100, 150],
        },
        Event::Settlement {
            cross: 1,
            resident: true,
            inst: 1,
            med_type: MedType::GeneralOutpatient,
            medfee: 30_000,
            pays: [2_000, 100, 50, 0, 0],
        },
        Event::Settlement {
            cross: 2,
            resident: false,
            inst: 2,
            med_type: MedType::PharmacyPurchase,
            medfee: 8_000,
            pays: [0, 0, 0, 0, 900],
        },
        Event::Reversal { pick: 1 },
        Event::SecondReversal { pick: 0 },
        Event::Credit { source: 0, amount: 12_000 },
        Event::Withdrawal { reason: 1, amount: 5_000 },
        Event::Close,
        Event::Close,
        Event::Settlement {
            cross: 0,
            resident: false,
            inst: 0,
            med_type: MedType::GeneralInpatient,
            medfee: 500_000,
            pays: [3_000, 0, 0, 0, 0],
        },
        Event::Reversal { pick: 0 },
    ];
    let mut settled = Vec::new();
    for (i, e) in events.iter().enumerate() {
        apply(&db, i, e, &mut settled).unwrap();
        check_ledger(&db);
    }
    // August and September were closed; the settlement dated in September
    // after the close was booked on the first open day, keeping its date in the memo.
    let (closed, snapshot_rows, late) = db
        .read_blocking(|tx: &mut dyn Tx| {
            let closed = repo::closed_through(tx)?;
            let n = tx.query_one("SELECT COUNT(*) FROM fund_month_balance", yibao_store::params![])?.i64(0)?;
            let late = repo::entry_by_reference(tx, EntryKind::Settlement, "S11")?.unwrap();
            Ok::<_, AppError>((closed, n, late))
        })
        .unwrap();
    assert_eq!(closed, Some(Month::parse("2026-09").unwrap()));
    assert!(snapshot_rows > 0);
    assert_eq!(late.entry.entry_date.to_string(), "2026-10-01");
    assert!(late.entry.memo.contains("业务日期 2026-09-12"), "{}", late.entry.memo);
}

/// Throughput of the hot path: a settlement row and its posting in one job,
/// many jobs in flight, on SQLite with durable commits (synchronous=NORMAL in
/// WAL) and group commit. Not run by default (timing depends on the machine):
/// `cargo test -p yibao-app --release --test fund_ledger -- --ignored --nocapture`.
#[test]
#[ignore]
fn settlement_posting_throughput_on_sqlite() {
    const SETTLEMENTS: usize = 20_000;
    let path = std::env::temp_dir().join(format!("yibao-fund-bench-{}.db", std::process::id()));
    let db = Db::open(&yibao_store::DbConfig::sqlite(&path, yibao_store::Synchronous::Normal)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let started = std::time::Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::with_capacity(SETTLEMENTS);
        for i in 0..SETTLEMENTS {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let mut v = Visit::local(&format!("T{i}"), "2026-10-08", INSTITUTIONS[i % 2], 300, 150);
                v.pays.acct_pay = Money::from_yuan(20);
                if i % 3 == 0 {
                    v.pays.hifob_pay = Money::from_yuan(30);
                }
                db.write(move |tx: &mut dyn Tx| fixtures::settle_in(tx, &v).map(|_| ())).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    let elapsed = started.elapsed();
    eprintln!(
        "{SETTLEMENTS} settlements with their postings in {:.2?}: {} per second",
        elapsed,
        SETTLEMENTS as u128 * 1000 / elapsed.as_millis().max(1)
    );
    check_ledger(&db);
    drop(db);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}
