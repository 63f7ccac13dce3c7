//! Generated documents: the spec language reference (`docs/spec-reference.md`) and the JSON
//! Schema for editors (`schema/eventmap-spec.schema.json`), both written from the construct
//! registry so that they cannot drift from what the compiler accepts. A test checks that the
//! files in the repository are current (`BLESS=1` rewrites them).

use serde_json::{Map, Value, json};

use crate::compile::{REQUEST_FIELDS, signature};
use crate::registry::{
    CONSTRUCTS, ERROR_TYPES, GROUPS, METHODS, OPS, ROOTS, SECTIONS, SEMANTICS, TEXT_SCOPES,
};

/// Where the generated files live, relative to the repository.
pub const REFERENCE_PATH: &str = "docs/spec-reference.md";
pub const SCHEMA_PATH: &str = "schema/eventmap-spec.schema.json";

/// The YAML-only expression forms, documented.
const YAML_FORMS: &[(&str, &str, &str)] = &[
    (
        "value",
        "A literal, taken as written (`{value: {a: 1}}`, `{value: yes}` is the text \"yes\").",
        "{value: customer_patch}",
    ),
    (
        "template",
        "A text with `{{ expression }}` holes, always giving a string.",
        "{template: \"{{message.name}} ({{message.context.page.path}})\"}",
    ),
    (
        "object",
        "An object built key by key; a key starting with `...` spreads an object's keys in.",
        "{object: {id: product.sku, \"...\": omit(product, ['sku'])}}",
    ),
    (
        "if",
        "`then` when `if` is truthy, else `else` (undefined when there is no `else`).",
        "{if: message.userId, then: \"'known'\", else: \"'anonymous'\"}",
    ),
];

/// `docs/spec-reference.md`.
pub fn reference_markdown() -> String {
    let mut o = String::new();
    o.push_str("<!-- Generated from src/registry.rs by `eventmap docs`; do not edit. -->\n");
    o.push_str("# eventmap spec language reference\n\n");
    o.push_str(
        "A destination is a folder of YAML files under `mappings/<name>/`. This page lists every \
         section, operation and construct the compiler accepts; it is generated from the construct \
         registry (`src/registry.rs`), whose examples run in `cargo test`. Editors get the same \
         vocabulary from `schema/eventmap-spec.schema.json`: put \
         `# yaml-language-server: $schema=../../schema/eventmap-spec.schema.json` at the top of a \
         spec file.\n\n",
    );
    o.push_str("## Writing values\n\n");
    o.push_str(
        "Specs are YAML 1.2: `yes`, `no`, `on`, `off`, `y` and `n` are text, and a mapping key is \
         always the text written.\n\n\
         **Expressions** (values of `set`, `let`, `when`, `require`, `fields`, ...):\n\n\
         - a string is written in the compact syntax, close to JavaScript: paths \
         (`message.traits.email`, `message.context.externalId.0.id`, `list[0]`, `obj[key]`), \
         literals (`'text'`, `\"text\"`, `12.5`, `true`, `null`, `undefined`, `[a, b]`, \
         `{key: value, ...spread}`), operators (`??`, `||`, `&&`, `!`, `==`, `!=`, `<`, `<=`, \
         `>`, `>=`, `in`, `+`, `-`, `*`, `/`, `%`, `c ? a : b`) and function calls by name \
         (`lowercase(message.event)`, `rows_to_object(config.rows, lowercase = false)`); \
         functions that take a lambda are given one (`map(products, p => p.sku)`, \
         `filter_keys(o, (k, v) => v != null)`). There are no methods: `x.toLowerCase()` is \
         `lowercase(x)`. Paths read with `get-value` semantics: a key with dots (`{\"a.b\": 1}`) \
         is found at `a.b`.\n\
         - a string starting with `$.` is a JSONPath selector over the message (its first match).\n\
         - a YAML list is a list literal; null, booleans and numbers are themselves.\n\
         - a one-key mapping names a construct: `{lowercase: message.event}`, \
         `{coalesce: [a, b]}` (arguments in order), `{rows_to_object: {rows: config.map, \
         lowercase: false}}` (arguments by name); or one of the YAML-only forms below.\n\
         - `@name` stands for an alias's list of paths inside `??`, `||`, `&&` and \
         `first_present` (`@email ?? 'none'`).\n\n\
         **Texts** (error messages, request fields, `{template: ...}`): a string with \
         `{{ expression }}` holes, each written as JavaScript's `String(value)` writes it. A text \
         that is one hole and nothing else gives the value itself, so a request header \
         `\"{{config.apiKey}}\"` is left out when the key is undefined.\n\n",
    );
    o.push_str("Expressions start from one of these names, or from a variable named by `let`, `fan_out` or a lambda:\n\n");
    o.push_str("| name | what it is |\n| --- | --- |\n");
    for (name, what) in ROOTS {
        o.push_str(&format!("| `{name}` | {what} |\n"));
    }
    o.push_str("\nYAML-only forms:\n\n| form | meaning | example |\n| --- | --- | --- |\n");
    for (name, what, ex) in YAML_FORMS {
        o.push_str(&format!(
            "| `{name}` | {what} | `{}` |\n",
            ex.replace('|', "\\|")
        ));
    }
    o.push_str(
        "\n## Semantics against JavaScript\n\nThe reference is JavaScript, and its answers depend \
         on JavaScript's ways to choose, test, compare and write values. Each has one spelling \
         here (the examples run in `cargo test`):\n\n\
         | eventmap | JavaScript | meaning | examples |\n| --- | --- | --- | --- |\n",
    );
    for sem in SEMANTICS {
        let cell = |t: &str| t.replace('|', "\\|");
        let examples: Vec<String> = sem
            .examples
            .iter()
            .map(|(e, r)| format!("`{}` gives `{}`", cell(e), cell(r)))
            .collect();
        o.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            cell(sem.eventmap),
            cell(sem.javascript),
            cell(sem.meaning),
            examples.join("; ")
        ));
    }
    o.push_str(
        "\n## What each text can see\n\nEvery expression and text can read the names listed under \
         [Writing values](#writing-values) (`message`, `config`, `metadata`, ...); what `payload` holds, and which \
         other names it can read, depends on where it stands:\n\n\
         | text or expression | can also read |\n| --- | --- |\n",
    );
    for t in TEXT_SCOPES {
        o.push_str(&format!(
            "| {} | {} |\n",
            t.text,
            t.names.replace('|', "\\|")
        ));
    }
    o.push_str("\n## Sections\n\n| section | where | meaning |\n| --- | --- | --- |\n");
    for s in SECTIONS {
        let homes: Vec<&str> = s
            .homes
            .iter()
            .map(|h| match *h {
                "destination" => "destination file",
                "flow" => "flow file",
                _ => "any file",
            })
            .collect();
        o.push_str(&format!(
            "| `{}` | {} | {} |\n",
            s.name,
            homes.join(", "),
            s.summary
        ));
    }
    o.push_str(&format!(
        "\nResponse fields, in the order written: {}. HTTP methods: {}. Error types: {}.\n",
        REQUEST_FIELDS
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", "),
        METHODS.join(", "),
        ERROR_TYPES
            .iter()
            .map(|(n, t)| format!("`{n}` (statTags errorType `{t}`)"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    o.push_str("\n## Steps and operations\n\n");
    o.push_str(
        "A flow's `steps:` is a list of steps: `name` (named in error texts), optional \
         `description` and `when` (an expression; the step runs when it is truthy), and either \
         `do` (a list of operations) or `steps` (child steps, named as `ChildStep` in error \
         texts).\n\n",
    );
    for op in OPS {
        o.push_str(&format!("### `{}`\n\n{}\n\n", op.name, op.summary));
        if !op.keys.is_empty() {
            o.push_str(&format!(
                "Also takes: {}.\n\n",
                op.keys
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        o.push_str(&format!("```yaml\n{}\n```\n\n", op.example));
    }
    o.push_str(&format!(
        "## Functions ({} constructs)\n\nEach is called as `name(args)` in the compact syntax or \
         `{{name: args}}` in YAML; the operator column gives its other spelling. Examples are \
         evaluated over this event (the `config` has `apiKey` and `rows`), and checked by \
         `cargo test`:\n\n```json\n{}\n```\n\n",
        CONSTRUCTS.len(),
        serde_json::to_string_pretty(&sample_event()).unwrap_or_default()
    ));
    for (group, about) in GROUPS {
        o.push_str(&format!("### {}\n\n{about}\n\n", capitalise(group)));
        o.push_str("| construct | operator | meaning | JavaScript |\n| --- | --- | --- | --- |\n");
        for c in CONSTRUCTS.iter().filter(|c| c.group == *group) {
            let sig = signature(c).trim_start_matches("usage: ").to_owned();
            o.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                sig.replace('|', "\\|"),
                c.infix
                    .map(|i| format!("`{}`", i.replace('|', "\\|")))
                    .unwrap_or_default(),
                c.summary.replace('|', "\\|"),
                if c.js.is_empty() {
                    String::new()
                } else {
                    format!("`{}`", c.js.replace('|', "\\|"))
                }
            ));
        }
        o.push_str("\n| example | gives |\n| --- | --- |\n");
        for c in CONSTRUCTS.iter().filter(|c| c.group == *group) {
            for (expr, result) in c.examples {
                o.push_str(&format!(
                    "| `{}` | `{}` |\n",
                    expr.replace('|', "\\|"),
                    result.replace('|', "\\|")
                ));
            }
        }
        o.push('\n');
    }
    o
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The event the registry's examples are evaluated over.
pub fn sample_event() -> Value {
    json!({
        "message": {
            "type": "track",
            "event": "Order Completed",
            "userId": "u1",
            "anonymousId": "a1",
            "properties": {
                "order_id": "o1",
                "revenue": "12.5",
                "currency": "USD",
                "products": [
                    {"sku": "s1", "price": 2, "quantity": 3},
                    {"sku": "s2", "price": 1.5}
                ],
                "tags": ["a", "b", "a"]
            },
            "context": {
                "traits": {"email": "Ann@Example.com", "name": "Ann"},
                "externalId": [{"type": "ACXIOM_ID", "id": "x9"}],
                "ip": "1.2.3.4"
            },
            "integrations": {"All": true},
            "timestamp": "2024-01-23T08:35:17.562Z"
        },
        "config": {
            "apiKey": "k1",
            "rows": [
                {"from": "Order Completed", "to": "purchase"},
                {"from": "order completed", "to": "buy"},
                {"from": "", "to": "x"}
            ]
        },
        "now": "2025-01-01T00:00:00.000Z"
    })
}

fn expression_schema() -> Value {
    let mut names: Vec<&str> = CONSTRUCTS.iter().map(|c| c.name).collect();
    names.extend(YAML_FORMS.iter().map(|(n, _, _)| *n));
    names.extend(["then", "else"]);
    let mut props = Map::new();
    for c in CONSTRUCTS {
        props.insert(
            c.name.into(),
            json!({"description": format!("{} {}", c.summary, signature(c))}),
        );
    }
    for (n, what, _) in YAML_FORMS {
        props.insert((*n).into(), json!({"description": what}));
    }
    json!({
        "description": "An expression: compact syntax in a string, a list literal, a scalar, or a one-key mapping naming a construct.",
        "anyOf": [
            {"type": "string"},
            {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": {"$ref": "#/definitions/expression"}},
            {"type": "object", "maxProperties": 0, "description": "`{}`: an empty object"},
            {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"enum": names},
                "properties": props
            }
        ]
    })
}

fn ops_schema() -> Value {
    let mut names: Vec<&str> = OPS.iter().map(|o| o.name).collect();
    for op in OPS {
        for k in op.keys {
            if !names.contains(k) {
                names.push(k);
            }
        }
    }
    let mut props = Map::new();
    for op in OPS {
        let body = match op.name {
            "set" | "let" => json!({"$ref": "#/definitions/fields"}),
            "default" => {
                json!({"anyOf": [{"$ref": "#/definitions/fields"}, {"$ref": "#/definitions/ops"}]})
            }
            "if" | "require" | "switch" | "return" => json!({"$ref": "#/definitions/expression"}),
            "fail" | "call" => json!({"type": "string"}),
            "build" => json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["fields"],
                    "properties": {"fields": {"anyOf": [{"type": "string"}, {"$ref": "#/definitions/fields"}]}}
                }
            }),
            "fan_out" => json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["over", "as", "do"],
                "properties": {
                    "over": {"$ref": "#/definitions/expression"},
                    "as": {"type": "string"},
                    "do": {"$ref": "#/definitions/ops"}
                }
            }),
            "emit" => json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "clean": {"enum": ["none", "top_nulls", "deep"]},
                    "request": {"$ref": "#/definitions/request"}
                }
            }),
            _ => json!({"type": "object"}),
        };
        let mut body = body;
        if let Value::Object(m) = &mut body {
            m.insert("description".into(), Value::String(op.summary.into()));
        }
        props.insert(op.name.into(), body);
    }
    props.insert("when".into(), json!({"$ref": "#/definitions/expression"}));
    props.insert(
        "cases".into(),
        json!({"type": "object", "additionalProperties": {"$ref": "#/definitions/ops"}}),
    );
    props.insert(
        "error".into(),
        json!({"type": "string", "description": "The error text (with `{{ }}` holes)."}),
    );
    props.insert(
        "error_type".into(),
        json!({"enum": ERROR_TYPES.iter().map(|(n, _)| *n).collect::<Vec<_>>()}),
    );
    props.insert("then".into(), json!({"$ref": "#/definitions/ops"}));
    props.insert("else".into(), json!({"$ref": "#/definitions/ops"}));
    json!({
        "type": "array",
        "items": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"enum": names},
            "properties": props
        }
    })
}

/// `schema/eventmap-spec.schema.json` (draft-07).
pub fn schema() -> Value {
    let mut sections = Map::new();
    for s in SECTIONS {
        let body = match s.name {
            "destination" | "description" | "workflow" => json!({"type": "string"}),
            "dynamic_config" | "processor" => json!({"type": "boolean"}),
            "stat_tags" => json!({"type": "object"}),
            "integration_names" => json!({"type": "array", "items": {"type": "string"}}),
            "flow" => {
                json!({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
            }
            "message_type" => json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "path": {"type": "string"},
                    "lowercase": {"type": "boolean"},
                    "step": {"type": "string"},
                    "check_step": {"type": "string"},
                    "missing": {"type": "string"},
                    "not_string": {"type": "string"},
                    "unsupported": {"type": "string"},
                    "supported": {"anyOf": [{"const": "any"}, {"type": "array", "items": {"type": "string"}}]}
                },
                "required": ["supported"]
            }),
            "config" => json!({
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "description": {"type": "string"},
                        "required": {"type": "string"},
                        "pattern": {"type": "string"},
                        "pattern_error": {"type": "string"},
                        "error_type": {"enum": ERROR_TYPES.iter().map(|(n, _)| *n).collect::<Vec<_>>()},
                        "secret": {"type": "boolean"}
                    }
                }
            }),
            "request" => json!({"$ref": "#/definitions/request"}),
            "steps" => json!({"$ref": "#/definitions/steps"}),
            "router" => json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "checks": {"$ref": "#/definitions/steps"},
                    "batch": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["request"],
                        "properties": {
                            "when": {"$ref": "#/definitions/expression"},
                            "key": {"$ref": "#/definitions/expression"},
                            "order": {"$ref": "#/definitions/expression"},
                            "alone": {"$ref": "#/definitions/expression"},
                            "items": {"$ref": "#/definitions/expression"},
                            "size": {"$ref": "#/definitions/expression"},
                            "max_items": {"$ref": "#/definitions/expression"},
                            "max_bytes": {"$ref": "#/definitions/expression"},
                            "whole_events": {"type": "boolean"},
                            "request": {"$ref": "#/definitions/request"},
                            "batched": {"$ref": "#/definitions/expression"},
                            "entries": {"enum": ["each", "one", "by_job"]}
                        }
                    }
                }
            }),
            "aliases" => json!({
                "type": "object",
                "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
            }),
            "tables" => json!({"type": "object", "additionalProperties": {"type": "object"}}),
            "lists" => json!({
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": {"anyOf": [
                        {"type": "string"},
                        {"type": "object", "properties": {"include": {"type": "string"}}, "required": ["include"], "additionalProperties": false}
                    ]}
                }
            }),
            "fields" => {
                json!({"type": "object", "additionalProperties": {"$ref": "#/definitions/fields"}})
            }
            "procedures" => {
                json!({"type": "object", "additionalProperties": {"$ref": "#/definitions/ops"}})
            }
            _ => json!({}),
        };
        let mut body = body;
        if let Value::Object(m) = &mut body {
            m.insert("description".into(), Value::String(s.summary.into()));
        }
        sections.insert(s.name.into(), body);
    }
    let mut request_props = Map::new();
    for f in REQUEST_FIELDS {
        request_props.insert((*f).into(), json!({"$ref": "#/definitions/shape"}));
    }
    request_props.insert(
        "method".into(),
        json!({"type": "string", "description": format!("{} or a text with {{{{ }}}}", METHODS.join(", "))}),
    );
    request_props.insert("step".into(), json!({"type": "string"}));
    request_props.insert(
        "field_order".into(),
        json!({"type": "array", "items": {"enum": REQUEST_FIELDS}}),
    );
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://github.com/eventmap/eventmap/schema/eventmap-spec.schema.json",
        "title": "eventmap spec file",
        "description": "One YAML file of an eventmap destination (mappings/<name>/*.yaml). Generated from src/registry.rs; see docs/spec-reference.md.",
        "type": "object",
        "additionalProperties": false,
        "properties": sections,
        "definitions": {
            "expression": expression_schema(),
            "ops": ops_schema(),
            "fields": {"type": "object", "additionalProperties": {"$ref": "#/definitions/expression"}},
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "when": {"$ref": "#/definitions/expression"},
                        "do": {"$ref": "#/definitions/ops"},
                        "steps": {"$ref": "#/definitions/steps"}
                    }
                }
            },
            "shape": {
                "description": "A text (with {{ }} holes), or a mapping or list built as written; a key starting with `...` spreads an object in.",
                "anyOf": [
                    {"type": ["string", "number", "boolean", "null"]},
                    {"type": "array", "items": {"$ref": "#/definitions/shape"}},
                    {"type": "object", "additionalProperties": {"$ref": "#/definitions/shape"}}
                ]
            },
            "request": {
                "type": "object",
                "additionalProperties": false,
                "properties": request_props
            }
        }
    })
}

/// The schema as the file holds it.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}
