//! eventmap: a declarative mapping engine. Destination specs (YAML under `mappings/`) are
//! loaded (`spec`), compiled into a plan (`compile` -> `plan`), and run over processor request
//! items (`eval`, `protocol`). The Rust source knows no destination.
#![forbid(unsafe_code)]

pub mod compile;
pub mod diag;
pub mod docs;
pub mod eval;
pub mod golden;
pub mod plan;
pub mod protocol;
pub mod registry;
pub mod server;
pub mod spec;

use serde_json::Value;

pub use diag::{Diagnostic, Diagnostics};
pub use plan::Plan;
pub use spec::Mappings;

/// A compiled destination, ready to transform request items.
pub struct Engine {
    pub plan: Plan,
    /// The clock `now()` reads: the system's unless fixed (`--now`).
    pub clock: eval::Clock,
}

impl Engine {
    /// Loads and compiles `destination` from `mappings`; `Ok(None)` when it has no specs there.
    pub fn load(mappings: &Mappings, destination: &str) -> Result<Option<Engine>, Diagnostics> {
        Ok(
            compile::load_destination(mappings, destination)?.map(|plan| Engine {
                plan,
                clock: eval::Clock::default(),
            }),
        )
    }

    /// One parsed request item -> its response items (as JSON values).
    pub fn transform(&self, item: Value) -> Vec<Value> {
        protocol::transform_value(&self.plan, item, self.clock)
            .iter()
            .map(protocol::Response::to_value)
            .collect()
    }

    /// Parsed request items, in order -> response items (as JSON values).
    pub fn transform_batch(&self, items: Vec<Value>) -> Vec<Value> {
        items.into_iter().flat_map(|i| self.transform(i)).collect()
    }

    /// The fast path for raw request items: see [`protocol::Batch`].
    pub fn batch(&self) -> protocol::Batch<'_> {
        protocol::Batch::new(&self.plan, self.clock)
    }
}
