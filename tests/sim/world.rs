//! The simulated world every context shares: virtual clock and timers, the two storage areas
//! (with a change-event log), the cross-context lock, and the network in front of the simulated
//! Atlassian. [`SimPlatform`] is one context's view of it: the engine's four ports.
//!
//! Every storage and lock operation is an await point (a yield), so the scheduler can run
//! another context between any two of them. Time moves only when the world moves it.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};

use jira_3lo::session::ports::{
    Area, Clock, CrossContextLock, HttpClient, HttpRequest, HttpResponse, KeyError, KeyValueStore,
    LockError, Method, ProofJwk, ProofKey, StoreError, TransportError,
};
use rand_pcg::rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use super::atlassian::{Atlassian, Handled};
use super::executor::yield_now;

/// How long the simulated client waits before a request times out.
pub const CLIENT_TIMEOUT_MS: u64 = 20_000;

/// The seeded PRNG every random choice of a schedule draws from.
pub struct Prng(Pcg64Mcg);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Prng(Pcg64Mcg::seed_from_u64(seed))
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant at these sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A storage write or removal as the change event a browser would fire.
#[derive(Debug, Clone)]
pub struct StorageEvent {
    pub at_ms: u64,
    pub ctx: usize,
    pub area: Area,
    pub key: String,
    /// `None`: removed.
    pub value: Option<String>,
    /// The operation whose task made the write.
    pub op: Option<usize>,
}

/// What the network does with one request (chosen by the PRNG when it is delivered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Deliver,
    /// The server processed it (a refresh token rotated) but the response never arrived.
    DropAfter,
    /// The connection failed before the server saw the request.
    DropBefore,
    /// No answer within [`CLIENT_TIMEOUT_MS`]; the server processed it or not.
    Timeout {
        processed: bool,
    },
    /// 5xx without processing.
    ServerError,
    /// 429 with `Retry-After` without processing.
    RateLimited,
    /// The user revoked the app (or changed password) just before: every family is revoked,
    /// then the request is processed (so a refresh gets `invalid_grant`).
    Revoked,
}

enum NetState {
    /// Sent, waiting for the scheduler to deliver it.
    Queued,
    /// Will fail with a timeout when its timer fires.
    TimingOut,
    Done(Result<HttpResponse, TransportError>),
}

struct InFlight {
    ctx: usize,
    request: HttpRequest,
    state: NetState,
    waker: Option<Waker>,
}

enum Timer {
    Wake(Waker),
    TimeOut(u64),
}

#[derive(Default)]
struct LockState {
    holder: Option<u64>,
    queue: VecDeque<u64>,
    wakers: BTreeMap<u64, Waker>,
}

/// Per-context network counters the invariants read.
#[derive(Debug, Clone, Default)]
pub struct NetStats {
    /// Requests this context sent.
    pub sent: u64,
    /// Requests of this context not answered yet.
    pub in_flight: u64,
    /// When this context last learned that a refresh request of its had failed (no token
    /// set): the time it released the refresh lock after the failed answer arrived. The
    /// engine's pause runs from when it sees the failure, which can be later than the answer's
    /// arrival when the clock jumps in between (a machine waking from sleep).
    pub last_refresh_failure_ms: Option<u64>,
    /// A failed refresh answer has arrived and the context has not released the lock since.
    refresh_failure_unseen: bool,
}

pub struct World {
    now: Cell<u64>,
    /// Virtual time added by the "expiry" operation's jumps (not by waiting).
    pub jumped_ms: Cell<u64>,
    timers: RefCell<BTreeMap<(u64, u64), Timer>>,
    seq: Cell<u64>,
    store: RefCell<BTreeMap<(u8, String), String>>,
    pub events: RefCell<Vec<StorageEvent>>,
    /// The engines' change listeners ([`KeyValueStore::watch`]), told of every write at once.
    listeners: RefCell<Vec<jira_3lo::session::ports::ChangeListener>>,
    locks: RefCell<BTreeMap<String, LockState>>,
    net: RefCell<BTreeMap<u64, InFlight>>,
    pub net_stats: RefCell<Vec<NetStats>>,
    pub server: RefCell<Atlassian>,
    pub rng: RefCell<Prng>,
    /// Percent of requests that meet a fault (per schedule).
    pub fault_percent: Cell<u64>,
    trace: RefCell<Option<Vec<String>>>,
    /// The task being polled, and the operation each driver task is running.
    pub polling: Cell<usize>,
    pub task_op: RefCell<BTreeMap<usize, usize>>,
}

fn area_id(area: Area) -> u8 {
    match area {
        Area::Session => 0,
        Area::Persistent => 1,
    }
}

impl World {
    pub fn new(seed: u64, contexts: usize, start_ms: u64, server: Atlassian, trace: bool) -> Self {
        World {
            now: Cell::new(start_ms),
            jumped_ms: Cell::new(0),
            timers: RefCell::default(),
            seq: Cell::new(0),
            store: RefCell::default(),
            events: RefCell::default(),
            listeners: RefCell::default(),
            locks: RefCell::default(),
            net: RefCell::default(),
            net_stats: RefCell::new(vec![NetStats::default(); contexts]),
            server: RefCell::new(server),
            rng: RefCell::new(Prng::new(seed)),
            fault_percent: Cell::new(0),
            trace: RefCell::new(trace.then(Vec::new)),
            polling: Cell::new(0),
            task_op: RefCell::default(),
        }
    }

    pub fn now(&self) -> u64 {
        self.now.get()
    }

    pub fn below(&self, n: u64) -> u64 {
        self.rng.borrow_mut().below(n)
    }

    pub fn chance(&self, percent: u64) -> bool {
        self.rng.borrow_mut().chance(percent)
    }

    /// Appends a trace line (only when tracing: a failing seed is rerun with it on).
    pub fn trace(&self, line: impl FnOnce() -> String) {
        if let Some(t) = self.trace.borrow_mut().as_mut() {
            t.push(format!("{:>10} {}", self.now(), line()));
        }
    }

    pub fn take_trace(&self) -> Vec<String> {
        self.trace.borrow_mut().take().unwrap_or_default()
    }

    // -- time ---------------------------------------------------------------------------------

    fn add_timer(&self, at_ms: u64, timer: Timer) {
        let seq = self.seq.get();
        self.seq.set(seq + 1);
        self.timers.borrow_mut().insert((at_ms, seq), timer);
    }

    pub fn next_timer(&self) -> Option<u64> {
        self.timers.borrow().keys().next().map(|(at, _)| *at)
    }

    /// Moves the clock forward to `at_ms` (never back) and fires every timer due by then.
    pub fn advance_to(&self, at_ms: u64) {
        if at_ms > self.now() {
            self.now.set(at_ms);
        }
        loop {
            let due = {
                let mut timers = self.timers.borrow_mut();
                match timers.keys().next() {
                    Some(&key) if key.0 <= self.now() => timers.remove(&key),
                    _ => None,
                }
            };
            match due {
                Some(Timer::Wake(w)) => w.wake(),
                Some(Timer::TimeOut(id)) => self.complete(id, Err(TransportError::Timeout)),
                None => break,
            }
        }
    }

    /// The expiry operation's jump: counted apart, so an operation's own duration excludes it.
    pub fn jump_to(&self, at_ms: u64) {
        if at_ms > self.now() {
            self.jumped_ms
                .set(self.jumped_ms.get() + (at_ms - self.now()));
            self.trace(|| format!("clock jumps to {at_ms}"));
            self.advance_to(at_ms);
        }
    }

    pub fn sleep(self: &Rc<Self>, ms: u64) -> impl Future<Output = ()> {
        let world = Rc::clone(self);
        let deadline = self.now().saturating_add(ms);
        let mut registered = false;
        std::future::poll_fn(move |cx| {
            if world.now() >= deadline {
                return Poll::Ready(());
            }
            if !registered {
                registered = true;
                world.add_timer(deadline, Timer::Wake(cx.waker().clone()));
            }
            Poll::Pending
        })
    }

    // -- storage ------------------------------------------------------------------------------

    /// Reads storage without an await point (the simulator and the invariants only).
    pub fn peek(&self, area: Area, key: &str) -> Option<String> {
        self.store
            .borrow()
            .get(&(area_id(area), key.to_string()))
            .cloned()
    }

    fn write(&self, ctx: usize, area: Area, key: &str, value: Option<&str>) {
        let k = (area_id(area), key.to_string());
        match value {
            Some(v) => self.store.borrow_mut().insert(k, v.to_string()),
            None => self.store.borrow_mut().remove(&k),
        };
        self.trace(|| {
            format!(
                "c{ctx} {} {key}",
                if value.is_some() { "set" } else { "remove" }
            )
        });
        self.events.borrow_mut().push(StorageEvent {
            at_ms: self.now(),
            ctx,
            area,
            key: key.to_string(),
            value: value.map(str::to_string),
            op: self.task_op.borrow().get(&self.polling.get()).copied(),
        });
        let listeners = self.listeners.borrow().clone();
        for listener in listeners {
            listener(Some(key));
        }
    }

    // -- lock ---------------------------------------------------------------------------------

    fn lock_enqueue(&self, name: &str) -> u64 {
        let ticket = self.seq.get();
        self.seq.set(ticket + 1);
        self.locks
            .borrow_mut()
            .entry(name.to_string())
            .or_default()
            .queue
            .push_back(ticket);
        ticket
    }

    /// True once `ticket` holds the lock; otherwise its waker is kept for the release.
    fn lock_poll(&self, name: &str, ticket: u64, waker: &Waker) -> bool {
        let mut locks = self.locks.borrow_mut();
        let state = locks.get_mut(name).expect("enqueued");
        if state.holder.is_none() && state.queue.front() == Some(&ticket) {
            state.queue.pop_front();
            state.wakers.remove(&ticket);
            state.holder = Some(ticket);
            return true;
        }
        state.wakers.insert(ticket, waker.clone());
        false
    }

    /// Releases (held) or abandons (still queued) `ticket`, waking the next in line.
    fn lock_leave(&self, name: &str, ticket: u64) {
        let next = {
            let mut locks = self.locks.borrow_mut();
            let state = locks.get_mut(name).expect("enqueued");
            if state.holder == Some(ticket) {
                state.holder = None;
            } else {
                state.queue.retain(|t| *t != ticket);
                state.wakers.remove(&ticket);
            }
            match (state.holder, state.queue.front()) {
                (None, Some(next)) => state.wakers.remove(next),
                _ => None,
            }
        };
        if let Some(w) = next {
            w.wake();
        }
    }

    // -- network ------------------------------------------------------------------------------

    fn submit(&self, ctx: usize, request: HttpRequest) -> u64 {
        let id = self.seq.get();
        self.seq.set(id + 1);
        {
            let mut stats = self.net_stats.borrow_mut();
            stats[ctx].sent += 1;
            stats[ctx].in_flight += 1;
        }
        self.trace(|| format!("c{ctx} sends #{id} {}", describe(&request)));
        self.net.borrow_mut().insert(
            id,
            InFlight {
                ctx,
                request,
                state: NetState::Queued,
                waker: None,
            },
        );
        id
    }

    /// Requests waiting for the scheduler to deliver them, in id order.
    pub fn queued(&self) -> Vec<u64> {
        self.net
            .borrow()
            .iter()
            .filter(|(_, f)| matches!(f.state, NetState::Queued))
            .map(|(id, _)| *id)
            .collect()
    }

    fn complete(&self, id: u64, result: Result<HttpResponse, TransportError>) {
        let waker = {
            let mut net = self.net.borrow_mut();
            let Some(flight) = net.get_mut(&id) else {
                return;
            };
            let is_refresh = is_refresh_request(&flight.request);
            let failed = !matches!(&result, Ok(r) if (200..300).contains(&r.status));
            let ctx = flight.ctx;
            let mut stats = self.net_stats.borrow_mut();
            stats[ctx].in_flight -= 1;
            if is_refresh && failed {
                stats[ctx].refresh_failure_unseen = true;
            }
            self.trace(|| match &result {
                Ok(r) => format!("c{ctx} receives #{id} {}", r.status),
                Err(e) => format!("c{ctx} receives #{id} {e}"),
            });
            flight.state = NetState::Done(result);
            flight.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Delivers request `id`: a little latency, then a fault or the server's answer.
    pub fn deliver(&self, id: u64) {
        self.advance_to(self.now() + self.below(300));
        let (ctx, request) = {
            let net = self.net.borrow();
            let Some(flight) = net.get(&id) else {
                return;
            };
            (flight.ctx, flight.request.clone())
        };
        let fault = self.pick_fault();
        let now = self.now();
        let process =
            |world: &World| -> Handled { world.server.borrow_mut().handle(ctx, &request, now) };
        self.trace(|| format!("net #{id} {fault:?}"));
        let result = match fault {
            Fault::Deliver => {
                let handled = process(self);
                if let Some(issue) = handled.issued {
                    self.server.borrow_mut().mark_delivered(issue, now);
                }
                Ok(handled.response)
            }
            Fault::DropAfter => {
                process(self);
                Err(TransportError::Network("connection reset".into()))
            }
            Fault::DropBefore => Err(TransportError::Network("connection refused".into())),
            Fault::Timeout { processed } => {
                if processed {
                    process(self);
                }
                if let Some(f) = self.net.borrow_mut().get_mut(&id) {
                    f.state = NetState::TimingOut;
                }
                self.add_timer(now + CLIENT_TIMEOUT_MS, Timer::TimeOut(id));
                return;
            }
            Fault::ServerError => Ok(server_error(&request)),
            Fault::RateLimited => Ok(rate_limited(&request, 1 + self.below(4))),
            Fault::Revoked => {
                self.server.borrow_mut().revoke_all(now);
                let handled = process(self);
                Ok(handled.response)
            }
        };
        self.complete(id, result);
    }

    fn pick_fault(&self) -> Fault {
        if !self.chance(self.fault_percent.get()) {
            return Fault::Deliver;
        }
        match self.below(13) {
            0 | 1 => Fault::DropAfter,
            2 | 3 => Fault::DropBefore,
            4 | 5 => Fault::Timeout {
                processed: self.chance(50),
            },
            6..=8 => Fault::ServerError,
            9..=11 => Fault::RateLimited,
            _ => Fault::Revoked,
        }
    }
}

fn is_refresh_request(request: &HttpRequest) -> bool {
    request.method == Method::Post
        && request
            .body
            .as_deref()
            .is_some_and(|b| b.contains("\"refresh_token\""))
}

/// A request as a trace line: method, path and which grant (never a header).
fn describe(request: &HttpRequest) -> String {
    let path = request
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or("", |(_, p)| p);
    let grant = match request.body.as_deref() {
        Some(b) if is_refresh_request(request) => {
            let token = serde_json::from_str::<serde_json::Value>(b)
                .ok()
                .and_then(|v| v["refresh_token"].as_str().map(str::to_string))
                .unwrap_or_default();
            format!(" refresh {token}")
        }
        Some(b) if b.contains("urn:jira-3lo:ticket") => " ticket".to_string(),
        _ => String::new(),
    };
    format!("{} /{path}{grant}", request.method.as_str())
}

fn json_response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.into(),
    }
}

fn is_token_endpoint(request: &HttpRequest) -> bool {
    request.url.ends_with("/oauth/token")
}

/// A 5xx as the broker (token endpoint) or the gateway would send it.
fn server_error(request: &HttpRequest) -> HttpResponse {
    if is_token_endpoint(request) {
        json_response(503, r#"{"error":"temporarily_unavailable"}"#)
    } else {
        json_response(500, r#"{"code":500,"message":"Internal Server Error"}"#)
    }
}

/// A 429 with `Retry-After: secs`, as the broker or the gateway would send it.
fn rate_limited(request: &HttpRequest, secs: u64) -> HttpResponse {
    let mut resp = if is_token_endpoint(request) {
        json_response(
            429,
            r#"{"error":"rate_limited","error_description":"slow down"}"#,
        )
    } else {
        json_response(429, r#"{"code":429,"message":"Too Many Requests"}"#)
    };
    resp.headers.push(("retry-after".into(), secs.to_string()));
    resp
}

/// One context's ports over the shared world.
pub struct SimPlatform {
    pub world: Rc<World>,
    pub ctx: usize,
}

impl HttpClient for SimPlatform {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        let world = Rc::clone(&self.world);
        let ctx = self.ctx;
        let mut id = None;
        std::future::poll_fn(move |cx| {
            let id = *id.get_or_insert_with(|| world.submit(ctx, request.clone()));
            let mut net = world.net.borrow_mut();
            let flight = net.get_mut(&id).expect("submitted");
            if matches!(flight.state, NetState::Done(_)) {
                let Some(InFlight {
                    state: NetState::Done(result),
                    ..
                }) = net.remove(&id)
                else {
                    unreachable!()
                };
                return Poll::Ready(result);
            }
            flight.waker = Some(cx.waker().clone());
            Poll::Pending
        })
    }
}

impl KeyValueStore for SimPlatform {
    fn get(
        &self,
        area: Area,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> {
        let world = Rc::clone(&self.world);
        let key = key.to_string();
        let ctx = self.ctx;
        async move {
            yield_now().await;
            let value = world.peek(area, &key);
            world.trace(|| {
                let found = if value.is_some() { "" } else { " (none)" };
                format!("c{ctx} get {key}{found}")
            });
            Ok(value)
        }
    }

    fn set(
        &self,
        area: Area,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), StoreError>> {
        let (world, ctx) = (Rc::clone(&self.world), self.ctx);
        let (key, value) = (key.to_string(), value.to_string());
        async move {
            yield_now().await;
            world.write(ctx, area, &key, Some(&value));
            Ok(())
        }
    }

    fn watch(&self, listener: jira_3lo::session::ports::ChangeListener) {
        self.world.listeners.borrow_mut().push(listener);
    }

    fn remove(&self, area: Area, key: &str) -> impl Future<Output = Result<(), StoreError>> {
        let (world, ctx) = (Rc::clone(&self.world), self.ctx);
        let key = key.to_string();
        async move {
            yield_now().await;
            world.write(ctx, area, &key, None);
            Ok(())
        }
    }
}

/// Releases (or abandons) a lock ticket when dropped, so a cancelled waiter never wedges it.
struct Ticket {
    world: Rc<World>,
    name: String,
    ticket: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.world.lock_leave(&self.name, self.ticket);
    }
}

/// The simulated Web Lock: FIFO per name, `critical` polled only while held. The one place
/// that knows the port's shape, so a change of `run_exclusive`'s signature (a typed error for
/// a lock that cannot be had) is a change here and in the impl below.
async fn exclusive<F: Future>(
    world: Rc<World>,
    ctx: usize,
    name: String,
    critical: F,
) -> Result<F::Output, LockError> {
    yield_now().await;
    let ticket = Ticket {
        ticket: world.lock_enqueue(&name),
        world: Rc::clone(&world),
        name,
    };
    std::future::poll_fn(|cx| {
        if world.lock_poll(&ticket.name, ticket.ticket, cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    world.trace(|| format!("c{ctx} holds {}", ticket.name));
    let out = critical.await;
    world.trace(|| format!("c{ctx} releases {}", ticket.name));
    drop(ticket);
    {
        let mut stats = world.net_stats.borrow_mut();
        if std::mem::take(&mut stats[ctx].refresh_failure_unseen) {
            stats[ctx].last_refresh_failure_ms = Some(world.now());
        }
    }
    Ok(out)
}

impl CrossContextLock for SimPlatform {
    fn run_exclusive<F: Future>(
        &self,
        name: &str,
        critical: F,
    ) -> impl Future<Output = Result<F::Output, LockError>> {
        exclusive(Rc::clone(&self.world), self.ctx, name.to_string(), critical)
    }
}

/// The sim's broker checks no proofs: a fixed key and signature stand in.
impl ProofKey for SimPlatform {
    async fn public_jwk(&self) -> Result<ProofJwk, KeyError> {
        Ok(ProofJwk {
            x: "sim-x".into(),
            y: "sim-y".into(),
        })
    }

    async fn sign(&self, _input: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(vec![0; 64])
    }
}

impl Clock for SimPlatform {
    fn now_ms(&self) -> u64 {
        self.world.now()
    }

    fn sleep_ms(&self, ms: u64) -> impl Future<Output = ()> {
        self.world.sleep(ms)
    }
}
