//! Coverage of a destination's spec rules by its golden cases (`eventmap test --coverage`).
//! The rules are listed from the plan ([`rules`]); the ones reached are recorded by a traced
//! evaluation, on only when [`crate::eval::Env::coverage`] is set (an untaken branch per
//! operation otherwise; no allocation, no bookkeeping per field).
//!
//! What counts as a rule, each at the file:line:col it is written at:
//! - a field of `build`, `set` or `default` (a field group's and a procedure's once, however
//!   many flows use them): reached when it writes a value (a `build` field only writes a
//!   present one, a `default` only where the payload has none, an undefined value writes
//!   nothing);
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
//! they lead to is).

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
}

/// Every rule of a plan, once each, in file and position order.
pub fn rules(plan: &Plan) -> Vec<Rule> {
    let mut out: BTreeMap<Hit, Rule> = BTreeMap::new();
    let mut add = |origin: &Origin, kind: Kind, what: String| {
        let hit = Hit::new(origin, kind);
        out.entry(hit.clone()).or_insert_with(|| Rule {
            hit,
            spec_path: origin.spec_path.clone(),
            what,
        });
    };
    let rule = &plan.message_type;
    for (at, name) in rule
        .written
        .iter()
        .zip(["missing", "not_string", "unsupported"])
    {
        if let Some(at) = at {
            add(at, Kind::Error, format!("error: message type {name}"));
        }
    }
    for c in &plan.config_checks {
        if let Some((t, at)) = &c.required {
            add(at, Kind::Error, format!("error: {}", t.source));
        }
        if let Some((_, t, at)) = &c.pattern {
            add(at, Kind::Error, format!("error: {}", t.source));
        }
    }
    let mut walk = |steps: &[Step]| steps_rules(steps, &mut add);
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

fn steps_rules(steps: &[Step], add: &mut impl FnMut(&Origin, Kind, String)) {
    for s in steps {
        if s.when.is_some() {
            add(&s.origin, Kind::WhenTrue, format!("step {} taken", s.name));
            add(
                &s.origin,
                Kind::WhenFalse,
                format!("step {} skipped", s.name),
            );
        }
        match &s.body {
            Body::Ops(ops) => ops_rules(ops, add),
            Body::Children(c) => steps_rules(c, add),
        }
    }
}

fn ops_rules(ops: &[Op], add: &mut impl FnMut(&Origin, Kind, String)) {
    for op in ops {
        match op {
            Op::Build(parts) => {
                for f in parts.iter().flatten() {
                    add(&f.origin, Kind::Field, format!("field {}", f.target_text));
                }
            }
            Op::Set(fields) => {
                for f in fields {
                    add(&f.origin, Kind::Field, format!("field {}", f.target_text));
                }
            }
            Op::Default(pairs) => {
                for (_, f) in pairs {
                    add(&f.origin, Kind::Field, format!("default {}", f.target_text));
                }
            }
            Op::Let { .. } | Op::CheckType => {}
            Op::If {
                then,
                otherwise,
                origin,
                ..
            } => {
                add(origin, Kind::Then, "if: then".into());
                add(origin, Kind::Else, "if: else".into());
                ops_rules(then, add);
                ops_rules(otherwise, add);
            }
            Op::Require { error, origin, .. } => {
                add(origin, Kind::Holds, "require: holds".into());
                add(origin, Kind::Error, format!("error: {}", error.source));
            }
            Op::Fail { error, origin, .. } => {
                add(origin, Kind::Error, format!("error: {}", error.source));
            }
            Op::Switch {
                cases,
                default,
                origin,
                ..
            } => {
                for (i, (name, case)) in cases.iter().enumerate() {
                    add(origin, Kind::Case(i as u32), format!("switch: case {name}"));
                    ops_rules(case, add);
                }
                add(origin, Kind::NoCase, "switch: no case (default)".into());
                ops_rules(default, add);
            }
            Op::FanOut { ops, origin, .. } => {
                add(origin, Kind::Reached, "fan_out: over some elements".into());
                ops_rules(ops, add);
            }
            Op::Emit { origin, .. } => add(origin, Kind::Reached, "emit".into()),
            Op::Return { origin, .. } => add(origin, Kind::Reached, "return".into()),
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

    /// (reached, total) over every rule.
    pub fn rules_reached(&self) -> (usize, usize) {
        count(self.rules.iter())
    }

    /// (reached, total) over the error texts.
    pub fn errors_reached(&self) -> (usize, usize) {
        count(self.rules.iter().filter(|(r, _)| r.hit.kind.is_error()))
    }

    pub fn missed(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|(_, ok)| !ok).map(|(r, _)| r)
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
