//! The five invariants, checked after every scheduler step against what the world recorded:
//! the server's presentations and issued pairs, the storage change events, the operation log.
//!
//! Definitions (the exemptions are the cases no client could avoid; nothing else is exempt):
//!
//! 1. **No rotated refresh token presented outside the leeway.** A presentation of refresh
//!    token `R` (family `F`, generation `h`) at `t` violates it when, just before it, `F` had
//!    moved past `h` and `t` was outside the leeway (`h < g-1`, or `h = g-1` and
//!    `t ≥ rotated_at + 10 min`), *and* a pair of generation `> h` had reached some context
//!    (so the engine could know `R` was rotated). A rotation whose response was lost (dropped,
//!    timed out) leaves the client holding `R` unknowingly: that reuse is not counted here.
//! 2. **At most one successful refresh grant per expiry epoch.** Each pair `P` delivered to a
//!    context and stored opens an epoch from its delivery until the stored expiry minus the
//!    refresh skew. A successful refresh grant (rotation or tolerated retry) in `P`'s family
//!    during that epoch violates it while `P`'s access token is still accepted by the gateway
//!    (not expired, not revoked as an old companion) and no sign-out completed since `P`'s
//!    delivery. Epochs of pairs that never arrived (faults) never open; epochs end early at a
//!    revocation or sign-out.
//! 3. **No record resurrected after sign-out.** When a sign-out completes, every family whose
//!    tokens were ever written to storage is signed out: writing an access or refresh token of
//!    a signed-out family afterwards violates it. The site record must not be written after a
//!    sign-out completed until a token of a family not signed out was stored (a later sign-in).
//! 4. **No refresh token lost on a transient fault.** Whenever no operation runs: let `W` be
//!    the last write of the refresh key and `F` its family. Unless `F` was revoked (externally
//!    or by breach detection) or a sign-out completed after `W`, storage must hold a refresh
//!    token the server accepts now, or the previous generation whose successor never reached a
//!    client (a lost response: the client cannot know).
//! 5. **Every operation ends.** No operation runs longer than [`MAX_OP_STEPS`] scheduler steps
//!    or [`MAX_OP_MS`] of virtual time (the expiry operation's clock jumps not counted); the
//!    schedule never stalls with operations unfinished; and no retry is starved: a call that
//!    starts at least the refresh cooldown after its context's last failed refresh request must
//!    not fail with a transient error without sending any request (that is the cooldown
//!    re-arming itself, so retries never reach the token endpoint).

use std::collections::{BTreeMap, BTreeSet};

use jira_3lo::core::refresh::DEFAULT_COOLDOWN_MS;
use jira_3lo::session::ports::Area;
use jira_3lo::ErrorCode;
use serde_json::Value;

use super::atlassian::{Verdict, LEEWAY_MS};
use super::operations::{OpKind, OpLog, Outcome, ACCESS_KEY, REFRESH_KEY, SITE_KEY, SKEW_MS};
use super::world::World;

/// Steps one operation may take.
pub const MAX_OP_STEPS: u64 = 50_000;
/// Virtual time one operation may take (timeouts, `Retry-After` waits, waiting for the lock
/// while other contexts refresh), not counting the expiry operation's jumps.
pub const MAX_OP_MS: u64 = 30 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invariant {
    NoReuseOutsideLeeway = 1,
    OneGrantPerEpoch = 2,
    NoResurrection = 3,
    NoLostRefreshToken = 4,
    EveryOperationEnds = 5,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    /// A short tag naming the pattern (failures with equal invariant and tag are one defect).
    pub tag: String,
    pub detail: String,
}

fn violation(invariant: Invariant, tag: &str, detail: String) -> Result<(), Violation> {
    Err(Violation {
        invariant,
        tag: tag.to_string(),
        detail,
    })
}

fn member(raw: &str, key: &str) -> Option<Value> {
    serde_json::from_str::<Value>(raw)
        .ok()
        .and_then(|v| v.get(key).cloned())
}

#[derive(Default)]
pub struct Checker {
    presentations: usize,
    events: usize,
    ended: usize,
    ops_ended: BTreeSet<usize>,
    stored_families: BTreeSet<usize>,
    signed_out: BTreeSet<usize>,
    site_fence: bool,
    /// Access token → the expiry the engine stored for it.
    stored_expiry: BTreeMap<String, u64>,
    /// Event index and family of the last refresh-key write.
    last_refresh_write: Option<(usize, usize)>,
    /// Completed sign-outs: (event index at completion, time), in completion order.
    sign_outs: Vec<(usize, u64)>,
    fences_applied: usize,
}

impl Checker {
    pub fn check(&mut self, world: &World, log: &OpLog) -> Result<(), Violation> {
        self.note_ended_ops(world, log)?;
        self.check_storage(world, log)?;
        self.check_presentations(world)?;
        self.check_running_ops(world, log)?;
        if log.quiescent() {
            self.check_refresh_kept(world, log)?;
        }
        Ok(())
    }

    fn note_ended_ops(&mut self, world: &World, log: &OpLog) -> Result<(), Violation> {
        let ops = log.ops.borrow();
        let mut newly: Vec<usize> = (0..ops.len())
            .filter(|i| ops[*i].end.is_some() && !self.ops_ended.contains(i))
            .collect();
        newly.sort_by_key(|i| ops[*i].end.as_ref().map(|e| (e.event, e.step)));
        for i in newly {
            self.ops_ended.insert(i);
            self.ended += 1;
            let op = &ops[i];
            let end = op.end.as_ref().expect("ended");
            if op.kind == OpKind::SignOut && end.outcome == Outcome::Ok {
                self.sign_outs.push((end.event, end.at));
            }
            // 5: a call starved by a cooldown that outlived its refresh failure.
            let starved = op.kind == OpKind::Call
                && matches!(end.outcome, Outcome::Err(code) if transient(code))
                && end.sent == op.sent
                && op.in_flight == 0;
            if starved {
                let last = world.net_stats.borrow()[op.ctx].last_refresh_failure_ms;
                if let Some(failed_at) = last {
                    if op.at >= failed_at + DEFAULT_COOLDOWN_MS {
                        return violation(
                            Invariant::EveryOperationEnds,
                            "cooldown outlives the failure",
                            format!(
                                "op {i} (c{} call) started at {}, {} ms after c{}'s last failed refresh request, \
                                 and failed with {:?} without sending any request (the cooldown is {} ms)",
                                op.ctx, op.at, op.at - failed_at, op.ctx, end.outcome, DEFAULT_COOLDOWN_MS
                            ),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn apply_fences(&mut self, up_to_event: usize) {
        while let Some(&(event, _)) = self.sign_outs.get(self.fences_applied) {
            if event > up_to_event {
                break;
            }
            self.fences_applied += 1;
            self.signed_out.extend(self.stored_families.iter().copied());
            self.site_fence = true;
        }
    }

    fn check_storage(&mut self, world: &World, log: &OpLog) -> Result<(), Violation> {
        let events = world.events.borrow();
        let server = world.server.borrow();
        while self.events < events.len() {
            let i = self.events;
            self.apply_fences(i);
            self.events += 1;
            let e = &events[i];
            let Some(value) = e.value.as_deref() else {
                continue;
            };
            let family = match (e.area, e.key.as_str()) {
                (Area::Session, ACCESS_KEY) => {
                    let token = member(value, "access_token");
                    let token = token.as_ref().and_then(Value::as_str).unwrap_or("");
                    if let Some(exp) = member(value, "expires_at_ms").and_then(|v| v.as_u64()) {
                        self.stored_expiry.insert(token.to_string(), exp);
                    }
                    server.access_token(token).map(|i| i.family)
                }
                (Area::Persistent, REFRESH_KEY) => {
                    let token = member(value, "refresh_token");
                    let token = token.as_ref().and_then(Value::as_str).unwrap_or("");
                    let family = server.refresh_token(token).map(|(f, _)| f);
                    if let Some(f) = family {
                        self.last_refresh_write = Some((i, f));
                    }
                    family
                }
                (Area::Persistent, SITE_KEY) => {
                    if self.site_fence {
                        return violation(
                            Invariant::NoResurrection,
                            &format!("site record written after sign-out by {}", writer(log, e.op)),
                            format!(
                                "c{} wrote {SITE_KEY} at {} after a sign-out completed, before any later sign-in stored tokens",
                                e.ctx, e.at_ms
                            ),
                        );
                    }
                    continue;
                }
                _ => continue,
            };
            let Some(family) = family else {
                return violation(
                    Invariant::NoResurrection,
                    "unknown token stored",
                    format!(
                        "c{} stored {} with a token the server never issued",
                        e.ctx, e.key
                    ),
                );
            };
            if self.signed_out.contains(&family) {
                return violation(
                    Invariant::NoResurrection,
                    &format!("token written after sign-out by {}", writer(log, e.op)),
                    format!(
                        "c{} wrote {} of family {family} at {} after a sign-out completed",
                        e.ctx, e.key, e.at_ms
                    ),
                );
            }
            self.stored_families.insert(family);
            self.site_fence = false;
        }
        self.apply_fences(events.len());
        Ok(())
    }

    fn check_presentations(&mut self, world: &World) -> Result<(), Violation> {
        let server = world.server.borrow();
        while self.presentations < server.presentations.len() {
            let p = &server.presentations[self.presentations];
            self.presentations += 1;
            let Some(family) = p.family else { continue };
            let g = p.current_gen_before;
            // 1
            let outside =
                p.gen + 1 < g || (p.gen + 1 == g && p.at >= p.rotated_at_before + LEEWAY_MS);
            let knowable = p.delivered_gen.is_some_and(|d| d > p.gen);
            if outside && knowable {
                return violation(
                    Invariant::NoReuseOutsideLeeway,
                    "rotated token presented",
                    format!(
                        "c{} presented {} (generation {}) at {}; the family was at generation {g} since {} \
                         and generation {:?} had reached a context ({:?})",
                        p.ctx, p.token, p.gen, p.at, p.rotated_at_before, p.delivered_gen, p.verdict
                    ),
                );
            }
            // 2
            if !matches!(p.verdict, Verdict::Rotated | Verdict::ToleratedRetry) {
                continue;
            }
            let upto = p.issued.unwrap_or(server.issues.len());
            for (n, prior) in server.issues[..upto].iter().enumerate() {
                let Some(delivered) = prior.delivered_at else {
                    continue;
                };
                if prior.family != family || delivered > p.at {
                    continue;
                }
                let Some(&stored_exp) = self.stored_expiry.get(&prior.access_token) else {
                    continue;
                };
                let fresh = p.at + SKEW_MS < stored_exp;
                let accepted = p.at < prior.expires_at
                    && (prior.gen == g
                        || (prior.gen + 1 == g && p.at < p.rotated_at_before + LEEWAY_MS));
                let signed_out_since = self
                    .sign_outs
                    .iter()
                    .any(|&(_, at)| at >= delivered && at <= p.at);
                if fresh && accepted && !signed_out_since {
                    return violation(
                        Invariant::OneGrantPerEpoch,
                        "second grant in one epoch",
                        format!(
                            "c{} refreshed ({:?}) at {} while pair #{n} ({}, delivered to c{} at {delivered}, stored expiry {stored_exp}) was fresh and accepted",
                            p.ctx, p.verdict, p.at, prior.access_token, prior.ctx
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    fn check_running_ops(&self, world: &World, log: &OpLog) -> Result<(), Violation> {
        let step = log.step.get();
        for (i, op) in log.ops.borrow().iter().enumerate() {
            if op.end.is_some() {
                continue;
            }
            let own_ms = (world.now() - op.at) - (world.jumped_ms.get() - op.jumped);
            if step - op.step > MAX_OP_STEPS || own_ms > MAX_OP_MS {
                return violation(
                    Invariant::EveryOperationEnds,
                    "operation does not end",
                    format!(
                        "op {i} (c{} {:?}) has run {} steps and {own_ms} ms of virtual time",
                        op.ctx,
                        op.kind,
                        step - op.step
                    ),
                );
            }
        }
        Ok(())
    }

    fn check_refresh_kept(&self, world: &World, log: &OpLog) -> Result<(), Violation> {
        let Some((write, family)) = self.last_refresh_write else {
            return Ok(());
        };
        let server = world.server.borrow();
        let f = &server.families[family];
        if f.revoked.is_some() || self.sign_outs.iter().any(|&(event, _)| event > write) {
            return Ok(());
        }
        let stored = world
            .peek(Area::Persistent, REFRESH_KEY)
            .and_then(|v| member(&v, "refresh_token"))
            .and_then(|v| v.as_str().map(str::to_string));
        let Some(token) = stored else {
            let events = world.events.borrow();
            let removal = (write..events.len())
                .rev()
                .find(|&i| events[i].key == REFRESH_KEY && events[i].value.is_none());
            let by = removal.map_or("?".to_string(), |i| writer(log, events[i].op));
            return violation(
                Invariant::NoLostRefreshToken,
                &format!("refresh token removed by {by}"),
                format!(
                    "storage holds no refresh token at {}; family {family} is live at generation {} \
                     and no sign-out ran since it was stored (removed by c{} at event {:?})",
                    world.now(),
                    f.current_gen,
                    removal.map_or(0, |i| events[i].ctx),
                    removal,
                ),
            );
        };
        if server.accepts_refresh(&token, world.now()) {
            return Ok(());
        }
        let lost_response = server.refresh_token(&token).is_some_and(|(fam, gen)| {
            fam == family && gen + 1 == f.current_gen && f.delivered_gen.is_none_or(|d| d <= gen)
        });
        if lost_response {
            return Ok(());
        }
        violation(
            Invariant::NoLostRefreshToken,
            "stored refresh token dead",
            format!(
                "storage holds {token} at {}, which the server no longer accepts (family {family} at generation {})",
                world.now(),
                f.current_gen
            ),
        )
    }
}

/// The kind of the operation that made a storage write.
fn writer(log: &OpLog, op: Option<usize>) -> String {
    op.map_or("?".into(), |i| format!("{:?}", log.ops.borrow()[i].kind))
}

/// Errors a transient failure (or a cooldown repeating one) produces.
fn transient(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Network
            | ErrorCode::Timeout
            | ErrorCode::Oauth
            | ErrorCode::Broker
            | ErrorCode::InvalidResponse
    )
}
