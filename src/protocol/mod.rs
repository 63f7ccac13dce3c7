//! Protocol: the processor wire format. Request items in (`{message, destination, metadata}`),
//! response items out (`{output, metadata, statusCode}` or `{metadata, statusCode, error,
//! statTags}`), and JSON written the way the reference's JavaScript writes it.

pub mod json;
pub mod processor;
pub mod project;
pub mod router;

pub use processor::{Batch, Meta, Response, transform_value};
