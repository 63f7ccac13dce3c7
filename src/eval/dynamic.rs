//! Evaluation: dynamic destination config. Strings of the form `{{ path || default }}` in the
//! config are replaced per event by the value at `path` in the request item (`event.` standing
//! for `message.`), which is then removed from the item, or else by the default.

use crate::value::Value;

use super::js;

/// Resolves every dynamic string of `config` against `item` (the request item without its
/// config), removing the values it takes from the item.
pub fn resolve(config: &mut Value, item: &mut Value) {
    match config {
        Value::String(s) => {
            if let Some(v) = resolve_string(s, item) {
                *config = v;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| resolve(v, item)),
        Value::Object(m) => m.values_mut().for_each(|v| resolve(v, item)),
        _ => {}
    }
}

fn valid_path(p: &str) -> bool {
    p.split('.').all(|seg| {
        let mut b = seg.bytes();
        matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
            && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
    })
}

fn resolve_string(s: &str, item: &mut Value) -> Option<Value> {
    if !s.contains("{{") {
        return None;
    }
    let t = js::js_trim(s);
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    let content = js::js_trim(inner);
    let (path, default) = content.split_once("||")?;
    let path = js::js_trim(path);
    if path.is_empty() || !valid_path(path) {
        return None;
    }
    let field = match path.strip_prefix("event.") {
        Some(rest) => format!("message.{rest}"),
        None => path.to_owned(),
    };
    let segs: Vec<Box<str>> = field.split('.').map(Box::from).collect();
    if let Some(v) = js::get(item, &field, &segs)
        .filter(|v| !v.is_null())
        .cloned()
    {
        js::unset(item, &field, &segs);
        return Some(v);
    }
    Some(Value::String(crate::value::Str::from(js::js_trim(
        &js::js_trim(default).replace('"', ""),
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn takes_the_event_value_and_removes_it() {
        let mut item = json!({"message": {"traits": {"ns": "from-event"}}});
        let mut config = json!({"a": "{{ event.traits.ns || \"fallback\" }}", "b": "{{ event.traits.ns || \"fallback\" }}", "c": "plain"});
        resolve(&mut config, &mut item);
        assert_eq!(
            config,
            json!({"a": "from-event", "b": "fallback", "c": "plain"})
        );
        assert_eq!(item, json!({"message": {"traits": {}}}));
    }

    #[test]
    fn leaves_other_strings() {
        let mut item = json!({"message": {}});
        let mut config = json!([
            "{{ bad path || x }}",
            "{{ no_default }}",
            " {{ a.b || \"d\" }} "
        ]);
        resolve(&mut config, &mut item);
        assert_eq!(
            config,
            json!(["{{ bad path || x }}", "{{ no_default }}", "d"])
        );
    }
}
