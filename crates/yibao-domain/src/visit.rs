//! 就诊: a visit's life from registration (or admission) to settlement, and
//! the rules on which message may come when.
//!
//! Outpatient:  2201 register → 2203 visit info → 2204 fee lines (2205 cancels
//!              a batch) → 2206 pre-settle (any number) → 2207 settle →
//!              2208 cancel settlement (back to open) → 2202 cancel registration.
//! Inpatient:   2401 admit → 2301 fee lines (repeatable; 2302 cancels) →
//!              2402 discharge (2405 cancels it) → 2303 pre-settle → 2304
//!              settle → 2305 cancel settlement; 2403 changes admission data;
//!              2404 cancels an admission that has nothing on it.
//! Pharmacy:    2101 pre-settle and 2102 settle carry their fee lines; 2103
//!              cancels.
//!
//! The state is derived from stored facts (active fee lines, settlements,
//! discharge, cancellation), so there is no way for it to disagree with them.

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Parsed};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitKind {
    Outpatient,
    Inpatient,
    Pharmacy,
}

impl VisitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VisitKind::Outpatient => "outpatient",
            VisitKind::Inpatient => "inpatient",
            VisitKind::Pharmacy => "pharmacy",
        }
    }

    pub fn parse(text: &str) -> Parsed<VisitKind> {
        match text {
            "outpatient" => Ok(VisitKind::Outpatient),
            "inpatient" => Ok(VisitKind::Inpatient),
            "pharmacy" => Ok(VisitKind::Pharmacy),
            _ => Err(FieldError::new("kind", format!("就诊类型“{text}”无效"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            VisitKind::Outpatient => "门诊",
            VisitKind::Inpatient => "住院",
            VisitKind::Pharmacy => "药店购药",
        }
    }
}

/// The facts a visit's state is derived from.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct VisitFacts {
    /// The registration or admission was cancelled (2202 / 2404).
    pub cancelled: bool,
    /// Fee lines not cancelled.
    pub active_lines: u32,
    /// A settlement that has not been reversed exists.
    pub settled: bool,
    /// Discharged (2402) and not un-discharged (2405).
    pub discharged: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitState {
    /// Registered or admitted; no fee lines.
    Registered,
    /// Fee lines uploaded (a pre-settlement, 2206, changes nothing).
    DetailsUploaded,
    Settled,
    Cancelled,
}

impl VisitState {
    pub fn of(facts: &VisitFacts) -> VisitState {
        if facts.cancelled {
            VisitState::Cancelled
        } else if facts.settled {
            VisitState::Settled
        } else if facts.active_lines == 0 {
            VisitState::Registered
        } else {
            VisitState::DetailsUploaded
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            VisitState::Registered => "已登记",
            VisitState::DetailsUploaded => "已上传费用明细",
            VisitState::Settled => "已结算",
            VisitState::Cancelled => "已撤销",
        }
    }
}

/// What a message wants to do to a visit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VisitAction {
    /// 2203 / 2403: visit or admission information.
    UpdateInfo,
    /// 2204 / 2301.
    UploadDetails,
    /// 2205 / 2302.
    CancelDetails,
    /// 2402.
    Discharge,
    /// 2405.
    CancelDischarge,
    /// 2206 / 2303 / 2101.
    PreSettle,
    /// 2207 / 2304 / 2102; `mid_settlement` for 中途结算 of a stay.
    Settle { mid_settlement: bool },
    /// 2208 / 2305 / 2103.
    CancelSettlement,
    /// 2202 / 2404.
    CancelRegistration,
}

/// Whether `action` is allowed on a visit of `kind` with `facts`; the error
/// says why not, for the HIS operator.
pub fn check(kind: VisitKind, facts: &VisitFacts, action: VisitAction) -> Parsed<()> {
    let state = VisitState::of(facts);
    let refuse = |reason: String| Err(FieldError::new("mdtrt_id", reason));
    if state == VisitState::Cancelled {
        return refuse("就诊已撤销，不能再办理业务".into());
    }
    match action {
        VisitAction::UpdateInfo | VisitAction::UploadDetails | VisitAction::CancelDetails => {
            if state == VisitState::Settled {
                return refuse(format!("就诊{}，请先撤销结算", state.name()));
            }
            if kind == VisitKind::Inpatient && facts.discharged && action != VisitAction::UpdateInfo {
                return refuse("已办理出院，请先撤销出院再变更费用明细".into());
            }
            Ok(())
        }
        VisitAction::Discharge => {
            if kind != VisitKind::Inpatient {
                return refuse("出院办理只适用于住院就诊".into());
            }
            if facts.discharged {
                return refuse("已办理出院".into());
            }
            if state == VisitState::Settled {
                return refuse("已结算，请先撤销结算".into());
            }
            Ok(())
        }
        VisitAction::CancelDischarge => {
            if kind != VisitKind::Inpatient || !facts.discharged {
                return refuse("未办理出院，无需撤销".into());
            }
            if state == VisitState::Settled {
                return refuse("已结算，请先撤销结算再撤销出院".into());
            }
            Ok(())
        }
        VisitAction::PreSettle | VisitAction::Settle { .. } => {
            if state == VisitState::Settled {
                return refuse("就诊已结算".into());
            }
            if facts.active_lines == 0 {
                return refuse("没有可结算的费用明细，请先上传费用明细".into());
            }
            if let VisitAction::Settle { mid_settlement } = action
                && kind == VisitKind::Inpatient
                && !mid_settlement
                && !facts.discharged
            {
                return refuse("住院结算前须办理出院（中途结算请设置中途结算标志）".into());
            }
            Ok(())
        }
        VisitAction::CancelSettlement => {
            if state != VisitState::Settled {
                return refuse("就诊未结算，无需撤销".into());
            }
            Ok(())
        }
        VisitAction::CancelRegistration => {
            if state == VisitState::Settled {
                return refuse("就诊已结算，请先撤销结算".into());
            }
            if facts.active_lines > 0 {
                return refuse("就诊仍有费用明细，请先撤销费用明细".into());
            }
            if facts.discharged {
                return refuse("已办理出院，请先撤销出院".into());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(lines: u32, settled: bool, discharged: bool) -> VisitFacts {
        VisitFacts { cancelled: false, active_lines: lines, settled, discharged }
    }

    #[test]
    fn outpatient_flow() {
        let k = VisitKind::Outpatient;
        assert!(check(k, &facts(0, false, false), VisitAction::PreSettle).is_err(), "nothing to settle");
        assert!(check(k, &facts(0, false, false), VisitAction::UploadDetails).is_ok());
        assert!(check(k, &facts(3, false, false), VisitAction::PreSettle).is_ok());
        assert!(check(k, &facts(3, false, false), VisitAction::Settle { mid_settlement: false }).is_ok());
        let settled = facts(3, true, false);
        assert!(check(k, &settled, VisitAction::UploadDetails).is_err());
        assert!(check(k, &settled, VisitAction::Settle { mid_settlement: false }).is_err());
        assert!(check(k, &settled, VisitAction::CancelRegistration).is_err());
        assert!(check(k, &settled, VisitAction::CancelSettlement).is_ok());
        assert!(check(k, &facts(3, false, false), VisitAction::CancelSettlement).is_err());
        assert!(check(k, &facts(3, false, false), VisitAction::CancelRegistration).is_err(), "details first");
        assert!(check(k, &facts(0, false, false), VisitAction::CancelRegistration).is_ok());
        let cancelled = VisitFacts { cancelled: true, ..facts(0, false, false) };
        let e = check(k, &cancelled, VisitAction::UploadDetails).unwrap_err();
        assert_eq!(e.field, "mdtrt_id");
        assert!(e.reason.contains("已撤销"));
    }

    #[test]
    fn inpatient_needs_discharge_unless_mid_settlement() {
        let k = VisitKind::Inpatient;
        let open = facts(10, false, false);
        assert!(check(k, &open, VisitAction::Settle { mid_settlement: false }).is_err());
        assert!(check(k, &open, VisitAction::Settle { mid_settlement: true }).is_ok());
        assert!(check(k, &open, VisitAction::Discharge).is_ok());
        let out = facts(10, false, true);
        assert!(check(k, &out, VisitAction::Settle { mid_settlement: false }).is_ok());
        assert!(check(k, &out, VisitAction::UploadDetails).is_err(), "un-discharge first");
        assert!(check(k, &out, VisitAction::Discharge).is_err());
        assert!(check(k, &out, VisitAction::CancelDischarge).is_ok());
        assert!(check(k, &facts(10, true, true), VisitAction::CancelDischarge).is_err());
        assert!(check(VisitKind::Outpatient, &open, VisitAction::Discharge).is_err());
    }

    #[test]
    fn state_is_derived_from_facts() {
        assert_eq!(VisitState::of(&facts(0, false, false)), VisitState::Registered);
        assert_eq!(VisitState::of(&facts(2, false, false)), VisitState::DetailsUploaded);
        assert_eq!(VisitState::of(&facts(2, true, false)), VisitState::Settled);
    }
}
