//! eventmap: a declarative mapping engine. Destination specs (YAML under `mappings/`) are
//! loaded (`spec`), compiled into a plan (`compile` -> `plan`), and run over processor request
//! items (`eval`, `protocol`). The Rust source knows no destination.
#![forbid(unsafe_code)]

pub mod compile;
pub mod coverage;
pub mod diag;
pub mod docs;
pub mod eval;
pub mod golden;
pub mod mask;
pub mod plan;
pub mod protocol;
pub mod registry;
pub mod server;
pub mod spec;
pub mod value;

use value::{Str, Value};

pub use diag::{Diagnostic, Diagnostics};
pub use plan::Plan;
pub use spec::Mappings;

/// A compiled destination, ready to transform request items.
pub struct Engine {
    pub plan: Plan,
    /// The clock (`--now`), the random source (`--random-hex`) and the constants
    /// (`--const`) the destination is run with.
    pub env: eval::Env,
}

impl Engine {
    /// Loads and compiles `destination` from `mappings`; `Ok(None)` when it has no specs there.
    pub fn load(mappings: &Mappings, destination: &str) -> Result<Option<Engine>, Diagnostics> {
        Ok(
            compile::load_destination(mappings, destination)?.map(|plan| {
                let env = eval::Env {
                    consts: plan.constants.clone(),
                    ..eval::Env::default()
                };
                Engine { plan, env }
            }),
        )
    }

    /// One parsed request item -> its response items (as JSON values).
    pub fn transform(&self, item: impl Into<Value>) -> Vec<Value> {
        protocol::transform_value(&self.plan, item.into(), &self.env)
            .iter()
            .map(protocol::Response::to_value)
            .collect()
    }

    /// Overrides named constants for this engine's runs (`--const NAME=VALUE`); the value is
    /// JSON (a bare word counts as text). Unknown names are an error.
    pub fn set_const(&mut self, name: &str, value: &str) -> Result<(), String> {
        let Value::Object(m) = &mut self.env.consts else {
            return Err(format!("`{}` declares no constants", self.plan.name));
        };
        if !m.contains_key(name) {
            let known: Vec<&str> = m.keys().map(Str::as_str).collect();
            return Err(format!(
                "`{}` has no constant `{name}` (it has: {})",
                self.plan.name,
                known.join(", ")
            ));
        }
        let v = serde_json::from_str(value).unwrap_or_else(|_| Value::String(Str::from(value)));
        m.insert(Str::from(name), v);
        Ok(())
    }

    /// Parsed request items, in order -> response items (as JSON values).
    pub fn transform_batch<V: Into<Value>>(&self, items: Vec<V>) -> Vec<Value> {
        items.into_iter().flat_map(|i| self.transform(i)).collect()
    }

    /// A routerTransform body -> its answer body (`{"output": [...]}`); `Err` for a body that
    /// is not one.
    pub fn route(&self, body: impl Into<Value>) -> Result<Value, String> {
        protocol::router::route_body(&self.plan, body.into(), &self.env)
    }

    /// The fast path for raw request items: see [`protocol::Batch`].
    pub fn batch(&self) -> protocol::Batch<'_> {
        protocol::Batch::new(&self.plan, &self.env)
    }
}
