//! One schedule: a seed decides the world (k contexts, sites, fault rate), the operations, the
//! interleaving and the faults; the loop runs it to the end and checks the invariants after
//! every step.

use std::rc::Rc;

use jira_3lo::session::{Session, SessionConfig};

use super::atlassian::Atlassian;
use super::executor::Executor;
use super::invariants::{Checker, Invariant, Violation};
use super::operations::{Context, OpKind, OpLog, Outcome};
use super::world::{SimPlatform, World};

/// A little after 2023-11-14: any fixed start works, the clock is virtual.
const START_MS: u64 = 1_700_000_000_000;
/// A schedule that takes more steps than this is stuck somewhere (operations are bounded far
/// below it; see [`super::invariants::MAX_OP_STEPS`]).
const MAX_SCHEDULE_STEPS: u64 = 500_000;

pub struct Report {
    pub seed: u64,
    pub contexts: usize,
    pub sites: usize,
    pub fault_percent: u64,
    pub steps: u64,
    pub ops: usize,
    pub violation: Option<Violation>,
    pub trace: Vec<String>,
}

fn config() -> SessionConfig {
    let mut c = SessionConfig::new("https://broker.sim");
    c.api_base_url = "https://api.sim".into();
    c
}

/// Runs one scheduler step: polls a ready task or delivers a queued request (the PRNG picks
/// which), or, when neither exists, moves the clock to the next timer. False once nothing is
/// left to do.
fn step(exec: &mut Executor, world: &World) -> bool {
    let ready = exec.ready();
    let queued = world.queued();
    let choices = (ready.len() + queued.len()) as u64;
    if choices == 0 {
        return match world.next_timer() {
            Some(at) => {
                world.advance_to(at);
                true
            }
            None => false,
        };
    }
    let pick = world.below(choices) as usize;
    if pick < ready.len() {
        world.polling.set(ready[pick]);
        exec.poll(ready[pick]);
    } else {
        world.deliver(queued[pick - ready.len()]);
    }
    true
}

/// Runs the executor until nothing is left, checking after every step.
fn run_to_end(
    exec: &mut Executor,
    world: &World,
    log: &OpLog,
    checker: &mut Checker,
) -> Result<(), Violation> {
    loop {
        log.step.set(log.step.get() + 1);
        let progressed = step(exec, world);
        checker.check(world, log)?;
        if !progressed {
            break;
        }
        if log.step.get() > MAX_SCHEDULE_STEPS {
            return Err(Violation {
                invariant: Invariant::EveryOperationEnds,
                tag: "schedule does not end".into(),
                detail: format!("still running after {MAX_SCHEDULE_STEPS} steps"),
            });
        }
    }
    if exec.live() > 0 {
        let running: Vec<String> = log
            .ops
            .borrow()
            .iter()
            .enumerate()
            .filter(|(_, o)| o.end.is_none())
            .map(|(i, o)| format!("op {i} (c{} {:?})", o.ctx, o.kind))
            .collect();
        return Err(Violation {
            invariant: Invariant::EveryOperationEnds,
            tag: "hang".into(),
            detail: format!(
                "nothing runnable, nothing in flight, no timer, yet {} task(s) unfinished: {}",
                exec.live(),
                running.join(", ")
            ),
        });
    }
    Ok(())
}

pub fn run(seed: u64, trace: bool) -> Report {
    let mut setup = super::world::Prng::new(seed ^ 0x5eed_5eed_5eed_5eed);
    let contexts = 2 + setup.below(4) as usize;
    let sites = 1 + setup.below(2) as usize;
    let fault_percent = [0, 5, 10, 20, 30][setup.below(5) as usize];
    let signed_in = setup.chance(80);
    let world = Rc::new(World::new(
        seed,
        contexts,
        START_MS,
        Atlassian::new(sites),
        trace,
    ));
    let log = Rc::new(OpLog::default());
    let ctxs: Vec<Context> = (0..contexts)
        .map(|ctx| Context {
            ctx,
            session: Session::new(
                config(),
                SimPlatform {
                    world: Rc::clone(&world),
                    ctx,
                },
            ),
            world: Rc::clone(&world),
            log: Rc::clone(&log),
        })
        .collect();
    world.trace(|| {
        format!("seed {seed}: {contexts} contexts, {sites} site(s), {fault_percent}% faults, signed in: {signed_in}")
    });
    let mut exec = Executor::default();
    let mut checker = Checker::default();
    let mut report = Report {
        seed,
        contexts,
        sites,
        fault_percent,
        steps: 0,
        ops: 0,
        violation: None,
        trace: Vec::new(),
    };

    // Setup without faults: context 0 signs in (and picks a site when there are two).
    if signed_in {
        let first = ctxs[0].clone();
        let choose = sites == 2 && setup.chance(50);
        exec.spawn(async move {
            let signed = first.run(0, OpKind::SignIn).await;
            assert_eq!(signed, Outcome::Ok, "setup sign-in without faults");
            if choose {
                first.run(0, OpKind::ChooseSite).await;
            }
        });
    }
    log.setup.set(true);
    let mut result = run_to_end(&mut exec, &world, &log, &mut checker);
    log.setup.set(false);

    if result.is_ok() {
        world.fault_percent.set(fault_percent);
        for c in &ctxs {
            for driver in 0..1 + setup.below(2) as usize {
                let ops = 3 + setup.below(6) as usize;
                exec.spawn(c.clone().drive(driver, ops));
            }
        }
        result = run_to_end(&mut exec, &world, &log, &mut checker);
    }
    report.steps = log.step.get();
    report.ops = log.ops.borrow().len();
    report.violation = result.err();
    if let Some(v) = &report.violation {
        world.trace(|| {
            format!(
                "VIOLATION of invariant {} ({}): {}",
                v.invariant as u8, v.tag, v.detail
            )
        });
    }
    report.trace = world.take_trace();
    report
}
