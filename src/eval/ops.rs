//! Evaluation: operations and steps. Each operation reads through a [`Scope`] and then
//! changes the event's [`State`] (its payload, variables and emitted payloads).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::expr::{Scope, check, eval};
use super::js;
use super::{Event, Failure};
use crate::plan::{Body, Clean, Field, Op, Origin, Step};

/// Most payloads one `fan_out` may make from an event: each is a copy of the payload, so the
/// limit bounds what one event can cost.
pub const MAX_FAN_OUT: usize = 1_000;

/// One field write, for `--explain`: the payload path and the rule that wrote it.
#[derive(Debug, Clone)]
pub struct TraceEntry {
    pub field: String,
    pub origin: Origin,
    /// `build`, `set` or `default`.
    pub op: &'static str,
}

/// What the steps of one event build up.
pub struct State {
    pub payload: Value,
    pub vars: Vec<Option<Value>>,
    /// Emitted payloads, each with its trace (empty unless tracing).
    pub out: Vec<(Value, Vec<TraceEntry>)>,
    /// The working payload's trace, when tracing.
    pub trace: Option<Vec<TraceEntry>>,
}

impl State {
    fn record(&mut self, f: &Field, op: &'static str) {
        if let Some(t) = &mut self.trace {
            t.push(TraceEntry {
                field: f.target_text.clone(),
                origin: f.origin.clone(),
                op,
            });
        }
    }
}

/// The names of the step (and child step) an error happened in.
pub struct StepFailure {
    pub step: String,
    pub child: Option<String>,
    pub failure: Failure,
}

impl Event<'_> {
    pub(super) fn scope<'s>(&'s self, st: &'s State) -> Scope<'s> {
        Scope {
            plan: self.plan,
            message: self.message,
            config: self.config,
            metadata: self.metadata,
            payload: &st.payload,
            vars: &st.vars,
            var_names: self.var_names,
            local: None,
        }
    }

    pub fn run_steps(&self, steps: &[Step], st: &mut State) -> Result<(), StepFailure> {
        for step in steps {
            if let Some(w) = &step.when {
                let go = check(w, &self.scope(st)).map_err(|failure| StepFailure {
                    step: step.name.clone(),
                    child: None,
                    failure,
                })?;
                if !go {
                    continue;
                }
            }
            match &step.body {
                Body::Ops(ops) => self.run_ops(ops, st).map_err(|failure| StepFailure {
                    step: step.name.clone(),
                    child: None,
                    failure,
                })?,
                Body::Children(children) => {
                    self.run_steps(children, st).map_err(|f| StepFailure {
                        step: step.name.clone(),
                        child: Some(f.child.unwrap_or(f.step)),
                        failure: f.failure,
                    })?;
                }
            }
        }
        Ok(())
    }

    pub fn run_ops(&self, ops: &[Op], st: &mut State) -> Result<(), Failure> {
        for op in ops {
            self.run_op(op, st)?;
        }
        Ok(())
    }

    fn value(&self, f: &Field, st: &State) -> Result<Option<Value>, Failure> {
        Ok(eval(&f.value, &self.scope(st))?.map(Cow::into_owned))
    }

    fn run_op(&self, op: &Op, st: &mut State) -> Result<(), Failure> {
        match op {
            Op::Build(parts) => {
                let mut payload = Value::Object(Map::new());
                if let Some(t) = &mut st.trace {
                    t.clear();
                }
                for (i, part) in parts.iter().enumerate() {
                    let mut built = Value::Object(Map::new());
                    for f in part {
                        let v = self.value(f, st)?;
                        if js::present(v.as_ref()) {
                            js::set(&mut built, &f.target, v).map_err(|e| set_failure(f, &e))?;
                            st.record(f, "build");
                        }
                    }
                    if i == 0 {
                        payload = built;
                    } else {
                        js::merge(&mut payload, built);
                    }
                }
                st.payload = payload;
            }
            Op::Set(fields) => {
                for f in fields {
                    let v = self.value(f, st)?;
                    js::set(&mut st.payload, &f.target, v).map_err(|e| set_failure(f, &e))?;
                    st.record(f, "set");
                }
            }
            Op::Default(pairs) => {
                for (at, f) in pairs {
                    if !js::defined(self.scope(st).read(at)) {
                        let v = self.value(f, st)?;
                        js::set(&mut st.payload, &f.target, v).map_err(|e| set_failure(f, &e))?;
                        st.record(f, "default");
                    }
                }
            }
            Op::Let { slot, value } => {
                let v = eval(value, &self.scope(st))?.map(Cow::into_owned);
                st.vars[*slot] = v;
            }
            Op::If {
                cond,
                then,
                otherwise,
            } => {
                if check(cond, &self.scope(st))? {
                    self.run_ops(then, st)?;
                } else {
                    self.run_ops(otherwise, st)?;
                }
            }
            Op::Require {
                cond,
                error,
                error_type,
                origin,
            } => {
                let s = self.scope(st);
                if !check(cond, &s)? {
                    let mut f = Failure::new(s.render(error, &[])?, error_type);
                    f.rule = Some(Box::new(origin.clone()));
                    return Err(f);
                }
            }
            Op::Fail {
                error,
                error_type,
                origin,
            } => {
                let mut f = Failure::new(self.scope(st).render(error, &[])?, error_type);
                f.rule = Some(Box::new(origin.clone()));
                return Err(f);
            }
            Op::Switch { on, cases, default } => {
                let key = eval(on, &self.scope(st))?;
                let chosen = match key.as_deref() {
                    Some(Value::String(k)) => {
                        cases.iter().find(|(c, _)| c == k).map(|(_, ops)| ops)
                    }
                    _ => None,
                };
                self.run_ops(chosen.unwrap_or(default), st)?;
            }
            Op::FanOut { over, slot, ops } => {
                let items = match eval(over, &self.scope(st))?.map(Cow::into_owned) {
                    None => Vec::new(),
                    Some(Value::Array(a)) => a,
                    Some(other) => vec![other],
                };
                if items.len() > MAX_FAN_OUT {
                    return Err(Failure::instrumentation(format!(
                        "fan_out over {} items is beyond the engine's limit of {MAX_FAN_OUT} payloads per event",
                        items.len()
                    )));
                }
                // The payload is split: each item gets its own copy (the last one the
                // original), and the working payload is empty afterwards.
                let base = std::mem::take(&mut st.payload);
                let base_trace = st.trace.clone();
                let n = items.len();
                let mut base = Some(base);
                for (i, item) in items.into_iter().enumerate() {
                    st.payload = if i + 1 == n {
                        base.take().unwrap_or_default()
                    } else {
                        base.clone().unwrap_or_default()
                    };
                    st.trace.clone_from(&base_trace);
                    st.vars[*slot] = Some(item);
                    self.run_ops(ops, st)?;
                }
                st.payload = Value::Object(Map::new());
            }
            Op::Emit { clean } => {
                // The payload moves out; the working payload starts empty again.
                let mut p = std::mem::replace(&mut st.payload, Value::Object(Map::new()));
                let trace = st.trace.as_mut().map(std::mem::take).unwrap_or_default();
                match clean {
                    Clean::None => {}
                    Clean::TopNulls => js::clean_top(&mut p),
                    Clean::Deep => {
                        p = js::clean_deep(p).unwrap_or_else(|| Value::Object(Map::new()))
                    }
                }
                st.out.push((p, trace));
            }
        }
        Ok(())
    }
}

fn set_failure(f: &Field, e: &js::SetError) -> Failure {
    Failure::instrumentation(format!("cannot set `{}`: {e}", f.target_text))
}
