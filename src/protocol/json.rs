//! Protocol: JSON text in and out. Numbers are written as JavaScript's `JSON.stringify`
//! writes the double they parse to (`1.0` -> `1`, `1E21` -> `1e+21`, too-large integers
//! rounded, overflow -> `null`); everything else as `serde_json` writes it.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::{CompactFormatter, Formatter, Serializer};

use crate::eval::js::json_number_to_js;

/// A `serde_json` formatter that rewrites numbers the JavaScript way.
#[derive(Default)]
pub struct JsFormatter(CompactFormatter);

impl Formatter for JsFormatter {
    fn write_number_str<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        value: &str,
    ) -> io::Result<()> {
        writer.write_all(json_number_to_js(value).as_bytes())
    }
}

/// Writes `value` as compact JSON with JavaScript number spelling.
pub fn write_js<W: Write>(writer: W, value: &Value) -> io::Result<()> {
    let mut ser = Serializer::with_formatter(writer, JsFormatter::default());
    value.serialize(&mut ser).map_err(io::Error::other)
}

pub fn to_js_string(value: &Value) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_js(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}
