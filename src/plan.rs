//! The plan: what `compile` makes of a destination's specs and what `eval` runs. No YAML types
//! and no strings left to parse: paths are split, selectors and templates compiled, names
//! resolved to slots and tables. Every operation keeps the spec location it came from.

use std::collections::HashMap;
use std::sync::Arc;

use crate::value::Value;
use jsonpath_rust::parser::model::JpQuery;
use regex::Regex;

use crate::eval::js::SetKey;
use crate::spec::node::Pos;

/// Where a plan node came from: `file:line:col` and the path into the spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub file: Arc<str>,
    pub pos: Pos,
    pub spec_path: Arc<str>,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{} ({})",
            self.file, self.pos.line, self.pos.col, self.spec_path
        )
    }
}

/// One destination, compiled.
pub struct Plan {
    pub name: String,
    /// The workflow name the error texts carry.
    pub workflow: String,
    /// statTags every failure carries (errorType is added per error).
    pub stat_tags: Vec<(String, Value)>,
    /// Whether `{{ path || default }}` strings in the destination config are resolved per event.
    pub dynamic_config: bool,
    /// Whether the destination has a processor transform; `false`: router only.
    pub processor: bool,
    pub message_type: TypeRule,
    pub config_checks: Vec<ConfigCheck>,
    /// Config keys whose values must never be logged.
    pub secrets: Vec<String>,
    /// Steps every message runs before its flow (destination.yaml `steps:`).
    pub preamble: Vec<Step>,
    /// Whether the preamble places the message type check itself (`check_type`).
    pub preamble_checks_type: bool,
    /// Supported message type (normalised) -> its flow (one flow may take several types); the
    /// key `*` when one flow takes any type.
    pub flows: HashMap<String, Arc<Flow>>,
    /// How many variable slots an event needs (the preamble's and the largest flow's).
    pub slots: usize,
    /// How many config-only `let`s there are (remembered per destination by a batch).
    pub memos: usize,
    /// Keys of `message.integrations` that name this destination, in order.
    pub integration_names: Vec<String>,
    /// Named constants (`constants:`; `consts.NAME` in expressions), an object.
    pub constants: Value,
    /// How the router transform answers (`router:`); without it, each event's responses are
    /// entries of their own.
    pub router: Option<RouterPlan>,
    /// A hash of the spec set's files, for /health and reviews.
    pub spec_hash: String,
    /// Whether any path or template reads the request metadata (else it is only echoed).
    pub reads_metadata: bool,
    /// Some expression reads `connection`.
    pub reads_connection: bool,
    /// The parts of the message any expression can read: a raw item's message is parsed into
    /// just these.
    pub message_reads: ReadTree,
    /// The parents of the message paths (see [`Path::prefix`]), each once.
    pub read_prefixes: Vec<Vec<Box<str>>>,
}

/// The parts of a JSON value that are read: the whole value, or some of its keys (each with
/// what is read below it). A path `a.b.c` adds `a`, `a.b` and `a.b.c` at the top (get-value
/// joins segments it cannot find with the next ones, so a key may hold dots), and so on down.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadTree {
    pub whole: bool,
    /// Sorted by key.
    pub children: Vec<(Box<str>, ReadTree)>,
}

impl ReadTree {
    /// Everything below this node is read.
    pub fn everything() -> Self {
        ReadTree {
            whole: true,
            children: Vec::new(),
        }
    }

    /// Marks a path (its segments) as read, with everything below it.
    pub fn add(&mut self, segs: &[Box<str>]) {
        if self.whole {
            return;
        }
        if segs.is_empty() {
            *self = ReadTree::everything();
            return;
        }
        let mut key = String::new();
        for (j, seg) in segs.iter().enumerate() {
            if j > 0 {
                key.push('.');
            }
            key.push_str(seg);
            let i = match self
                .children
                .binary_search_by(|(k, _)| k.as_ref().cmp(key.as_str()))
            {
                Ok(i) => i,
                Err(i) => {
                    self.children
                        .insert(i, (key.as_str().into(), ReadTree::default()));
                    i
                }
            };
            self.children[i].1.add(&segs[j + 1..]);
        }
    }

    /// What is read below `key`, when anything is.
    pub fn child(&self, key: &str) -> Option<&ReadTree> {
        // Most keys of an event are not read: comparing lengths and first bytes rules them
        // out at little cost.
        let (len, first) = (key.len(), key.as_bytes().first());
        self.children
            .iter()
            .find(|(k, _)| k.len() == len && k.as_bytes().first() == first && **k == *key)
            .map(|(_, t)| t)
    }
}

/// Batching for the router transform: which payloads may share a request, how many at most,
/// and what the batched request is.
pub struct RouterPlan {
    /// Steps run once per group, over its first event, before any event is mapped: when one
    /// refuses, the whole group is answered by one failure entry.
    pub checks: Vec<Step>,
    /// Variable slots the checks need.
    pub check_slots: usize,
    pub batch: Option<BatchPlan>,
}

/// How a group's batches become entries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Entries {
    /// One entry per batch.
    Each,
    /// One entry per key, `batchedRequest` the list of its batches' requests.
    One,
    /// Batches that share a job (a metadata `jobId`) merged into one entry listing their
    /// requests.
    ByJob,
}

pub struct BatchPlan {
    /// Over the group's first event: whether to batch at all.
    pub when: Option<Expr>,
    /// Per response: events of different keys never share a batch.
    pub key: Option<Expr>,
    /// Per response: a number; within a key, items go into batches in its order (stable:
    /// equal ranks keep the events' order).
    pub order: Option<Expr>,
    /// Per response: the items it adds to the batch (a list adds each element; default: its
    /// payload).
    pub items: Option<Expr>,
    /// Per item (`item` in scope): its size against `max_bytes` (default: `size_of(item)`).
    pub size: Option<Expr>,
    pub max_items: Option<Expr>,
    pub max_bytes: Option<Expr>,
    /// An event's responses go into one batch together (split only past `max_items`).
    pub whole_events: bool,
    /// Per response: when truthy, the response is a batch of its own.
    pub alone: Option<Expr>,
    /// Per batch (request scope): what its entry says as `batched` (default: true, false for a
    /// response alone).
    pub batched: Option<Expr>,
    pub entries: Entries,
    /// The batched request: a shape with `items` in scope.
    pub request: Arc<Request>,
    /// Slots of the router's own variables: `output` (a response), `item` (one item) and
    /// `items` (a batch's items).
    pub output_slot: usize,
    pub item_slot: usize,
    pub items_slot: usize,
    pub slots: usize,
    pub origin: Origin,
}

/// How the message type is read and checked; the supported types are the flows' keys.
pub struct TypeRule {
    pub path: Path,
    pub lowercase: bool,
    /// Step reported when the type cannot be read.
    pub step: String,
    /// Step reported when the type is missing or unsupported, and for config checks.
    pub check_step: String,
    pub missing: Text,
    pub not_string: Text,
    pub unsupported: Text,
    /// Where `missing`, `not_string` and `unsupported` are written; `None` for the engine's
    /// default text.
    pub written: [Option<Origin>; 3],
    /// The `message_type` section, named as the rule of a default text.
    pub origin: Origin,
    /// Supported types in the spec's order, for messages; empty when any type is taken.
    pub supported: Vec<String>,
    /// Every type is taken (one flow for all, no type check).
    pub any: bool,
    /// Slots of the `type` and `type_of` variables the messages above may read.
    pub type_slot: usize,
    pub type_of_slot: usize,
}

pub struct ConfigCheck {
    pub key: String,
    pub path: Path,
    /// The error when the value is falsy, and where `required` is written.
    pub required: Option<(Text, Origin)>,
    /// The pattern a text value must match, its error, and where `pattern` is written.
    pub pattern: Option<(Regex, Text, Origin)>,
    pub error_type: String,
    pub origin: Origin,
}

/// One message type's ordered steps.
pub struct Flow {
    pub steps: Vec<Step>,
    /// Variable names by slot, for templates and `--explain`.
    pub var_names: Vec<String>,
}

pub struct Step {
    pub name: String,
    pub when: Option<Expr>,
    pub body: Body,
    pub origin: Origin,
}

pub enum Body {
    Ops(Vec<Op>),
    Children(Vec<Step>),
}

/// Text with `{{ expression }}` holes. A text that is one hole and nothing else gives the
/// expression's value itself (so `"{{config.apiKey}}"` can be undefined); otherwise each hole
/// is written as JavaScript's `String(value)` would write it.
#[derive(Debug, Clone)]
pub struct Text {
    pub parts: Vec<TextPart>,
    pub source: Arc<str>,
}

#[derive(Debug, Clone)]
pub enum TextPart {
    Lit(String),
    Hole(Expr),
}

impl Text {
    pub fn plain(s: &str) -> Text {
        Text {
            parts: vec![TextPart::Lit(s.to_owned())],
            source: Arc::from(s),
        }
    }

    /// The text when it has no holes.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [TextPart::Lit(s)] => Some(s),
            [] => Some(""),
            _ => None,
        }
    }
}

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Root {
    Message,
    Config,
    Payload,
    Metadata,
    /// `integration`: the first truthy `message.integrations.<name>` of the destination's names.
    Integration,
    /// `destination`: the request item's whole destination (`ID`, `Config`, ...).
    Destination,
    /// `connection`: the request item's connection (`connection.config.destination`, ...), as
    /// rudder-server sends it for reverse ETL.
    Connection,
    /// `consts`: the spec's named constants (overridable per run with `--const`).
    Consts,
    /// `router`: whether the event is mapped for the router transform.
    Router,
    Var(usize),
}

/// A dotted path, split once; read with `get-value` semantics.
#[derive(Debug, Clone)]
pub struct Path {
    pub root: Root,
    /// The path after the root, as written (`traits.email`); empty for the root itself.
    pub whole: Box<str>,
    pub segs: Vec<Box<str>>,
    /// For a message path of two to five segments: its parent's place in
    /// [`Plan::read_prefixes`], so that paths sharing a parent (`traits.email`,
    /// `traits.name`) find it once per event.
    pub prefix: Option<u32>,
}

/// Operators of the compact syntax that are not constructs of their own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unary {
    Not,
    Neg,
    Plus,
}

/// `$.<list>[?(@.<key> == '<equals>')].<then>`: of the members (or elements) of the value at
/// `list`, the first that is an object whose `key` is the text `equals` and that has a value
/// at `then`. Every name is an own key, as in JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonFilter {
    pub list: Vec<Box<str>>,
    pub key: Box<str>,
    pub equals: Box<str>,
    pub then: Vec<Box<str>>,
}

#[derive(Debug, Clone)]
pub enum Expr {
    Literal(Value),
    Undefined,
    Path(Path),
    /// Static keys read (with `get-value` semantics) from the value of an expression.
    Member(Box<Expr>, Box<str>, Vec<Box<str>>),
    /// `base[key]`: an own property of an object, an element of a list or string.
    Index(Box<Expr>, Box<Expr>),
    /// A JSONPath selector over the message; the first match.
    JsonPath(Arc<JpQuery>),
    /// The commonest JSONPath form, `$.a.b[?(@.key == 'text')].c`, walked directly: the
    /// same first match as [`Expr::JsonPath`] gives for it.
    JsonFilter(Arc<JsonFilter>),
    /// A list literal; `true` marks a spread element.
    Array(Vec<(bool, Expr)>),
    /// An object literal: keys in order, `None` for a spread; `true` when no key is written
    /// twice (no spread, no key repeated), so each is appended without a search.
    Object(Vec<(Option<String>, Expr)>, bool),
    Text(Arc<Text>),
    Unary(Unary, Box<Expr>),
    /// A construct of the registry with its arguments, by position.
    Call(Func, Vec<Arg>),
}

#[derive(Debug, Clone)]
pub enum Arg {
    /// An argument left out (a default applies).
    Missing,
    Value(Expr),
    /// `x => body` or `(x, i) => body`: the parameters' slots and the body.
    Lambda(Vec<usize>, Box<Expr>),
    /// A regular expression given as a literal, compiled once.
    Regex(Arc<Regex>),
    /// A long literal list of texts on the right of `in`, indexed once: membership is one
    /// lookup, not a comparison with every text.
    Texts(Arc<TextSet>),
}

/// The texts of a literal list, for `in`.
#[derive(Debug, Default)]
pub struct TextSet(hashbrown::HashSet<Box<str>>);

impl TextSet {
    /// The list's texts, when every item is a text.
    pub fn of(items: &[Value]) -> Option<TextSet> {
        items
            .iter()
            .map(|i| match i {
                Value::String(t) => Some(Box::from(t.as_str())),
                _ => None,
            })
            .collect::<Option<_>>()
            .map(TextSet)
    }

    pub fn contains(&self, t: &str) -> bool {
        self.0.contains(t)
    }
}

pub use crate::registry::Func;

/// How a payload is cleaned when it is emitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clean {
    /// Nothing removed.
    None,
    /// `null` members of the top level removed.
    TopNulls,
    /// `null`, `{}` and `[]` removed at every depth.
    Deep,
}

/// Where a field assignment writes.
#[derive(Debug, Clone)]
pub enum Target {
    /// A `set-value` path.
    Path(Vec<SetKey>),
    /// `...`: every key of the value is assigned to the payload's top level, as it is
    /// (`Object.assign`; dotted keys are not split).
    Assign,
}

/// A payload field assignment: where, from what, and the rule that says so.
#[derive(Debug, Clone)]
pub struct Field {
    pub target: Target,
    pub target_text: String,
    pub value: Expr,
    pub origin: Origin,
}

/// The response a payload becomes: its fields in output order, each a shape of literals and
/// expressions.
#[derive(Debug, Clone)]
pub struct Request {
    /// The step named when building it fails.
    pub step: String,
    pub fields: Vec<(String, Shape)>,
    /// Every field is a literal except `body.JSON`, which is the payload, and there is no
    /// `userId`: the response can be written straight from the plan.
    pub fast: bool,
    /// For a fast request, its response text around the payload (see
    /// [`crate::protocol::processor::fast_template`]); empty otherwise.
    pub template: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub enum Shape {
    Expr(Expr),
    /// Keys in order; `None` spreads an object's keys in.
    Object(Vec<(Option<String>, Shape)>),
    List(Vec<Shape>),
}

#[derive(Debug, Clone)]
pub enum Op {
    /// Parts built one by one (a field is set only when its value is present), then
    /// deep-merged in order into a new payload.
    Build(Vec<Vec<Field>>),
    /// Assign fields; an undefined value removes the field.
    Set(Vec<Field>),
    /// Assign fields that are undefined or null.
    Default(Vec<(Path, Field)>),
    Let {
        slot: usize,
        value: Expr,
        /// Where a batch remembers the value, when it reads nothing of the event (see
        /// `compile::memo`).
        memo: Option<usize>,
        /// The value reads no variable and not the payload, only the event's own parts (and
        /// the spec's literals): what it gives lives as long as the event, and is bound
        /// where it is, not copied (`let props: message.properties`).
        event_only: bool,
    },
    If {
        cond: Expr,
        then: Vec<Op>,
        otherwise: Vec<Op>,
        origin: Origin,
    },
    Require {
        cond: Expr,
        error: Text,
        error_type: String,
        origin: Origin,
    },
    Fail {
        error: Text,
        error_type: String,
        origin: Origin,
    },
    Switch {
        on: Expr,
        cases: Vec<(String, Vec<Op>)>,
        default: Vec<Op>,
        origin: Origin,
    },
    /// One copy of the payload per element of a list, each running `ops`.
    FanOut {
        over: Expr,
        slot: usize,
        ops: Vec<Op>,
        origin: Origin,
    },
    /// The payload, cleaned, becomes one response through `request`.
    Emit {
        clean: Clean,
        request: Arc<Request>,
        origin: Origin,
    },
    /// The value is the response, as it is, and the event's steps end here.
    Return { value: Expr, origin: Origin },
    /// The message type check (missing, not a string, unsupported) and the config checks.
    CheckType,
    /// The event gives no response at all, and its steps end here.
    Drop { origin: Origin },
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("name", &self.name)
            .field("spec_hash", &self.spec_hash)
            .field("message_types", &self.message_type.supported)
            .finish_non_exhaustive()
    }
}
