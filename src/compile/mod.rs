//! Compile stage: a destination's spec files -> a [`Plan`]. Every file is read, every section
//! checked (and checked to stand in a file where it belongs), every name resolved, and every
//! problem in every file reported together, once; an invalid spec set never yields a plan.

mod cx;
mod expr;
mod memo;
mod ops;
pub mod parse;
mod request;

use std::collections::HashMap;
use std::sync::Arc;

use crate::value::Value;

use crate::diag::{Code, Diagnostic, Diagnostics, suggest};
use crate::plan::{ConfigCheck, Flow, Plan, Root, Step, Text, TypeRule};
use crate::registry::{ERROR_TYPES, SECTIONS};
use crate::spec::node::{Kind, Node};
use crate::spec::{self, Mappings, Source};
pub use cx::join;
use cx::{Cx, Named};
pub use expr::{number_literal, signature};
pub use request::{FIELDS as REQUEST_FIELDS, literal_value, merge_field};

/// The flow key of a destination that takes every message type.
pub const ANY: &str = "*";

/// Loads and compiles one destination from a mappings source.
pub fn load_destination(mappings: &Mappings, name: &str) -> Result<Option<Plan>, Diagnostics> {
    match mappings.sources(name) {
        Ok(Some((name, sources))) => compile(&name, &sources).map(Some),
        Ok(None) => Ok(None),
        Err(d) => Err(Diagnostics(vec![d])),
    }
}

/// What a spec file is, by the section that makes it so.
#[derive(Clone, Copy, PartialEq)]
enum FileKind {
    Destination,
    Flow,
    Shared,
}

impl FileKind {
    fn of(doc: &Node) -> FileKind {
        if doc.get("destination").is_some() {
            FileKind::Destination
        } else if doc.get("flow").is_some() {
            FileKind::Flow
        } else {
            FileKind::Shared
        }
    }

    fn home(self) -> &'static str {
        match self {
            FileKind::Destination => "destination",
            FileKind::Flow => "flow",
            FileKind::Shared => "shared",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            FileKind::Destination => "the destination file",
            FileKind::Flow => "a flow file",
            FileKind::Shared => "a file without `destination:` or `flow:`",
        }
    }
}

/// Checks that every section of a file is known and belongs in a file of its kind.
fn check_sections(cx: &mut Cx<'_>, doc: &Node) {
    let Some(entries) = doc.as_map() else {
        cx.wrong(doc, "", "a mapping of sections");
        return;
    };
    let kind = FileKind::of(doc);
    let mut seen: Vec<String> = Vec::new();
    for (k, _) in entries {
        let key = k.scalar_text();
        if seen.contains(&key) {
            cx.err(
                Code::Duplicate,
                k,
                &key,
                format!("section `{key}` is given twice"),
            );
        }
        seen.push(key.clone());
        let Some(section) = SECTIONS.iter().find(|s| s.name == key) else {
            let hint = suggest(&key, SECTIONS.iter().map(|s| s.name)).or_else(|| {
                Some(format!(
                    "sections: {}",
                    SECTIONS
                        .iter()
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            });
            cx.err_hint(
                Code::UnknownKey,
                k,
                &key,
                format!("unknown section `{key}`"),
                hint,
            );
            continue;
        };
        let home_ok = section.homes.contains(&kind.home()) || section.homes.contains(&"shared");
        if !home_ok {
            let homes: Vec<&str> = section
                .homes
                .iter()
                .map(|h| match *h {
                    "destination" => "the destination file",
                    "flow" => "a flow file",
                    _ => "any file",
                })
                .collect();
            cx.err_hint(
                Code::Misplaced,
                k,
                &key,
                format!("section `{key}` does not belong in {}", kind.describe()),
                Some(format!("`{key}` belongs in {}", homes.join(" or "))),
            );
        }
    }
}

/// Compiles a destination's spec files.
pub fn compile(name: &str, sources: &[Source]) -> Result<Plan, Diagnostics> {
    let mut diags = Vec::new();
    let mut docs: Vec<(Arc<str>, Node)> = Vec::new();
    let mut texts = HashMap::new();
    for s in sources {
        texts.insert(Arc::from(s.name.as_str()), Arc::from(s.text.as_str()));
        match spec::load(s) {
            Ok(n) => docs.push((Arc::from(s.name.as_str()), n)),
            Err(d) => diags.push(d),
        }
    }
    let unreadable = !diags.is_empty();
    let mut cx = Cx::new();
    cx.diags = diags;
    cx.texts = texts;
    cx.unparsed = unreadable;
    cx.unparsed_destination =
        unreadable && !docs.iter().any(|(_, d)| d.get("destination").is_some());

    // Pass 1: section shapes and places, and the names that other sections use.
    for (file, doc) in &docs {
        cx.file = file.clone();
        if matches!(doc.kind, Kind::Null) {
            continue;
        }
        check_sections(&mut cx, doc);
    }
    // The config keys the destination declares, for every path that reads the config.
    if let Some(c) = docs
        .iter()
        .find_map(|(_, d)| d.get("destination").and(d.get("config")))
        .and_then(Node::as_map)
    {
        cx.config_keys = Some(c.iter().map(|(k, _)| k.scalar_text()).collect());
    }
    // The named constants, for every path that reads them.
    if let Some((file, c)) = docs
        .iter()
        .find_map(|(f, d)| d.get("destination").and(d.get("constants")).map(|c| (f, c)))
    {
        cx.file = file.clone();
        match c.as_map() {
            Some(entries) => {
                for (k, v) in entries {
                    cx.constants.push((k.scalar_text(), v.to_json()));
                }
            }
            None => cx.wrong(c, "constants", "a mapping of name -> value"),
        }
    }
    for (file, doc) in &docs {
        cx.file = file.clone();
        if let Some(n) = doc.get("lists") {
            define_lists(&mut cx, n);
        }
        if let Some(n) = doc.get("tables") {
            define_tables(&mut cx, n);
        }
        if let Some(n) = doc.get("aliases") {
            define_aliases(&mut cx, n);
        }
        if let Some(n) = doc.get("procedures") {
            let Some(entries) = n.as_map() else {
                cx.wrong(n, "procedures", "a mapping of procedure name -> operations");
                continue;
            };
            for (k, v) in entries {
                let pname = k.scalar_text();
                if cx.procedures.contains_key(&pname) {
                    cx.err(
                        Code::Duplicate,
                        k,
                        &join("procedures", &pname),
                        format!("procedure `{pname}` is defined twice"),
                    );
                }
                cx.procedures.insert(
                    pname.clone(),
                    Named {
                        file: file.clone(),
                        node: v,
                        spec_path: join("procedures", &pname),
                    },
                );
            }
        }
    }
    for (file, doc) in &docs {
        cx.file = file.clone();
        if let Some(n) = doc.get("fields") {
            let Some(entries) = n.as_map() else {
                cx.wrong(n, "fields", "a mapping of group name -> fields");
                continue;
            };
            for (k, v) in entries {
                let gname = k.scalar_text();
                let fields = cx.fields(v, &join("fields", &gname));
                if cx.field_groups.insert(gname.clone(), fields).is_some() {
                    cx.err(
                        Code::Duplicate,
                        k,
                        &join("fields", &gname),
                        format!("field group `{gname}` is defined twice"),
                    );
                }
            }
        }
    }

    // Pass 2: the destination file.
    let dest_docs: Vec<&(Arc<str>, Node)> = docs
        .iter()
        .filter(|(_, d)| d.get("destination").is_some())
        .collect();
    let header = match dest_docs.as_slice() {
        [one] => {
            cx.file = one.0.clone();
            destination(&mut cx, &one.0, &one.1)
        }
        // The destination file is the one that did not parse: already reported.
        [] if cx.unparsed_destination => None,
        [] => {
            cx.diags.push(Diagnostic {
                code: Code::MissingFile,
                file: format!("{name}/destination.yaml"),
                pos: Default::default(),
                spec_path: String::new(),
                message: "no file declares `destination:`".into(),
                hint: Some("a destination folder needs a destination.yaml with `destination`, `message_type` and `request`".into()),
            });
            None
        }
        [_, second, ..] => {
            cx.file = second.0.clone();
            cx.err(
                Code::Duplicate,
                &second.1,
                "destination",
                "`destination:` is declared in more than one file",
            );
            None
        }
    };
    // Config-only `let`s, numbered across the preamble and every flow.
    let mut header = header;
    let mut memos = 0;
    let after_preamble = match &mut header {
        Some(h) => {
            let rule = &h.message_type;
            let mut pure = memo::Purity::at_start(&[rule.type_slot, rule.type_of_slot]);
            memo::mark_steps(&mut h.preamble, &mut pure, &mut memos);
            pure
        }
        None => memo::Purity::default(),
    };
    let base_slots = cx.slot_names.len();
    let base_scope = cx.scope.clone();
    let dest_request = cx.request_base.clone();

    // Pass 3: one flow per supported message type.
    let mut flows: HashMap<String, Arc<Flow>> = HashMap::new();
    let mut flow_nodes: HashMap<String, (Arc<str>, &Node)> = HashMap::new();
    let mut slots = base_slots;
    for (file, doc) in &docs {
        cx.file = file.clone();
        if FileKind::of(doc) == FileKind::Destination {
            continue;
        }
        let (flow, steps) = (doc.get("flow"), doc.get("steps"));
        match (flow, steps) {
            (Some(f), Some(s)) => {
                // `flow: track` or `flow: [identify, track, group]`: one flow for each type.
                let types: Vec<String> = match &f.kind {
                    Kind::Seq(_) => match cx.string_list(f, "flow") {
                        Some(l) => l.to_vec(),
                        None => continue,
                    },
                    _ => match cx.string(f, "flow") {
                        Some(t) => vec![t],
                        None => continue,
                    },
                };
                let keys: Vec<String> = types
                    .iter()
                    .map(|t| {
                        if t == "any" {
                            ANY.to_owned()
                        } else {
                            t.clone()
                        }
                    })
                    .collect();
                if let Some((t, _)) = types
                    .iter()
                    .zip(&keys)
                    .find(|(_, k)| flows.contains_key(*k))
                {
                    cx.err(
                        Code::Duplicate,
                        f,
                        "flow",
                        format!("a flow for `{t}` is defined in another file too"),
                    );
                    continue;
                }
                cx.scope.clone_from(&base_scope);
                cx.slot_names.truncate(base_slots);
                cx.request_base.clone_from(&dest_request);
                cx.request_cache = None;
                if let Some(r) = doc.get("request") {
                    for (k, v) in cx.request_entries(r, "request") {
                        merge_field(&mut cx.request_base, k, file.clone(), v);
                    }
                }
                let mut steps = cx.steps(s, "steps");
                memo::mark_steps(&mut steps, &mut after_preamble.clone(), &mut memos);
                slots = slots.max(cx.slot_names.len());
                let flow = Arc::new(Flow {
                    steps,
                    var_names: cx.slot_names.clone(),
                });
                for key in keys {
                    flows.insert(key.clone(), flow.clone());
                    flow_nodes.insert(key, (file.clone(), f));
                }
            }
            (Some(f), None) => cx.err(Code::MissingKey, f, "flow", "a flow needs `steps`"),
            (None, Some(_)) => {}
            (None, None) => {}
        }
    }
    if let Some(h) = &header {
        let (rule, type_node, type_file) = (&h.message_type, &h.supported_node, &h.file);
        if rule.any {
            if !flows.contains_key(ANY) && !unreadable {
                cx.file = type_file.clone();
                cx.err(
                    Code::FlowMismatch,
                    type_node,
                    "message_type.supported",
                    "every message type is supported but no file has `flow: any`",
                );
            }
        } else {
            for t in &rule.supported {
                // A flow file that did not parse has already been reported; do not cascade.
                if !flows.contains_key(t) && !unreadable {
                    cx.file = type_file.clone();
                    cx.err(
                        Code::FlowMismatch,
                        type_node,
                        "message_type.supported",
                        format!("message type `{t}` is supported but no file has `flow: {t}`"),
                    );
                }
            }
        }
        for (t, (file, node)) in &flow_nodes {
            let ok = if rule.any {
                t == ANY
            } else {
                rule.supported.contains(t)
            };
            if !ok {
                cx.file = file.clone();
                let shown = if t == ANY { "any" } else { t.as_str() };
                let hint = if t == ANY {
                    Some("`flow: any` needs `supported: any` in destination.yaml".into())
                } else {
                    suggest(t, rule.supported.iter().map(String::as_str)).or_else(|| {
                        Some("add it to `message_type.supported` in destination.yaml".into())
                    })
                };
                cx.err_hint(
                    Code::FlowMismatch,
                    node,
                    "flow",
                    format!("flow `{shown}` is for a message type that is not supported"),
                    hint,
                );
            }
        }
    }

    if !cx.unchecked.is_empty()
        && let Some(first) = cx.diags.iter_mut().find(|d| d.code == Code::Syntax)
    {
        let note = format!(
            "not checked until the specs parse (each may be defined in a file that does not): {}",
            cx.unchecked.join(", ")
        );
        first.hint = Some(match first.hint.take() {
            Some(h) => format!("{h}; {note}"),
            None => note,
        });
    }
    if !cx.diags.is_empty() {
        let mut diags = std::mem::take(&mut cx.diags);
        diags.sort_by(|a, b| {
            (&a.file, a.pos.line, a.pos.col).cmp(&(&b.file, b.pos.line, b.pos.col))
        });
        // A procedure is compiled where each flow calls it: report its mistakes once.
        diags.dedup_by(|a, b| {
            a.file == b.file && a.pos == b.pos && a.code == b.code && a.message == b.message
        });
        return Err(Diagnostics(diags));
    }
    let Some(h) = header else {
        return Err(Diagnostics(cx.diags));
    };
    Ok(Plan {
        name: name.to_owned(),
        workflow: h.workflow,
        stat_tags: h.stat_tags,
        dynamic_config: h.dynamic_config,
        processor: h.processor,
        message_type: h.message_type,
        config_checks: h.config_checks,
        secrets: h.secrets,
        preamble: h.preamble,
        preamble_checks_type: h.preamble_checks_type,
        flows,
        slots,
        memos,
        integration_names: h.integration_names,
        constants: Value::Object(cx.constants.iter().cloned().collect()),
        router: h.router,
        spec_hash: spec_hash(sources),
        reads_metadata: cx.reads_metadata,
        reads_connection: cx.reads_connection,
        message_reads: cx.message_reads.clone(),
        read_prefixes: cx.read_prefixes.clone(),
    })
}

/// A stable hash (FNV-1a) of a spec set's file names and texts.
pub fn spec_hash(sources: &[Source]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for s in sources {
        for b in s.name.bytes().chain([0]).chain(s.text.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn define_lists<'s>(cx: &mut Cx<'s>, node: &'s Node) {
    let Some(entries) = node.as_map() else {
        cx.wrong(node, "lists", "a mapping of list name -> strings");
        return;
    };
    for (k, v) in entries {
        let lname = k.scalar_text();
        let p = join("lists", &lname);
        if let Some(l) = cx.string_list(v, &p)
            && cx.lists.insert(lname.clone(), l).is_some()
        {
            cx.err(
                Code::Duplicate,
                k,
                &p,
                format!("list `{lname}` is defined twice"),
            );
        }
    }
}

fn define_tables(cx: &mut Cx<'_>, node: &Node) {
    let Some(entries) = node.as_map() else {
        cx.wrong(node, "tables", "a mapping of table name -> mapping");
        return;
    };
    for (k, v) in entries {
        let tname = k.scalar_text();
        let p = join("tables", &tname);
        let Value::Object(map) = v.to_json() else {
            cx.wrong(v, &p, "a mapping of key -> value");
            continue;
        };
        if cx.tables.insert(tname.clone(), Arc::new(map)).is_some() {
            cx.err(
                Code::Duplicate,
                k,
                &p,
                format!("table `{tname}` is defined twice"),
            );
        }
    }
}

fn define_aliases(cx: &mut Cx<'_>, node: &Node) {
    let Some(entries) = node.as_map() else {
        cx.wrong(node, "aliases", "a mapping of alias -> message paths");
        return;
    };
    for (k, v) in entries {
        let aname = k.scalar_text();
        let p = join("aliases", &aname);
        let items: Vec<&Node> = match &v.kind {
            Kind::Seq(s) => s.iter().collect(),
            Kind::Str(_) => vec![v],
            _ => {
                cx.wrong(v, &p, "a list of message paths");
                continue;
            }
        };
        let mut paths = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ip = format!("{p}[{i}]");
            let text = cx.string(item, &ip);
            if let Some(rest) = text.as_deref().and_then(|t| t.strip_prefix("message.")) {
                // Alias paths start at the message: this one would read `message.message...`.
                cx.err_hint(
                    Code::BadPath,
                    item,
                    &ip,
                    format!(
                        "alias paths are read from the message; `message.{rest}` reads nothing"
                    ),
                    Some(format!("write `{rest}`")),
                );
                continue;
            }
            if let Some(text) = text
                && let Some(path) = cx.rooted(Root::Message, &text, &text, item, &ip)
            {
                paths.push(path);
            }
        }
        if cx.aliases.insert(aname.clone(), paths).is_some() {
            cx.err(
                Code::Duplicate,
                k,
                &p,
                format!("alias `{aname}` is defined twice"),
            );
        }
    }
}

/// What the destination file declares, compiled.
struct Header {
    message_type: TypeRule,
    workflow: String,
    stat_tags: Vec<(String, Value)>,
    dynamic_config: bool,
    processor: bool,
    config_checks: Vec<ConfigCheck>,
    secrets: Vec<String>,
    preamble: Vec<Step>,
    preamble_checks_type: bool,
    integration_names: Vec<String>,
    router: Option<crate::plan::RouterPlan>,
    /// Where `message_type.supported` stands, for flow mismatches.
    supported_node: Node,
    file: Arc<str>,
}

fn destination<'s>(cx: &mut Cx<'s>, file: &Arc<str>, doc: &'s Node) -> Option<Header> {
    let workflow = match doc.get("workflow") {
        Some(n) => cx.string(n, "workflow"),
        None => Some("workflow".into()),
    };
    let mut stat_tags = Vec::new();
    if let Some(n) = doc.get("stat_tags") {
        match n.as_map() {
            Some(entries) => {
                for (k, v) in entries {
                    stat_tags.push((k.scalar_text(), v.to_json()));
                }
            }
            None => cx.wrong(n, "stat_tags", "a mapping"),
        }
    }
    let dynamic_config = match doc.get("dynamic_config") {
        Some(n) => cx.boolean(n, "dynamic_config"),
        None => Some(false),
    };
    let processor = match doc.get("processor") {
        Some(n) => cx.boolean(n, "processor"),
        None => Some(true),
    };
    let integration_names = match doc.get("integration_names") {
        Some(n) => cx.string_list(n, "integration_names").map(|l| l.to_vec()),
        None => Some(Vec::new()),
    };

    // message_type: its texts may read `type` and `type_of`.
    let type_slot = cx.declare("type");
    let type_of_slot = cx.declare("type_of");
    let mt = cx.required(doc, "", "message_type");
    let rule = mt.and_then(|mt| {
        let p = "message_type";
        cx.mapping(
            mt,
            p,
            &[
                "path",
                "lowercase",
                "step",
                "check_step",
                "missing",
                "not_string",
                "unsupported",
                "supported",
            ],
        );
        let path = match mt.get("path") {
            None => cx.path("message.type", mt, p),
            Some(n) => (|| {
                let text = cx.string(n, &join(p, "path"))?;
                let path = cx.path(&text, n, &join(p, "path"))?;
                if path.root != Root::Message {
                    cx.err(
                        Code::BadPath,
                        n,
                        &join(p, "path"),
                        "the message type is read from the message: start the path with `message.`",
                    );
                    return None;
                }
                Some(path)
            })(),
        };
        let lowercase = mt
            .get("lowercase")
            .map_or(Some(false), |n| cx.boolean(n, &join(p, "lowercase")));
        let step = mt.get("step").map_or(Some("messageType".into()), |n| {
            cx.string(n, &join(p, "step"))
        });
        let check_step = mt
            .get("check_step")
            .map_or(Some("validateInput".into()), |n| {
                cx.string(n, &join(p, "check_step"))
            });
        let missing = text_or(
            cx,
            mt,
            p,
            "missing",
            "message Type is not present. Aborting message.",
        );
        let not_string = text_or(
            cx,
            mt,
            p,
            "not_string",
            "message type must be a string, found {{type_of}}",
        );
        let unsupported = text_or(
            cx,
            mt,
            p,
            "unsupported",
            "message type {{type}} is not supported",
        );
        let written = ["missing", "not_string", "unsupported"]
            .map(|k| mt.get(k).map(|n| cx.origin(n, &join(p, k))));
        let origin = cx.origin(mt, p);
        let supported_node = cx.required(mt, p, "supported")?;
        let (supported, any) = if supported_node.as_str() == Some("any") {
            (Vec::new(), true)
        } else {
            cx.seq(supported_node, &join(p, "supported"))?;
            let list = cx.string_list(supported_node, &join(p, "supported"))?;
            (list.to_vec(), false)
        };
        Some(TypeRule {
            path: path?,
            lowercase: lowercase?,
            step: step?,
            check_step: check_step?,
            missing: missing?,
            not_string: not_string?,
            unsupported: unsupported?,
            written,
            origin,
            supported,
            any,
            type_slot,
            type_of_slot,
        })
    });
    cx.scope.clear();
    let type_node = mt
        .and_then(|m| m.get("supported"))
        .cloned()
        .unwrap_or_else(|| doc.clone());

    // config
    let mut checks = Vec::new();
    let mut secrets = Vec::new();
    if let Some(c) = doc.get("config") {
        match c.as_map() {
            Some(entries) => {
                for (k, v) in entries {
                    let key = k.scalar_text();
                    let p = join("config", &key);
                    cx.mapping(
                        v,
                        &p,
                        &[
                            "description",
                            "required",
                            "pattern",
                            "pattern_error",
                            "error_type",
                            "secret",
                        ],
                    );
                    let Some(cpath) = cx.rooted(Root::Config, &key, &key, k, &p) else {
                        continue;
                    };
                    let required = v.get("required").and_then(|n| {
                        let at = join(&p, "required");
                        Some((cx.text(n, &at)?, cx.origin(n, &at)))
                    });
                    let pattern = v.get("pattern").and_then(|n| {
                        let text = cx.string(n, &join(&p, "pattern"))?;
                        match regex::Regex::new(&text) {
                            Ok(r) => {
                                let m = text_or(
                                    cx,
                                    v,
                                    &p,
                                    "pattern_error",
                                    &format!("{key} does not match the pattern {text}"),
                                )?;
                                Some((r, m, cx.origin(n, &join(&p, "pattern"))))
                            }
                            Err(e) => {
                                cx.err(
                                    Code::BadRegex,
                                    n,
                                    &join(&p, "pattern"),
                                    format!(
                                        "regex does not compile: {}",
                                        crate::diag::one_line(&e.to_string())
                                    ),
                                );
                                None
                            }
                        }
                    });
                    let error_type = match v.get("error_type") {
                        Some(n) => {
                            let t = cx.string(n, &join(&p, "error_type")).unwrap_or_default();
                            match ERROR_TYPES.iter().find(|(name, _)| *name == t) {
                                Some((_, tag)) => (*tag).to_owned(),
                                None => {
                                    cx.err(
                                        Code::UnknownConstruct,
                                        n,
                                        &join(&p, "error_type"),
                                        format!("unknown error type `{t}`"),
                                    );
                                    t
                                }
                            }
                        }
                        None => "configuration".into(),
                    };
                    if v.get("secret")
                        .and_then(|n| cx.boolean(n, &join(&p, "secret")))
                        == Some(true)
                    {
                        secrets.push(key.clone());
                    }
                    checks.push(ConfigCheck {
                        key,
                        path: cpath,
                        required,
                        pattern,
                        error_type,
                        origin: cx.origin(v, &p),
                    });
                }
            }
            None => cx.wrong(c, "config", "a mapping of config key -> rules"),
        }
    }

    // request: the defaults every flow starts from.
    cx.request_base.clear();
    match doc.get("request") {
        Some(r) => {
            for (k, v) in cx.request_entries(r, "request") {
                merge_field(&mut cx.request_base, k, file.clone(), v);
            }
        }
        None => {
            cx.err(
                Code::MissingKey,
                doc,
                "",
                "missing key `request` (the response every payload becomes)",
            );
        }
    }

    // steps every message runs before its flow.
    let (preamble, checks_type) = match doc.get("steps") {
        Some(s) => {
            cx.in_preamble = true;
            cx.request_cache = None;
            let steps = cx.steps(s, "steps");
            cx.in_preamble = false;
            cx.request_cache = None;
            let checks_type = steps_check_type(&steps);
            (steps, checks_type)
        }
        None => (Vec::new(), false),
    };

    let router = doc.get("router").map(|r| router(cx, file, r));
    let router = match router {
        Some(Some(r)) => Some(r),
        Some(None) => return None,
        None => None,
    };

    Some(Header {
        router,
        message_type: rule?,
        workflow: workflow?,
        stat_tags,
        dynamic_config: dynamic_config?,
        processor: processor?,
        config_checks: checks,
        secrets,
        preamble,
        preamble_checks_type: checks_type,
        integration_names: integration_names?,
        supported_node: type_node,
        file: cx.file.clone(),
    })
}

fn steps_check_type(steps: &[Step]) -> bool {
    use crate::plan::{Body, Op};
    fn ops(list: &[Op]) -> bool {
        list.iter().any(|o| match o {
            Op::CheckType => true,
            Op::If {
                then, otherwise, ..
            } => ops(then) || ops(otherwise),
            Op::Switch { cases, default, .. } => cases.iter().any(|(_, c)| ops(c)) || ops(default),
            Op::FanOut { ops: o, .. } => ops(o),
            _ => false,
        })
    }
    steps.iter().any(|s| match &s.body {
        Body::Ops(o) => ops(o),
        Body::Children(c) => steps_check_type(c),
    })
}

fn text_or(cx: &mut Cx<'_>, node: &Node, path: &str, key: &str, default: &str) -> Option<Text> {
    match node.get(key) {
        Some(n) => {
            let s = cx.string(n, &join(path, key))?;
            cx.text_of(&s, n, &join(path, key))
        }
        None => {
            let at = Node {
                pos: node.pos,
                kind: Kind::Str(default.to_owned()),
            };
            cx.text_of(default, &at, &join(path, key))
        }
    }
}

/// `router:`: the router transform's group checks and batching.
fn router<'s>(cx: &mut Cx<'s>, file: &Arc<str>, node: &'s Node) -> Option<crate::plan::RouterPlan> {
    use crate::plan::RouterPlan;
    cx.mapping(node, "router", &["checks", "batch"])?;
    // The checks see the event's roots and variables of their own.
    let (checks, check_slots) = match node.get("checks") {
        Some(c) => {
            let saved_scope = std::mem::take(&mut cx.scope);
            let saved_slots = std::mem::take(&mut cx.slot_names);
            let steps = cx.steps(c, "router.checks");
            let slots = cx.slot_names.len();
            cx.scope = saved_scope;
            cx.slot_names = saved_slots;
            (steps, slots)
        }
        None => (Vec::new(), 0),
    };
    let batch = match node.get("batch") {
        Some(b) => Some(router_batch(cx, file, b)?),
        None => None,
    };
    Some(RouterPlan {
        checks,
        check_slots,
        batch,
    })
}

/// `router.batch`: which responses share a request, and what the batched request is.
fn router_batch<'s>(
    cx: &mut Cx<'s>,
    file: &Arc<str>,
    b: &'s Node,
) -> Option<crate::plan::BatchPlan> {
    use crate::plan::{BatchPlan, Entries};
    let p = "router.batch";
    cx.mapping(
        b,
        p,
        &[
            "when",
            "key",
            "alone",
            "items",
            "size",
            "max_items",
            "max_bytes",
            "order",
            "whole_events",
            "request",
            "batched",
            "entries",
        ],
    )?;
    // The router's expressions see the event's roots, `output` (one response) and, in the
    // request, `items`; they have slots of their own.
    let saved_scope = std::mem::take(&mut cx.scope);
    let saved_slots = std::mem::take(&mut cx.slot_names);
    let output_slot = cx.bind("output");
    let mut ok = true;
    let mut expr = |cx: &mut Cx<'s>, key: &str| -> Option<crate::plan::Expr> {
        let n = b.get(key)?;
        let e = cx.expr(n, &join(p, key));
        ok &= e.is_some();
        e
    };
    let when = expr(cx, "when");
    let key = expr(cx, "key");
    let order = expr(cx, "order");
    let alone = expr(cx, "alone");
    let items = expr(cx, "items");
    let max_items = expr(cx, "max_items");
    let max_bytes = expr(cx, "max_bytes");
    let item_slot = cx.bind("item");
    let size = expr(cx, "size");
    let whole_events = match b.get("whole_events") {
        Some(n) => cx.boolean(n, &join(p, "whole_events")),
        None => Some(false),
    };
    let entries = match b.get("entries") {
        Some(n) => match cx.string(n, &join(p, "entries")).as_deref() {
            Some("each") => Some(Entries::Each),
            Some("one") => Some(Entries::One),
            Some("by_job") => Some(Entries::ByJob),
            Some(other) => {
                cx.err(
                    Code::UnknownConstruct,
                    n,
                    &join(p, "entries"),
                    format!("unknown `entries` `{other}` (each, one or by_job)"),
                );
                None
            }
            None => None,
        },
        None => Some(Entries::Each),
    };
    let items_slot = cx.bind("items");
    let batched = expr(cx, "batched");
    let request = cx.required(b, p, "request").and_then(|r| {
        let mut fields = Vec::new();
        for (k, v) in cx.request_entries(r, &join(p, "request")) {
            merge_field(&mut fields, k, file.clone(), v);
        }
        cx.compile_request(&fields)
    });
    let slots = cx.slot_names.len();
    cx.scope = saved_scope;
    cx.slot_names = saved_slots;
    let (request, whole_events, entries) = (request?, whole_events?, entries?);
    if !ok {
        return None;
    }
    Some(BatchPlan {
        when,
        key,
        order,
        items,
        size,
        max_items,
        max_bytes,
        whole_events,
        alone,
        batched,
        entries,
        request: Arc::new(request),
        output_slot,
        item_slot,
        items_slot,
        slots,
        origin: cx.origin(b, p),
    })
}
