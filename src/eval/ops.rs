//! Evaluation: operations and steps. Each operation reads through a [`Scope`] and then
//! changes the event's [`State`] (its payload, variables and responses). `return` ends the
//! event's steps.

use std::borrow::Cow;

use crate::value::{Map, Str, Value};

use super::expr::{Bound, Scope, eval};
use super::js;
use super::{Event, Failure, Output};
use crate::compile::ANY;
use crate::coverage::{Hit, Kind};
use crate::plan::{Body, Clean, Expr, Field, Op, Origin, Request, Root, Shape, Step, Target};

/// Most payloads one `fan_out` may make from an event: each is a copy of the payload, so the
/// limit bounds what one event can cost.
pub const MAX_FAN_OUT: usize = 1_000;

/// One field write, for `--explain`: the payload path and the rule that wrote it.
#[derive(Debug, Clone)]
pub struct TraceEntry {
    pub field: String,
    pub origin: Origin,
    /// `build`, `set`, `default`, or `unset` (a `set` whose undefined value removed the field).
    pub op: &'static str,
}

/// What a traced run records (`--explain`, coverage); nothing is recorded otherwise.
#[derive(Default)]
pub struct Trace {
    /// The working payload's field writes.
    pub fields: Vec<TraceEntry>,
    /// Every rule reached, in order (repeats included).
    pub hits: Vec<Hit>,
}

/// What the steps of one event build up.
pub struct State<'e> {
    pub payload: Value,
    pub vars: Vec<Option<Bound<'e>>>,
    /// Responses, each with its trace (empty unless tracing).
    pub out: Vec<(Output, Vec<TraceEntry>)>,
    /// The trace, when tracing: one untaken branch per operation otherwise.
    pub trace: Option<Box<Trace>>,
    /// The flow the message type chose, once checked.
    pub flow: Option<Str>,
}

impl State<'_> {
    /// A field wrote a value.
    fn record(&mut self, f: &Field, op: &'static str) {
        if let Some(t) = &mut self.trace {
            t.fields.push(TraceEntry {
                field: f.target_text.clone(),
                origin: f.origin.clone(),
                op,
            });
            t.hits.push(Hit::new(&f.origin, Kind::Field));
        }
    }

    /// A rule was reached.
    pub(super) fn hit(&mut self, origin: &Origin, kind: Kind) {
        if let Some(t) = &mut self.trace {
            t.hits.push(Hit::new(origin, kind));
        }
    }
}

/// Whether the event's steps go on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    Continue,
    Return,
}

/// The names of the step (and child step) an error happened in.
pub struct StepFailure {
    pub step: String,
    pub child: Option<String>,
    pub failure: Failure,
}

impl<'e> Event<'e> {
    /// A scope of the event's own parts alone, for expressions that read no variable and not
    /// the payload: what they give lives as long as the event.
    fn event_scope(&self) -> Scope<'e> {
        static NONE: Value = Value::Null;
        Scope {
            plan: self.plan,
            message: self.message,
            config: self.config,
            metadata: self.metadata,
            payload: &NONE,
            vars: &[],
            prefixes: self.prefixes,
            local: None,
            destination: self.destination,
            connection: self.connection,
            env: self.env,
            now_ms: self.now_ms,
        }
    }

    /// The event with what its steps have built so far.
    pub(super) fn scope<'s>(&'s self, st: &'s State<'e>) -> Scope<'s> {
        Scope {
            payload: &st.payload,
            vars: &st.vars,
            ..self.event_scope()
        }
    }

    /// The message type check and the config checks. On failure, the step to name when the
    /// check runs on its own (`None`: the check step).
    pub(super) fn check_type(&self, st: &mut State<'e>) -> Result<(), (Option<&str>, Failure)> {
        let rule = &self.plan.message_type;
        if rule.any {
            st.flow = Some(Str::from(ANY));
            return self.check_config(st).map_err(|f| (None, f));
        }
        let raw = self.scope(st).read(&rule.path).cloned();
        let ty = match raw {
            // The reference's `$.assert(.message.type, ...)`: any falsy value (`false`, `0`)
            // is missing, as undefined, null and "" are.
            None => Str::default(),
            Some(v) if !js::truthy(Some(&v)) => Str::default(),
            Some(Value::String(s)) if rule.lowercase => js::lowercase(&s),
            Some(Value::String(s)) => s,
            // Read as it is (no `lowercase`), a type that is not a string meets the reference's
            // `in` check, which refuses it in its unsupported text, the value written as
            // JavaScript's String() writes it; unless the spec words this case itself.
            Some(other) if !rule.lowercase && rule.written[1].is_none() => {
                st.vars[rule.type_slot] =
                    Some(Value::String(js::to_js_string(Some(&other)).into()).into());
                return Err((None, self.type_error(st, 2)));
            }
            Some(other) => {
                st.vars[rule.type_of_slot] =
                    Some(Value::String(js::type_name(Some(&other)).into()).into());
                return Err((Some(&rule.step), self.type_error(st, 1)));
            }
        };
        if ty.is_empty() {
            return Err((None, self.type_error(st, 0)));
        }
        if !self.plan.flows.contains_key(ty.as_str()) {
            st.vars[rule.type_slot] = Some(Value::String(ty).into());
            return Err((None, self.type_error(st, 2)));
        }
        st.flow = Some(ty);
        self.check_config(st).map_err(|f| (None, f))
    }

    /// The message type text `which` (missing, not a string, unsupported), as the refusal.
    fn type_error(&self, st: &mut State<'e>, which: usize) -> Failure {
        let rule = &self.plan.message_type;
        let text = [&rule.missing, &rule.not_string, &rule.unsupported][which];
        let written = rule.written[which].as_ref();
        let mut f = match self.scope(st).render(text) {
            Ok(m) => Failure::instrumentation(m),
            Err(f) => return f,
        };
        if let Some(at) = written {
            st.hit(at, Kind::Error);
        }
        f.rule = Some(Box::new(written.unwrap_or(&rule.origin).clone()));
        f
    }

    fn check_config(&self, st: &mut State<'e>) -> Result<(), Failure> {
        let scope = self.scope(st);
        let mut refused = None;
        for c in &self.plan.config_checks {
            let v = scope.read(&c.path);
            if let Some((m, at)) = &c.required
                && !js::truthy(v)
            {
                refused = Some((scope.render(m)?, &c.error_type, at));
                break;
            }
            if let (Some((re, m, at)), Some(Value::String(s))) = (&c.pattern, v)
                && !re.is_match(s)
            {
                refused = Some((scope.render(m)?, &c.error_type, at));
                break;
            }
        }
        match refused {
            None => Ok(()),
            Some((message, error_type, at)) => {
                st.hit(at, Kind::Error);
                let mut f = Failure::new(message, error_type);
                f.rule = Some(Box::new(at.clone()));
                Err(f)
            }
        }
    }

    pub fn run_steps(&self, steps: &'e [Step], st: &mut State<'e>) -> Result<Control, StepFailure> {
        let wrap = |step: &Step, failure: Failure| StepFailure {
            step: failure
                .step
                .as_deref()
                .map_or_else(|| step.name.clone(), str::to_owned),
            child: None,
            failure,
        };
        for step in steps {
            if let Some(w) = &step.when {
                let go = eval(w, &self.scope(st))
                    .map(|v| js::truthy(v.as_deref()))
                    .map_err(|f| wrap(step, f))?;
                st.hit(
                    &step.origin,
                    if go { Kind::WhenTrue } else { Kind::WhenFalse },
                );
                if !go {
                    continue;
                }
            }
            let control = match &step.body {
                Body::Ops(ops) => self.run_ops(ops, st).map_err(|f| wrap(step, f))?,
                Body::Children(children) => {
                    self.run_steps(children, st).map_err(|f| StepFailure {
                        step: step.name.clone(),
                        child: Some(f.child.unwrap_or(f.step)),
                        failure: f.failure,
                    })?
                }
            };
            if control == Control::Return {
                return Ok(Control::Return);
            }
        }
        Ok(Control::Continue)
    }

    pub fn run_ops(&self, ops: &'e [Op], st: &mut State<'e>) -> Result<Control, Failure> {
        for op in ops {
            if self.run_op(op, st)? == Control::Return {
                return Ok(Control::Return);
            }
        }
        Ok(Control::Continue)
    }

    fn value(&self, f: &Field, st: &State<'e>) -> Result<Option<Value>, Failure> {
        Ok(eval(&f.value, &self.scope(st))?.map(Cow::into_owned))
    }

    fn assign(
        &self,
        f: &Field,
        st: &mut State<'e>,
        v: Option<Value>,
        op: &'static str,
    ) -> Result<(), Failure> {
        // An undefined value writes nothing: it is traced only when it removes a field that
        // was there (`unset`).
        let wrote = v.is_some();
        let removes = !wrote
            && st.trace.is_some()
            && matches!(f.target, Target::Path(_))
            && written_at(&st.payload, &f.target_text);
        match &f.target {
            Target::Path(keys) => {
                js::set(&mut st.payload, keys, v).map_err(|e| set_failure(f, &e))?;
            }
            Target::Assign => {
                if let (Some(v), Value::Object(m)) = (v, &mut st.payload) {
                    super::expr::spread_into(m, v);
                }
            }
        }
        if wrote {
            st.record(f, op);
        } else if removes {
            st.record(f, "unset");
        }
        Ok(())
    }

    fn run_op(&self, op: &'e Op, st: &mut State<'e>) -> Result<Control, Failure> {
        match op {
            Op::Build(parts) => {
                let mut payload = Value::Object(Map::new());
                if let Some(t) = &mut st.trace {
                    t.fields.clear();
                }
                for (i, part) in parts.iter().enumerate() {
                    let mut built = Value::Object(Map::new());
                    for f in part {
                        let v = self.value(f, st)?;
                        if js::present(v.as_ref()) {
                            match &f.target {
                                Target::Path(keys) => {
                                    js::set(&mut built, keys, v).map_err(|e| set_failure(f, &e))?
                                }
                                Target::Assign => {
                                    if let (Some(v), Value::Object(m)) = (v, &mut built) {
                                        super::expr::spread_into(m, v);
                                    }
                                }
                            }
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
                    self.assign(f, st, v, "set")?;
                }
            }
            Op::Default(pairs) => {
                for (at, f) in pairs {
                    if !js::defined(self.scope(st).read(at)) {
                        let v = self.value(f, st)?;
                        self.assign(f, st, v, "default")?;
                    }
                }
            }
            Op::Let {
                slot,
                value,
                memo,
                event_only,
            } => {
                // A config-only value, remembered for the destination (not while tracing,
                // which reports every rule an event reaches).
                let kept = memo.zip(self.memo).filter(|_| st.trace.is_none());
                // A config-only value that is made, not read, is made once (remembered).
                if *event_only && (kept.is_none() || matches!(value, Expr::Path(_))) {
                    st.vars[*slot] = eval(value, &self.event_scope())?.map(|v| match v {
                        Cow::Borrowed(v) => Bound::Event(v),
                        Cow::Owned(v) => Bound::Own(v),
                    });
                } else if let Some((i, m)) = kept
                    && let Some(v) = m.get(i)
                {
                    st.vars[*slot] = v.map(Bound::Shared);
                } else {
                    let v = eval(value, &self.scope(st))?.map(Cow::into_owned);
                    st.vars[*slot] = match kept {
                        Some((i, m)) => m.put(i, v).map(Bound::Shared),
                        None => v.map(Bound::Own),
                    };
                }
            }
            Op::If {
                cond,
                then,
                otherwise,
                origin,
            } => {
                let go = js::truthy(eval(cond, &self.scope(st))?.as_deref());
                st.hit(origin, if go { Kind::Then } else { Kind::Else });
                return self.run_ops(if go { then } else { otherwise }, st);
            }
            Op::Require {
                cond,
                error,
                error_type,
                origin,
            } => {
                let s = self.scope(st);
                if !js::truthy(eval(cond, &s)?.as_deref()) {
                    let mut f = Failure::new(s.render(error)?, error_type);
                    f.rule = Some(Box::new(origin.clone()));
                    st.hit(origin, Kind::Error);
                    return Err(f);
                }
                st.hit(origin, Kind::Holds);
            }
            Op::Fail {
                error,
                error_type,
                origin,
            } => {
                let mut f = Failure::new(self.scope(st).render(error)?, error_type);
                f.rule = Some(Box::new(origin.clone()));
                st.hit(origin, Kind::Error);
                return Err(f);
            }
            Op::Switch {
                on,
                cases,
                default,
                origin,
            } => {
                let key = eval(on, &self.scope(st))?;
                let chosen = match key.as_deref() {
                    Some(Value::String(k)) => cases.iter().position(|(c, _)| c == k),
                    _ => None,
                };
                match chosen {
                    Some(i) => {
                        st.hit(origin, Kind::Case(i as u32));
                        return self.run_ops(&cases[i].1, st);
                    }
                    None => {
                        st.hit(origin, Kind::NoCase);
                        return self.run_ops(default, st);
                    }
                }
            }
            Op::FanOut {
                over,
                slot,
                ops,
                origin,
            } => {
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
                if !items.is_empty() {
                    st.hit(origin, Kind::Reached);
                }
                // The payload is split: each item gets its own copy (the last one the
                // original), and the working payload is empty afterwards.
                let base = std::mem::take(&mut st.payload);
                let base_trace = st.trace.as_ref().map(|t| t.fields.clone());
                let n = items.len();
                let mut base = Some(base);
                for (i, item) in items.into_iter().enumerate() {
                    st.payload = if i + 1 == n {
                        base.take().unwrap_or_default()
                    } else {
                        base.clone().unwrap_or_default()
                    };
                    if let (Some(t), Some(b)) = (&mut st.trace, &base_trace) {
                        t.fields.clone_from(b);
                    }
                    st.vars[*slot] = Some(item.into());
                    if self.run_ops(ops, st)? == Control::Return {
                        return Ok(Control::Return);
                    }
                }
                st.payload = Value::Object(Map::new());
            }
            Op::Emit {
                clean,
                request,
                origin,
            } => {
                // The payload moves out; the working payload starts empty again.
                let mut p = std::mem::replace(&mut st.payload, Value::Object(Map::new()));
                let mut trace = match &mut st.trace {
                    Some(t) => std::mem::take(&mut t.fields),
                    None => Vec::new(),
                };
                match clean {
                    Clean::None => {}
                    Clean::TopNulls => js::clean_top(&mut p),
                    Clean::Deep => {
                        p = js::clean_deep(p).unwrap_or_else(|| Value::Object(Map::new()))
                    }
                }
                if st.trace.is_some() {
                    // Only the fields the emitted payload still has (cleaning and later
                    // writes remove some).
                    trace.retain(|t| {
                        t.op == "unset" || t.field.starts_with("...") || written_at(&p, &t.field)
                    });
                }
                st.hit(origin, Kind::Reached);
                let out = if request.fast {
                    Output::Payload(p, request.clone())
                } else {
                    let (mut built, hole) = self.build(request, st, &p)?;
                    // The router batches payloads: keep it beside its response. Where the
                    // request holds the whole payload, it moves there unless it is kept.
                    let kept = match hole.and_then(|at| value_at(&mut built, &at)) {
                        Some(slot) if self.env.router => {
                            *slot = p.clone();
                            Some(p)
                        }
                        Some(slot) => {
                            *slot = p;
                            None
                        }
                        None => self.env.router.then_some(p),
                    };
                    Output::Built(built, kept)
                };
                st.out.push((out, trace));
            }
            Op::Return { value, origin } => {
                let v = eval(value, &self.scope(st))?
                    .map_or(Value::Object(Map::new()), Cow::into_owned);
                st.hit(origin, Kind::Reached);
                st.out.push((Output::Built(v, None), Vec::new()));
                return Ok(Control::Return);
            }
            Op::CheckType => {
                self.check_type(st).map_err(|(_, f)| f)?;
            }
            Op::Drop { origin } => {
                st.hit(origin, Kind::Reached);
                return Ok(Control::Return);
            }
        }
        Ok(Control::Continue)
    }

    /// The response of a payload: each request field evaluated, in order; fields whose
    /// value is undefined are left out, as `JSON.stringify` leaves them out. Where a field
    /// (or a member of one, by keys) is the whole payload, it is left null and its keys
    /// returned, for the caller to move the payload there rather than copy it.
    fn build<'r>(
        &self,
        request: &'r Request,
        st: &State<'e>,
        payload: &Value,
    ) -> Result<(Value, Option<Vec<&'r str>>), Failure> {
        let scope = Scope {
            payload,
            ..self.scope(st)
        };
        let mut m = Map::new();
        let mut hole = Hole::default();
        for (name, shape) in &request.fields {
            hole.at.push(name);
            let v = shape_value(shape, &scope, Some(&mut hole)).map_err(|mut f| {
                f.step.get_or_insert_with(|| request.step.as_str().into());
                f
            })?;
            match v {
                Some(v) => {
                    m.insert(Str::from(name.as_str()), v);
                }
                // `userId` keeps its place: the response's userId is always written.
                None if name == "userId" => {
                    m.insert(Str::from(name.as_str()), Value::Null);
                }
                None => {}
            }
            hole.at.pop();
        }
        Ok((Value::Object(m), hole.found))
    }
}

/// Where a request holds the whole payload: the keys down to the shape being evaluated, and
/// those of the first shape that is the whole payload.
#[derive(Default)]
struct Hole<'r> {
    at: Vec<&'r str>,
    found: Option<Vec<&'r str>>,
}

/// The value at `keys` (objects only).
fn value_at<'v>(mut v: &'v mut Value, keys: &[&str]) -> Option<&'v mut Value> {
    for k in keys {
        v = v.as_object_mut()?.get_mut(k)?;
    }
    Some(v)
}

/// A request shape's value. Given a [`Hole`], the first shape that is the whole payload
/// (reached through keys alone) is left null and its keys noted there.
fn shape_value<'r>(
    shape: &'r Shape,
    s: &Scope<'_>,
    mut hole: Option<&mut Hole<'r>>,
) -> Result<Option<Value>, Failure> {
    Ok(match shape {
        Shape::Expr(Expr::Path(p)) if p.root == Root::Payload && p.segs.is_empty() => match hole {
            Some(h) if h.found.is_none() && s.payload.is_object() => {
                h.found = Some(h.at.clone());
                Some(Value::Null)
            }
            _ => Some(s.payload.clone()),
        },
        Shape::Expr(e) => eval(e, s)?.map(Cow::into_owned),
        Shape::Object(entries) => {
            let mut m = Map::with_capacity(entries.len());
            for (k, sh) in entries {
                let v = match (k, hole.as_deref_mut()) {
                    (Some(k), Some(h)) => {
                        h.at.push(k);
                        let v = shape_value(sh, s, Some(&mut *h));
                        h.at.pop();
                        v?
                    }
                    _ => shape_value(sh, s, None)?,
                };
                super::expr::put(&mut m, k.as_deref(), v);
            }
            Some(Value::Object(m))
        }
        Shape::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for sh in items {
                out.push(shape_value(sh, s, None)?.unwrap_or(Value::Null));
            }
            Some(Value::Array(out))
        }
    })
}

/// Whether the payload has a value at a written field's path.
fn written_at(payload: &Value, path: &str) -> bool {
    let mut cur = payload;
    for key in js::split_set_path(path) {
        let next = match (cur, &key) {
            (Value::Object(m), k) => m.get(k.as_prop().as_str()),
            (Value::Array(a), k) => js::array_index(&k.as_prop()).and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return false,
        }
    }
    true
}

fn set_failure(f: &Field, e: &js::SetError) -> Failure {
    Failure::instrumentation(format!("cannot set `{}`: {e}", f.target_text))
}
