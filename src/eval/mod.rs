//! Evaluation: a plan and one event -> the destination responses, or an error naming the step
//! it happened in. Pure: no I/O, nothing parsed here; the clock is given.

pub mod dates;
pub mod dynamic;
pub mod expr;
pub mod func;
pub mod js;
mod ops;

use std::sync::Arc;

use crate::value::{Map, Str, Value};

use crate::plan::{Origin, Plan, Request};
use ops::{Control, State, Trace};

pub use js::MAX_PREFIX;
pub use ops::{StepFailure, TraceEntry};

/// A runtime error: the message and the error type reported in statTags. Boxed, so that a
/// result of the evaluator (which recurses through every expression) is no larger than a
/// value: errors are rare, results are everywhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure(Box<FailureData>);

/// What a [`Failure`] says.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureData {
    pub message: String,
    pub error_type: String,
    /// The spec rule that failed, where one did (a `require` or `fail`).
    pub rule: Option<Box<Origin>>,
    /// The step to name instead of the one running (building a request names its own).
    pub step: Option<Box<str>>,
}

impl std::ops::Deref for Failure {
    type Target = FailureData;

    fn deref(&self) -> &FailureData {
        &self.0
    }
}

impl std::ops::DerefMut for Failure {
    fn deref_mut(&mut self) -> &mut FailureData {
        &mut self.0
    }
}

impl Failure {
    pub fn new(message: String, error_type: &str) -> Self {
        Failure(Box::new(FailureData {
            message,
            error_type: error_type.to_owned(),
            rule: None,
            step: None,
        }))
    }

    pub fn instrumentation(message: String) -> Self {
        Failure::new(message, "instrumentation")
    }
}

/// One response an event gives.
#[derive(Debug, Clone)]
pub enum Output {
    /// The payload, to go out through a request whose fields are all literal.
    Payload(Value, Arc<Request>),
    /// A response built field by field (or returned as it is), and, for the router, the
    /// payload it was built from.
    Built(Value, Option<Value>),
}

impl Output {
    /// The payload an `emit` made this response from (a returned value is its own payload).
    pub fn payload(&self) -> &Value {
        match self {
            Output::Payload(p, _) => p,
            Output::Built(_, Some(p)) => p,
            Output::Built(r, None) => r,
        }
    }
}

/// What an event is mapped with besides its item: the clock, the random source, the named
/// constants, and whether it is mapped for the router.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub clock: Clock,
    /// Bytes every random draw returns (tests and conformance); else the system's randomness.
    pub random: Option<Vec<u8>>,
    /// The spec's named constants, after `--const` overrides (an object).
    pub consts: Value,
    pub router: bool,
    /// Where the rules each run reaches are collected (`eventmap test --coverage`); when
    /// set, every run is traced.
    pub coverage: Option<crate::coverage::Hits>,
}

impl Env {
    /// `n` random bytes: the fixed ones (repeated as needed) when set.
    pub fn random_bytes(&self, n: usize) -> Vec<u8> {
        match &self.random {
            Some(fixed) if !fixed.is_empty() => fixed.iter().copied().cycle().take(n).collect(),
            _ => {
                let mut b = vec![0u8; n];
                if getrandom::fill(&mut b).is_err() {
                    // No system randomness: the clock is better than zeros.
                    let seed = self.clock.now_ms().to_le_bytes();
                    b.iter_mut()
                        .zip(seed.iter().cycle())
                        .for_each(|(x, s)| *x = *s);
                }
                b
            }
        }
    }

    /// Bytes from hex text (`--random-hex`).
    pub fn parse_hex(hex: &str) -> Option<Vec<u8>> {
        if !hex.len().is_multiple_of(2) {
            return None;
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect()
    }
}

/// The values of a plan's config-only `let`s for one destination (see `compile::memo`),
/// filled as events reach them.
#[derive(Default)]
pub struct Memo(std::cell::RefCell<Vec<Option<Option<Arc<Value>>>>>);

impl Memo {
    fn get(&self, i: usize) -> Option<Option<Arc<Value>>> {
        self.0.borrow().get(i).cloned().flatten()
    }

    /// Remembers a value, and gives it back shared.
    fn put(&self, i: usize, v: Option<Value>) -> Option<Arc<Value>> {
        let v = v.map(Arc::new);
        let mut m = self.0.borrow_mut();
        if m.len() <= i {
            m.resize(i + 1, None);
        }
        m[i] = Some(v.clone());
        v
    }
}

/// One event as the steps see it.
pub struct Event<'a> {
    pub plan: &'a Plan,
    pub message: &'a Value,
    pub config: &'a Value,
    pub metadata: &'a Value,
    pub destination: &'a Value,
    pub connection: &'a Value,
    pub env: &'a Env,
    pub now_ms: i64,
    /// Where config-only values are remembered, when the item's destination is cached.
    pub memo: Option<&'a Memo>,
    /// Where the message paths' parents were found (see `Path::prefix`), for this event.
    pub prefixes: &'a [std::cell::Cell<js::Prefix>],
}

impl<'a> Event<'a> {
    /// One request item's parts, run against `plan` at the environment's clock.
    fn new(
        plan: &'a Plan,
        item: Item<'a>,
        env: &'a Env,
        prefixes: &'a [std::cell::Cell<js::Prefix>],
    ) -> Self {
        Event {
            prefixes,
            plan,
            message: item.message,
            config: item.config,
            metadata: item.metadata,
            destination: item.destination,
            connection: item.connection,
            env,
            now_ms: env.clock.now_ms(),
            memo: item.memo,
        }
    }
}

/// The clock: a fixed time (`--now`), or the system's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Clock(pub Option<i64>);

impl Clock {
    pub fn now_ms(self) -> i64 {
        self.0.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        })
    }

    /// A clock fixed at an ISO 8601 time.
    pub fn fixed(iso: &str) -> Option<Clock> {
        #[allow(clippy::cast_possible_truncation)]
        dates::parse(Some(&Value::String(Str::from(iso)))).map(|ms| Clock(Some(ms as i64)))
    }
}

/// Runs the plan over one message: the destination's steps and the message type check, then
/// the flow of the message's type. Returns the responses in order.
/// The parts of one request item the steps read.
#[derive(Clone, Copy)]
pub struct Item<'a> {
    pub message: &'a Value,
    pub config: &'a Value,
    pub metadata: &'a Value,
    /// The whole destination (its `ID`, `Config`, ...), as `destination` in expressions.
    pub destination: &'a Value,
    /// The request item's connection (reverse ETL), as `connection`; null when absent.
    pub connection: &'a Value,
    /// Where the values of config-only `let`s are kept for this item's destination.
    pub memo: Option<&'a Memo>,
}

pub fn run(plan: &Plan, item: Item<'_>, env: &Env) -> Result<Vec<Output>, StepFailure> {
    run_with(plan, item, env, false).map(|out| out.into_iter().map(|(p, _)| p).collect())
}

/// [`run`], also telling for each response which rule wrote which payload field.
#[allow(clippy::type_complexity)]
pub fn run_traced(
    plan: &Plan,
    item: Item<'_>,
    env: &Env,
) -> Result<Vec<(Output, Vec<TraceEntry>)>, StepFailure> {
    run_with(plan, item, env, true)
}

/// Runs checks (steps of `require`, `fail`, `let`, ...) over one event; their payloads and
/// responses are dropped. Used by the router's group checks.
pub fn check(
    plan: &Plan,
    steps: &[crate::plan::Step],
    slots: usize,
    item: Item<'_>,
    env: &Env,
) -> Result<(), StepFailure> {
    let prefixes = vec![std::cell::Cell::default(); plan.read_prefixes.len()];
    let event = Event::new(plan, item, env, &prefixes);
    let mut st = State {
        payload: Value::Object(Map::new()),
        vars: vec![None; slots],
        out: Vec::new(),
        trace: env.coverage.as_ref().map(|_| Box::default()),
        flow: None,
    };
    let result = event.run_steps(steps, &mut st).map(|_| ());
    finish(&event, st.trace, result)
}

/// The end of a run: the rules it reached go to the coverage collector, and an error text
/// the engine composed itself has the item's secrets masked (a spec's own text is the
/// reference's answer and stays as it is).
fn finish<T>(
    event: &Event<'_>,
    trace: Option<Box<Trace>>,
    result: Result<T, StepFailure>,
) -> Result<T, StepFailure> {
    if let (Some(hits), Some(t)) = (&event.env.coverage, trace) {
        hits.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(t.hits);
    }
    result.map_err(|mut f| {
        if f.failure.rule.is_none() && !event.plan.secrets.is_empty() {
            crate::mask::Secrets::of_config(event.plan, event.config)
                .mask_in(&mut f.failure.message);
        }
        f
    })
}

#[allow(clippy::type_complexity)]
fn run_with(
    plan: &Plan,
    item: Item<'_>,
    env: &Env,
    trace: bool,
) -> Result<Vec<(Output, Vec<TraceEntry>)>, StepFailure> {
    let prefixes = vec![std::cell::Cell::default(); plan.read_prefixes.len()];
    let event = Event::new(plan, item, env, &prefixes);
    let mut st = State {
        payload: Value::Object(Map::new()),
        vars: vec![None; plan.slots],
        out: Vec::new(),
        trace: (trace || env.coverage.is_some()).then(Box::default),
        flow: None,
    };
    let result = run_state(&event, &mut st);
    let trace = st.trace.take();
    finish(&event, trace, result.map(|()| st.out))
}

/// The destination's steps and the message type check, then the flow.
fn run_state<'e>(event: &Event<'e>, st: &mut State<'e>) -> Result<(), StepFailure> {
    let plan = event.plan;
    let rule = &plan.message_type;
    // The type check on its own, named after the step the rule gives.
    let check_type = |st: &mut State<'e>| {
        event
            .check_type(st)
            .map_err(|(implicit_step, failure)| StepFailure {
                step: implicit_step.unwrap_or(&rule.check_step).to_owned(),
                child: None,
                failure,
            })
    };
    if !plan.preamble_checks_type {
        check_type(st)?;
    }
    if event.run_steps(&plan.preamble, st)? == Control::Return {
        return Ok(());
    }
    if st.flow.is_none() {
        // The destination's steps skipped their `check_type`: check here.
        check_type(st)?;
    }
    let Some(flow) = st.flow.as_ref().and_then(|k| plan.flows.get(k.as_str())) else {
        return Err(StepFailure {
            step: rule.check_step.clone(),
            child: None,
            failure: Failure::instrumentation("no flow takes this message".into()),
        });
    };
    st.payload = Value::Object(Map::new());
    let control = event.run_steps(&flow.steps, st)?;
    if st.out.is_empty() && control != Control::Return {
        let ty = st.flow.clone().unwrap_or_default();
        return Err(StepFailure {
            step: rule.check_step.clone(),
            child: None,
            failure: Failure::instrumentation(format!("the `{ty}` flow produced no payload")),
        });
    }
    Ok(())
}
