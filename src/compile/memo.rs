//! Config-only `let`s. A `let` whose value reads nothing of the event (only the config, the
//! destination, the constants, tables, literals, and variables that hold such values) is the
//! same for every event sent with one destination: it is marked (`Op::Let::memo`), and a
//! batch evaluates it once per destination it sees and remembers the value. Whole rule sets
//! derived from the config (a table of mappings parsed from its rows, say) then cost nothing
//! per event.
//!
//! The analysis follows the steps in order, as they run: a variable is config-only after a
//! config-only `let`, and stops being so after any other (or a `fan_out` binding it). Where
//! the way splits (`if`, `switch`, a step's `when`, the ops of a `fan_out`, which may run
//! for no element), a variable is config-only after the split only when it is on every way.

use crate::plan::{Arg, Body, Expr, Func, Op, Root, Step, TextPart};

/// Which variable slots hold config-only values at a point of the steps. A slot never
/// assigned is undefined, the same for every event.
#[derive(Clone, Default)]
pub struct Purity(Vec<bool>);

impl Purity {
    /// At the start of an event: the message type check writes its two slots.
    pub fn at_start(impure: &[usize]) -> Self {
        let mut p = Purity::default();
        for &slot in impure {
            p.set(slot, false);
        }
        p
    }

    fn get(&self, slot: usize) -> bool {
        self.0.get(slot).copied().unwrap_or(true)
    }

    fn set(&mut self, slot: usize, pure: bool) {
        if self.0.len() <= slot {
            self.0.resize(slot + 1, true);
        }
        self.0[slot] = pure;
    }

    /// After a split: config-only where both ways are.
    fn meet(&mut self, other: &Purity) {
        let n = self.0.len().max(other.0.len());
        for slot in 0..n {
            let both = self.get(slot) && other.get(slot);
            self.set(slot, both);
        }
    }
}

/// Marks the config-only `let`s of `steps`, numbering them from `next`.
pub fn mark_steps(steps: &mut [Step], pure: &mut Purity, next: &mut usize) {
    for step in steps {
        let before = step.when.is_some().then(|| pure.clone());
        match &mut step.body {
            Body::Ops(ops) => mark_ops(ops, pure, next),
            Body::Children(children) => mark_steps(children, pure, next),
        }
        if let Some(before) = before {
            pure.meet(&before);
        }
    }
}

fn mark_ops(ops: &mut [Op], pure: &mut Purity, next: &mut usize) {
    for op in ops {
        match op {
            Op::Let {
                slot,
                value,
                memo,
                event_only,
            } => {
                *event_only = reads_event_only(value, &mut Vec::new());
                let config_only = is_config_only(value, pure);
                if config_only {
                    *memo = Some(*next);
                    *next += 1;
                }
                pure.set(*slot, config_only);
            }
            Op::If {
                then, otherwise, ..
            } => {
                let mut other = pure.clone();
                mark_ops(then, pure, next);
                mark_ops(otherwise, &mut other, next);
                pure.meet(&other);
            }
            Op::Switch { cases, default, .. } => {
                let start = pure.clone();
                mark_ops(default, pure, next);
                for (_, ops) in cases {
                    let mut way = start.clone();
                    mark_ops(ops, &mut way, next);
                    pure.meet(&way);
                }
            }
            Op::FanOut { slot, ops, .. } => {
                let before = pure.clone();
                pure.set(*slot, false);
                mark_ops(ops, pure, next);
                pure.meet(&before);
                pure.set(*slot, false);
            }
            Op::Build(_)
            | Op::Set(_)
            | Op::Default(_)
            | Op::Require { .. }
            | Op::Fail { .. }
            | Op::Emit { .. }
            | Op::Return { .. }
            | Op::Drop { .. }
            | Op::CheckType => {}
        }
    }
}

/// Whether an expression reads no variable (but the parameters of its own lambdas, in
/// `params`) and not the payload.
fn reads_event_only(e: &Expr, params: &mut Vec<usize>) -> bool {
    match e {
        Expr::Literal(_) | Expr::Undefined | Expr::JsonPath(_) | Expr::JsonFilter(_) => true,
        Expr::Path(p) => match p.root {
            Root::Var(slot) => params.contains(&slot),
            Root::Payload => false,
            Root::Message
            | Root::Config
            | Root::Destination
            | Root::Consts
            | Root::Router
            | Root::Metadata
            | Root::Integration
            | Root::Connection => true,
        },
        Expr::Member(base, _, _) | Expr::Unary(_, base) => reads_event_only(base, params),
        Expr::Index(base, key) => reads_event_only(base, params) && reads_event_only(key, params),
        Expr::Array(items) => items.iter().all(|(_, x)| reads_event_only(x, params)),
        Expr::Object(entries, _) => entries.iter().all(|(_, x)| reads_event_only(x, params)),
        Expr::Text(t) => t.parts.iter().all(|p| match p {
            TextPart::Lit(_) => true,
            TextPart::Hole(x) => reads_event_only(x, params),
        }),
        Expr::Call(_, args) => args.iter().all(|a| match a {
            Arg::Missing | Arg::Regex(_) | Arg::Texts(_) => true,
            Arg::Value(x) => reads_event_only(x, params),
            Arg::Lambda(own, body) => {
                let n = params.len();
                params.extend(own);
                let ok = reads_event_only(body, params);
                params.truncate(n);
                ok
            }
        }),
    }
}

/// Whether an expression's value depends on nothing of the event.
fn is_config_only(e: &Expr, pure: &Purity) -> bool {
    match e {
        Expr::Literal(_) | Expr::Undefined => true,
        Expr::Path(p) => match p.root {
            Root::Config | Root::Destination | Root::Consts | Root::Router => true,
            Root::Var(slot) => pure.get(slot),
            Root::Message
            | Root::Payload
            | Root::Metadata
            | Root::Integration
            | Root::Connection => false,
        },
        Expr::Member(base, _, _) | Expr::Unary(_, base) => is_config_only(base, pure),
        Expr::Index(base, key) => is_config_only(base, pure) && is_config_only(key, pure),
        Expr::JsonPath(_) | Expr::JsonFilter(_) => false,
        Expr::Array(items) => items.iter().all(|(_, x)| is_config_only(x, pure)),
        Expr::Object(entries, _) => entries.iter().all(|(_, x)| is_config_only(x, pure)),
        Expr::Text(t) => t.parts.iter().all(|p| match p {
            TextPart::Lit(_) => true,
            TextPart::Hole(x) => is_config_only(x, pure),
        }),
        Expr::Call(f, args) => {
            // The clock, random bytes, and constructs that read the message themselves.
            !matches!(
                f,
                Func::Now | Func::RandomHex | Func::Uuid | Func::ExternalId
            ) && args.iter().all(|a| match a {
                Arg::Missing | Arg::Regex(_) | Arg::Texts(_) => true,
                Arg::Value(x) => is_config_only(x, pure),
                // The parameters take values of the other arguments, config-only when
                // those are (else the call is not config-only anyway).
                Arg::Lambda(params, body) => {
                    let mut inner = pure.clone();
                    for &p in params {
                        inner.set(p, true);
                    }
                    is_config_only(body, &inner)
                }
            })
        }
    }
}
