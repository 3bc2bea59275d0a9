//! A visit's active fee lines come back in upload order (upload time, then
//! serial byte by byte) on every backend. `active_lines` sorts them itself
//! instead of asking the database to, so this pins the order it promises:
//! the settlement and its details follow it. The line cache builds the same
//! list by merging uploads (`VisitLines::with_added`); it is checked against
//! the database here, and every write of lines gives the visit a new version.

use std::sync::Arc;

use yibao_domain::DateTime;
use yibao_domain::codes::{Insutype, MdtrtCertType, MedType};
use yibao_domain::division::DivisionCode;
use yibao_domain::institution::InstitutionCode;
use yibao_domain::visit::{VisitFacts, VisitKind};
use yibao_store::line_cache::{LineCache, LineCacheChange, VisitLines};
use yibao_store::visit::{
    FeeLineRow, VisitRow, active_lines, active_lines_of, cancel_lines, reactivate_lines, upsert_lines,
};
use yibao_store::{DbError, Tx, testing};

/// Visit M1 of person P1, as a write job holds it (it need not be stored:
/// the lines are written under its identifiers).
fn visit() -> VisitRow {
    VisitRow {
        mdtrt_id: "M1".to_owned(),
        kind: VisitKind::Outpatient,
        fixmedins_code: InstitutionCode::parse("H33020300001").unwrap(),
        psn_no: "P1".to_owned(),
        insutype: Insutype::EmployeeBasic,
        med_type: MedType::GeneralOutpatient,
        insu_admdvs: DivisionCode::parse("330200").unwrap(),
        mdtrtarea_admvs: DivisionCode::parse("330200").unwrap(),
        mdtrt_cert_type: MdtrtCertType::IdCard,
        ipt_otp_no: "O1".to_owned(),
        begntime: DateTime::parse("2026-11-24 08:00:00").unwrap(),
        endtime: None,
        facts: VisitFacts::default(),
        settled_setl_id: None,
        info: "{}".to_owned(),
        diagnoses: "[]".to_owned(),
        discharge_info: None,
        coverage: None,
        lines_version: 0,
    }
}

fn line(feedetl_sn: &str, chrg_bchno: &str) -> FeeLineRow {
    testing::fee_line("M1", feedetl_sn, chrg_bchno)
}

fn serials(lines: &[FeeLineRow]) -> Vec<&str> {
    lines.iter().map(|l| l.feedetl_sn.as_str()).collect()
}

#[test]
fn active_lines_come_in_upload_time_then_serial_order_on_every_backend() {
    for db in testing::backends() {
        let backend = db.backend();
        // Uploaded later but stamped earlier: time decides before serial.
        // "a10" sorts before "a9" byte by byte.
        // The cache's list is built alongside by merging each upload into
        // the last, as 2204 does.
        let merged = db
            .write_blocking(|tx: &mut dyn Tx| {
                let mut v = visit();
                let mut versions = vec![v.lines_version];
                let mut merged = VisitLines::from_keyed("M1", 0, Vec::new());
                for (lines, at_ms) in [
                    (vec![line("b", "B1"), line("a9", "B1"), line("a10", "B1")], 2_000),
                    (vec![line("z", "B2"), line("c", "B2")], 1_000),
                ] {
                    upsert_lines(tx, &mut v, &lines, at_ms)?;
                    versions.push(v.lines_version);
                    merged = merged.with_added(v.lines_version, at_ms, lines);
                }
                upsert_lines(tx, &mut v, &[line("d", "B3")], 3_000)?;
                versions.push(v.lines_version);
                cancel_lines(tx, &mut v, Some("B3"), &[])?;
                versions.push(v.lines_version);
                assert!(
                    versions.windows(2).all(|w| w[0] < w[1]),
                    "every write of lines is a new version: {versions:?}"
                );
                Ok::<_, DbError>(merged)
            })
            .unwrap();
        assert_eq!(serials(merged.lines()), ["c", "z", "a10", "a9", "b"], "{backend:?}: merged by the cache");
        let (all, batch) = db
            .read_blocking(|tx: &mut dyn Tx| {
                Ok::<_, DbError>((active_lines(tx, "M1", None)?, active_lines(tx, "M1", Some("B1"))?))
            })
            .unwrap();
        assert_eq!(serials(&all), ["c", "z", "a10", "a9", "b"], "{backend:?}: every active line");
        assert_eq!(merged.lines(), all.as_slice(), "{backend:?}: the cache's merge is the database's read");
        assert_eq!(serials(&batch), ["a10", "a9", "b"], "{backend:?}: one charge batch");
        // In a write job too (on PostgreSQL, its reads may be answered from
        // a prefetch; the order must not depend on it).
        let written = db
            .write_blocking(|tx: &mut dyn Tx| {
                tx.prefetch(&[yibao_store::visit::active_lines_read("M1", None)])?;
                active_lines(tx, "M1", None)
            })
            .unwrap();
        assert_eq!(serials(&written), ["c", "z", "a10", "a9", "b"], "{backend:?}: in a write job");
    }
}

/// The cache answers only at the visit's version, and only what was
/// installed after a commit; a reactivation (2601 of a cancellation) is a
/// new version too.
#[test]
fn the_line_cache_answers_only_at_the_visits_version_on_every_backend() {
    for db in testing::backends() {
        let backend = db.backend();
        let cache = LineCache::default();
        let (v, uploaded) = db
            .write_blocking(|tx: &mut dyn Tx| {
                let mut v = visit();
                let lines = vec![line("a", "B1"), line("b", "B1")];
                upsert_lines(tx, &mut v, &lines, 1_000)?;
                let uploaded = VisitLines::from_keyed("M1", 0, Vec::new()).with_added(v.lines_version, 1_000, lines);
                Ok::<_, DbError>((v, uploaded))
            })
            .unwrap();
        cache.apply(LineCacheChange::Install(Arc::new(uploaded.clone())));
        let (hits, misses) = (cache.hits(), cache.misses());
        let read =
            db.read_blocking(move |tx: &mut dyn Tx| active_lines_of(tx, &cache, &v).map(|l| (l, cache))).unwrap();
        let (got, cache) = read;
        assert_eq!(*got, uploaded, "{backend:?}");
        assert_eq!((cache.hits(), cache.misses()), (hits + 1, misses), "{backend:?}: answered from the cache");

        // Cancel one line and put it back: two new versions; the entry of
        // the upload no longer answers.
        let old_version = uploaded.version;
        let (v2, cancelled) = db
            .write_blocking(move |tx: &mut dyn Tx| {
                let mut v = visit();
                v.lines_version = old_version;
                cancel_lines(tx, &mut v, None, &["a".to_owned()])?;
                let cancelled = v.lines_version;
                reactivate_lines(tx, &mut v, &["a".to_owned()])?;
                Ok::<_, DbError>((v, cancelled))
            })
            .unwrap();
        assert!(old_version < cancelled && cancelled < v2.lines_version, "{backend:?}: two new versions");
        let misses = cache.misses();
        let again =
            db.read_blocking(move |tx: &mut dyn Tx| active_lines_of(tx, &cache, &v2).map(|l| (l, cache))).unwrap();
        let (got, cache) = again;
        assert_eq!(serials(got.lines()), ["a", "b"], "{backend:?}: read from the database");
        assert_eq!(cache.misses(), misses + 1, "{backend:?}: another version is a miss");
    }
}
