//! Staff roles, permissions and region scopes.
//!
//! Every staff account has one or more roles and exactly one region scope: a
//! division-code prefix ("" national, "33" a province, "3302" a city,
//! "330203" a county). A request that touches data of a region outside the
//! scope is refused, whatever the role.

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Parsed};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 经办: front-desk business (enrollment, manual reimbursement)
    Clerk,
    /// 审核: reviews applications and flagged settlements
    Reviewer,
    /// 财务: fund accounting, clearing, payments
    Finance,
    /// 监管: supervision, risk control, read-only on most data
    Supervisor,
    /// 管理员: staff accounts, catalogs, policies, institutions
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Clerk, Role::Reviewer, Role::Finance, Role::Supervisor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Reviewer => "reviewer",
            Role::Finance => "finance",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Clerk => "经办",
            Role::Reviewer => "审核",
            Role::Finance => "财务",
            Role::Supervisor => "监管",
            Role::Admin => "管理员",
        }
    }

    pub fn parse(text: &str) -> Parsed<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text || r.name() == text).ok_or_else(|| {
            FieldError::new("roles", format!("角色“{text}”无效，应为 clerk、reviewer、finance、supervisor 或 admin"))
        })
    }
}

/// What a staff member may do. Reading the public catalog needs no permission.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read persons, enrollments, institutions, settlements in scope.
    ReadBusiness,
    /// Enroll, stop, transfer; register employers; record payments.
    WriteEnrollment,
    /// Register and change institutions, agreements, credentials.
    WriteInstitution,
    /// Change catalogs and regional overrides.
    WriteCatalog,
    /// Create and change policies.
    WritePolicy,
    /// Fund ledger: clearing runs, payments, reconciliation.
    WriteFund,
    /// Read fund balances and statements.
    ReadFund,
    /// Read the audit trail.
    ReadAudit,
    /// Manage staff accounts.
    ManageStaff,
}

impl Role {
    pub fn grants(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Clerk => matches!(p, ReadBusiness | WriteEnrollment),
            Role::Reviewer => matches!(p, ReadBusiness | WriteInstitution),
            Role::Finance => matches!(p, ReadBusiness | ReadFund | WriteFund),
            Role::Supervisor => matches!(p, ReadBusiness | ReadFund | ReadAudit),
        }
    }
}

/// A division-code prefix bounding what a staff member can see and change.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct RegionScope(String);

impl RegionScope {
    pub fn national() -> RegionScope {
        RegionScope(String::new())
    }

    pub fn parse(text: &str) -> Parsed<RegionScope> {
        let t = text.trim();
        if ![0, 2, 4, 6].contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("region_scope", "区划范围应为空（全国）或2位（省）、4位（市）、6位（县）数字"));
        }
        Ok(RegionScope(t.to_owned()))
    }

    pub fn prefix(&self) -> &str {
        &self.0
    }

    /// True when a region code (6 digits) or a narrower prefix lies inside this scope.
    pub fn covers(&self, region: &str) -> bool {
        region.starts_with(&self.0)
    }

    /// True when `other` is this scope or narrower (an admin may only create
    /// staff inside their own scope).
    pub fn contains_scope(&self, other: &RegionScope) -> bool {
        other.0.starts_with(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_covers_by_prefix() {
        let city = RegionScope::parse("3302").unwrap();
        assert!(city.covers("330203"));
        assert!(city.covers("330299"));
        assert!(!city.covers("330102"));
        assert!(RegionScope::national().covers("110105"));
        assert!(city.contains_scope(&RegionScope::parse("330203").unwrap()));
        assert!(!city.contains_scope(&RegionScope::parse("33").unwrap()));
        assert_eq!(RegionScope::parse("330").unwrap_err().field, "region_scope");
    }

    #[test]
    fn roles_grant_least_privilege() {
        assert!(Role::Admin.grants(Permission::ManageStaff));
        assert!(!Role::Clerk.grants(Permission::WriteFund));
        assert!(Role::Finance.grants(Permission::WriteFund));
        assert!(!Role::Supervisor.grants(Permission::WritePolicy));
        assert!(Role::Supervisor.grants(Permission::ReadAudit));
        assert_eq!(Role::parse("财务").unwrap(), Role::Finance);
        assert!(Role::parse("root").is_err());
    }
}
