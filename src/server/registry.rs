//! Front end (server): the compiled destinations currently served. A registry is built whole
//! and swapped whole: an invalid spec set never replaces a valid one.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::Engine;
use crate::spec::Mappings;

pub struct Registry {
    /// Lowercased destination name -> its compiled specs.
    pub engines: BTreeMap<String, Arc<Engine>>,
}

impl Registry {
    /// Compiles every destination; the error lists every problem of every destination.
    pub fn load(mappings: &Mappings) -> Result<Registry, String> {
        let mut engines = BTreeMap::new();
        let mut problems = Vec::new();
        for name in mappings.destinations() {
            match Engine::load(mappings, &name) {
                Ok(Some(e)) => {
                    engines.insert(name.to_ascii_lowercase(), Arc::new(e));
                }
                Ok(None) => {}
                Err(d) => problems.push(d.to_string()),
            }
        }
        if problems.is_empty() {
            Ok(Registry { engines })
        } else {
            Err(problems.join("\n"))
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Engine>> {
        self.engines.get(&name.to_ascii_lowercase())
    }

    pub fn names(&self) -> Vec<&str> {
        self.engines.keys().map(String::as_str).collect()
    }
}
