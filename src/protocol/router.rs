//! Protocol: the router transform. A body `{"input": [{message, metadata, destination,
//! connection?}], "destType"}` is answered `{"output": [entries]}`: the inputs are grouped by
//! destination, each event is mapped by its destination's flows (with `router` true), and its
//! responses become entries (`{batchedRequest, metadata: [...], batched, statusCode,
//! destination}`), one per response, or batched requests as the spec's `router.batch` says.
//! An event that fails is an entry of its own (`{metadata: [...], batched: false, statusCode:
//! 400, error, statTags, destination}`); it never fails the others.

use std::borrow::Cow;

use crate::value::{Map, Str, Value};

use crate::eval::expr::{Bound, Scope, eval};
use crate::eval::{self, Env, Failure, Output, js};
use crate::plan::{BatchPlan, Entries, Plan, Request, Shape};
use crate::protocol::processor::prepare;

/// One successful response of an event, as batching sees it.
struct Done {
    /// The index of its event in the group.
    event: usize,
    response: Value,
    payload: Value,
}

/// One event of a group, parsed.
struct Event {
    prepared: crate::protocol::processor::Prepared,
    metadata: Value,
}

/// Answers a routerTransform body's inputs. Inputs that are not objects answer as failures of
/// their own.
pub fn route(plan: &Plan, inputs: Vec<Value>, env: &Env) -> Vec<Value> {
    let env = Env {
        router: true,
        ..env.clone()
    };
    // Group as the reference does: by destination ID, the source's job and, unless the
    // destination says its config is not dynamic (`hasDynamicConfig: false`), its config (key
    // order aside). Events of different groups never share a request. Groups keep the order
    // of their first event.
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    for input in inputs {
        let key = group_key(&input);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.push(input),
            None => groups.push((key, vec![input])),
        }
    }
    let mut out = Vec::new();
    for (_, group) in groups {
        route_group(plan, group, &env, &mut out);
    }
    out
}

/// The reference's `groupRouterTransformEvents` key.
fn group_key(input: &Value) -> String {
    let truthy_text = |v: Option<&Value>| {
        v.filter(|v| js::truthy(Some(v)))
            .map_or_else(|| "default".to_owned(), |v| js::to_js_string(Some(v)))
    };
    let d = input.get("destination");
    let id = truthy_text(d.and_then(|d| d.get("ID")));
    let job = truthy_text(input.pointer("/context/sources/job_id"));
    let by_config = d.and_then(|d| d.get("hasDynamicConfig")) != Some(&Value::Bool(false));
    let config = match d.and_then(|d| d.get("Config")) {
        Some(c) if by_config && js::truthy(Some(c)) => {
            crate::protocol::json::to_js_string(&sorted_keys(c))
        }
        _ => "default".to_owned(),
    };
    format!("{id}\u{0}{job}\u{0}{config}")
}

/// A value with every object's keys in sorted order (a stable text for comparing configs).
fn sorted_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&Str> = m.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted_keys(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}

fn route_group(plan: &Plan, group: Vec<Value>, env: &Env, out: &mut Vec<Value>) {
    // The group's first metadata names the destination and workspace in failures' statTags,
    // as the reference's router does.
    let first_md = group
        .first()
        .and_then(|i| i.get("metadata"))
        .cloned()
        .unwrap_or(Value::Null);
    // Every input parsed first: the group's checks run before any event is mapped.
    let mut parsed: Vec<Result<Event, (Value, Value)>> = Vec::with_capacity(group.len());
    for input in group {
        parsed.push(match prepare(plan, input) {
            Ok(mut prepared) => {
                let metadata = prepared.metadata.take().unwrap_or(Value::Null);
                Ok(Event { prepared, metadata })
            }
            // Only an input that is not an object is refused: it has no metadata.
            Err(_) => Err((Value::Null, Value::Null)),
        });
    }
    if let Some(r) = plan.router.as_ref().filter(|r| !r.checks.is_empty())
        && let Some(first) = parsed.iter().find_map(|p| p.as_ref().ok())
        && let Err(f) = eval::check(
            plan,
            &r.checks,
            r.check_slots,
            first.prepared.item(&first.metadata),
            env,
        )
    {
        // One entry for the whole group, its text as the reference's workflow wraps it.
        let metadata = parsed
            .iter()
            .map(|p| match p {
                Ok(e) => e.metadata.clone(),
                Err((m, _)) => m.clone(),
            })
            .collect();
        let text = crate::protocol::processor::workflow_text("rtWorkflow", &f);
        out.push(failure_entry(
            plan,
            metadata,
            None,
            &text,
            &f.failure.error_type,
            &first_md,
        ));
        return;
    }
    let mut events: Vec<Event> = Vec::new();
    let mut done: Vec<Done> = Vec::new();
    for p in parsed {
        let e = match p {
            Ok(e) => e,
            Err((metadata, destination)) => {
                let f = Failure::instrumentation("request item must be a JSON object".into());
                out.push(fail(plan, &metadata, &destination, &f, &first_md));
                continue;
            }
        };
        match eval::run(plan, e.prepared.item(&e.metadata), env) {
            Ok(outputs) => {
                let index = events.len();
                for o in outputs {
                    let (response, payload) = match o {
                        Output::Built(v, Some(p)) => (router_response(Output::Built(v, None)), p),
                        o => {
                            let p = o.payload().clone();
                            (router_response(o), p)
                        }
                    };
                    done.push(Done {
                        event: index,
                        response,
                        payload,
                    });
                }
                events.push(e);
            }
            Err(f) => out.push(fail(
                plan,
                &e.metadata,
                &e.prepared.destination,
                &f.failure,
                &first_md,
            )),
        }
    }
    if done.is_empty() {
        return;
    }
    let batch = plan.router.as_ref().and_then(|r| r.batch.as_ref());
    let batching = match batch {
        None => None,
        Some(b) => match &b.when {
            None => Some(b),
            Some(w) => {
                let first = &events[done[0].event];
                let vars = vec![None; b.slots];
                let s = scope(plan, env, first, &done[0].payload, &vars);
                match eval(w, &s) {
                    Ok(v) if js::truthy(v.as_deref()) => Some(b),
                    Ok(_) => None,
                    Err(f) => {
                        for d in &done {
                            let e = &events[d.event];
                            out.push(fail(
                                plan,
                                &e.metadata,
                                &e.prepared.destination,
                                &f,
                                &first_md,
                            ));
                        }
                        return;
                    }
                }
            }
        },
    };
    match batching {
        None => {
            for d in done {
                let e = &events[d.event];
                out.push(entry(
                    d.response,
                    vec![e.metadata.clone()],
                    false,
                    &e.prepared.destination,
                ));
            }
        }
        Some(b) => batch_group(plan, b, env, &events, done, &first_md, out),
    }
}

fn scope<'a>(
    plan: &'a Plan,
    env: &'a Env,
    event: &'a Event,
    payload: &'a Value,
    vars: &'a [Option<Bound>],
) -> Scope<'a> {
    Scope {
        plan,
        message: &event.prepared.message,
        config: &event.prepared.config,
        metadata: &event.metadata,
        payload,
        vars,
        prefixes: &[],
        local: None,
        destination: &event.prepared.destination,
        connection: &event.prepared.connection,
        env,
        now_ms: env.clock.now_ms(),
    }
}

/// One item a response adds to a batch.
struct Piece {
    event: usize,
    /// The response it came from (its index in the group's responses).
    response: usize,
    /// Taken when its batch is built.
    item: Option<Value>,
    size: f64,
    key: String,
    /// Its place among its key's pieces (`order`).
    rank: f64,
    /// The response is a batch of its own (`alone`).
    alone: bool,
}

/// A batch built, or several merged: what one entry answers.
struct Built {
    requests: Vec<Value>,
    /// `batchedRequest` is the list of `requests` (else their one request).
    listed: bool,
    metadata: Vec<Value>,
    /// The event of each metadata.
    events: Vec<usize>,
    batched: bool,
    destination: Value,
    /// The index of the batch's key, in the order keys were first seen.
    key: usize,
}

#[allow(clippy::too_many_lines)]
fn batch_group(
    plan: &Plan,
    b: &BatchPlan,
    env: &Env,
    events: &[Event],
    mut done: Vec<Done>,
    first_md: &Value,
    out: &mut Vec<Value>,
) {
    let mut pieces: Vec<Piece> = Vec::new();
    let mut failed_events: Vec<usize> = Vec::new();
    // Each response is moved into `output` while its expressions run (never copied).
    let mut vars: Vec<Option<Bound>> = vec![None; b.slots];
    for (r, d) in done.iter_mut().enumerate() {
        let e = &events[d.event];
        vars[b.output_slot] = Some(std::mem::take(&mut d.response).into());
        let found = (|| -> Result<(), Failure> {
            let (alone, items, key, rank) = {
                let s = scope(plan, env, e, &d.payload, &vars);
                let alone = match &b.alone {
                    Some(a) => js::truthy(eval(a, &s)?.as_deref()),
                    None => false,
                };
                let items = match &b.items {
                    Some(x) => match eval(x, &s)?.map(Cow::into_owned) {
                        None => Vec::new(),
                        Some(Value::Array(a)) => a,
                        Some(one) => vec![one],
                    },
                    None => vec![d.payload.clone()],
                };
                let key = match &b.key {
                    _ if alone => format!("\u{1}alone {r}"),
                    Some(k) => js::to_js_string(eval(k, &s)?.as_deref()),
                    None => String::new(),
                };
                let rank = match &b.order {
                    Some(o) => js::to_number(eval(o, &s)?.as_deref()),
                    None => 0.0,
                };
                (alone, items, key, rank)
            };
            for item in items {
                let (item, size) = match &b.size {
                    Some(z) => {
                        vars[b.item_slot] = Some(item.into());
                        let size = {
                            let s = scope(plan, env, e, &d.payload, &vars);
                            eval(z, &s).map(|v| js::to_number(v.as_deref()))
                        };
                        (
                            vars[b.item_slot]
                                .take()
                                .map_or(Value::Null, Bound::into_value),
                            size?,
                        )
                    }
                    None => {
                        let size = size_of(&item);
                        (item, size)
                    }
                };
                pieces.push(Piece {
                    event: d.event,
                    response: r,
                    item: Some(item),
                    size,
                    key: key.clone(),
                    rank,
                    alone,
                });
            }
            Ok(())
        })();
        d.response = vars[b.output_slot]
            .take()
            .map_or(Value::Null, Bound::into_value);
        vars[b.item_slot] = None;
        if let Err(f) = found
            && !failed_events.contains(&d.event)
        {
            failed_events.push(d.event);
            out.push(fail(
                plan,
                &e.metadata,
                &e.prepared.destination,
                &f,
                first_md,
            ));
        }
    }
    // An event that failed here is answered by its failure alone.
    pieces.retain(|p| !failed_events.contains(&p.event));
    if pieces.is_empty() {
        return;
    }
    // The limits, over the group's first event.
    let (max_items, max_bytes) = {
        let first = &events[pieces[0].event];
        let none = vec![None; b.slots];
        let s = scope(plan, env, first, &first.prepared.message, &none);
        let limit = |e: &Option<crate::plan::Expr>| -> Option<f64> {
            let e = e.as_ref()?;
            let n = js::to_number(eval(e, &s).ok()?.as_deref());
            (n.is_finite() && n > 0.0).then_some(n)
        };
        (limit(&b.max_items), limit(&b.max_bytes))
    };
    // The pieces of each key, keys in the order first seen, responses alone first (as the
    // reference's batching puts its unbatchable chunks first); within a key, pieces in order.
    let mut of_keys: Vec<Vec<usize>> = Vec::new();
    for alone in [true, false] {
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (i, p) in pieces.iter().enumerate().filter(|(_, p)| p.alone == alone) {
            match index.get(p.key.as_str()) {
                Some(&k) => of_keys[k].push(i),
                None => {
                    index.insert(&p.key, of_keys.len());
                    of_keys.push(vec![i]);
                }
            }
        }
    }
    if b.order.is_some() {
        // Stable: equal ranks keep the events' order (NaN last).
        for of_key in &mut of_keys {
            of_key.sort_by(|&x, &y| {
                let (x, y) = (pieces[x].rank, pieces[y].rank);
                x.is_nan().cmp(&y.is_nan()).then(x.total_cmp(&y))
            });
        }
    }
    let mut built: Vec<Built> = Vec::new();
    for (key_index, of_key) in of_keys.into_iter().enumerate() {
        let alone = pieces[of_key[0]].alone;
        let cut = if alone {
            // A response alone is one batch, whatever the limits.
            vec![of_key]
        } else {
            chunks(&pieces, &of_key, max_items, max_bytes, b.whole_events)
        };
        for chunk in cut {
            let items: Vec<Value> = chunk
                .iter()
                .map(|&i| pieces[i].item.take().unwrap_or(Value::Null))
                .collect();
            let chunk: Vec<&Piece> = chunk.iter().map(|&i| &pieces[i]).collect();
            // One metadata per response in the batch (per event, with `whole_events`).
            let mut metadata: Vec<Value> = Vec::new();
            let mut of_events: Vec<usize> = Vec::new();
            let mut last = usize::MAX;
            for p in &chunk {
                let unit = if b.whole_events { p.event } else { p.response };
                if unit != last {
                    metadata.push(events[p.event].metadata.clone());
                    of_events.push(p.event);
                }
                last = unit;
            }
            let lead = chunk[0].response;
            let lead_event = &events[chunk[0].event];
            vars[b.items_slot] = Some(Value::Array(items).into());
            vars[b.output_slot] = Some(std::mem::take(&mut done[lead].response).into());
            let s = scope(plan, env, lead_event, &done[lead].payload, &vars);
            let made = build(&b.request, &s).and_then(|request| {
                let batched = match &b.batched {
                    Some(x) => js::truthy(eval(x, &s)?.as_deref()),
                    None => !alone,
                };
                Ok((request, batched))
            });
            done[lead].response = vars[b.output_slot]
                .take()
                .map_or(Value::Null, Bound::into_value);
            vars[b.items_slot] = None;
            match made {
                Ok((request, batched)) => built.push(Built {
                    requests: vec![request],
                    listed: false,
                    metadata,
                    events: of_events,
                    batched,
                    destination: lead_event.prepared.destination.clone(),
                    key: key_index,
                }),
                Err(f) => {
                    let mut seen = Vec::new();
                    for p in &chunk {
                        if !seen.contains(&p.event) {
                            seen.push(p.event);
                            let e = &events[p.event];
                            out.push(fail(
                                plan,
                                &e.metadata,
                                &e.prepared.destination,
                                &f,
                                first_md,
                            ));
                        }
                    }
                }
            }
        }
    }
    let built = match b.entries {
        Entries::Each => built,
        Entries::One => one_per_key(built),
        // Twice, as the reference's `combineBatchRequestsWithSameJobIds` does.
        Entries::ByJob => by_job(by_job(built)),
    };
    for x in built {
        let request = if x.listed {
            Value::Array(x.requests)
        } else {
            x.requests.into_iter().next().unwrap_or(Value::Null)
        };
        out.push(entry(request, x.metadata, x.batched, &x.destination));
    }
}

/// `entries: one`: a key's batches as one entry listing their requests, each event's metadata
/// once.
fn one_per_key(built: Vec<Built>) -> Vec<Built> {
    let mut merged: Vec<Built> = Vec::new();
    for x in built {
        match merged.iter_mut().find(|m| m.key == x.key) {
            Some(m) => {
                m.requests.extend(x.requests);
                for (md, e) in x.metadata.into_iter().zip(x.events) {
                    if !m.events.contains(&e) {
                        m.metadata.push(md);
                        m.events.push(e);
                    }
                }
            }
            None => {
                let mut x = x;
                x.listed = true;
                let (mut md, mut ev) = (Vec::new(), Vec::new());
                for (m, e) in x.metadata.into_iter().zip(x.events) {
                    if !ev.contains(&e) {
                        md.push(m);
                        ev.push(e);
                    }
                }
                x.metadata = md;
                x.events = ev;
                merged.push(x);
            }
        }
    }
    merged
}

/// `entries: by_job`: batches that share a job merged into the first of them (its requests
/// listed), each job's metadata once, as the reference's `combineBatchRequestsWithSameJobIds`.
fn by_job(built: Vec<Built>) -> Vec<Built> {
    let job = |m: &Value| {
        m.get("jobId").map_or_else(
            || "undefined".to_owned(),
            crate::protocol::json::to_js_string,
        )
    };
    let mut merged: Vec<Built> = Vec::new();
    let mut of_job: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for x in built {
        match x.metadata.iter().find_map(|m| of_job.get(&job(m)).copied()) {
            Some(i) => {
                let into = &mut merged[i];
                into.requests.extend(x.requests);
                into.listed = true;
                for (m, e) in x.metadata.into_iter().zip(x.events) {
                    of_job.entry(job(&m)).or_insert(i);
                    into.metadata.push(m);
                    into.events.push(e);
                }
            }
            None => {
                for m in &x.metadata {
                    of_job.insert(job(m), merged.len());
                }
                merged.push(x);
            }
        }
    }
    for m in &mut merged {
        let mut seen = Vec::new();
        let (mut md, mut ev) = (Vec::new(), Vec::new());
        for (x, e) in std::mem::take(&mut m.metadata)
            .into_iter()
            .zip(std::mem::take(&mut m.events))
        {
            let j = job(&x);
            if !seen.contains(&j) {
                seen.push(j);
                md.push(x);
                ev.push(e);
            }
        }
        m.metadata = md;
        m.events = ev;
    }
    merged
}

/// Items cut into batches: a new batch starts when the next item (or, with `whole`, the next
/// event's items) would pass `max_items` or `max_bytes`, as the reference's
/// `chunkArrayBySizeAndLength` and `batchMultiplexedEvents` cut them.
fn chunks(
    pieces: &[Piece],
    of_key: &[usize],
    max_items: Option<f64>,
    max_bytes: Option<f64>,
    whole: bool,
) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    // The size of the batch being filled.
    let mut bytes = 0.0;
    let mut i = 0;
    while i < of_key.len() {
        // The unit that must stay together: one item, or one event's items.
        let mut j = i + 1;
        if whole {
            while j < of_key.len() && pieces[of_key[j]].event == pieces[of_key[i]].event {
                j += 1;
            }
        }
        let unit = &of_key[i..j];
        let unit_size: f64 = unit.iter().map(|&p| pieces[p].size).sum();
        let fits = out.last().is_some_and(|cur| {
            let n = (cur.len() + unit.len()) as f64;
            max_items.is_none_or(|m| n <= m) && max_bytes.is_none_or(|m| bytes + unit_size <= m)
        });
        if fits {
            if let Some(cur) = out.last_mut() {
                cur.extend_from_slice(unit);
                bytes += unit_size;
            }
        } else {
            // A unit larger than a batch is cut by count alone.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let per = max_items.map_or(unit.len(), |m| (m as usize).max(1));
            for c in unit.chunks(per) {
                bytes = c.iter().map(|&p| pieces[p].size).sum();
                out.push(c.to_vec());
            }
        }
        i = j;
    }
    out
}

/// `object-sizeof`, as the reference's batching measures: the UTF-8 length of an object's or
/// list's JSON; 12 + 4 per 4 characters for a string; 8 for a number; 4 for a boolean.
pub fn size_of(v: &Value) -> f64 {
    match v {
        Value::Object(_) | Value::Array(_) => crate::protocol::json::to_js_string(v).len() as f64,
        Value::String(s) => 12.0 + 4.0 * (s.encode_utf16().count() as f64 / 4.0).ceil(),
        Value::Number(_) => 8.0,
        Value::Bool(_) => 4.0,
        Value::Null => 0.0,
    }
}

/// A request shape evaluated (for a batch).
fn build(request: &Request, s: &Scope<'_>) -> Result<Value, Failure> {
    let mut m = Map::new();
    for (name, shape) in &request.fields {
        if let Some(v) = shape_value(shape, s)? {
            m.insert(Str::from(name.as_str()), v);
        }
    }
    Ok(Value::Object(m))
}

fn shape_value(shape: &Shape, s: &Scope<'_>) -> Result<Option<Value>, Failure> {
    Ok(match shape {
        Shape::Expr(e) => eval(e, s)?.map(Cow::into_owned),
        Shape::Object(entries) => {
            let mut m = Map::new();
            for (k, sh) in entries {
                crate::eval::expr::put(&mut m, k.as_deref(), shape_value(sh, s)?);
            }
            Some(Value::Object(m))
        }
        Shape::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for sh in items {
                out.push(shape_value(sh, s)?.unwrap_or(Value::Null));
            }
            Some(Value::Array(out))
        }
    })
}

/// A response as the router carries it: as built, `userId` made text when it is truthy (the
/// processor's default `""` is not added here).
fn router_response(o: Output) -> Value {
    let mut v = match o {
        Output::Payload(payload, req) => {
            // Every field of a fast request is literal but `body.JSON`, the payload.
            fn fill(sh: &Shape, payload: &Value) -> Value {
                match sh {
                    Shape::Expr(crate::plan::Expr::Literal(v)) => v.clone(),
                    Shape::Expr(_) => payload.clone(),
                    Shape::Object(entries) => Value::Object(
                        entries
                            .iter()
                            .filter_map(|(k, s)| Some((k.clone()?, fill(s, payload))))
                            .collect(),
                    ),
                    Shape::List(items) => {
                        Value::Array(items.iter().map(|s| fill(s, payload)).collect())
                    }
                }
            }
            let mut m = Map::new();
            for (k, sh) in &req.fields {
                m.insert(Str::from(k.as_str()), fill(sh, &payload));
            }
            Value::Object(m)
        }
        Output::Built(v, _) => v,
    };
    if let Value::Object(m) = &mut v
        && let Some(u) = m.get_mut("userId")
    {
        if js::truthy(Some(u)) {
            *u = Value::String(js::to_js_string(Some(u)).into());
        } else if u.is_null() {
            m.shift_remove("userId");
        }
    }
    v
}

fn entry(request: Value, metadata: Vec<Value>, batched: bool, destination: &Value) -> Value {
    let mut m = Map::new();
    m.insert("batchedRequest".into(), request);
    m.insert("metadata".into(), Value::Array(metadata));
    m.insert("batched".into(), Value::Bool(batched));
    m.insert("statusCode".into(), Value::from(200));
    m.insert("destination".into(), destination.clone());
    Value::Object(m)
}

/// A failed event: its error text as the step raised it (without the workflow's step names),
/// statTags for the router (naming the group's destination and workspace).
fn fail(
    plan: &Plan,
    metadata: &Value,
    destination: &Value,
    f: &Failure,
    first_md: &Value,
) -> Value {
    failure_entry(
        plan,
        vec![metadata.clone()],
        Some(destination),
        &f.message,
        &f.error_type,
        first_md,
    )
}

/// A failure entry for the events of `metadata` (with `destination`, when given).
fn failure_entry(
    plan: &Plan,
    metadata: Vec<Value>,
    destination: Option<&Value>,
    error: &str,
    error_type: &str,
    first_md: &Value,
) -> Value {
    let mut tags = Map::new();
    for (i, (k, v)) in plan.stat_tags.iter().enumerate() {
        let v = if k == "feature" {
            Value::String("router".into())
        } else {
            v.clone()
        };
        tags.insert(Str::from(k.as_str()), v);
        if i == 0 {
            tags.insert("errorType".into(), Value::String(Str::from(error_type)));
        }
    }
    if plan.stat_tags.is_empty() {
        tags.insert("errorType".into(), Value::String(Str::from(error_type)));
    }
    for key in ["destinationId", "workspaceId"] {
        if let Some(v) = first_md.get(key) {
            tags.insert(key.into(), v.clone());
        }
    }
    let mut m = Map::new();
    m.insert("metadata".into(), Value::Array(metadata));
    m.insert("batched".into(), Value::Bool(false));
    m.insert("statusCode".into(), Value::from(400));
    m.insert("error".into(), Value::String(Str::from(error)));
    m.insert("statTags".into(), Value::Object(tags));
    if let Some(d) = destination {
        m.insert("destination".into(), d.clone());
    }
    Value::Object(m)
}

/// A whole routerTransform body answered; `Err` for a body that is not one.
pub fn route_body(plan: &Plan, body: Value, env: &Env) -> Result<Value, String> {
    let Value::Object(mut b) = body else {
        return Err(
            "a routerTransform body is an object {\"input\": [...], \"destType\": \"...\"}".into(),
        );
    };
    let Some(Value::Array(inputs)) = b.remove("input") else {
        return Err("a routerTransform body needs `input`, a list of request items".into());
    };
    if inputs.is_empty() {
        return Err("`input` is an empty list".into());
    }
    let output = route(plan, inputs, env);
    let mut m = Map::new();
    m.insert("output".into(), Value::Array(output));
    Ok(Value::Object(m))
}
