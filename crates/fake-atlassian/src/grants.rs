//! Authorization codes, token families and rotation: the state machine behind `/oauth/token`
//! and the bearer check of every API call. Pure (the caller passes `now`), so it is unit-tested
//! without HTTP; `tests/tokens.rs` covers the same rules over HTTP.
//!
//! Model (reference §3): each authorization-code exchange starts a *family*. A family has a
//! current generation `g`. A refresh with a generation-`g` refresh token moves the family to
//! `g+1` and hands out a new refresh token and access token of generation `g+1`; the tokens of
//! generation `g` keep working for the leeway after that rotation, then die. Presenting a
//! generation-`g` refresh token again inside the leeway is tolerated (a retry): it gets a new
//! pair of the current generation without moving the family. Presenting anything older, or
//! generation `g` after the leeway, revokes the whole family.

use std::collections::HashMap;

use crate::util::random_token;

/// Refresh tokens die after 90 days without use (reference §3.3).
pub(crate) const REFRESH_IDLE_SECS: u64 = 90 * 86_400;
/// ... and 365 days after the first consent, refreshing or not.
pub(crate) const REFRESH_ABSOLUTE_SECS: u64 = 365 * 86_400;

/// What the user agreed to on the consent screen.
#[derive(Clone, Debug)]
pub(crate) struct Consent {
    pub client_id: String,
    pub redirect_uri: String,
    pub user: usize,
    pub scopes: Vec<String>,
    /// Cloud ids the grant covers.
    pub sites: Vec<&'static str>,
}

struct Code {
    consent: Consent,
    created_at: u64,
}

pub(crate) struct Family {
    pub client_id: String,
    pub user: usize,
    pub scopes: Vec<String>,
    pub sites: Vec<&'static str>,
    created_at: u64,
    current_gen: u32,
    /// When the family last moved to `current_gen` (the previous generation's leeway starts here).
    rotated_at: u64,
    revoked: bool,
}

impl Family {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

struct AccessRec {
    family: u64,
    gen: u32,
    expires_at: u64,
}

struct RefreshRec {
    family: u64,
    gen: u32,
    issued_at: u64,
}

/// Lifetimes in force for one call (from the settings).
#[derive(Clone, Copy)]
pub(crate) struct Policy {
    pub access_lifetime: u64,
    pub leeway: u64,
    pub code_lifetime: u64,
}

/// A successful token response.
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
    pub scope: String,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GrantError {
    /// 400 `invalid_request` "authorization_code is invalid".
    InvalidCode,
    /// 403 `invalid_grant` "Unknown or invalid refresh token."
    InvalidRefresh,
}

#[derive(Default)]
pub(crate) struct Grants {
    codes: HashMap<String, Code>,
    families: HashMap<u64, Family>,
    next_family: u64,
    access: HashMap<String, AccessRec>,
    refresh: HashMap<String, RefreshRec>,
}

impl Grants {
    pub fn issue_code(&mut self, consent: Consent, now: u64) -> String {
        let code = random_token(32);
        self.codes.insert(
            code.clone(),
            Code {
                consent,
                created_at: now,
            },
        );
        code
    }

    /// Exchanges a code. Any presentation uses the code up, valid or not (single use).
    pub fn exchange_code(
        &mut self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        now: u64,
        policy: Policy,
    ) -> Result<Issued, GrantError> {
        let Some(found) = self.codes.remove(code) else {
            return Err(GrantError::InvalidCode);
        };
        let fresh = now < found.created_at.saturating_add(policy.code_lifetime);
        if !fresh
            || found.consent.client_id != client_id
            || found.consent.redirect_uri != redirect_uri
        {
            return Err(GrantError::InvalidCode);
        }
        let id = self.next_family;
        self.next_family += 1;
        let c = found.consent;
        self.families.insert(
            id,
            Family {
                client_id: c.client_id,
                user: c.user,
                scopes: c.scopes,
                sites: c.sites,
                created_at: now,
                current_gen: 0,
                rotated_at: now,
                revoked: false,
            },
        );
        let offline = self.families[&id].has_scope("offline_access");
        Ok(self.mint(id, 0, now, policy, offline))
    }

    /// Exchanges a refresh token. `omit_refresh` answers without a new refresh token and
    /// without rotating, so the presented one stays current.
    pub fn refresh(
        &mut self,
        client_id: &str,
        token: &str,
        now: u64,
        policy: Policy,
        omit_refresh: bool,
    ) -> Result<Issued, GrantError> {
        let Some(rec) = self.refresh.get(token) else {
            return Err(GrantError::InvalidRefresh);
        };
        let (fid, gen, issued_at) = (rec.family, rec.gen, rec.issued_at);
        let Some(family) = self.families.get_mut(&fid) else {
            return Err(GrantError::InvalidRefresh);
        };
        if family.revoked || family.client_id != client_id {
            return Err(GrantError::InvalidRefresh);
        }
        if now >= issued_at.saturating_add(REFRESH_IDLE_SECS)
            || now >= family.created_at.saturating_add(REFRESH_ABSOLUTE_SECS)
        {
            return Err(GrantError::InvalidRefresh);
        }
        let target_gen = if gen == family.current_gen {
            if !omit_refresh {
                family.current_gen += 1;
                family.rotated_at = now;
            }
            family.current_gen
        } else if gen + 1 == family.current_gen
            && now < family.rotated_at.saturating_add(policy.leeway)
        {
            // A retry of the previous generation inside the leeway: tolerated.
            family.current_gen
        } else {
            // Reuse detected: the whole family dies (reference §3.3, Auth0 breach detection).
            family.revoked = true;
            return Err(GrantError::InvalidRefresh);
        };
        Ok(self.mint(fid, target_gen, now, policy, !omit_refresh))
    }

    fn mint(
        &mut self,
        family: u64,
        gen: u32,
        now: u64,
        policy: Policy,
        with_refresh: bool,
    ) -> Issued {
        let access_token = random_token(32);
        self.access.insert(
            access_token.clone(),
            AccessRec {
                family,
                gen,
                expires_at: now.saturating_add(policy.access_lifetime),
            },
        );
        let refresh_token = with_refresh.then(|| {
            let t = random_token(48);
            self.refresh.insert(
                t.clone(),
                RefreshRec {
                    family,
                    gen,
                    issued_at: now,
                },
            );
            t
        });
        Issued {
            access_token,
            refresh_token,
            expires_in: policy.access_lifetime,
            scope: self.families[&family].scopes.join(" "),
        }
    }

    /// The family behind a live access token, or `None` for unknown, expired, revoked, or a
    /// companion of a refresh token rotated longer than the leeway ago.
    pub fn access(&self, token: &str, now: u64, leeway: u64) -> Option<&Family> {
        let rec = self.access.get(token)?;
        let family = self.families.get(&rec.family)?;
        if family.revoked || now >= rec.expires_at {
            return None;
        }
        let live = rec.gen == family.current_gen
            || (rec.gen + 1 == family.current_gen
                && now < family.rotated_at.saturating_add(leeway));
        live.then_some(family)
    }

    /// Revokes every family (of one user, or all). Returns how many were live.
    pub fn revoke(&mut self, user: Option<usize>) -> usize {
        let mut n = 0;
        for f in self.families.values_mut() {
            if !f.revoked && user.is_none_or(|u| f.user == u) {
                f.revoked = true;
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Policy = Policy {
        access_lifetime: 3600,
        leeway: 600,
        code_lifetime: 600,
    };

    fn consent(scopes: &[&str]) -> Consent {
        Consent {
            client_id: "c".into(),
            redirect_uri: "http://h/cb".into(),
            user: 0,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            sites: vec!["site"],
        }
    }

    fn start(g: &mut Grants) -> Issued {
        let code = g.issue_code(consent(&["read:jira-work", "offline_access"]), 1000);
        g.exchange_code("c", &code, "http://h/cb", 1000, P).unwrap()
    }

    #[test]
    fn code_is_single_use_bound_and_short_lived() {
        let mut g = Grants::default();
        let code = g.issue_code(consent(&["read:jira-work"]), 1000);
        assert!(g.exchange_code("c", &code, "http://h/cb", 1000, P).is_ok());
        assert_eq!(
            g.exchange_code("c", &code, "http://h/cb", 1000, P).err(),
            Some(GrantError::InvalidCode)
        );
        let code = g.issue_code(consent(&["read:jira-work"]), 1000);
        assert_eq!(
            g.exchange_code("other", &code, "http://h/cb", 1000, P)
                .err(),
            Some(GrantError::InvalidCode)
        );
        let code = g.issue_code(consent(&["read:jira-work"]), 1000);
        assert_eq!(
            g.exchange_code("c", &code, "http://h/other", 1000, P).err(),
            Some(GrantError::InvalidCode)
        );
        let code = g.issue_code(consent(&["read:jira-work"]), 1000);
        assert_eq!(
            g.exchange_code("c", &code, "http://h/cb", 1600, P).err(),
            Some(GrantError::InvalidCode)
        );
        let code = g.issue_code(consent(&["read:jira-work"]), 1000);
        assert!(g.exchange_code("c", &code, "http://h/cb", 1599, P).is_ok());
    }

    #[test]
    fn refresh_token_only_with_offline_access() {
        let mut g = Grants::default();
        let code = g.issue_code(consent(&["read:jira-work"]), 1000);
        let issued = g.exchange_code("c", &code, "http://h/cb", 1000, P).unwrap();
        assert!(issued.refresh_token.is_none());
        assert_eq!(issued.scope, "read:jira-work");
        assert!(start(&mut g).refresh_token.is_some());
    }

    #[test]
    fn rotation_leeway_and_family_revocation() {
        let mut g = Grants::default();
        let first = start(&mut g);
        let rt1 = first.refresh_token.clone().unwrap();
        let second = g.refresh("c", &rt1, 2000, P, false).unwrap();
        let rt2 = second.refresh_token.clone().unwrap();
        assert_ne!(rt1, rt2);
        // Old pair still works inside the leeway...
        assert!(g.access(&first.access_token, 2599, P.leeway).is_some());
        let retry = g.refresh("c", &rt1, 2599, P, false).unwrap();
        assert!(retry.refresh_token.is_some());
        // ... and dies after it, while the new pair lives.
        assert!(g.access(&first.access_token, 2600, P.leeway).is_none());
        assert!(g.access(&second.access_token, 2600, P.leeway).is_some());
        // Presenting the previous generation after the leeway revokes everything.
        assert_eq!(
            g.refresh("c", &rt1, 2600, P, false).err(),
            Some(GrantError::InvalidRefresh)
        );
        assert!(g.access(&second.access_token, 2601, P.leeway).is_none());
        assert_eq!(
            g.refresh("c", &rt2, 2601, P, false).err(),
            Some(GrantError::InvalidRefresh)
        );
    }

    #[test]
    fn older_generation_revokes_even_inside_leeway() {
        let mut g = Grants::default();
        let rt1 = start(&mut g).refresh_token.unwrap();
        let rt2 = g
            .refresh("c", &rt1, 1001, P, false)
            .unwrap()
            .refresh_token
            .unwrap();
        let third = g.refresh("c", &rt2, 1002, P, false).unwrap();
        assert_eq!(
            g.refresh("c", &rt1, 1003, P, false).err(),
            Some(GrantError::InvalidRefresh)
        );
        assert!(g.access(&third.access_token, 1004, P.leeway).is_none());
    }

    #[test]
    fn omitted_refresh_token_keeps_the_old_one_current() {
        let mut g = Grants::default();
        let rt1 = start(&mut g).refresh_token.unwrap();
        let quiet = g.refresh("c", &rt1, 5000, P, true).unwrap();
        assert!(quiet.refresh_token.is_none());
        assert!(g.access(&quiet.access_token, 5001, P.leeway).is_some());
        // Long after any leeway, the same refresh token still works.
        assert!(g.refresh("c", &rt1, 50_000, P, false).is_ok());
    }

    #[test]
    fn expiry_idle_and_revoke() {
        let mut g = Grants::default();
        let first = start(&mut g);
        assert!(g.access(&first.access_token, 4599, P.leeway).is_some());
        assert!(g.access(&first.access_token, 4600, P.leeway).is_none());
        let rt = first.refresh_token.unwrap();
        assert!(g
            .refresh("c", &rt, 1000 + REFRESH_IDLE_SECS, P, false)
            .is_err());
        let other = start(&mut g);
        assert_eq!(
            g.refresh(
                "wrong-client",
                other.refresh_token.as_ref().unwrap(),
                1001,
                P,
                false
            )
            .err(),
            Some(GrantError::InvalidRefresh)
        );
        assert_eq!(g.revoke(Some(0)), 2);
        assert!(g.access(&other.access_token, 1001, P.leeway).is_none());
        assert!(g
            .refresh("c", other.refresh_token.as_ref().unwrap(), 1001, P, false)
            .is_err());
    }
}
