//! Coverage of a destination's spec rules by its golden cases (`eventmap test --coverage`).
//! The rules are listed from the plan ([`rules`]); the ones reached are recorded by a traced
//! evaluation, on only when [`crate::eval::Env::coverage`] is set (an untaken branch per
//! operation otherwise; no allocation, no bookkeeping per field).
//!
//! What counts as a rule, each at the file:line:col it is written at:
//! - a field of `build`, `set` or `default` (a field group's and a procedure's once, however
//!   many flows use them): reached when it writes a value (a `build` field only writes a
//!   present one, a `default` only where the payload has none), or when a `set` of an
//!   undefined value removes a field that was there;
//! - a step's `when`: taken and skipped, two rules;
//! - an `if` (and a `fail` with `when`): then and else, two rules, `else` counting even when
//!   it is not written;
//! - a `switch`: each case, and no case matching (its `default`, written or not);
//! - a `require`: holding, one rule, and its error text, another;
//! - an error text: `fail`, a `require`'s `error`, a config key's `required` and `pattern`
//!   (its `pattern_error`, or the default text), and the `message_type` texts a spec writes
//!   (`missing`, `not_string`, `unsupported`; the engine's default texts are not rules);
//! - an `emit` and a `return` reached, a `fan_out` over at least one element.
//!
//! `let`, `call`, `check_type` and the router's batching are not rules of their own (what
//! they lead to is). A rule after an unconditional `fail` or `return` (in its operation list,
//! or in an earlier step without `when`) can never run: it is dead, reported as such and left
//! out of the percentages, since no case can reach it.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::plan::{Body, Op, Origin, Plan, Step};

/// What was reached at a rule's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A field wrote a value.
    Field,
    /// A step's `when` was truthy / falsy.
    WhenTrue,
    WhenFalse,
    /// An `if` took `then` / `else`.
    Then,
    Else,
    /// A `switch` took its case of this index.
    Case(u32),
    /// A `switch` matched no case.
    NoCase,
    /// A `require` held.
    Holds,
    /// An error text was given.
    Error,
    /// An `emit`, `return` or `fan_out` was reached.
    Reached,
}

impl Kind {
    pub fn is_error(self) -> bool {
        self == Kind::Error
    }
}

/// One rule reached: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hit {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
    pub kind: Kind,
}

impl Hit {
    pub fn new(origin: &Origin, kind: Kind) -> Hit {
        Hit {
            file: origin.file.clone(),
            line: origin.pos.line,
            col: origin.pos.col,
            kind,
        }
    }
}

/// The rules runs have reached, collected across runs (and threads).
pub type Hits = Arc<Mutex<HashSet<Hit>>>;

/// A new, empty collector.
pub fn collector() -> Hits {
    Arc::new(Mutex::new(HashSet::new()))
}

/// One rule of a plan.
#[derive(Debug, Clone)]
pub struct Rule {
    pub hit: Hit,
    /// The path into the spec.
    pub spec_path: Arc<str>,
    /// What reaching it means, for people (`field properties.total`, `when: skipped`, ...).
    pub what: String,
    /// It stands after an unconditional `fail` or `return`: nothing can reach it.
    pub dead: bool,
}

/// Every rule of a plan, once each, in file and position order.
pub fn rules(plan: &Plan) -> Vec<Rule> {
    let mut out: BTreeMap<Hit, Rule> = BTreeMap::new();
    let mut add = |origin: &Origin, kind: Kind, what: String, dead: bool| {
        let hit = Hit::new(origin, kind);
        // A rule used in several places (a procedure, a field group) is live if any is.
        out.entry(hit.clone())
            .and_modify(|r| r.dead &= dead)
            .or_insert_with(|| Rule {
                hit,
                spec_path: origin.spec_path.clone(),
                what,
                dead,
            });
    };
    let rule = &plan.message_type;
    let names = ["missing", "not_string", "unsupported"];
    for (at, name) in rule.written.iter().zip(names) {
        if let Some(at) = at {
            add(
                at,
                Kind::Error,
                format!("error: message type {name}"),
                false,
            );
        }
    }
    for c in &plan.config_checks {
        if let Some((t, at)) = &c.required {
            add(at, Kind::Error, format!("error: {}", t.source), false);
        }
        if let Some((_, t, at)) = &c.pattern {
            add(at, Kind::Error, format!("error: {}", t.source), false);
        }
    }
    let mut walk = |steps: &[Step]| {
        steps_rules(
            steps,
            &mut Walk {
                add: &mut add,
                dead: false,
            },
        );
    };
    walk(&plan.preamble);
    // A flow taking several types is walked once per type; its rules are kept once.
    for f in plan.flows.values() {
        walk(&f.steps);
    }
    if let Some(r) = &plan.router {
        walk(&r.checks);
    }
    out.into_values().collect()
}

/// Walking a list of steps or operations: where rules go, and whether what comes next can
/// still run.
struct Walk<'a> {
    add: &'a mut dyn FnMut(&Origin, Kind, String, bool),
    dead: bool,
}

impl Walk<'_> {
    fn add(&mut self, origin: &Origin, kind: Kind, what: String) {
        (self.add)(origin, kind, what, self.dead);
    }

    /// Walks a nested list; what follows it is dead only where it was already.
    fn nested(&mut self, f: impl FnOnce(&mut Self)) {
        let before = self.dead;
        f(self);
        self.dead = before;
    }
}

fn steps_rules(steps: &[Step], w: &mut Walk<'_>) {
    for s in steps {
        if s.when.is_some() {
            w.add(&s.origin, Kind::WhenTrue, format!("step {} taken", s.name));
            w.add(
                &s.origin,
                Kind::WhenFalse,
                format!("step {} skipped", s.name),
            );
            // A step that may not run ends nothing.
            w.nested(|w| body_rules(&s.body, w));
        } else {
            body_rules(&s.body, w);
        }
    }
}

fn body_rules(body: &Body, w: &mut Walk<'_>) {
    match body {
        Body::Ops(ops) => ops_rules(ops, w),
        Body::Children(c) => steps_rules(c, w),
    }
}

fn ops_rules(ops: &[Op], w: &mut Walk<'_>) {
    for op in ops {
        match op {
            Op::Build(parts) => {
                for f in parts.iter().flatten() {
                    w.add(&f.origin, Kind::Field, format!("field {}", f.target_text));
                }
            }
            Op::Set(fields) => {
                for f in fields {
                    w.add(&f.origin, Kind::Field, format!("field {}", f.target_text));
                }
            }
            Op::Default(pairs) => {
                for (_, f) in pairs {
                    w.add(&f.origin, Kind::Field, format!("default {}", f.target_text));
                }
            }
            Op::Let { .. } | Op::CheckType => {}
            Op::If {
                then,
                otherwise,
                origin,
                ..
            } => {
                w.add(origin, Kind::Then, "if: then".into());
                w.add(origin, Kind::Else, "if: else".into());
                w.nested(|w| ops_rules(then, w));
                w.nested(|w| ops_rules(otherwise, w));
            }
            Op::Require { error, origin, .. } => {
                w.add(origin, Kind::Holds, "require: holds".into());
                w.add(origin, Kind::Error, format!("error: {}", error.source));
            }
            Op::Fail { error, origin, .. } => {
                w.add(origin, Kind::Error, format!("error: {}", error.source));
                w.dead = true;
            }
            Op::Switch {
                cases,
                default,
                origin,
                ..
            } => {
                for (i, (name, case)) in cases.iter().enumerate() {
                    w.add(origin, Kind::Case(i as u32), format!("switch: case {name}"));
                    w.nested(|w| ops_rules(case, w));
                }
                w.add(origin, Kind::NoCase, "switch: no case (default)".into());
                w.nested(|w| ops_rules(default, w));
            }
            Op::FanOut { ops, origin, .. } => {
                w.add(origin, Kind::Reached, "fan_out: over some elements".into());
                w.nested(|w| ops_rules(ops, w));
            }
            Op::Emit { origin, .. } => w.add(origin, Kind::Reached, "emit".into()),
            Op::Return { origin, .. } => {
                w.add(origin, Kind::Reached, "return".into());
                w.dead = true;
            }
            Op::Drop { origin } => {
                w.add(origin, Kind::Reached, "drop".into());
                w.dead = true;
            }
        }
    }
}

/// How far a destination's golden cases reach.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every rule, with whether it was reached.
    pub rules: Vec<(Rule, bool)>,
}

impl Report {
    pub fn new(plan: &Plan, hits: &HashSet<Hit>) -> Report {
        Report {
            rules: rules(plan)
                .into_iter()
                .map(|r| {
                    let reached = hits.contains(&r.hit);
                    (r, reached)
                })
                .collect(),
        }
    }

    /// (reached, total) over every rule that can run.
    pub fn rules_reached(&self) -> (usize, usize) {
        count(self.rules.iter().filter(|(r, _)| !r.dead))
    }

    /// (reached, total) over the error texts that can be given.
    pub fn errors_reached(&self) -> (usize, usize) {
        count(
            self.rules
                .iter()
                .filter(|(r, _)| !r.dead && r.hit.kind.is_error()),
        )
    }

    /// The rules that can run and no case reached.
    pub fn missed(&self) -> impl Iterator<Item = &Rule> {
        self.rules
            .iter()
            .filter(|(r, ok)| !ok && !r.dead)
            .map(|(r, _)| r)
    }

    /// The rules nothing can reach.
    pub fn dead(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|(r, _)| r.dead).map(|(r, _)| r)
    }
}

fn count<'a>(it: impl Iterator<Item = &'a (Rule, bool)>) -> (usize, usize) {
    it.fold((0, 0), |(r, t), (_, ok)| (r + usize::from(*ok), t + 1))
}

/// `reached / total` as a percentage (100 when there is nothing to reach).
pub fn percent((reached, total): (usize, usize)) -> f64 {
    if total == 0 {
        100.0
    } else {
        #[allow(clippy::cast_precision_loss)]
        let p = reached as f64 * 100.0 / total as f64;
        p
    }
}
