//! Evaluation: a plan and one event -> the destination payloads, or an error naming the step
//! it happened in. Pure: no I/O, nothing parsed here.

pub mod dynamic;
pub mod expr;
pub mod js;
mod ops;

use serde_json::{Map, Value};

use crate::plan::{Origin, Plan};
use ops::State;
pub use ops::{StepFailure, TraceEntry};

/// A runtime error: the message and the error type reported in statTags.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub message: String,
    pub error_type: String,
    /// The spec rule that failed, where one did (a `require` or `fail`).
    pub rule: Option<Box<Origin>>,
}

impl Failure {
    pub fn new(message: String, error_type: &str) -> Self {
        Failure {
            message,
            error_type: error_type.to_owned(),
            rule: None,
        }
    }

    pub fn instrumentation(message: String) -> Self {
        Failure::new(message, "instrumentation")
    }
}

/// One event as the steps see it.
pub struct Event<'a> {
    pub plan: &'a Plan,
    pub message: &'a Value,
    pub config: &'a Value,
    pub metadata: &'a Value,
    pub var_names: &'a [String],
}

/// Runs the plan over one message: the message type rule, the config checks, then the flow
/// of the message's type. Returns the payloads in order.
pub fn run(
    plan: &Plan,
    message: &Value,
    config: &Value,
    metadata: &Value,
) -> Result<Vec<Value>, StepFailure> {
    run_with(plan, message, config, metadata, false)
        .map(|out| out.into_iter().map(|(p, _)| p).collect())
}

/// [`run`], also telling for each payload which rule wrote which field.
#[allow(clippy::type_complexity)]
pub fn run_traced(
    plan: &Plan,
    message: &Value,
    config: &Value,
    metadata: &Value,
) -> Result<Vec<(Value, Vec<TraceEntry>)>, StepFailure> {
    run_with(plan, message, config, metadata, true)
}

#[allow(clippy::type_complexity)]
fn run_with(
    plan: &Plan,
    message: &Value,
    config: &Value,
    metadata: &Value,
    trace: bool,
) -> Result<Vec<(Value, Vec<TraceEntry>)>, StepFailure> {
    let rule = &plan.message_type;
    let base = Event {
        plan,
        message,
        config,
        metadata,
        var_names: &[],
    };
    let empty = State {
        payload: Value::Object(Map::new()),
        vars: Vec::new(),
        out: Vec::new(),
        trace: None,
    };
    let fail = |step: &str, failure: Failure| StepFailure {
        step: step.to_owned(),
        child: None,
        failure,
    };
    let scope = base.scope(&empty);
    let raw = scope.read(&rule.path);
    let ty = match raw {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if rule.lowercase => s.to_lowercase(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            let extra = [("type_of", Value::String(js::type_name(Some(other)).into()))];
            let msg = scope
                .render(&rule.not_string, &extra)
                .map_err(|f| fail(&rule.step, f))?;
            return Err(fail(&rule.step, Failure::instrumentation(msg)));
        }
    };
    if ty.is_empty() {
        let msg = scope
            .render(&rule.missing, &[])
            .map_err(|f| fail(&rule.check_step, f))?;
        return Err(fail(&rule.check_step, Failure::instrumentation(msg)));
    }
    let Some(flow) = plan.flows.get(&ty) else {
        let extra = [("type", Value::String(ty))];
        let msg = scope
            .render(&rule.unsupported, &extra)
            .map_err(|f| fail(&rule.check_step, f))?;
        return Err(fail(&rule.check_step, Failure::instrumentation(msg)));
    };
    for c in &plan.config_checks {
        let v = scope.read(&c.path);
        if let Some(m) = &c.required
            && !js::truthy(v)
        {
            let msg = scope
                .render(m, &[])
                .map_err(|f| fail(&rule.check_step, f))?;
            return Err(fail(&rule.check_step, Failure::new(msg, &c.error_type)));
        }
        if let (Some((re, m)), Some(Value::String(s))) = (&c.pattern, v)
            && !re.is_match(s)
        {
            let msg = scope
                .render(m, &[])
                .map_err(|f| fail(&rule.check_step, f))?;
            return Err(fail(&rule.check_step, Failure::new(msg, &c.error_type)));
        }
    }
    let event = Event {
        var_names: &flow.var_names,
        ..base
    };
    let mut st = State {
        payload: Value::Object(Map::new()),
        vars: vec![None; flow.slots],
        out: Vec::new(),
        trace: trace.then(Vec::new),
    };
    event.run_steps(&flow.steps, &mut st)?;
    if st.out.is_empty() {
        return Err(fail(
            &rule.check_step,
            Failure::instrumentation(format!("the `{ty}` flow produced no payload")),
        ));
    }
    Ok(st.out)
}
