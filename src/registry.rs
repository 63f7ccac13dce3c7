//! The construct registry: every construct of the spec language, defined once. Each entry
//! names a construct, its arguments, its one-sentence meaning (with the JavaScript it stands
//! for where the reference's answers depend on it) and examples. The compiler dispatches
//! from it, `check` suggests from it, `docs/spec-reference.md` and the editor schema are
//! generated from it, and its examples run in `cargo test`. Growing the vocabulary is one
//! entry here, its evaluation in `eval/func.rs`, and its examples.

/// A function construct, as the plan refers to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    Coalesce,
    Or,
    And,
    Not,
    If,
    FirstPresent,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Present,
    Defined,
    NotEmpty,
    Filled,
    TypeOf,
    String,
    Lowercase,
    Uppercase,
    Trim,
    Split,
    Join,
    Replace,
    ReplaceRegex,
    Matches,
    Capture,
    StartsWith,
    EndsWith,
    Contains,
    Substring,
    Length,
    Json,
    ToText,
    ParseJson,
    UrlEncode,
    QueryString,
    Base64,
    Sha256,
    Sha1,
    Md5,
    Xml,
    Number,
    ParseFloat,
    ParseInt,
    Round,
    Floor,
    Ceil,
    Abs,
    ToFixed,
    Sum,
    Min,
    Max,
    Map,
    Filter,
    Find,
    Some,
    Every,
    FlatMap,
    Unique,
    Flat,
    First,
    Last,
    Chunk,
    Concat,
    ToList,
    Slice,
    Keys,
    Values,
    Entries,
    FromEntries,
    Pick,
    Omit,
    Merge,
    Flatten,
    Clean,
    RenameKeys,
    MapValues,
    MapKeys,
    MapKeysDeep,
    FilterKeys,
    Get,
    Unset,
    CopyKeys,
    RowsToObject,
    ExternalId,
    Now,
    RandomHex,
    Uuid,
    SizeOf,
    ToMillis,
    ToSeconds,
    ToIso,
    FormatDate,
}

/// What an argument must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArgKind {
    /// Any expression.
    Value,
    /// A lambda taking up to this many parameters (`x => ...`, `(k, v) => ...`).
    Lambda(u8),
    /// A regular expression, given as a string literal and compiled once.
    Regex,
}

#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: ArgKind,
    /// The value used when the argument is left out; `None` for a required argument.
    pub default: Option<&'static str>,
    /// Takes every remaining argument (one or more).
    pub rest: bool,
}

const fn req(name: &'static str) -> Param {
    Param {
        name,
        kind: ArgKind::Value,
        default: None,
        rest: false,
    }
}

const fn opt(name: &'static str, default: &'static str) -> Param {
    Param {
        name,
        kind: ArgKind::Value,
        default: Some(default),
        rest: false,
    }
}

const fn rest(name: &'static str) -> Param {
    Param {
        name,
        kind: ArgKind::Value,
        default: None,
        rest: true,
    }
}

const fn lambda(name: &'static str, arity: u8) -> Param {
    Param {
        name,
        kind: ArgKind::Lambda(arity),
        default: None,
        rest: false,
    }
}

const fn regex(name: &'static str) -> Param {
    Param {
        name,
        kind: ArgKind::Regex,
        default: None,
        rest: false,
    }
}

/// One example: an expression and the JSON it gives over the sample event of the reference
/// (`undefined` when it gives nothing).
pub type Example = (&'static str, &'static str);

/// A function construct: callable as `name(args)` in the compact syntax or `{name: args}` in
/// YAML; some also have an operator spelling.
pub struct Construct {
    pub name: &'static str,
    pub func: Func,
    pub group: &'static str,
    pub infix: Option<&'static str>,
    pub params: &'static [Param],
    pub summary: &'static str,
    /// The JavaScript it behaves like, where there is one.
    pub js: &'static str,
    pub examples: &'static [Example],
}

macro_rules! c {
    ($name:literal, $f:ident, $group:literal, $infix:expr, [$($p:expr),*], $summary:literal, $js:literal, [$($ex:expr),*]) => {
        Construct {
            name: $name,
            func: Func::$f,
            group: $group,
            infix: $infix,
            params: &[$($p),*],
            summary: $summary,
            js: $js,
            examples: &[$($ex),*],
        }
    };
}

pub const GROUPS: &[(&str, &str)] = &[
    (
        "choice",
        "Choosing values. Each of JavaScript's ways to say \"the first of\" has one spelling: `??` (not undefined or null), `||` (truthy), `first_present` (not undefined, null or \"\": the reference's mapping helpers). An alias (`@name`) stands for its list of paths in any of them.",
    ),
    (
        "compare",
        "Comparing and testing values. `==` is strict, like JavaScript's `===`: there is no loose equality.",
    ),
    (
        "arithmetic",
        "Arithmetic with JavaScript's rules: `+` joins strings when either side is one, numbers otherwise; a result that is not a number (NaN) is written as null.",
    ),
    (
        "string",
        "Strings. A function of a text gives undefined when given anything that is not text (write `string(x)` to turn a value into text first).",
    ),
    ("number", "Numbers."),
    (
        "list",
        "Lists. Functions taking a lambda call it with the element (and its index, as a second parameter).",
    ),
    ("object", "Objects."),
    (
        "event",
        "The event, its destination config and the clock. `now()` is the clock the CLI's `--now` freezes.",
    ),
];

pub static CONSTRUCTS: &[Construct] = &[
    // choice
    c!(
        "coalesce",
        Coalesce,
        "choice",
        Some("??"),
        [rest("values")],
        "The first value that is neither undefined nor null; else the last value.",
        "a ?? b",
        [
            (
                "message.traits.email ?? message.context.traits.email",
                "\"Ann@Example.com\""
            ),
            ("@email ?? 'nobody'", "\"Ann@Example.com\""),
            ("message.traits.x ?? null", "null")
        ]
    ),
    c!(
        "or",
        Or,
        "choice",
        Some("||"),
        [rest("values")],
        "The first truthy value; else the last value.",
        "a || b",
        [
            (
                "message.properties.value || message.properties.revenue",
                "\"12.5\""
            ),
            ("'' || 0", "0")
        ]
    ),
    c!(
        "and",
        And,
        "choice",
        Some("&&"),
        [rest("values")],
        "The first falsy value; else the last value.",
        "a && b",
        [("message.userId && message.event", "\"Order Completed\"")]
    ),
    c!(
        "not",
        Not,
        "choice",
        Some("!"),
        [req("value")],
        "Whether the value is falsy.",
        "!a",
        [("!message.traits", "true")]
    ),
    c!(
        "if",
        If,
        "choice",
        Some("c ? a : b"),
        [req("cond"), req("then"), opt("else", "undefined")],
        "`then` when `cond` is truthy, else `else`. In YAML: `{if: cond, then: a, else: b}`.",
        "c ? a : b",
        [("message.userId ? 'known' : 'anonymous'", "\"known\"")]
    ),
    c!(
        "first_present",
        FirstPresent,
        "choice",
        None,
        [rest("values")],
        "The first value that is present: not undefined, null or \"\" (what the reference's `getFieldValueFromMessage` and `constructPayload` take); else undefined.",
        "",
        [
            (
                "first_present(message.traits.email, @email)",
                "\"Ann@Example.com\""
            ),
            ("first_present('', null)", "undefined")
        ]
    ),
    // compare
    c!(
        "eq",
        Eq,
        "compare",
        Some("=="),
        [req("a"), req("b")],
        "Whether two values are equal: strings, booleans and null exactly, numbers by value, lists and objects element by element.",
        "a === b",
        [("message.type == 'track'", "true"), ("1 == '1'", "false")]
    ),
    c!(
        "ne",
        Ne,
        "compare",
        Some("!="),
        [req("a"), req("b")],
        "Whether two values differ (the opposite of `==`).",
        "a !== b",
        [("message.type != 'track'", "false")]
    ),
    c!(
        "lt",
        Lt,
        "compare",
        Some("<"),
        [req("a"), req("b")],
        "JavaScript's `<`: strings by code unit when both are strings, numbers otherwise (false when either is not a number).",
        "a < b",
        [("2 < 10", "true"), ("'2' < '10'", "false")]
    ),
    c!(
        "le",
        Le,
        "compare",
        Some("<="),
        [req("a"), req("b")],
        "JavaScript's `<=`.",
        "a <= b",
        [("2 <= 2", "true")]
    ),
    c!(
        "gt",
        Gt,
        "compare",
        Some(">"),
        [req("a"), req("b")],
        "JavaScript's `>`.",
        "a > b",
        [("length(message.properties.products) > 1", "true")]
    ),
    c!(
        "ge",
        Ge,
        "compare",
        Some(">="),
        [req("a"), req("b")],
        "JavaScript's `>=`.",
        "a >= b",
        [("3 >= 4", "false")]
    ),
    c!(
        "in",
        In,
        "compare",
        Some("in"),
        [req("value"), req("collection")],
        "Whether a list holds the value, or an object has it as a key; false for anything else.",
        "Array.isArray(c) ? c.includes(v) : v in c",
        [
            ("message.type in ['track', 'page']", "true"),
            ("'order_id' in message.properties", "true")
        ]
    ),
    c!(
        "present",
        Present,
        "compare",
        None,
        [req("value")],
        "Whether the value is present: not undefined, null or \"\" (0 and false are present).",
        "v !== undefined && v !== null && v !== ''",
        [
            ("present(message.properties.order_id)", "true"),
            ("present('')", "false")
        ]
    ),
    c!(
        "defined",
        Defined,
        "compare",
        None,
        [req("value")],
        "Whether the value is neither undefined nor null.",
        "v != null",
        [("defined(message.traits)", "false")]
    ),
    c!(
        "not_empty",
        NotEmpty,
        "compare",
        None,
        [req("value")],
        "lodash `!isEmpty`: a non-empty string, list or object (numbers and booleans count as empty).",
        "!_.isEmpty(v)",
        [
            ("not_empty(message.properties.products)", "true"),
            ("not_empty(5)", "false")
        ]
    ),
    c!(
        "filled",
        Filled,
        "compare",
        None,
        [req("value")],
        "The reference's `isDefinedNotNullNotEmpty`: not undefined or null, not a blank string, not `{}` or `[]`; numbers and booleans count.",
        "isDefinedNotNullNotEmpty(v)",
        [("filled('  ')", "false"), ("filled(0)", "true")]
    ),
    c!(
        "type_of",
        TypeOf,
        "compare",
        None,
        [req("value")],
        "`typeof`, with \"null\" and \"array\" told apart: undefined, null, boolean, number, string, array or object.",
        "typeof v",
        [
            ("type_of(message.properties.products)", "\"array\""),
            ("type_of(message.x)", "\"undefined\"")
        ]
    ),
    // arithmetic
    c!(
        "add",
        Add,
        "arithmetic",
        Some("+"),
        [req("a"), req("b")],
        "JavaScript's `+`: joins as text when either side is a string (or a list or object), adds numbers otherwise.",
        "a + b",
        [
            ("'id-' + 7", "\"id-7\""),
            ("1 + 2", "3"),
            ("'x' + message.nothing", "\"xundefined\"")
        ]
    ),
    c!(
        "sub",
        Sub,
        "arithmetic",
        Some("-"),
        [req("a"), req("b")],
        "JavaScript's `-` (both sides as numbers).",
        "a - b",
        [("'10' - 4", "6")]
    ),
    c!(
        "mul",
        Mul,
        "arithmetic",
        Some("*"),
        [req("a"), req("b")],
        "JavaScript's `*`.",
        "a * b",
        [("message.properties.revenue * 100", "1250")]
    ),
    c!(
        "div",
        Div,
        "arithmetic",
        Some("/"),
        [req("a"), req("b")],
        "JavaScript's `/`.",
        "a / b",
        [("7 / 2", "3.5")]
    ),
    c!(
        "mod",
        Mod,
        "arithmetic",
        Some("%"),
        [req("a"), req("b")],
        "JavaScript's `%`.",
        "a % b",
        [("7 % 3", "1")]
    ),
    // string
    c!(
        "string",
        String,
        "string",
        None,
        [req("value")],
        "The value as text, as `String(value)` writes it (undefined -> \"undefined\", lists joined with commas, objects \"[object Object]\", numbers in JavaScript's spelling).",
        "String(v)",
        [
            ("string(1.50)", "\"1.5\""),
            ("string(message.nothing)", "\"undefined\"")
        ]
    ),
    c!(
        "lowercase",
        Lowercase,
        "string",
        None,
        [req("text")],
        "The text in lower case.",
        "s.toLowerCase()",
        [("lowercase(message.event)", "\"order completed\"")]
    ),
    c!(
        "uppercase",
        Uppercase,
        "string",
        None,
        [req("text")],
        "The text in upper case.",
        "s.toUpperCase()",
        [("uppercase(message.type)", "\"TRACK\"")]
    ),
    c!(
        "trim",
        Trim,
        "string",
        None,
        [req("text")],
        "The text without leading and trailing white space.",
        "s.trim()",
        [("trim('  a b ')", "\"a b\"")]
    ),
    c!(
        "split",
        Split,
        "string",
        None,
        [req("text"), req("separator")],
        "The parts of a text between separators.",
        "s.split(sep)",
        [("split('a-b-c', '-')", "[\"a\",\"b\",\"c\"]")]
    ),
    c!(
        "join",
        Join,
        "string",
        None,
        [req("list"), opt("separator", "','")],
        "The elements of a list as text, between separators (undefined and null as \"\").",
        "list.join(sep)",
        [(
            "join(['Viewed', 'Home', 'Page'], ' ')",
            "\"Viewed Home Page\""
        )]
    ),
    c!(
        "replace",
        Replace,
        "string",
        None,
        [req("text"), req("find"), req("with")],
        "The text with every occurrence of `find` replaced.",
        "s.replaceAll(find, with)",
        [("replace('a.b.c', '.', '_')", "\"a_b_c\"")]
    ),
    c!(
        "replace_regex",
        ReplaceRegex,
        "string",
        None,
        [req("text"), regex("pattern"), req("with")],
        "The text with every match of a regular expression replaced (`$1` names a group).",
        "s.replace(/pattern/g, with)",
        [(
            "replace_regex('Order  Completed', '\\\\s+', '_')",
            "\"Order_Completed\""
        )]
    ),
    c!(
        "matches",
        Matches,
        "string",
        None,
        [req("text"), regex("pattern")],
        "Whether the text matches a regular expression (false for a value that is not text).",
        "/pattern/.test(s)",
        [("matches(message.userId, '^u[0-9]+$')", "true")]
    ),
    c!(
        "capture",
        Capture,
        "string",
        None,
        [req("text"), regex("pattern"), opt("group", "1")],
        "A group of the first match of a regular expression; undefined when it does not match.",
        "s.match(/pattern/)?.[group]",
        [("capture('contacts-123', '-(\\\\d+)$')", "\"123\"")]
    ),
    c!(
        "starts_with",
        StartsWith,
        "string",
        None,
        [req("text"), req("prefix")],
        "Whether the text starts with a prefix (false for a value that is not text).",
        "s.startsWith(p)",
        [("starts_with('us-ca', 'us')", "true")]
    ),
    c!(
        "ends_with",
        EndsWith,
        "string",
        None,
        [req("text"), req("suffix")],
        "Whether the text ends with a suffix (false for a value that is not text).",
        "s.endsWith(p)",
        [("ends_with('https://x/', '/')", "true")]
    ),
    c!(
        "contains",
        Contains,
        "string",
        None,
        [req("text_or_list"), req("value")],
        "Whether a text holds a substring, or a list an element (false for anything else).",
        "s.includes(v)",
        [
            ("contains(message.event, 'Order')", "true"),
            ("contains(message.properties.tags, 'b')", "true")
        ]
    ),
    c!(
        "substring",
        Substring,
        "string",
        None,
        [req("text"), req("start"), opt("end", "the end")],
        "The characters from `start` up to (not including) `end`.",
        "s.substring(start, end)",
        [("substring('https://x/', 0, 9)", "\"https://x\"")]
    ),
    c!(
        "length",
        Length,
        "string",
        None,
        [req("value")],
        "The length of a text (in UTF-16 units) or a list, the number of keys of an object; undefined for anything else.",
        "v.length",
        [
            ("length(message.properties.products)", "2"),
            ("length('abc')", "3")
        ]
    ),
    c!(
        "json",
        Json,
        "string",
        None,
        [req("value")],
        "The value as JSON text, as `JSON.stringify` writes it (undefined stays undefined).",
        "JSON.stringify(v)",
        [
            (
                "json({a: 1, b: [true]})",
                "\"{\\\"a\\\":1,\\\"b\\\":[true]}\""
            ),
            ("json('x')", "\"\\\"x\\\"\"")
        ]
    ),
    c!(
        "to_text",
        ToText,
        "string",
        None,
        [req("value")],
        "A string as it is; any other value as JSON text (`JSON.stringify`; undefined stays undefined), as the reference's `convertToString`.",
        "typeof v === 'string' ? v : JSON.stringify(v)",
        [
            ("to_text(['a', 1])", "\"[\\\"a\\\",1]\""),
            ("to_text('a')", "\"a\"")
        ]
    ),
    c!(
        "parse_json",
        ParseJson,
        "string",
        None,
        [req("text")],
        "The value a JSON text stands for; undefined when it is not valid JSON.",
        "JSON.parse(s)",
        [("parse_json('{\"a\":[1]}')", "{\"a\":[1]}")]
    ),
    c!(
        "url_encode",
        UrlEncode,
        "string",
        None,
        [req("value")],
        "The value as text, percent-encoded as `encodeURIComponent` does.",
        "encodeURIComponent(v)",
        [("url_encode('a b&c/é')", "\"a%20b%26c%2F%C3%A9\"")]
    ),
    c!(
        "query_string",
        QueryString,
        "string",
        None,
        [req("object")],
        "`key=value` pairs joined with `&`, keys and values percent-encoded (undefined and null values left out).",
        "new URLSearchParams(obj)",
        [("query_string({a: 'x y', b: 2, c: null})", "\"a=x%20y&b=2\"")]
    ),
    c!(
        "base64",
        Base64,
        "string",
        None,
        [req("value")],
        "The value's text (UTF-8) in base64.",
        "Buffer.from(String(v)).toString('base64')",
        [("base64('user:pass')", "\"dXNlcjpwYXNz\"")]
    ),
    c!(
        "sha256",
        Sha256,
        "string",
        None,
        [req("value"), opt("encoding", "'utf8'")],
        "The SHA-256 of the value's text, in hex; undefined for a falsy value (as the workflow engine's `SHA256`). The text is hashed as UTF-8, or with `'latin1'` as the npm `sha256` package hashes it: the low byte of each UTF-16 unit.",
        "SHA256(v)",
        [
            (
                "sha256('abc')",
                "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""
            ),
            ("sha256('')", "undefined"),
            (
                "sha256('é', 'latin1')",
                "\"de2e331d891ae267a7009cb45b4e8830f170e0c937288ea2731a1941c7a53b0d\""
            )
        ]
    ),
    c!(
        "sha1",
        Sha1,
        "string",
        None,
        [req("value"), opt("encoding", "'utf8'")],
        "The SHA-1 of the value's text, in hex; undefined for a falsy value. `encoding` as for `sha256`.",
        "crypto.createHash('sha1').update(String(v)).digest('hex')",
        [(
            "sha1('abc')",
            "\"a9993e364706816aba3e25717850c26c9cd0d89d\""
        )]
    ),
    c!(
        "xml",
        Xml,
        "string",
        None,
        [req("value"), opt("root", "'root'")],
        "The value as an XML document under a root element, as fast-xml-parser's builder writes it (attributes from `@_` keys, text from `#text`, lists repeat their element, empty values as `<e/>`, text escaped), after the XML declaration.",
        "'<?xml version=\"1.0\" encoding=\"UTF-8\"?>' + new XMLBuilder({ignoreAttributes: false, suppressEmptyNode: true}).build({[root]: v})",
        [(
            "xml({event: 'A&B', items: [{id: 1}, {id: 2}], e: '', '@_v': 2}, 'body')",
            "\"<?xml version=\\\"1.0\\\" encoding=\\\"UTF-8\\\"?><body v=\\\"2\\\"><event>A&amp;B</event><items><id>1</id></items><items><id>2</id></items><e/></body>\""
        )]
    ),
    c!(
        "md5",
        Md5,
        "string",
        None,
        [req("value"), opt("encoding", "'utf8'")],
        "The MD5 of the value's text, in hex; undefined for a falsy value. `encoding` as for `sha256`.",
        "MD5(v)",
        [("md5('abc')", "\"900150983cd24fb0d6963f7d28e17f72\"")]
    ),
    // number
    c!(
        "number",
        Number,
        "number",
        None,
        [req("value")],
        "The value as a number, as `Number(value)` reads it (\"\" and null are 0, text that is not a number is NaN).",
        "Number(v)",
        [("number(' 12.5 ')", "12.5"), ("number('12px')", "null")]
    ),
    c!(
        "parse_float",
        ParseFloat,
        "number",
        None,
        [req("value")],
        "The number at the start of the value's text, as `parseFloat` reads it.",
        "parseFloat(v)",
        [("parse_float('12.5px')", "12.5")]
    ),
    c!(
        "parse_int",
        ParseInt,
        "number",
        None,
        [req("value"), opt("radix", "10")],
        "The integer at the start of the value's text, as `parseInt` reads it.",
        "parseInt(v, radix)",
        [("parse_int('42.9')", "42")]
    ),
    c!(
        "round",
        Round,
        "number",
        None,
        [req("value")],
        "The nearest integer, halves rounded up.",
        "Math.round(v)",
        [("round(2.5)", "3"), ("round(-2.5)", "-2")]
    ),
    c!(
        "floor",
        Floor,
        "number",
        None,
        [req("value")],
        "The largest integer not above the value.",
        "Math.floor(v)",
        [("floor(1705998917562 / 1000)", "1705998917")]
    ),
    c!(
        "ceil",
        Ceil,
        "number",
        None,
        [req("value")],
        "The smallest integer not below the value.",
        "Math.ceil(v)",
        [("ceil(90.01)", "91")]
    ),
    c!(
        "abs",
        Abs,
        "number",
        None,
        [req("value")],
        "The absolute value.",
        "Math.abs(v)",
        [("abs(-3)", "3")]
    ),
    c!(
        "to_fixed",
        ToFixed,
        "number",
        None,
        [req("value"), opt("digits", "0")],
        "The number as text with a fixed number of decimals, rounded as JavaScript rounds (\"NaN\" for a value that is not a number).",
        "Number(v).toFixed(digits)",
        [
            ("to_fixed(12.345, 2)", "\"12.35\""),
            ("to_fixed(1.005, 2)", "\"1.00\"")
        ]
    ),
    c!(
        "sum",
        Sum,
        "number",
        None,
        [req("list")],
        "lodash `sum`: the elements added with `+`, undefined ones skipped (undefined for an empty list).",
        "_.sum(list)",
        [("sum(map(message.properties.products, p => p.price))", "3.5")]
    ),
    c!(
        "min",
        Min,
        "number",
        None,
        [req("list")],
        "The smallest number of a list.",
        "Math.min(...list)",
        [("min([3, 1, 2])", "1")]
    ),
    c!(
        "max",
        Max,
        "number",
        None,
        [req("list")],
        "The largest number of a list.",
        "Math.max(...list)",
        [("max([3, 1, 2])", "3")]
    ),
    // list
    c!(
        "map",
        Map,
        "list",
        None,
        [req("list"), lambda("fn", 2)],
        "Each element through a lambda; undefined for undefined or null.",
        "list.map(fn)",
        [
            (
                "map(message.properties.products, p => p.sku)",
                "[\"s1\",\"s2\"]"
            ),
            ("map(['a', 'b'], (x, i) => x + i)", "[\"a0\",\"b1\"]")
        ]
    ),
    c!(
        "filter",
        Filter,
        "list",
        None,
        [req("list"), lambda("fn", 2)],
        "The elements for which a lambda is truthy.",
        "list.filter(fn)",
        [(
            "filter(message.properties.products, p => p.quantity)",
            "[{\"sku\":\"s1\",\"price\":2,\"quantity\":3}]"
        )]
    ),
    c!(
        "find",
        Find,
        "list",
        None,
        [req("list"), lambda("fn", 2)],
        "The first element for which a lambda is truthy; else undefined.",
        "list.find(fn)",
        [(
            "find(message.context.externalId, e => e.type == 'ACXIOM_ID').id",
            "\"x9\""
        )]
    ),
    c!(
        "some",
        Some,
        "list",
        None,
        [req("list"), lambda("fn", 2)],
        "Whether a lambda is truthy for some element.",
        "list.some(fn)",
        [(
            "some(message.properties.products, p => p.price > 1.5)",
            "true"
        )]
    ),
    c!(
        "every",
        Every,
        "list",
        None,
        [req("list"), lambda("fn", 2)],
        "Whether a lambda is truthy for every element.",
        "list.every(fn)",
        [("every(message.properties.products, p => p.sku)", "true")]
    ),
    c!(
        "flat_map",
        FlatMap,
        "list",
        None,
        [req("list"), lambda("fn", 2)],
        "Each element through a lambda, lists in the results spliced in.",
        "list.flatMap(fn)",
        [("flat_map([1, 2], x => [x, x])", "[1,1,2,2]")]
    ),
    c!(
        "unique",
        Unique,
        "list",
        None,
        [req("list")],
        "The list without repeated elements, first occurrences kept.",
        "_.uniq(list)",
        [("unique(message.properties.tags)", "[\"a\",\"b\"]")]
    ),
    c!(
        "flat",
        Flat,
        "list",
        None,
        [req("list")],
        "The list with the elements of nested lists spliced in (one level).",
        "list.flat()",
        [("flat([[1], 2, [3, [4]]])", "[1,2,3,[4]]")]
    ),
    c!(
        "first",
        First,
        "list",
        None,
        [req("list")],
        "The first element of a list.",
        "list[0]",
        [("first(message.properties.products).sku", "\"s1\"")]
    ),
    c!(
        "last",
        Last,
        "list",
        None,
        [req("list")],
        "The last element of a list.",
        "list[list.length - 1]",
        [("last(message.properties.tags)", "\"a\"")]
    ),
    c!(
        "chunk",
        Chunk,
        "list",
        None,
        [req("list"), req("size")],
        "The list cut into lists of at most `size` elements.",
        "_.chunk(list, size)",
        [("chunk([1, 2, 3], 2)", "[[1,2],[3]]")]
    ),
    c!(
        "concat",
        Concat,
        "list",
        None,
        [rest("lists")],
        "The lists one after another (a value that is not a list counts as a list of one; undefined is skipped).",
        "[...a, ...b]",
        [("concat([1], 2, [3])", "[1,2,3]")]
    ),
    c!(
        "to_list",
        ToList,
        "list",
        None,
        [req("value")],
        "A list as it is; undefined and null as undefined; anything else as a list of one.",
        "Array.isArray(v) ? v : [v]",
        [("to_list('a')", "[\"a\"]")]
    ),
    c!(
        "slice",
        Slice,
        "list",
        None,
        [req("list"), req("start"), opt("end", "the end")],
        "The elements (or characters) from `start` up to (not including) `end`; negative counts from the end.",
        "v.slice(start, end)",
        [("slice([1, 2, 3], 1)", "[2,3]")]
    ),
    // object
    c!(
        "keys",
        Keys,
        "object",
        None,
        [req("object")],
        "The keys of an object (indexes of a list), in JavaScript's order.",
        "Object.keys(o)",
        [("keys({b: 1, a: 2, '1': 3})", "[\"1\",\"b\",\"a\"]")]
    ),
    c!(
        "values",
        Values,
        "object",
        None,
        [req("object")],
        "The values of an object, in JavaScript's key order.",
        "Object.values(o)",
        [("values({a: 1, b: 2})", "[1,2]")]
    ),
    c!(
        "entries",
        Entries,
        "object",
        None,
        [req("object")],
        "The `[key, value]` pairs of an object.",
        "Object.entries(o)",
        [("entries({a: 1})", "[[\"a\",1]]")]
    ),
    c!(
        "from_entries",
        FromEntries,
        "object",
        None,
        [req("pairs")],
        "An object from `[key, value]` pairs (later keys win).",
        "Object.fromEntries(pairs)",
        [("from_entries([['a', 1], ['b', 2]])", "{\"a\":1,\"b\":2}")]
    ),
    c!(
        "pick",
        Pick,
        "object",
        None,
        [req("object"), req("keys")],
        "An object with only the given keys (those it has).",
        "_.pick(o, keys)",
        [(
            "pick(message.properties, ['currency', 'x'])",
            "{\"currency\":\"USD\"}"
        )]
    ),
    c!(
        "omit",
        Omit,
        "object",
        None,
        [req("object"), req("keys")],
        "A copy of an object without the given keys (lists and strings spread into index keys first, as `{...v}` does); undefined for undefined or null.",
        "_.omit(o, keys)",
        [("omit({a: 1, b: 2, c: 3}, ['b'])", "{\"a\":1,\"c\":3}")]
    ),
    c!(
        "merge",
        Merge,
        "object",
        None,
        [rest("objects")],
        "lodash `merge` into a new object: objects merged key by key, lists index by index, later values winning.",
        "_.merge({}, a, b)",
        [(
            "merge({a: {x: 1}}, {a: {y: 2}})",
            "{\"a\":{\"x\":1,\"y\":2}}"
        )]
    ),
    c!(
        "flatten",
        Flatten,
        "object",
        None,
        [req("object"), opt("separator", "'.'")],
        "The reference's `flattenJson`: nested keys joined (`{a: {b: 1}, c: [x]}` -> `{\"a.b\": 1, \"c[0]\": \"x\"}`), empty objects and lists kept as leaves; a value that is not an object becomes `{\"\": value}`.",
        "flattenJson(o)",
        [
            (
                "flatten({a: {b: 1}, c: ['x'], d: {}})",
                "{\"a.b\":1,\"c[0]\":\"x\",\"d\":{}}"
            ),
            (
                "flatten({a: [{b: []}, 2], c: {d: {e: null}}}, '_')",
                "{\"a[0]_b\":[],\"a[1]\":2,\"c_d_e\":null}"
            )
        ]
    ),
    c!(
        "clean",
        Clean,
        "object",
        None,
        [req("value"), opt("mode", "'top_nulls'")],
        "A copy without empty members: mode `top_nulls` (null members of the top level; the reference's `removeUndefinedAndNullValues`), `top_blanks` (members that are not `filled`, top level), `deep` (null, `{}` and `[]` at every depth, `{}` when nothing is left), `deep_nulls` (null at every depth).",
        "removeUndefinedAndNullValues(o)",
        [
            (
                "clean({a: null, b: {c: null}, d: ''})",
                "{\"b\":{\"c\":null},\"d\":\"\"}"
            ),
            ("clean({a: null, b: {c: null}, d: [null]}, 'deep')", "{}"),
            ("clean({a: ' ', b: {}, c: 0}, 'top_blanks')", "{\"c\":0}")
        ]
    ),
    c!(
        "rename_keys",
        RenameKeys,
        "object",
        None,
        [req("object"), req("names")],
        "A copy of an object with keys renamed through a table (keys not in it kept).",
        "",
        [(
            "rename_keys({createdAt: 1, b: 2}, {createdAt: 'created_at'})",
            "{\"created_at\":1,\"b\":2}"
        )]
    ),
    c!(
        "map_values",
        MapValues,
        "object",
        None,
        [req("object"), lambda("fn", 2)],
        "A copy of an object with each value through a lambda (given the value and its key).",
        "_.mapValues(o, fn)",
        [(
            "map_values({a: 1, b: 'x'}, v => type_of(v) == 'string' ? v : json(v))",
            "{\"a\":\"1\",\"b\":\"x\"}"
        )]
    ),
    c!(
        "map_keys",
        MapKeys,
        "object",
        None,
        [req("object"), lambda("fn", 2)],
        "A copy of an object with each key through a lambda (given the key and its value).",
        "_.mapKeys(o, (v, k) => fn(k, v))",
        [("map_keys({a: 1}, k => uppercase(k))", "{\"A\":1}")]
    ),
    c!(
        "map_keys_deep",
        MapKeysDeep,
        "object",
        None,
        [req("value"), lambda("fn", 2)],
        "A copy of a value with every key of every object in it (inside lists too) through a lambda (given the key and its value).",
        "",
        [(
            "map_keys_deep({'a b': [{'c d': 1}]}, k => replace(k, ' ', '_'))",
            "{\"a_b\":[{\"c_d\":1}]}"
        )]
    ),
    c!(
        "filter_keys",
        FilterKeys,
        "object",
        None,
        [req("object"), lambda("fn", 2)],
        "A copy of an object with the members for which a lambda (given the key and the value) is truthy.",
        "_.pickBy(o, (v, k) => fn(k, v))",
        [("filter_keys({a: 1, b: 2}, (k, v) => v > 1)", "{\"b\":2}")]
    ),
    c!(
        "get",
        Get,
        "object",
        None,
        [req("object"), req("path")],
        "The value at a dotted path given as data (a config value, say), read as the static paths are.",
        "get(o, path)",
        [("get(message, 'properties.order_id')", "\"o1\"")]
    ),
    c!(
        "unset",
        Unset,
        "object",
        None,
        [req("object"), req("paths")],
        "A copy of an object with the values at the given dotted paths removed (read as the static paths are; paths that are not there are ignored).",
        "paths.forEach(p => _.unset(copy, p))",
        [(
            "unset(message.properties, ['products', 'tags', 'x.y'])",
            "{\"order_id\":\"o1\",\"revenue\":\"12.5\",\"currency\":\"USD\"}"
        )]
    ),
    c!(
        "copy_keys",
        CopyKeys,
        "object",
        None,
        [req("sources"), opt("except", "[]")],
        "Every key of each source object not in `except`, written with `set-value` (a key `a.b` nests), later sources winning.",
        "",
        [(
            "copy_keys([{a: 1, 'b.c': 2}, {a: 3}], ['x'])",
            "{\"a\":3,\"b\":{\"c\":2}}"
        )]
    ),
    // event
    c!(
        "rows_to_object",
        RowsToObject,
        "event",
        None,
        [
            req("rows"),
            opt("from", "'from'"),
            opt("to", "'to'"),
            opt("lowercase", "true"),
            opt("trim", "false"),
            opt("all", "false")
        ],
        "A config table (rows `{from, to}`) as an object `from -> to`, rows with a blank `from` skipped (a `from` that is not text counts as its text): the reference's `getHashFromArray`; with `all`, each key holds the list of its distinct `to` values (`getHashFromArrayWithDuplicate`, which also trims). `rows_to_object(...)[key]` reads one key without building the object.",
        "getHashFromArray(rows, from, to, lowercase)",
        [
            (
                "rows_to_object(config.rows)",
                "{\"order completed\":\"buy\"}"
            ),
            (
                "rows_to_object(config.rows, all = true, trim = true)",
                "{\"order completed\":[\"purchase\",\"buy\"]}"
            )
        ]
    ),
    c!(
        "external_id",
        ExternalId,
        "event",
        None,
        [req("type")],
        "The `id` of the message's first `context.externalId` entry of this type; null when there is none.",
        "getDestinationExternalID(message, type)",
        [
            ("external_id('ACXIOM_ID')", "\"x9\""),
            ("external_id('other')", "null")
        ]
    ),
    c!(
        "now",
        Now,
        "event",
        None,
        [],
        "The current time as an ISO 8601 text (fixed by the CLI's `--now`).",
        "new Date().toISOString()",
        [("now()", "\"2025-01-01T00:00:00.000Z\"")]
    ),
    c!(
        "random_hex",
        RandomHex,
        "event",
        None,
        [opt("bytes", "16")],
        "Random bytes in hex (fixed by the CLI's `--random-hex`, for tests).",
        "crypto.randomBytes(n).toString('hex')",
        [("random_hex(4)", "\"00000000\"")]
    ),
    c!(
        "uuid",
        Uuid,
        "event",
        None,
        [],
        "A random UUID (version 4), from the same random source as `random_hex`.",
        "uuidv4()",
        [("uuid()", "\"00000000-0000-4000-8000-000000000000\"")]
    ),
    c!(
        "size_of",
        SizeOf,
        "event",
        None,
        [req("value")],
        "The size the reference's batching (`object-sizeof`) gives a value: an object or list, the UTF-8 length of its JSON; a text, 12 + 4 per 4 characters; a number 8; a boolean 4.",
        "sizeof(v)",
        [("size_of({a: 'xy'})", "10"), ("size_of('abcde')", "20")]
    ),
    c!(
        "to_millis",
        ToMillis,
        "event",
        None,
        [req("time")],
        "A time (ISO 8601 or other date text, or a number of milliseconds) as milliseconds since 1970; undefined when it is not a valid time.",
        "new Date(t).getTime()",
        [("to_millis(message.timestamp)", "1705998917562")]
    ),
    c!(
        "to_seconds",
        ToSeconds,
        "event",
        None,
        [req("time")],
        "A time as whole seconds since 1970 (rounded down); undefined when it is not a valid time.",
        "Math.floor(new Date(t).getTime() / 1000)",
        [("to_seconds(message.timestamp)", "1705998917")]
    ),
    c!(
        "to_iso",
        ToIso,
        "event",
        None,
        [req("time")],
        "A time as ISO 8601 text in UTC with milliseconds; undefined when it is not a valid time.",
        "new Date(t).toISOString()",
        [("to_iso(1705998917562)", "\"2024-01-23T08:35:17.562Z\"")]
    ),
    c!(
        "format_date",
        FormatDate,
        "event",
        None,
        [req("time"), req("pattern")],
        "A time written in UTC with a moment.js pattern (YYYY, YY, MM, M, DD, D, HH, H, hh, h, mm, m, ss, s, SSS, A, a, X, x, Z, ZZ; `[text]` literal); undefined when it is not a valid time.",
        "moment.utc(t).format(pattern)",
        [(
            "format_date(message.timestamp, 'YYYYMMDD HH:mm:ss')",
            "\"20240123 08:35:17\""
        )]
    ),
];

/// The construct of a name.
pub fn lookup(name: &str) -> Option<&'static Construct> {
    CONSTRUCTS.iter().find(|c| c.name == name)
}

/// The construct of a function.
pub fn of(func: Func) -> &'static Construct {
    CONSTRUCTS
        .iter()
        .find(|c| c.func == func)
        .unwrap_or_else(|| unreachable!("every Func has an entry"))
}

/// The construct an infix operator spells.
pub fn infix(op: &str) -> Option<&'static Construct> {
    CONSTRUCTS.iter().find(|c| c.infix == Some(op))
}

/// An operation of a `do:` list, documented.
pub struct OpDoc {
    pub name: &'static str,
    /// The keys the operation's mapping may have besides its own.
    pub keys: &'static [&'static str],
    pub summary: &'static str,
    pub example: &'static str,
}

pub static OPS: &[OpDoc] = &[
    OpDoc {
        name: "build",
        keys: &[],
        summary: "A new payload from parts (`fields:` a group name or an inline mapping of payload path -> value), each field set only when its value is present, parts deep-merged in order like lodash `merge`.",
        example: "- build:\n    - fields: customer\n    - fields:\n        properties.total: message.properties.total",
    },
    OpDoc {
        name: "set",
        keys: &[],
        summary: "Assign payload fields (path -> value); an undefined value removes the field; a key starting with `...` (`...`, `...traits`) assigns every key of an object to the payload's top level as it is (`Object.assign`; dotted keys are not split).",
        example: "- set:\n    event: \"'purchase'\"\n    properties.token: config.apiKey\n    ...: flatten(message.properties)",
    },
    OpDoc {
        name: "default",
        keys: &[],
        summary: "Assign payload fields that are undefined or null.",
        example: "- default:\n    event: \"'customer_patch'\"",
    },
    OpDoc {
        name: "let",
        keys: &[],
        summary: "Name values for later operations, steps and request fields of the event (name -> value).",
        example: "- let:\n    event_name: lowercase(trim(message.event))",
    },
    OpDoc {
        name: "if",
        keys: &["then", "else"],
        summary: "Run `then` when the condition is truthy, else `else`.",
        example: "- if: present(message.properties.products)\n  then:\n    - set: {products: message.properties.products}",
    },
    OpDoc {
        name: "require",
        keys: &["error", "error_type"],
        summary: "Refuse the event with `error` (a text; `error_type` instrumentation, configuration or oauth_secret) unless the condition is truthy.",
        example: "- require: message.event\n  error: \"event is required for track call\"",
    },
    OpDoc {
        name: "fail",
        keys: &["when", "error_type"],
        summary: "Refuse the event with this text (when `when` is truthy, if given).",
        example: "- fail: \"Only LDU policy is supported\"\n  when: first(integration.policies) != 'LDU'",
    },
    OpDoc {
        name: "switch",
        keys: &["cases", "default"],
        summary: "Run the operations of the case equal to the value (cases are texts), else `default`.",
        example: "- switch: payload.event\n  cases:\n    search:\n      - require: payload.properties.search_term\n        error: search_query is required",
    },
    OpDoc {
        name: "fan_out",
        keys: &[],
        summary: "One copy of the payload per element of a list (`over`), the element named `as`, each running `do`.",
        example: "- fan_out:\n    over: event_names\n    as: event_name\n    do:\n      - set: {event: event_name}\n      - emit: {}",
    },
    OpDoc {
        name: "emit",
        keys: &[],
        summary: "The payload, cleaned (`clean`: none, top_nulls or deep), becomes a response through the request (destination defaults, the flow's `request`, then this `request`); an event may emit several.",
        example: "- emit:\n    clean: deep\n    request:\n      endpoint: \"https://api.example.com/{{config.region}}/track\"",
    },
    OpDoc {
        name: "return",
        keys: &[],
        summary: "The value is the response as it is (an item that is already a response, say), and the event's steps end here.",
        example: "- return: message",
    },
    OpDoc {
        name: "call",
        keys: &[],
        summary: "Run a procedure (a named operation list) here.",
        example: "- call: verify_payload",
    },
    OpDoc {
        name: "drop",
        keys: &[],
        summary: "The event gives no response at all (no payload, no error) and its steps end here: the reference skips such events silently (a record with an action it does not handle, say). Through the router it has no entry.",
        example: "- drop: {}",
    },
    OpDoc {
        name: "check_type",
        keys: &[],
        summary: "In destination `steps:` only: check the message type (missing, not a string, unsupported, with the `message_type` texts) and run the config checks here, in this step, instead of before every step.",
        example: "- check_type: {}",
    },
];

/// A top-level section of a spec file: where it may stand and what it says.
pub struct SectionDoc {
    pub name: &'static str,
    /// `destination` (the file declaring `destination:`), `flow` (a file declaring `flow:`) or
    /// `shared` (any file).
    pub homes: &'static [&'static str],
    pub summary: &'static str,
}

pub static SECTIONS: &[SectionDoc] = &[
    SectionDoc {
        name: "destination",
        homes: &["destination"],
        summary: "The destination's name; the file that has it is the destination file.",
    },
    SectionDoc {
        name: "description",
        homes: &["destination", "flow"],
        summary: "What the destination (or flow) is, for readers.",
    },
    SectionDoc {
        name: "workflow",
        homes: &["destination"],
        summary: "The workflow name error texts carry (`Workflow: <name>`).",
    },
    SectionDoc {
        name: "stat_tags",
        homes: &["destination"],
        summary: "statTags every failure carries (errorType is added per error).",
    },
    SectionDoc {
        name: "dynamic_config",
        homes: &["destination"],
        summary: "`true`: config strings `{{ path || default }}` take the event's value per event.",
    },
    SectionDoc {
        name: "processor",
        homes: &["destination"],
        summary: "`false`: the destination has a router workflow only (the reference's `rtWorkflow.yaml` and no `procWorkflow.yaml`); the processor transform answers every item as the reference does, with its platform error `Unable to identify the workflow file. Invalid feature input`. The flows serve the router.",
    },
    SectionDoc {
        name: "integration_names",
        homes: &["destination"],
        summary: "The keys of `message.integrations` that name this destination; `integration` in expressions is the first truthy one.",
    },
    SectionDoc {
        name: "message_type",
        homes: &["destination"],
        summary: "How the message type is read (`path`, `lowercase`), its error texts (`missing`: undefined, null or any falsy value such as `\"\"`, `false` or `0`, as the reference's `$.assert`; `not_string`: any other non-string (by default, without `lowercase`, the `unsupported` text with `{{type}}` as JavaScript's `String()` writes the value, as the reference's `in` check has it; with `lowercase`, `message type must be a string, found {{type_of}}`); `unsupported`; with `{{type}}` and `{{type_of}}`), the steps they are reported in (`step`, `check_step`), and `supported`: the types with a flow, or `any` (one flow, `flow: any`, for every message).",
    },
    SectionDoc {
        name: "config",
        homes: &["destination"],
        summary: "Config keys: `description`, `required` (an error text), `pattern` and `pattern_error`, `error_type`, `secret` (never printed).",
    },
    SectionDoc {
        name: "request",
        homes: &["destination", "flow"],
        summary: "The response each payload becomes: `version`, `type`, `method` (an HTTP method, or a text with `{{ }}`), `endpoint`, `headers`, `params`, `body` (`JSON`, `JSON_ARRAY`, `XML`, `FORM`; `JSON` is the payload unless said), `files`, `userId`, and `step` (named in its errors) and `field_order`. Strings are texts (`{{ expression }}` holes; a text that is one hole keeps the value), mappings and lists are built as written, a key starting with `...` (`...`, `...defaults`) spreads an object in. The destination's request is the default; a flow's and an `emit`'s override it field by field (`body` format by format).",
    },
    SectionDoc {
        name: "steps",
        homes: &["destination", "flow"],
        summary: "In a flow: its steps. In the destination file: steps every message runs before its flow (early returns, checks in the reference's order).",
    },
    SectionDoc {
        name: "flow",
        homes: &["flow"],
        summary: "The message type a file's `steps` handle, or a list of types that share them (`flow: [identify, track]`); `any` for every type.",
    },
    SectionDoc {
        name: "constants",
        homes: &["destination"],
        summary: "Named constants, as the reference names its limits (`MAX_BATCH_SIZE: 1000`), read as `consts.NAME`; `--const NAME=VALUE` overrides one for a run (tests shrink limits so).",
    },
    SectionDoc {
        name: "router",
        homes: &["destination"],
        summary: "The router transform (`/routerTransform`). Events are grouped as the reference groups them (destination `ID`, the source's job, and `Config` unless the destination has `hasDynamicConfig: false`). `checks`: steps run once per group over its first event before any is mapped; when one refuses, the group is one failure entry (every event's metadata, no `destination`, the text wrapped as `Workflow: rtWorkflow, Step: <name>`). Without `batch`, each event's responses are entries of their own. `batch` says when to batch (`when`, over the group's first event), what each response adds (`items`: a list, or one value; default its payload), which may share a request (`key`), in what order items go into a key's batches (`order`: a number per response, stable; default the events' order), which go alone (`alone`: a batch of their own, whatever the limits), how many (`max_items`) and how large (`max_bytes`, each item's `size`, default `size_of(item)`), whether an event's items stay together (`whole_events`), the batched request (`request`, a shape with `items` and the first response as `output`), what its entry says as `batched` (default true, false for a response alone) and how batches become entries (`entries`: `each` batch its own, the default; `one` per key, `batchedRequest` the list of its requests; `by_job`: batches sharing a `jobId` merged, as the reference's `combineBatchRequestsWithSameJobIds`). `output` is the response in `key`, `alone`, `items` and `size`; `item` the item in `size`.",
    },
    SectionDoc {
        name: "aliases",
        homes: &["shared"],
        summary: "Named lists of message paths; `@name` in an expression stands for the list (`@email ?? x`, `first_present(@email)`).",
    },
    SectionDoc {
        name: "tables",
        homes: &["shared"],
        summary: "Named objects (lookup tables), read as `tables.name` (`tables.events[lowercase(message.event)]`).",
    },
    SectionDoc {
        name: "lists",
        homes: &["shared"],
        summary: "Named lists of texts (`{include: other}` splices one in), read as `lists.name`.",
    },
    SectionDoc {
        name: "fields",
        homes: &["shared"],
        summary: "Named field groups (payload path -> value), used by `build`.",
    },
    SectionDoc {
        name: "procedures",
        homes: &["shared"],
        summary: "Named operation lists, run where a `call:` names them.",
    },
];

/// The error types an error may carry in its statTags.
pub const ERROR_TYPES: &[(&str, &str)] = &[
    ("instrumentation", "instrumentation"),
    ("configuration", "configuration"),
    ("oauth_secret", "oAuthSecret"),
];

/// HTTP methods a literal `method:` may name.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Names every expression may start with.
pub const ROOTS: &[(&str, &str)] = &[
    ("message", "the event"),
    ("config", "the destination's config"),
    ("payload", "the payload being built"),
    (
        "metadata",
        "the request item's metadata (`metadata.secret` holds OAuth tokens)",
    ),
    (
        "integration",
        "the first truthy `message.integrations.<name>` of `integration_names`",
    ),
    ("tables", "the spec's tables (`tables.name`)"),
    ("lists", "the spec's lists (`lists.name`)"),
    (
        "destination",
        "the request item's whole destination (`destination.ID`, `destination.Config`, ...)",
    ),
    (
        "connection",
        "the request item's connection (`connection.config.destination.object`), as rudder-server sends it for reverse ETL; undefined when the item has none",
    ),
    (
        "consts",
        "the destination's named constants (`consts.MAX_BATCH_SIZE`; `--const` overrides one per run)",
    ),
    (
        "router",
        "true when the event is mapped for the router transform (`/routerTransform`, `eventmap route`)",
    ),
];

/// One JavaScript notion the reference's answers depend on, and how a spec says it.
pub struct Semantic {
    pub eventmap: &'static str,
    pub javascript: &'static str,
    pub meaning: &'static str,
    /// Expressions and what they give, run in `cargo test` like the constructs' examples.
    pub examples: &'static [Example],
}

/// The spec language next to JavaScript: each way to choose, test, compare and write values.
pub static SEMANTICS: &[Semantic] = &[
    Semantic {
        eventmap: "a ?? b",
        javascript: "a ?? b",
        meaning: "The first value that is neither undefined nor null (\"\", 0 and false are taken).",
        examples: &[("message.traits.x ?? 'd'", "\"d\""), ("'' ?? 'd'", "\"\"")],
    },
    Semantic {
        eventmap: "a || b",
        javascript: "a || b",
        meaning: "The first truthy value, else the last.",
        examples: &[("'' || 'd'", "\"d\""), ("0 || null", "null")],
    },
    Semantic {
        eventmap: "first_present(a, b)",
        javascript: "[a, b].find(v => v !== undefined && v !== null && v !== '')",
        meaning: "The first value that is present (not undefined, null or \"\"; 0 and false are present), else undefined: what the reference's `getFieldValueFromMessage` and `constructPayload` take.",
        examples: &[
            ("first_present('', 0)", "0"),
            ("first_present(null, '')", "undefined"),
        ],
    },
    Semantic {
        eventmap: "defined(v)",
        javascript: "v != null",
        meaning: "Neither undefined nor null.",
        examples: &[("defined(0)", "true"), ("defined(null)", "false")],
    },
    Semantic {
        eventmap: "present(v)",
        javascript: "v !== undefined && v !== null && v !== ''",
        meaning: "Defined and not the empty text; what `build` requires of a field's value.",
        examples: &[("present('')", "false"), ("present(false)", "true")],
    },
    Semantic {
        eventmap: "filled(v)",
        javascript: "isDefinedNotNullNotEmpty(v)",
        meaning: "Defined, not a blank text, not `{}` or `[]` (numbers and booleans are filled).",
        examples: &[
            ("filled('  ')", "false"),
            ("filled([])", "false"),
            ("filled(0)", "true"),
        ],
    },
    Semantic {
        eventmap: "not_empty(v)",
        javascript: "!_.isEmpty(v)",
        meaning: "A non-empty text, list or object (lodash: numbers and booleans are empty).",
        examples: &[("not_empty(0)", "false"), ("not_empty('a')", "true")],
    },
    Semantic {
        eventmap: "if, when, require, !, &&, c ? a : b",
        javascript: "if (v), !v, &&, ?:",
        meaning: "JavaScript truthiness: false, 0, -0, NaN, \"\", null and undefined are falsy; every list and object, `[]` and `{}` included, is truthy.",
        examples: &[("[] ? 'yes' : 'no'", "\"yes\""), ("!0", "true")],
    },
    Semantic {
        eventmap: "a == b, a != b",
        javascript: "a === b, a !== b",
        meaning: "Strict: there is no loose equality (lists and objects compare element by element).",
        examples: &[("1 == '1'", "false"), ("[1, 'a'] == [1, 'a']", "true")],
    },
    Semantic {
        eventmap: "a + b",
        javascript: "a + b",
        meaning: "Text when either side is text, else numbers.",
        examples: &[("1 + '2'", "\"12\""), ("1 + 2", "3")],
    },
    Semantic {
        eventmap: "{{ v }} in a text, string(v)",
        javascript: "String(v)",
        meaning: "A value as JavaScript writes it in text (`String(v)`, or a template literal's hole): lists joined by commas, objects as \"[object Object]\", numbers as JavaScript prints them.",
        examples: &[
            ("string([1, [2, 3]])", "\"1,2,3\""),
            ("string(0.1 + 0.2)", "\"0.30000000000000004\""),
        ],
    },
    Semantic {
        eventmap: "undefined",
        javascript: "undefined",
        meaning: "What a path that is not there gives. `JSON.stringify` leaves it out: an object key with an undefined value is not written, `set` with one removes the field, a list element is written null.",
        examples: &[
            ("{a: message.nothing, b: 1}", "{\"b\":1}"),
            ("[message.nothing]", "[null]"),
        ],
    },
    Semantic {
        eventmap: "NaN",
        javascript: "NaN",
        meaning: "A number that is not one: falsy, written \"NaN\" in text and null in JSON.",
        examples: &[
            ("number('x') || 'falsy'", "\"falsy\""),
            ("string(number('x'))", "\"NaN\""),
        ],
    },
];

/// A kind of text (`{{ }}` holes) or expression, and what it can read besides the roots
/// every expression can (`message`, `config`, ...).
pub struct TextScope {
    pub text: &'static str,
    pub names: &'static str,
}

/// What each text can see; `tests/registry.rs` compiles a spec reading each name in each
/// place, and one reading a name from elsewhere, to keep this table true.
pub static TEXT_SCOPES: &[TextScope] = &[
    TextScope {
        text: "`message_type.missing`, `not_string`, `unsupported`",
        names: "`type` (the type as read, lowercased when `lowercase: true`), `type_of` (its `type_of`, for `not_string`); `payload` is empty",
    },
    TextScope {
        text: "a config key's `required` and `pattern_error`",
        names: "nothing else; `payload` is empty",
    },
    TextScope {
        text: "`require` and `fail` errors, `if`, `switch`, `when` and every value of a step",
        names: "`payload` (as built so far), the variables in scope: each `let` before it in the event's steps (the destination's steps, then the flow's), the element of each `fan_out` it is inside, the parameters of each lambda it is inside",
    },
    TextScope {
        text: "`request:` fields (the destination's, a flow's, an `emit`'s)",
        names: "`payload` (the emitted payload, cleaned), the variables in scope at the `emit`",
    },
    TextScope {
        text: "`router.checks`",
        names: "the variables of the checks' own `let`s; the event is the group's first",
    },
    TextScope {
        text: "`router.batch` `when`, `max_items`, `max_bytes`",
        names: "nothing else; the event is the group's first",
    },
    TextScope {
        text: "`router.batch` `key`, `alone`, `items`",
        names: "`output` (the response being batched)",
    },
    TextScope {
        text: "`router.batch.size`",
        names: "`output`, `item` (one item `items` gave)",
    },
    TextScope {
        text: "`router.batch` `request` and `batched`",
        names: "`output` (the batch's first response), `items` (the batch's items)",
    },
    TextScope {
        text: "a dynamic config value (`dynamic_config: true`)",
        names: "its own form, as the reference's: `{{ event.path || \"default\" }}`, `event` being the message",
    },
];
