//! Evaluation: a plan and one event -> the destination responses, or an error naming the step
//! it happened in. Pure: no I/O, nothing parsed here; the clock is given.

pub mod dates;
pub mod dynamic;
pub mod expr;
pub mod func;
pub mod js;
mod ops;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::plan::{Origin, Plan, Request};
use ops::{Control, State};
pub use ops::{StepFailure, TraceEntry};

/// A runtime error: the message and the error type reported in statTags.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub message: String,
    pub error_type: String,
    /// The spec rule that failed, where one did (a `require` or `fail`).
    pub rule: Option<Box<Origin>>,
    /// The step to name instead of the one running (building a request names its own).
    pub step: Option<Box<str>>,
}

impl Failure {
    pub fn new(message: String, error_type: &str) -> Self {
        Failure {
            message,
            error_type: error_type.to_owned(),
            rule: None,
            step: None,
        }
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
    /// A response built field by field (or returned as it is).
    Built(Value),
}

/// One event as the steps see it.
pub struct Event<'a> {
    pub plan: &'a Plan,
    pub message: &'a Value,
    pub config: &'a Value,
    pub metadata: &'a Value,
    pub now_ms: i64,
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
        dates::parse(Some(&Value::String(iso.to_owned()))).map(|ms| Clock(Some(ms as i64)))
    }
}

/// Runs the plan over one message: the destination's steps and the message type check, then
/// the flow of the message's type. Returns the responses in order.
pub fn run(
    plan: &Plan,
    message: &Value,
    config: &Value,
    metadata: &Value,
    clock: Clock,
) -> Result<Vec<Output>, StepFailure> {
    run_with(plan, message, config, metadata, clock, false)
        .map(|out| out.into_iter().map(|(p, _)| p).collect())
}

/// [`run`], also telling for each response which rule wrote which payload field.
#[allow(clippy::type_complexity)]
pub fn run_traced(
    plan: &Plan,
    message: &Value,
    config: &Value,
    metadata: &Value,
    clock: Clock,
) -> Result<Vec<(Output, Vec<TraceEntry>)>, StepFailure> {
    run_with(plan, message, config, metadata, clock, true)
}

#[allow(clippy::type_complexity)]
fn run_with(
    plan: &Plan,
    message: &Value,
    config: &Value,
    metadata: &Value,
    clock: Clock,
    trace: bool,
) -> Result<Vec<(Output, Vec<TraceEntry>)>, StepFailure> {
    let event = Event {
        plan,
        message,
        config,
        metadata,
        now_ms: clock.now_ms(),
    };
    let mut st = State {
        payload: Value::Object(Map::new()),
        vars: vec![None; plan.slots],
        out: Vec::new(),
        trace: trace.then(Vec::new),
        flow: None,
    };
    let rule = &plan.message_type;
    // The type check on its own, named after the step the rule gives.
    let check_type = |st: &mut State| {
        event
            .check_type(st)
            .map_err(|(implicit_step, failure)| StepFailure {
                step: implicit_step.unwrap_or(&rule.check_step).to_owned(),
                child: None,
                failure,
            })
    };
    if !plan.preamble_checks_type {
        check_type(&mut st)?;
    }
    if event.run_steps(&plan.preamble, &mut st)? == Control::Return {
        return Ok(st.out);
    }
    if st.flow.is_none() {
        // The destination's steps skipped their `check_type`: check here.
        check_type(&mut st)?;
    }
    let Some(flow) = st.flow.as_ref().and_then(|k| plan.flows.get(k)) else {
        return Err(StepFailure {
            step: rule.check_step.clone(),
            child: None,
            failure: Failure::instrumentation("no flow takes this message".into()),
        });
    };
    st.payload = Value::Object(Map::new());
    let control = event.run_steps(&flow.steps, &mut st)?;
    if st.out.is_empty() && control != Control::Return {
        let ty = st.flow.clone().unwrap_or_default();
        return Err(StepFailure {
            step: rule.check_step.clone(),
            child: None,
            failure: Failure::instrumentation(format!("the `{ty}` flow produced no payload")),
        });
    }
    Ok(st.out)
}
