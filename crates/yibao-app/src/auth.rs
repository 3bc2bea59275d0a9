//! Staff authentication: argon2 password hashes, bearer session tokens with
//! an expiry, roles and region scopes. There is no built-in account: the
//! first administrator is created by `yibao staff create` (or by the demo).

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use yibao_domain::auth::{Permission, RegionScope, Role};
use yibao_store::Tx;
use yibao_store::auth::{self as repo, Staff};

use crate::App;
use crate::audit::{self, Change};
use crate::ctx::{Actor, ActorKind, Ctx};
use crate::error::{AppError, AppResult};

/// Prefix of session tokens, so a leaked token is recognisable in a scan.
pub const TOKEN_PREFIX: &str = "ybs_";
pub const PASSWORD_CHARS_MIN: usize = 10;
pub const PASSWORD_CHARS_MAX: usize = 128;
const USERNAME_CHARS_MAX: usize = 40;

pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> AppResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

fn check_password_policy(password: &str) -> AppResult<()> {
    let n = password.chars().count();
    if !(PASSWORD_CHARS_MIN..=PASSWORD_CHARS_MAX).contains(&n) {
        return Err(AppError::invalid(
            "password",
            format!("密码长度应为{PASSWORD_CHARS_MIN}到{PASSWORD_CHARS_MAX}个字符"),
        ));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|&&b| b).count() < 2 {
        return Err(AppError::invalid("password", "密码应至少包含字母、数字、符号中的两类"));
    }
    Ok(())
}

/// Hashes on a blocking thread: argon2 is deliberately slow (tens of ms).
pub async fn hash_password(password: &str) -> AppResult<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let password = password.to_owned();
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A staff account as the API shows it (never the hash).
#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct StaffView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub region_scope: String,
    pub active: bool,
}

impl From<&Staff> for StaffView {
    fn from(s: &Staff) -> StaffView {
        StaffView {
            id: s.id,
            username: s.username.clone(),
            display_name: s.display_name.clone(),
            roles: s.roles.clone(),
            region_scope: s.region_scope.prefix().to_owned(),
            active: s.active,
        }
    }
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct Session {
    pub token: String,
    pub token_type: &'static str,
    pub expires_at_ms: i64,
    pub staff: StaffView,
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
}

fn actor_of(staff: &Staff) -> Actor {
    Actor {
        kind: ActorKind::Staff,
        id: staff.id.to_string(),
        name: staff.username.clone(),
        roles: staff.roles.clone(),
        scope: staff.region_scope.clone(),
    }
}

/// Logs in; the same answer for an unknown user and a wrong password.
pub async fn login(app: &App, ctx: &Ctx, input: Login) -> AppResult<Session> {
    let username = input.username.trim().to_owned();
    if username.is_empty() || username.chars().count() > USERNAME_CHARS_MAX {
        return Err(AppError::invalid("username", "用户名不能为空且不超过40个字符"));
    }
    if input.password.is_empty() || input.password.chars().count() > PASSWORD_CHARS_MAX {
        return Err(AppError::invalid("password", "密码不能为空且不超过128个字符"));
    }
    let lookup = username.clone();
    let staff = app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::by_username(tx, &lookup)?)).await?;
    let ok = match &staff {
        Some(s) if s.active => verify_password(&input.password, &s.password_hash).await,
        _ => {
            // Spend the same time as a real check, so timing does not reveal which usernames exist.
            let _ = verify_password(&input.password, &dummy_hash().await?).await;
            false
        }
    };
    let mut ctx = ctx.clone();
    ctx.actor.name = username.clone();
    if !ok {
        let id = username.clone();
        app.db
            .write(move |tx: &mut dyn Tx| {
                audit::record_rejected(
                    tx,
                    &ctx,
                    Change {
                        action: "auth.login",
                        target_kind: "staff",
                        target_id: &id,
                        region: "",
                        before: None,
                        after: None,
                    },
                    "用户名或密码错误",
                )
            })
            .await?;
        return Err(AppError::Unauthorized("用户名或密码错误".into()));
    }
    let staff = staff.expect("verified");
    let token = random_token()?;
    let hash = token_sha256(&token);
    let expires_at_ms = ctx.now_ms + app.config.session_ttl_ms;
    let view = StaffView::from(&staff);
    ctx.actor = actor_of(&staff);
    let staff_id = staff.id;
    let region = staff.region_scope.prefix().to_owned();
    app.db
        .write(move |tx: &mut dyn Tx| {
            repo::insert_session(tx, &hash, staff_id, ctx.now_ms, expires_at_ms)?;
            audit::record(
                tx,
                &ctx,
                Change {
                    action: "auth.login",
                    target_kind: "staff",
                    target_id: &staff_id.to_string(),
                    region: &region,
                    before: None,
                    after: None,
                },
            )
        })
        .await?;
    Ok(Session { token, token_type: "Bearer", expires_at_ms, staff: view })
}

/// A real argon2 hash of a random string, made once, so that refusing an
/// unknown username costs the same as refusing a wrong password.
async fn dummy_hash() -> AppResult<String> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY.get_or_try_init(|| async { hash_password(&random_token()?).await }).await.cloned()
}

/// The actor behind a bearer token, or 401.
pub async fn authenticate(app: &App, token: &str, now_ms: i64) -> AppResult<(Actor, i64)> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() != TOKEN_PREFIX.len() + 64 {
        return Err(AppError::Unauthorized("令牌无效".into()));
    }
    let hash = token_sha256(token);
    let found = app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::session_staff(tx, &hash, now_ms)?)).await?;
    match found {
        Some((staff, expires)) => Ok((actor_of(&staff), expires)),
        None => Err(AppError::Unauthorized("令牌无效或已过期，请重新登录".into())),
    }
}

pub async fn logout(app: &App, ctx: &Ctx, token: &str) -> AppResult<()> {
    let hash = token_sha256(token);
    let ctx = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            repo::revoke_session(tx, &hash)?;
            audit::record(
                tx,
                &ctx,
                Change {
                    action: "auth.logout",
                    target_kind: "staff",
                    target_id: &ctx.actor.id,
                    region: ctx.actor.scope.prefix(),
                    before: None,
                    after: None,
                },
            )
        })
        .await
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub roles: Vec<String>,
    /// Division-code prefix: "" national, "33" province, "3302" city, "330203" county.
    pub region_scope: String,
}

fn parse_username(text: &str) -> AppResult<String> {
    let t = text.trim();
    if t.is_empty()
        || t.chars().count() > USERNAME_CHARS_MAX
        || !t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(AppError::invalid("username", "用户名应为1到40位字母、数字、点、下划线或连字符"));
    }
    Ok(t.to_owned())
}

/// Creates a staff account. An administrator may only create accounts inside
/// their own region scope.
pub async fn create_staff(app: &App, ctx: &Ctx, input: NewStaff) -> AppResult<StaffView> {
    ctx.require(Permission::ManageStaff)?;
    let username = parse_username(&input.username)?;
    let display_name = input.display_name.trim().to_owned();
    if display_name.is_empty() || display_name.chars().count() > 50 {
        return Err(AppError::invalid("display_name", "姓名不能为空且不超过50个字符"));
    }
    check_password_policy(&input.password)?;
    if input.roles.is_empty() {
        return Err(AppError::invalid("roles", "至少需要一个角色"));
    }
    let mut roles = input.roles.iter().map(|r| Role::parse(r)).collect::<Result<Vec<_>, _>>()?;
    roles.sort();
    roles.dedup();
    let scope = RegionScope::parse(&input.region_scope)?;
    if !ctx.actor.scope.contains_scope(&scope) {
        return Err(AppError::Forbidden("只能在本账号的管辖范围内创建账号".into()));
    }
    if !scope.prefix().is_empty() && app.divisions().parse(&format!("{:0<6}", scope.prefix())).is_err() {
        return Err(AppError::invalid("region_scope", format!("区划“{}”不存在", scope.prefix())));
    }
    let password_hash = hash_password(&input.password).await?;
    let staff = Staff {
        id: yibao_store::ids::next_id(),
        username,
        display_name,
        password_hash,
        roles,
        region_scope: scope,
        active: true,
    };
    let ctx = ctx.clone();
    let view = StaffView::from(&staff);
    app.db
        .write(move |tx: &mut dyn Tx| {
            if !repo::insert(tx, &staff, ctx.now_ms)? {
                return Err(AppError::Conflict(format!("用户名 {} 已存在", staff.username)));
            }
            audit::record(
                tx,
                &ctx,
                Change {
                    action: "staff.create",
                    target_kind: "staff",
                    target_id: &staff.id.to_string(),
                    region: staff.region_scope.prefix(),
                    before: None,
                    after: audit::image(&StaffView::from(&staff)),
                },
            )
        })
        .await?;
    Ok(view)
}

pub async fn list_staff(app: &App, ctx: &Ctx) -> AppResult<Vec<StaffView>> {
    ctx.require(Permission::ManageStaff)?;
    let scope = ctx.actor.scope.prefix().to_owned();
    let staff = app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::list(tx, &scope)?)).await?;
    Ok(staff.iter().map(StaffView::from).collect())
}

/// Enables or disables an account; disabling revokes its sessions.
pub async fn set_active(app: &App, ctx: &Ctx, id: i64, active: bool) -> AppResult<StaffView> {
    ctx.require(Permission::ManageStaff)?;
    if ctx.actor.id == id.to_string() && !active {
        return Err(AppError::Conflict("不能停用自己的账号".into()));
    }
    let ctx = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let before = repo::by_id(tx, id)?.ok_or_else(|| AppError::not_found("账号", id.to_string()))?;
            if !ctx.actor.scope.contains_scope(&before.region_scope) {
                return Err(AppError::Forbidden("该账号不在本账号的管辖范围内".into()));
            }
            repo::set_active(tx, id, active, ctx.now_ms)?;
            if !active {
                repo::revoke_all_sessions(tx, id)?;
            }
            let after = Staff { active, ..before.clone() };
            audit::record(
                tx,
                &ctx,
                Change {
                    action: if active { "staff.enable" } else { "staff.disable" },
                    target_kind: "staff",
                    target_id: &id.to_string(),
                    region: before.region_scope.prefix(),
                    before: audit::image(&StaffView::from(&before)),
                    after: audit::image(&StaffView::from(&after)),
                },
            )?;
            Ok(StaffView::from(&after))
        })
        .await
}

/// Sets a new password (by an administrator, or by the staff member
/// themselves); revokes every session of the account.
pub async fn set_password(app: &App, ctx: &Ctx, id: i64, password: &str) -> AppResult<()> {
    if ctx.actor.id != id.to_string() {
        ctx.require(Permission::ManageStaff)?;
    }
    check_password_policy(password)?;
    let hash = hash_password(password).await?;
    let ctx = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let before = repo::by_id(tx, id)?.ok_or_else(|| AppError::not_found("账号", id.to_string()))?;
            if !ctx.actor.scope.contains_scope(&before.region_scope) {
                return Err(AppError::Forbidden("该账号不在本账号的管辖范围内".into()));
            }
            repo::set_password(tx, id, &hash, ctx.now_ms)?;
            repo::revoke_all_sessions(tx, id)?;
            audit::record(
                tx,
                &ctx,
                Change {
                    action: "staff.password",
                    target_kind: "staff",
                    target_id: &id.to_string(),
                    region: before.region_scope.prefix(),
                    before: None,
                    after: None,
                },
            )
        })
        .await
}
