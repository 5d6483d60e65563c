//! What the simulated users do: each driver (a popup, a tab, the service worker) runs a random
//! sequence of operations on its context's `Session`, and every operation is logged with the
//! step, virtual time and network counters at its start and end, for the invariants.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use jira_3lo::jira::requests;
use jira_3lo::session::ports::Area;
use jira_3lo::session::{Session, Status};
use jira_3lo::{Error, ErrorCode};

use super::atlassian::LEEWAY_MS;
use super::world::{SimPlatform, World};

pub const REDIRECT: &str = "https://ext.sim/callback";
pub const ACCESS_KEY: &str = "jira3lo:default:access";
pub const REFRESH_KEY: &str = "jira3lo:default:refresh";
pub const SITE_KEY: &str = "jira3lo:default:site";
pub const SKEW_MS: u64 = jira_3lo::core::tokens::DEFAULT_SKEW_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Call,
    Expire,
    SignOut,
    SignIn,
    ChooseSite,
    Status,
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Err(ErrorCode),
}

#[derive(Debug, Clone)]
pub struct OpEnd {
    pub step: u64,
    pub at: u64,
    /// `world.events.len()` when it ended: the storage events before it happened before.
    pub event: usize,
    pub outcome: Outcome,
    pub sent: u64,
}

#[derive(Debug, Clone)]
pub struct OpRecord {
    pub ctx: usize,
    pub kind: OpKind,
    pub step: u64,
    pub at: u64,
    pub jumped: u64,
    pub sent: u64,
    pub in_flight: u64,
    pub end: Option<OpEnd>,
}

/// Every operation of the schedule, and the scheduler's step counter.
#[derive(Default)]
pub struct OpLog {
    pub step: Cell<u64>,
    /// The fault-free setup is running (the user approves the consent page).
    pub setup: Cell<bool>,
    pub ops: RefCell<Vec<OpRecord>>,
}

impl OpLog {
    fn begin(&self, world: &World, ctx: usize, kind: OpKind) -> usize {
        let stats = world.net_stats.borrow()[ctx].clone();
        let mut ops = self.ops.borrow_mut();
        world
            .task_op
            .borrow_mut()
            .insert(world.polling.get(), ops.len());
        ops.push(OpRecord {
            ctx,
            kind,
            step: self.step.get(),
            at: world.now(),
            jumped: world.jumped_ms.get(),
            sent: stats.sent,
            in_flight: stats.in_flight,
            end: None,
        });
        ops.len() - 1
    }

    fn end(&self, world: &World, id: usize, outcome: Outcome) {
        world.task_op.borrow_mut().remove(&world.polling.get());
        let mut ops = self.ops.borrow_mut();
        let op = &mut ops[id];
        op.end = Some(OpEnd {
            step: self.step.get(),
            at: world.now(),
            event: world.events.borrow().len(),
            outcome,
            sent: world.net_stats.borrow()[op.ctx].sent,
        });
    }

    /// True when no operation is running.
    pub fn quiescent(&self) -> bool {
        self.ops.borrow().iter().all(|o| o.end.is_some())
    }
}

fn outcome<T>(r: &Result<T, Error>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(e) => Outcome::Err(e.code()),
    }
}

/// One context's handle for the drivers.
#[derive(Clone)]
pub struct Context {
    pub ctx: usize,
    pub session: Session<SimPlatform>,
    pub world: Rc<World>,
    pub log: Rc<OpLog>,
}

impl Context {
    fn pick(&self) -> OpKind {
        match self.world.below(100) {
            0..=44 => OpKind::Call,
            45..=56 => OpKind::Expire,
            57..=63 => OpKind::SignOut,
            64..=74 => OpKind::SignIn,
            75..=86 => OpKind::ChooseSite,
            _ => OpKind::Status,
        }
    }

    /// A driver: `ops` random operations with random pauses between them.
    pub async fn drive(self, driver: usize, ops: usize) {
        for _ in 0..ops {
            if self.world.chance(50) {
                let pause = self.world.below(8_000);
                self.world.sleep(pause).await;
            }
            let kind = self.pick();
            self.run(driver, kind).await;
        }
    }

    /// Runs and logs one operation.
    pub async fn run(&self, driver: usize, kind: OpKind) -> Outcome {
        let (world, ctx) = (&self.world, self.ctx);
        let id = self.log.begin(world, ctx, kind);
        world.trace(|| format!("c{ctx}.{driver} begins {kind:?} (op {id})"));
        let result = match kind {
            OpKind::Call => outcome(&self.session.send(requests::myself()).await),
            OpKind::Expire => {
                self.expire();
                Outcome::Ok
            }
            OpKind::SignOut => outcome(&self.session.sign_out().await),
            OpKind::SignIn => self.sign_in().await,
            OpKind::ChooseSite => self.choose_site().await,
            OpKind::Status => outcome(&self.session.status().await.map(|s| {
                world.trace(|| format!("c{ctx}.{driver} status {}", short(&s)));
            })),
        };
        world.trace(|| format!("c{ctx}.{driver} ends {kind:?} (op {id}): {result:?}"));
        self.log.end(world, id, result.clone());
        result
    }

    /// Moves the clock past the stored access token's expiry (or its skew, or far past the
    /// refresh leeway), as a machine that sleeps would.
    fn expire(&self) {
        let w = &self.world;
        let stored = w
            .peek(Area::Session, ACCESS_KEY)
            .and_then(|v| serde_json::from_str::<serde_json::Value>(&v).ok())
            .and_then(|v| v["expires_at_ms"].as_u64());
        let target = match (stored, w.below(10)) {
            (Some(exp), 0..=3) => exp.saturating_sub(SKEW_MS) + w.below(SKEW_MS),
            (Some(exp), 4..=7) => exp + w.below(120_000),
            _ => w.now() + LEEWAY_MS + w.below(3_600_000),
        };
        w.jump_to(target);
    }

    /// `begin_sign_in`, the consent page (approve, or now and then deny), `complete_sign_in`.
    async fn sign_in(&self) -> Outcome {
        let url = match self.session.begin_sign_in(REDIRECT).await {
            Ok(url) => url,
            Err(e) => return Outcome::Err(e.code()),
        };
        let pause = self.world.below(5_000);
        self.world.sleep(pause).await;
        let state = url
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("state="))
            .unwrap_or("")
            .to_string();
        let callback = if !self.log.setup.get() && self.world.chance(5) {
            format!("{REDIRECT}#error=access_denied&state={state}")
        } else {
            let code = self.world.server.borrow_mut().authorize(self.world.now());
            format!("{REDIRECT}#ticket={code}&state={state}")
        };
        outcome(&self.session.complete_sign_in(&callback).await)
    }

    /// `sites()`, then one of them chosen at random.
    async fn choose_site(&self) -> Outcome {
        let sites = match self.session.sites().await {
            Ok(s) => s,
            Err(e) => return Outcome::Err(e.code()),
        };
        if sites.is_empty() {
            return Outcome::Ok;
        }
        let pick = &sites[self.world.below(sites.len() as u64) as usize];
        outcome(&self.session.choose_site(&pick.id).await)
    }
}

fn short(s: &Status) -> String {
    match s {
        Status::SignedOut => "signed out".into(),
        Status::SiteSelectionRequired { sites } => format!("choose among {}", sites.len()),
        Status::SignedIn { site } => format!("signed in at {}", site.id),
    }
}
