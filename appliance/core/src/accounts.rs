//! Accounts and sessions: registration, login, token refresh and revocation, profiles,
//! contacts, invites and account disabling.

use governor::clock::{Clock, DefaultClock};
use parley_config::Registration;
use parley_store::records::{InviteRec, SessionRec, UserRec};
use parley_types::api::{
    ChangePasswordRequest, Contact, CreateInviteRequest, Invite, LoginRequest, Profile, RegisterRequest,
    TokenResponse, UpdateProfileRequest,
};
use parley_types::protocol::ServerFrame;
use parley_types::{ErrorCode, ServerName, SessionId, UserId, Username, now_millis};

use crate::error::{CoreError, Result, taken};
use crate::hub::encode;
use crate::metrics::{Limited, LoginFailure};
use crate::{Core, Inner, convert, passwords, tokens};

/// Who is calling: established from a verified access token of a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    pub user: UserId,
    pub session: SessionId,
    /// The client's address, for the audit log (set by the transport).
    pub ip: Option<String>,
}

/// An account to create (registration, CLI, admins, directory sync).
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub is_admin: bool,
    pub unit_id: Option<String>,
    pub title: Option<String>,
    /// Set for directory (LDAP) users; `password` is then ignored.
    pub directory: Option<DirectoryLink>,
}

/// Where a directory user's entry lives.
#[derive(Debug, Clone)]
pub struct DirectoryLink {
    /// The entry's unique ID, else its DN: survives renames.
    pub key: String,
    pub dn: String,
}

pub(crate) fn clean_email(e: &str) -> Result<Option<String>> {
    let e = e.trim().to_ascii_lowercase();
    if e.is_empty() {
        return Ok(None);
    }
    let ok = e.len() <= 254
        && !e.chars().any(char::is_whitespace)
        && e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'));
    if ok { Ok(Some(e)) } else { Err(CoreError::invalid("email must look like name@example.org")) }
}

pub(crate) fn clean_phone(p: &str) -> Result<Option<String>> {
    let p = p.trim();
    if p.is_empty() {
        return Ok(None);
    }
    let plus = p.starts_with('+');
    let digits: String = p.chars().filter(char::is_ascii_digit).collect();
    let allowed = p.chars().all(|c| c.is_ascii_digit() || " -().+".contains(c));
    if !allowed || !(6..=20).contains(&digits.len()) {
        return Err(CoreError::invalid("phone must be 6-20 digits, optionally starting with +"));
    }
    Ok(Some(if plus { format!("+{digits}") } else { digits }))
}

fn clean_display_name(n: &str) -> Result<String> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 64 {
        return Err(CoreError::invalid("display name must be 1-64 characters"));
    }
    Ok(n.to_owned())
}

/// The login key for a username, email or phone number as typed.
fn login_key(login: &str, server: &ServerName) -> Option<String> {
    let l = login.trim();
    if l.contains('@') {
        // A full user id of this server (ana@server_name) logs in by its username.
        if let Ok(id) = UserId::parse(l)
            && id.server() == server.as_str()
        {
            return Some(format!("u:{}", id.username()));
        }
        return clean_email(l).ok().flatten().map(|e| format!("e:{e}"));
    }
    if l.starts_with('+')
        || l.chars().next().is_some_and(|c| c.is_ascii_digit()) && l.chars().all(|c| !c.is_alphabetic())
    {
        return clean_phone(l).ok().flatten().map(|p| format!("p:{p}"));
    }
    Username::parse(l).ok().map(|u| format!("u:{}", u.as_str()))
}

fn check_limit(limiter: &governor::DefaultKeyedRateLimiter<String>, key: String) -> Result<()> {
    limiter.check_key(&key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        CoreError::RateLimited { retry_after_secs: wait.as_secs().max(1) }
    })
}

impl Core {
    fn validate_password(&self, password: &str) -> Result<()> {
        let min = self.inner.settings.auth.min_password_length;
        if password.chars().count() < min || password.len() > 1024 {
            return Err(CoreError::invalid(format!("password must be at least {min} characters")));
        }
        Ok(())
    }

    /// Creates an account (registration policy is the caller's concern).
    pub async fn create_user(&self, new: NewUser) -> Result<Profile> {
        let username = Username::parse(&new.username).map_err(|e| CoreError::invalid(e.to_string()))?;
        if new.directory.is_none() {
            self.validate_password(&new.password)?;
        }
        let display_name = match &new.display_name {
            Some(n) if !n.trim().is_empty() => clean_display_name(n)?,
            _ => username.as_str().to_owned(),
        };
        let email = clean_email(new.email.as_deref().unwrap_or(""))?;
        let phone = clean_phone(new.phone.as_deref().unwrap_or(""))?;
        // Directory users log in by binding to the directory: no password is kept here.
        let hash = match new.directory {
            None => Some(passwords::hash(new.password).await?),
            Some(_) => None,
        };
        let user = UserRec {
            user_id: UserId::new(&username, &self.inner.server).to_string(),
            username: username.as_str().to_owned(),
            display_name,
            about: String::new(),
            email,
            phone,
            password_hash: hash,
            is_admin: new.is_admin,
            disabled: false,
            last_seen_visibility: "everyone".into(),
            last_seen: None,
            created_at: now_millis(),
            source: new.directory.as_ref().map(|_| "ldap".to_owned()),
            ldap_key: new.directory.as_ref().map(|d| d.key.clone()),
            ldap_dn: new.directory.as_ref().map(|d| d.dn.clone()),
            unit_id: new.unit_id,
            title: new.title.filter(|t| !t.trim().is_empty()),
            ..Default::default()
        };
        self.inner.store.create_user(&user).await.map_err(taken)?;
        self.inner.index_user(&user);
        convert::profile(&user, true)
    }

    /// `POST /api/auth/register`, subject to the registration policy.
    pub async fn register(&self, req: RegisterRequest, ip: &str) -> Result<TokenResponse> {
        check_limit(&self.inner.limiters().by_ip, format!("register:{ip}"))?;
        let invite = match self.inner.registration() {
            Registration::Open => None,
            Registration::Closed => {
                return Err(CoreError::RegistrationClosed(
                    "registration is closed; ask an administrator for an account".into(),
                ));
            }
            Registration::InviteOnly => match req.invite.as_deref().map(str::trim) {
                Some(code) if !code.is_empty() => Some(code.to_owned()),
                _ => {
                    return Err(CoreError::RegistrationClosed("registration needs an invite".into()));
                }
            },
        };
        // Validate before using up an invite.
        Username::parse(&req.username).map_err(|e| CoreError::invalid(e.to_string()))?;
        self.validate_password(&req.password)?;
        if let Some(code) = invite
            && !self.inner.store.consume_invite(&code, now_millis()).await?
        {
            return Err(CoreError::InviteInvalid);
        }
        let profile = self
            .create_user(NewUser {
                username: req.username,
                password: req.password,
                display_name: req.display_name,
                email: req.email,
                phone: req.phone,
                is_admin: false,
                ..Default::default()
            })
            .await?;
        self.open_session(profile).await
    }

    async fn open_session(&self, user: Profile) -> Result<TokenResponse> {
        let session = SessionId::generate();
        let (refresh, hash) = tokens::new_refresh_token(session);
        let now = now_millis();
        let ttl_ms = self.inner.settings.auth.refresh_token_ttl_days as i64 * 86_400_000;
        self.inner
            .store
            .create_session(&SessionRec {
                session_id: session.to_string(),
                user_id: user.user_id.to_string(),
                refresh_hash: hash,
                created_at: now,
                expires_at: now + ttl_ms,
                revoked: false,
            })
            .await?;
        self.inner.sessions.insert(session, (user.user_id.clone(), false));
        Ok(TokenResponse {
            access_token: self.inner.tokens.issue(&user.user_id, session)?,
            expires_in: self.inner.tokens.ttl_secs(),
            refresh_token: refresh,
            session_id: session,
            user,
        })
    }

    /// `POST /api/auth/login`: rate-limited per account and per client IP.
    pub async fn login(&self, req: LoginRequest, ip: &str) -> Result<TokenResponse> {
        let m = &self.inner.metrics;
        let limiters = self.inner.limiters();
        if let Err(e) = check_limit(&limiters.by_ip, format!("login:{ip}")) {
            m.rate_limited(Limited::LoginPerIp);
            let details = serde_json::json!({ "login": req.login, "limit": "per_ip" });
            self.inner.audit(None, "login.rate_limited", None, Some(ip), details).await;
            return Err(e);
        }
        let key = login_key(&req.login, &self.inner.server);
        if let Err(e) = check_limit(&limiters.by_account, key.clone().unwrap_or_else(|| req.login.clone())) {
            m.rate_limited(Limited::LoginPerAccount);
            let details = serde_json::json!({ "login": req.login, "limit": "per_account" });
            self.inner.audit(None, "login.rate_limited", None, Some(ip), details).await;
            return Err(e);
        }
        let user = match &key {
            Some(k) => self.inner.store.user_by_login(k).await?,
            None => None,
        };
        let ok = match &user {
            // Directory users: the directory checks the password (a bind); nothing is stored.
            Some(u) if u.is_ldap() && !u.disabled => match self.directory_password_ok(u, &req.password).await
            {
                Ok(ok) => ok,
                Err(e) => {
                    let details = serde_json::json!({ "login": req.login, "reason": "directory_error", "error": e.to_string() });
                    self.inner.audit(None, "login.failed", Some(u.user_id.clone()), Some(ip), details).await;
                    return Err(e);
                }
            },
            _ => passwords::verify(req.password, user.as_ref().and_then(|u| u.password_hash.clone())).await?,
        };
        let Some(user) = user.filter(|_| ok) else {
            self.inner.metrics.login_failed(LoginFailure::BadCredentials);
            let details = serde_json::json!({ "login": req.login, "reason": "bad_credentials" });
            self.inner.audit(None, "login.failed", None, Some(ip), details).await;
            return Err(CoreError::InvalidCredentials);
        };
        if user.disabled {
            self.inner.metrics.login_failed(LoginFailure::Disabled);
            let details = serde_json::json!({ "login": req.login, "reason": "account_disabled" });
            self.inner.audit(None, "login.failed", Some(user.user_id.clone()), Some(ip), details).await;
            return Err(CoreError::AccountDisabled);
        }
        self.open_session(convert::profile(&user, true)?).await
    }

    /// `POST /api/auth/refresh`: single-use refresh tokens. Presenting a retired token again
    /// (a sign of theft) revokes the whole session.
    pub async fn refresh(&self, token: &str) -> Result<TokenResponse> {
        let (sid, hash) = tokens::parse_refresh_token(token).ok_or(CoreError::InvalidRefreshToken)?;
        let session =
            self.inner.store.session(&sid.to_string()).await?.ok_or(CoreError::InvalidRefreshToken)?;
        let now = now_millis();
        if session.revoked || session.expires_at <= now {
            return Err(CoreError::InvalidRefreshToken);
        }
        let user_id = convert::user_id(&session.user_id)?;
        if session.refresh_hash != hash {
            self.revoke(&user_id, &[sid], "refresh token reused").await?;
            let details = serde_json::json!({ "session": sid.to_string() });
            self.inner.audit(None, "session.refresh_reused", Some(user_id.to_string()), None, details).await;
            return Err(CoreError::InvalidRefreshToken);
        }
        let user = self.inner.store.user(user_id.as_str()).await?.ok_or(CoreError::InvalidRefreshToken)?;
        if user.disabled {
            return Err(CoreError::AccountDisabled);
        }
        let (refresh, new_hash) = tokens::new_refresh_token(sid);
        let ttl_ms = self.inner.settings.auth.refresh_token_ttl_days as i64 * 86_400_000;
        if !self.inner.store.rotate_refresh(&sid.to_string(), &hash, &new_hash, now + ttl_ms, now).await? {
            return Err(CoreError::InvalidRefreshToken);
        }
        Ok(TokenResponse {
            access_token: self.inner.tokens.issue(&user_id, sid)?,
            expires_in: self.inner.tokens.ttl_secs(),
            refresh_token: refresh,
            session_id: sid,
            user: convert::profile(&user, true)?,
        })
    }

    /// Verifies an access token and that its session is live.
    pub async fn authenticate(&self, access_token: &str) -> Result<AuthContext> {
        let claims = self.inner.tokens.verify(access_token)?;
        let revoked = match self.inner.sessions.get(&claims.sid).map(|e| e.1) {
            Some(r) => r,
            None => {
                let s = self.inner.store.session(&claims.sid.to_string()).await?;
                let revoked = s.as_ref().is_none_or(|s| s.revoked || s.user_id != claims.sub.as_str());
                self.inner.sessions.insert(claims.sid, (claims.sub.clone(), revoked));
                revoked
            }
        };
        if revoked {
            return Err(CoreError::SessionRevoked);
        }
        Ok(AuthContext { user: claims.sub, session: claims.sid, ip: None })
    }

    /// Marks sessions revoked everywhere and closes their sockets at once.
    async fn revoke(&self, user: &UserId, sessions: &[SessionId], why: &str) -> Result<()> {
        for s in sessions {
            self.inner.store.revoke_session(&s.to_string()).await?;
            self.inner.sessions.insert(*s, (user.clone(), true));
        }
        self.inner.hub.close_sessions(user, sessions, ErrorCode::SessionRevoked, why);
        Ok(())
    }

    pub(crate) async fn revoke_all(&self, user: &UserId, keep: Option<SessionId>, why: &str) -> Result<()> {
        let keep_s = keep.map(|k| k.to_string());
        let ids = self.inner.store.revoke_user_sessions(user.as_str(), keep_s.as_deref()).await?;
        let ids: Vec<SessionId> = ids.iter().filter_map(|s| s.parse().ok()).collect();
        for s in &ids {
            self.inner.sessions.insert(*s, (user.clone(), true));
        }
        self.inner.hub.close_sessions(user, &ids, ErrorCode::SessionRevoked, why);
        Ok(())
    }

    /// `POST /api/auth/logout`: ends this session.
    pub async fn logout(&self, ctx: &AuthContext) -> Result<()> {
        self.revoke(&ctx.user, &[ctx.session], "logged out").await
    }

    /// `POST /api/auth/logout-all`: ends every session of the user, this one included.
    pub async fn logout_all(&self, ctx: &AuthContext) -> Result<()> {
        self.revoke_all(&ctx.user, None, "logged out everywhere").await
    }

    /// `POST /api/auth/password`: changes the password and ends every other session.
    pub async fn change_password(&self, ctx: &AuthContext, req: ChangePasswordRequest) -> Result<()> {
        let user = self.user_rec(&ctx.user).await?;
        if user.is_ldap() {
            return Err(CoreError::Conflict(
                "your password is your directory (LDAP) password; change it there".into(),
            ));
        }
        if !passwords::verify(req.current_password, user.password_hash.clone()).await? {
            return Err(CoreError::InvalidCredentials);
        }
        self.validate_password(&req.new_password)?;
        let mut updated = user.clone();
        updated.password_hash = Some(passwords::hash(req.new_password).await?);
        self.inner.store.update_user(&user, &updated).await?;
        self.inner.audit_by(ctx, "password.changed", Some(ctx.user.to_string()), serde_json::json!({})).await;
        self.revoke_all(&ctx.user, Some(ctx.session), "password changed").await
    }

    /// A user's record; for a user of another appliance, their cached profile (fetched from
    /// their server the first time).
    pub(crate) async fn user_rec(&self, user: &UserId) -> Result<UserRec> {
        if user.server() != self.inner.server.as_str() {
            return self.remote_user(user, false).await;
        }
        self.inner.store.user(user.as_str()).await?.ok_or(CoreError::NotFound("user"))
    }

    pub async fn is_admin(&self, user: &UserId) -> Result<bool> {
        Ok(self.user_rec(user).await?.is_admin)
    }

    pub async fn require_admin(&self, ctx: &AuthContext) -> Result<()> {
        if self.is_admin(&ctx.user).await? {
            Ok(())
        } else {
            Err(CoreError::Forbidden("administrators only".into()))
        }
    }

    /// `GET /api/me`.
    pub async fn me(&self, ctx: &AuthContext) -> Result<Profile> {
        convert::profile(&self.user_rec(&ctx.user).await?, true)
    }

    /// `PATCH /api/me`.
    pub async fn update_profile(&self, ctx: &AuthContext, req: UpdateProfileRequest) -> Result<Profile> {
        let (_, u) = self.apply_profile_update(&ctx.user, req).await?;
        convert::profile(&u, true)
    }

    /// Validates and stores profile changes of `user` (by themself or an admin); returns the
    /// records before and after.
    pub(crate) async fn apply_profile_update(
        &self,
        user: &UserId,
        req: UpdateProfileRequest,
    ) -> Result<(UserRec, UserRec)> {
        let old = self.user_rec(user).await?;
        let mut u = old.clone();
        if let Some(n) = &req.display_name {
            u.display_name = clean_display_name(n)?;
        }
        if let Some(a) = &req.about {
            if a.chars().count() > 280 {
                return Err(CoreError::invalid("about must be at most 280 characters"));
            }
            u.about = a.trim().to_owned();
        }
        if let Some(e) = &req.email {
            u.email = clean_email(e)?;
        }
        if let Some(p) = &req.phone {
            u.phone = clean_phone(p)?;
        }
        if let Some(v) = req.last_seen_visibility {
            u.last_seen_visibility = convert::visibility_str(v).to_owned();
        }
        self.inner.store.update_user(&old, &u).await.map_err(taken)?;
        self.inner.index_user(&u);
        if old.display_name != u.display_name {
            self.inner.notify_profile_changed(user.clone());
        }
        Ok((old, u))
    }

    /// `GET /api/users/{id}`: private fields only for the user themself or an admin.
    pub async fn profile(&self, ctx: &AuthContext, user: &UserId) -> Result<Profile> {
        let u = self.user_rec(user).await?;
        let private = &ctx.user == user || self.is_admin(&ctx.user).await?;
        convert::profile(&u, private)
    }

    /// `GET /api/users/lookup`: exact match on username, email or phone.
    pub async fn lookup(&self, ctx: &AuthContext, query: &str) -> Result<Profile> {
        // `name@domain` of a federation peer: a user of another organization, asked of their
        // server (subject to its directory policy).
        if let Ok(id) = UserId::parse(query.trim())
            && id.server() != self.inner.server.as_str()
            && self.inner.fed().is_some_and(|f| f.is_peer(id.server()))
        {
            let u = self.remote_user(&id, true).await?;
            return convert::profile(&u, false);
        }
        let key = login_key(query, &self.inner.server).ok_or(CoreError::NotFound("user"))?;
        let u = self.inner.store.user_by_login(&key).await?.ok_or(CoreError::NotFound("user"))?;
        let private = u.user_id == ctx.user.as_str();
        convert::profile(&u, private)
    }

    /// `GET /api/contacts`: users added explicitly plus the peers of the user's 1:1 chats.
    pub async fn contacts(&self, ctx: &AuthContext) -> Result<Vec<Contact>> {
        let added: Vec<String> =
            self.inner.store.contacts(ctx.user.as_str()).await?.into_iter().map(|c| c.contact).collect();
        let mut ids = added.clone();
        for peer in self.direct_peers(&ctx.user).await? {
            if !ids.contains(&peer) {
                ids.push(peer);
            }
        }
        let mut out: Vec<Contact> = self
            .inner
            .store
            .users(&ids)
            .await?
            .iter()
            .map(|u| Ok(Contact { added: added.contains(&u.user_id), profile: convert::profile(u, false)? }))
            .collect::<Result<_>>()?;
        out.sort_by_key(|c| c.profile.display_name.to_lowercase());
        Ok(out)
    }

    /// `PUT /api/contacts/{id}`.
    pub async fn add_contact(&self, ctx: &AuthContext, user: &UserId) -> Result<()> {
        if user == &ctx.user {
            return Err(CoreError::invalid("you cannot add yourself"));
        }
        self.user_rec(user).await?;
        self.inner.store.add_contact(ctx.user.as_str(), user.as_str(), now_millis()).await?;
        Ok(())
    }

    /// `DELETE /api/contacts/{id}`.
    pub async fn remove_contact(&self, ctx: &AuthContext, user: &UserId) -> Result<()> {
        self.inner.store.remove_contact(ctx.user.as_str(), user.as_str()).await?;
        Ok(())
    }

    /// Disables or enables an account; disabling ends its sessions and closes its sockets.
    pub async fn set_disabled(&self, ctx: &AuthContext, user: &UserId, disabled: bool) -> Result<Profile> {
        self.require_admin(ctx).await?;
        if user == &ctx.user && disabled {
            return Err(CoreError::invalid("you cannot disable your own account"));
        }
        let old = self.user_rec(user).await?;
        let mut u = old.clone();
        u.disabled = disabled;
        self.inner.store.update_user(&old, &u).await?;
        self.inner.index_user(&u);
        let action = if disabled { "user.disabled" } else { "user.enabled" };
        self.inner.audit_by(ctx, action, Some(user.to_string()), serde_json::json!({})).await;
        if disabled {
            self.revoke_all(user, None, "account disabled").await?;
        }
        convert::profile(&u, true)
    }

    /// Creates a registration invite (admins).
    pub async fn create_invite(&self, ctx: &AuthContext, req: CreateInviteRequest) -> Result<Invite> {
        self.require_admin(ctx).await?;
        let hours = req.expires_in_hours.unwrap_or(72);
        if !(1..=24 * 90).contains(&hours) {
            return Err(CoreError::invalid("expires_in_hours must be 1-2160"));
        }
        let uses = req.max_uses.unwrap_or(1);
        if !(1..=10_000).contains(&uses) {
            return Err(CoreError::invalid("max_uses must be 1-10000"));
        }
        let invite = InviteRec {
            code: tokens::random_code(18),
            created_by: ctx.user.to_string(),
            expires_at: now_millis() + hours as i64 * 3_600_000,
            uses_left: uses as i64,
            created_at: Some(now_millis()),
            max_uses: Some(uses as i64),
        };
        self.inner.store.create_invite(&invite).await?;
        // The code is a credential: the log records that an invite was made, not the code.
        let details = serde_json::json!({ "expires_at": invite.expires_at, "uses": uses });
        self.inner.audit_by(ctx, "invite.created", None, details).await;
        Ok(Invite { code: invite.code, expires_at: invite.expires_at, uses_left: uses })
    }

    /// Number of accounts (the dev bootstrap creates an admin when there are none).
    pub async fn user_count(&self) -> Result<u64> {
        Ok(self.inner.store.count_users().await?)
    }
}

impl Inner {
    /// Sends a frame to every connection of a user.
    pub(crate) fn tell(&self, user: &UserId, frame: &ServerFrame) {
        self.hub.send_frame(std::slice::from_ref(user), &encode(frame), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_keys_pick_the_right_name() {
        let s = ServerName::parse("example.org").unwrap();
        assert_eq!(login_key("Ana", &s).as_deref(), Some("u:ana"));
        assert_eq!(login_key("ana@example.org", &s).as_deref(), Some("u:ana"));
        assert_eq!(login_key("Ana.B@Mail.example.com", &s).as_deref(), Some("e:ana.b@mail.example.com"));
        assert_eq!(login_key("+44 20 7946 0958", &s).as_deref(), Some("p:+442079460958"));
        assert_eq!(login_key("x", &s).as_deref(), None);
    }

    #[test]
    fn phones_and_emails_are_normalised() {
        assert_eq!(clean_phone("(020) 7946-0958").unwrap().as_deref(), Some("02079460958"));
        assert!(clean_phone("call me").is_err());
        assert_eq!(clean_email(" Ana@X.org ").unwrap().as_deref(), Some("ana@x.org"));
        assert!(clean_email("nope").is_err());
    }
}
