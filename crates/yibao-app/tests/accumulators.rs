//! Year-to-date accumulators in storage: every settlement's delta is added,
//! every reversal takes it back out exactly, on both databases.

use yibao_app::AppError;
use yibao_app::demo::Rng;
use yibao_app::settlement::{apply_accumulators, revert_accumulators};
use yibao_domain::Money;
use yibao_domain::codes::Insutype;
use yibao_domain::settlement::{AccumulatorDelta, Accumulators};
use yibao_store::policy::{AccumulatorKey, accumulators};
use yibao_store::{Tx, testing};

fn random_delta(rng: &mut Rng) -> AccumulatorDelta {
    let m = |rng: &mut Rng| Money::from_fen(rng.below(5_000_000) as i64);
    let mut d = AccumulatorDelta { deductible_paid_total: m(rng), ..Default::default() };
    d.deductible_paid.inpatient = d.deductible_paid_total;
    d.pool_paid.main = m(rng);
    d.hifmi_base = m(rng);
    d.hifmi_paid = m(rng);
    d.maf_paid[0] = m(rng);
    d.maf_paid_total = d.maf_paid[0];
    d.admissions = rng.below(2) as u32;
    d.medfee_total = m(rng);
    d
}

fn key() -> AccumulatorKey {
    AccumulatorKey { psn_no: "33020000000000000001".into(), insutype: Insutype::ResidentBasic, year: 2026 }
}

#[test]
fn apply_then_revert_in_any_order_restores_exactly() {
    for db in testing::backends() {
        let mut rng = Rng::new(11);
        let deltas: Vec<AccumulatorDelta> = (0..40).map(|_| random_delta(&mut rng)).collect();
        let mut expected = Accumulators::default();
        for d in &deltas {
            let d = *d;
            let stored =
                db.write_blocking(move |tx: &mut dyn Tx| apply_accumulators(tx, &key(), "330200", &d, 1)).unwrap();
            expected.apply(&d);
            assert_eq!(stored, expected, "{:?}", db.backend());
        }
        // Revert in a shuffled order; the state always equals the sum of what remains.
        let mut order: Vec<usize> = (0..deltas.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for i in order {
            let d = deltas[i];
            let stored =
                db.write_blocking(move |tx: &mut dyn Tx| revert_accumulators(tx, &key(), "330200", &d, 2)).unwrap();
            expected.revert(&d).unwrap();
            assert_eq!(stored, expected);
        }
        assert_eq!(expected, Accumulators::default());
        let (state, version) = db.read_blocking(|tx: &mut dyn Tx| accumulators(tx, &key())).unwrap();
        assert_eq!(state, Accumulators::default());
        assert_eq!(version, 80, "one version per change");
    }
}

#[test]
fn an_impossible_reversal_is_refused_and_changes_nothing() {
    for db in testing::backends() {
        let mut rng = Rng::new(5);
        let d = random_delta(&mut rng);
        db.write_blocking(move |tx: &mut dyn Tx| apply_accumulators(tx, &key(), "330200", &d, 1)).unwrap();
        let mut too_much = d;
        too_much.hifmi_paid += Money::from_fen(1);
        let r = db.write_blocking(move |tx: &mut dyn Tx| revert_accumulators(tx, &key(), "330200", &too_much, 2));
        assert!(matches!(r, Err(AppError::Conflict(_))), "{r:?}");
        let (state, version) = db.read_blocking(|tx: &mut dyn Tx| accumulators(tx, &key())).unwrap();
        let mut expected = Accumulators::default();
        expected.apply(&d);
        assert_eq!(state, expected);
        assert_eq!(version, 1);
    }
}
