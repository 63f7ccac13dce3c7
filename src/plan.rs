//! The plan: what `compile` makes of a destination's specs and what `eval` runs. No YAML types
//! and no strings left to parse: paths are split, selectors and templates compiled, names
//! resolved to slots and tables. Every operation keeps the spec location it came from.

use std::collections::HashMap;
use std::sync::Arc;

use handlebars::Handlebars;
use jsonpath_rust::parser::model::JpQuery;
use regex::Regex;
use serde_json::{Map, Value};

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
    pub message_type: TypeRule,
    pub config_checks: Vec<ConfigCheck>,
    /// Config keys whose values must never be logged.
    pub secrets: Vec<String>,
    /// Supported message type (normalised) -> its flow.
    pub flows: HashMap<String, Flow>,
    pub request: Request,
    pub templates: Handlebars<'static>,
    /// A hash of the spec set's files, for /health and reviews.
    pub spec_hash: String,
    /// Whether any path or template reads the request metadata (else it is only echoed).
    pub reads_metadata: bool,
}

/// How the message type is read and checked; the supported types are the flows' keys.
pub struct TypeRule {
    pub path: Path,
    pub lowercase: bool,
    /// Step reported when the type cannot be read.
    pub step: String,
    /// Step reported when the type is missing or unsupported, and for config checks.
    pub check_step: String,
    pub missing: Msg,
    pub not_string: Msg,
    pub unsupported: Msg,
    /// Supported types in the spec's order, for messages.
    pub supported: Vec<String>,
}

pub struct ConfigCheck {
    pub key: String,
    pub path: Path,
    pub required: Option<Msg>,
    pub pattern: Option<(Regex, Msg)>,
    pub error_type: String,
    pub origin: Origin,
}

/// The request each payload becomes.
pub struct Request {
    pub step: String,
    pub method: String,
    pub endpoint: Msg,
    pub headers: Vec<(String, Msg)>,
    /// Whether the endpoint or a header is a template (else nothing is rendered per payload).
    pub templated: bool,
}

/// One message type's ordered steps.
pub struct Flow {
    pub steps: Vec<Step>,
    /// How many variable slots its evaluation needs.
    pub slots: usize,
    pub var_names: Vec<String>,
}

pub struct Step {
    pub name: String,
    pub when: Option<Cond>,
    pub body: Body,
    pub origin: Origin,
}

pub enum Body {
    Ops(Vec<Op>),
    Children(Vec<Step>),
}

/// A message: plain text, or a template rendered with the event's context.
#[derive(Debug, Clone)]
pub enum Msg {
    Text(String),
    Template { name: String, source: String },
}

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Root {
    Message,
    Config,
    Payload,
    Metadata,
    Var(usize),
}

/// A dotted path, split once; read with `get-value` semantics.
#[derive(Debug, Clone)]
pub struct Path {
    pub root: Root,
    /// The path after the root, as written (`traits.email`); empty for the root itself.
    pub whole: Box<str>,
    pub segs: Vec<Box<str>>,
}

/// Predicates over one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pred {
    /// Not undefined, null or "".
    Present,
    /// Not undefined or null.
    Defined,
    Truthy,
    /// A non-empty string, list or object.
    NotEmpty,
    /// Not null, blank, `{}` or `[]`; numbers and booleans count.
    Filled,
}

#[derive(Debug, Clone)]
pub enum Expr {
    Literal(Value),
    Path(Path),
    /// A JSONPath selector over the message; the first match.
    JsonPath(Arc<JpQuery>),
    /// The first value that is present (a list of sources).
    FirstPresent(Vec<Expr>),
    /// The first value satisfying a predicate.
    First {
        of: Vec<Expr>,
        pred: Pred,
    },
    /// JavaScript `a || b || c`: the first truthy value, else the last.
    Or(Vec<Expr>),
    If {
        cond: Box<Cond>,
        then: Box<Expr>,
        otherwise: Option<Box<Expr>>,
    },
    Lowercase(Box<Expr>),
    Uppercase(Box<Expr>),
    Trim(Box<Expr>),
    Lookup {
        table: Arc<Map<String, Value>>,
        key: Box<Expr>,
    },
    /// Rows of a config table whose `from` equals the key: their distinct `to` values.
    MultiMap {
        rows: Box<Expr>,
        key: Box<Expr>,
        from: String,
        to: String,
        trim: bool,
        lowercase: bool,
    },
    List(Vec<Expr>),
    /// A value that is not a list becomes a one-element list; undefined stays undefined.
    ToList(Box<Expr>),
    /// Every key of the source objects not excluded, dotted keys nested, later sources winning.
    CopyKeys {
        from: Vec<Expr>,
        except: Arc<[String]>,
    },
    /// An object without some keys.
    Omit {
        from: Box<Expr>,
        keys: Arc<[String]>,
    },
    Object(Vec<(ObjKey, Expr)>),
    /// Each element of a list through `to`, with the element bound to a slot.
    Map {
        over: Box<Expr>,
        slot: usize,
        to: Box<Expr>,
    },
    Template(Msg),
}

#[derive(Debug, Clone)]
pub enum ObjKey {
    Key(String),
    Spread,
}

#[derive(Debug, Clone)]
pub enum Cond {
    Eq(Expr, Expr),
    Ne(Expr, Expr),
    Test(Pred, Expr),
    /// `typeof`-style type test: string, number, boolean, object, array, null.
    IsType(Expr, String),
    /// The value, as a string, is a substring of one of the list's strings.
    SubstringOfAny(Expr, Expr),
    /// The value equals one element of the list.
    In(Expr, Expr),
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
}

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

/// A payload field assignment: where, from what, and the rule that says so.
#[derive(Debug, Clone)]
pub struct Field {
    pub target: Vec<SetKey>,
    pub target_text: String,
    pub value: Expr,
    pub origin: Origin,
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
    },
    If {
        cond: Cond,
        then: Vec<Op>,
        otherwise: Vec<Op>,
    },
    Require {
        cond: Cond,
        error: Msg,
        error_type: String,
        origin: Origin,
    },
    Fail {
        error: Msg,
        error_type: String,
        origin: Origin,
    },
    Switch {
        on: Expr,
        cases: Vec<(String, Vec<Op>)>,
        default: Vec<Op>,
    },
    /// One copy of the payload per element of a list, each running `ops`.
    FanOut {
        over: Expr,
        slot: usize,
        ops: Vec<Op>,
    },
    /// The payload, cleaned, becomes one output.
    Emit {
        clean: Clean,
    },
}

impl Plan {
    /// A message as text: plain text as it is, a template rendered with `ctx`.
    pub fn render(&self, msg: &Msg, ctx: &Value) -> Result<String, String> {
        match msg {
            Msg::Text(t) => Ok(t.clone()),
            Msg::Template { name, source } => self
                .templates
                .render(name, ctx)
                .map_err(|e| format!("template `{source}` failed: {}", e.reason())),
        }
    }
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
