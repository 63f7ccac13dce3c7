//! Protocol: one processor request item -> its response items, in the reference's shapes and
//! key order. Dynamic config is resolved here, before the plan runs.

use serde_json::{Map, Value};

use crate::eval::{self, StepFailure, dynamic};
use crate::plan::{Msg, Plan};

/// Transforms one request item into one or more response items. Never panics, never fails:
/// every problem becomes a 400 item.
pub fn transform_item(plan: &Plan, item: Value) -> Vec<Value> {
    let Value::Object(mut item) = item else {
        let found = eval::js::type_name(Some(&item));
        return vec![failure(
            plan,
            None,
            format!("request item must be a JSON object, found {found}"),
            "instrumentation",
        )];
    };
    let metadata = item.get("metadata").cloned();
    let mut destination = item.remove("destination").unwrap_or(Value::Null);
    let mut config = match &mut destination {
        Value::Object(d) => d.remove("Config").unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let dynamic =
        plan.dynamic_config && destination.get("hasDynamicConfig") != Some(&Value::Bool(false));
    let mut rest = Value::Object(item);
    if dynamic {
        if let Value::Object(r) = &mut rest {
            r.insert("destination".into(), destination);
        }
        dynamic::resolve(&mut config, &mut rest);
    }
    let Value::Object(mut rest) = rest else {
        unreachable!("rest was built as an object")
    };
    let message = match rest.remove("message") {
        Some(m @ Value::Object(_)) => m,
        _ => Value::Object(Map::new()),
    };
    let md = metadata.clone().unwrap_or(Value::Null);
    match eval::run(plan, &message, &config, &md) {
        Ok(payloads) => {
            let mut out = Vec::with_capacity(payloads.len());
            for p in payloads {
                match request(plan, &message, &config, &md, p) {
                    Ok(req) => out.push(success(req, metadata.clone())),
                    Err(f) => return vec![step_failure(plan, metadata, f)],
                }
            }
            out
        }
        Err(f) => vec![step_failure(plan, metadata, f)],
    }
}

fn render(plan: &Plan, m: &Msg, ctx: &Value) -> Result<String, String> {
    match m {
        Msg::Text(t) => Ok(t.clone()),
        Msg::Template { name, source } => plan
            .templates
            .render(name, ctx)
            .map_err(|e| format!("template `{source}` failed: {}", e.reason())),
    }
}

/// The request a payload becomes, in the reference's key order.
fn request(
    plan: &Plan,
    message: &Value,
    config: &Value,
    metadata: &Value,
    payload: Value,
) -> Result<Value, StepFailure> {
    let r = &plan.request;
    let needs_ctx = matches!(r.endpoint, Msg::Template { .. })
        || r.headers
            .iter()
            .any(|(_, m)| matches!(m, Msg::Template { .. }));
    let ctx = if needs_ctx {
        let mut c = Map::new();
        c.insert("message".into(), message.clone());
        c.insert("config".into(), config.clone());
        c.insert("metadata".into(), metadata.clone());
        c.insert("payload".into(), payload.clone());
        Value::Object(c)
    } else {
        Value::Null
    };
    let fail = |e: String| StepFailure {
        step: r.step.clone(),
        child: None,
        failure: eval::Failure::instrumentation(e),
    };
    let mut headers = Map::new();
    for (k, m) in &r.headers {
        headers.insert(
            k.clone(),
            Value::String(render(plan, m, &ctx).map_err(fail)?),
        );
    }
    let mut body = Map::new();
    body.insert("JSON".into(), payload);
    body.insert("JSON_ARRAY".into(), Value::Object(Map::new()));
    body.insert("XML".into(), Value::Object(Map::new()));
    body.insert("FORM".into(), Value::Object(Map::new()));
    let mut out = Map::new();
    out.insert("version".into(), Value::String("1".into()));
    out.insert("type".into(), Value::String("REST".into()));
    out.insert("method".into(), Value::String(r.method.clone()));
    out.insert(
        "endpoint".into(),
        Value::String(render(plan, &r.endpoint, &ctx).map_err(fail)?),
    );
    out.insert("headers".into(), Value::Object(headers));
    out.insert("params".into(), Value::Object(Map::new()));
    out.insert("body".into(), Value::Object(body));
    out.insert("files".into(), Value::Object(Map::new()));
    out.insert("userId".into(), Value::String(String::new()));
    Ok(Value::Object(out))
}

fn success(output: Value, metadata: Option<Value>) -> Value {
    let mut m = Map::new();
    m.insert("output".into(), output);
    if let Some(md) = metadata {
        m.insert("metadata".into(), md);
    }
    m.insert("statusCode".into(), Value::from(200));
    Value::Object(m)
}

fn step_failure(plan: &Plan, metadata: Option<Value>, f: StepFailure) -> Value {
    let text = format!(
        "{msg}: Workflow: {wf}, Step: {step}, ChildStep: {child}, OriginalError: {msg}",
        msg = f.failure.message,
        wf = plan.workflow,
        step = f.step,
        child = f.child.as_deref().unwrap_or("undefined"),
    );
    failure(plan, metadata, text, &f.failure.error_type)
}

/// A 400 response item with the destination's statTags.
pub fn failure(plan: &Plan, metadata: Option<Value>, error: String, error_type: &str) -> Value {
    let mut tags = Map::new();
    for (i, (k, v)) in plan.stat_tags.iter().enumerate() {
        tags.insert(k.clone(), v.clone());
        if i == 0 {
            tags.insert("errorType".into(), Value::String(error_type.to_owned()));
        }
    }
    if plan.stat_tags.is_empty() {
        tags.insert("errorType".into(), Value::String(error_type.to_owned()));
    }
    if let Some(Value::Object(md)) = &metadata {
        for key in ["destinationId", "workspaceId"] {
            if let Some(v) = md.get(key) {
                tags.insert(key.into(), v.clone());
            }
        }
    }
    let mut m = Map::new();
    if let Some(md) = metadata {
        m.insert("metadata".into(), md);
    }
    m.insert("statusCode".into(), Value::from(400));
    m.insert("error".into(), Value::String(error));
    m.insert("statTags".into(), Value::Object(tags));
    Value::Object(m)
}
