//! Who is acting, from where, and what they may do. Every use case that
//! changes state takes a [`Ctx`]; it is checked for permission and region
//! scope and recorded in the audit trail.

use yibao_domain::auth::{Permission, RegionScope, Role};

use crate::error::{AppError, AppResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    Staff,
    /// A designated institution over the national interface.
    Institution,
    /// An insured person through the public portal.
    Public,
    /// The platform itself (start-up, scheduled jobs, commands).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Staff => "staff",
            ActorKind::Institution => "institution",
            ActorKind::Public => "public",
            ActorKind::System => "system",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub scope: RegionScope,
}

#[derive(Clone, Debug)]
pub struct Ctx {
    pub actor: Actor,
    pub ip: String,
    pub request_id: String,
    pub now_ms: i64,
}

impl Ctx {
    /// The platform acting on its own behalf, with national scope, at
    /// `now_ms` (see [`crate::App::system_ctx`]).
    pub fn system_at(what: &str, now_ms: i64) -> Ctx {
        Ctx {
            actor: Actor {
                kind: ActorKind::System,
                id: "system".into(),
                name: what.into(),
                roles: vec![Role::Admin],
                scope: RegionScope::national(),
            },
            ip: String::new(),
            request_id: String::new(),
            now_ms,
        }
    }

    pub fn require(&self, permission: Permission) -> AppResult<()> {
        if self.actor.roles.iter().any(|r| r.grants(permission)) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("当前账号的角色无权执行此操作（需要 {permission:?} 权限）")))
        }
    }

    /// Refuses when `region` (a division code or prefix) lies outside the actor's scope.
    pub fn require_region(&self, region: &str) -> AppResult<()> {
        if self.actor.scope.covers(region) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "区划 {region} 不在当前账号的管辖范围（{}）内",
                if self.actor.scope.prefix().is_empty() { "全国" } else { self.actor.scope.prefix() }
            )))
        }
    }

    pub fn today(&self) -> yibao_domain::Date {
        yibao_domain::DateTime::from_unix_ms(self.now_ms).date()
    }
}
