//! Compile stage: the compact expression syntax. A string in an expression position of a spec
//! (`message.traits.email ?? config.fallback`, `lowercase(trim(message.event))`,
//! `items.map(...)` is not JS: functions are called by name) is lexed and parsed here into a
//! small syntax tree whose nodes keep their byte offset in the string, so that the compiler can
//! point at the exact column of a mistake. Grammar, loosest first:
//!
//! ```text
//! expr     := IDENT '=>' expr | '(' IDENT {',' IDENT} ')' '=>' expr | ternary   (lambdas: call arguments only)
//! ternary  := coalesce ['?' expr ':' expr]
//! coalesce := or {'??' or}          or := and {'||' and}          and := eq {'&&' eq}
//! eq       := rel {('=='|'!=') rel}  rel := add {('<'|'<='|'>'|'>='|'in') add}
//! add      := mul {('+'|'-') mul}    mul := unary {('*'|'/'|'%') unary}
//! unary    := ('!'|'-'|'+') unary | postfix
//! postfix  := primary {'.' NAME | '[' expr ']'}
//! primary  := NUMBER | STRING | true | false | null | undefined | IDENT ['(' args ')']
//!           | '@' IDENT | '(' expr ')' | '[' [elem {',' elem}] ']' | '{' [prop {',' prop}] '}'
//! args     := arg {',' arg}   arg := [IDENT '='] expr     elem := ['...'] expr
//! prop     := '...' expr | (IDENT|STRING|NUMBER) ':' expr | IDENT
//! ```

use std::fmt;

/// A parse error: what is wrong and where (byte offset into the expression).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ast {
    pub at: usize,
    pub kind: AstKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AstKind {
    /// A number literal, as written (kept as text so integers stay exact).
    Num(String),
    Str(String),
    Bool(bool),
    Null,
    Undefined,
    /// A root, variable, or (before `(`) a function name.
    Ident(String),
    /// `@name`: an alias (a named list of message paths).
    Alias(String),
    /// `base.name` (also `base.0`).
    Member(Box<Ast>, String),
    /// `base[key]`.
    Index(Box<Ast>, Box<Ast>),
    Call(String, Vec<Arg>),
    Unary(&'static str, Box<Ast>),
    Binary(&'static str, Box<Ast>, Box<Ast>),
    Ternary(Box<Ast>, Box<Ast>, Box<Ast>),
    Array(Vec<(bool, Ast)>),
    Object(Vec<Prop>),
    Lambda(Vec<(usize, String)>, Box<Ast>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<(usize, String)>,
    pub value: Ast,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Prop {
    Key(usize, String, Ast),
    Spread(Ast),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(String),
    Str(String),
    Ident(String),
    At,
    Punct(&'static str),
    End,
}

const PUNCTS: &[&str] = &[
    "...", "===", "!==", "=>", "??", "||", "&&", "==", "!=", "<=", ">=", "(", ")", "[", "]", "{",
    "}", ",", ".", ":", "?", "!", "<", ">", "+", "-", "*", "/", "%", "=",
];

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    'outer: while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        // After a value, `.0` is a member (`a.0.b`), not a number.
        let after_value = matches!(
            out.last(),
            Some((
                _,
                Tok::Ident(_) | Tok::Num(_) | Tok::Str(_) | Tok::Punct(")" | "]" | "}")
            ))
        );
        if c.is_ascii_digit()
            || (c == b'.' && !after_value && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                // `a.0.b`: a dot followed by a non-digit ends the number.
                if b[i] == b'.' && !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    break;
                }
                i += 1;
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            out.push((start, Tok::Num(src[start..i].to_owned())));
            continue;
        }
        if c == b'_' || c == b'$' || c.is_ascii_alphabetic() || c >= 0x80 {
            while i < b.len()
                && (b[i] == b'_' || b[i] == b'$' || b[i].is_ascii_alphanumeric() || b[i] >= 0x80)
            {
                i += 1;
            }
            out.push((start, Tok::Ident(src[start..i].to_owned())));
            continue;
        }
        if c == b'\'' || c == b'"' {
            let (s, next) = string_literal(src, i)?;
            out.push((start, Tok::Str(s)));
            i = next;
            continue;
        }
        if c == b'@' {
            out.push((start, Tok::At));
            i += 1;
            continue;
        }
        for p in PUNCTS {
            if src[i..].starts_with(p) {
                out.push((start, Tok::Punct(p)));
                i += p.len();
                continue 'outer;
            }
        }
        let ch = src[i..].chars().next().unwrap_or('?');
        return Err(ParseError {
            at: i,
            message: format!("unexpected character `{ch}`"),
        });
    }
    // Two ends, so that stepping back after reading the end lands on the end again.
    out.push((src.len(), Tok::End));
    out.push((src.len(), Tok::End));
    Ok(out)
}

/// A quoted string starting at `start` (its quote): its value and the offset after it.
fn string_literal(src: &str, start: usize) -> Result<(String, usize), ParseError> {
    let quote = src.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((k, ch)) = chars.next() {
        let at = start + 1 + k;
        match ch {
            c if c == quote => return Ok((out, at + 1)),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).map(|(_, c)| c).collect();
                        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                            Some(c) => out.push(c),
                            None => {
                                return Err(ParseError {
                                    at,
                                    message: format!("bad escape `\\u{hex}`"),
                                });
                            }
                        }
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    Err(ParseError {
        at: start,
        message: "string is not closed".into(),
    })
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
}

/// Parses one compact expression.
pub fn parse(src: &str) -> Result<Ast, ParseError> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
    };
    let e = p.expr(false)?;
    match p.peek() {
        Tok::End => Ok(e),
        t => Err(p.err(format!("unexpected {} after the expression", describe(t)))),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(n) => format!("number `{n}`"),
        Tok::Str(_) => "string".into(),
        Tok::Ident(i) => format!("`{i}`"),
        Tok::At => "`@`".into(),
        Tok::Punct(p) => format!("`{p}`"),
        Tok::End => "end of expression".into(),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].1
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].1
    }

    fn at(&self) -> usize {
        self.toks[self.pos].0
    }

    fn bump(&mut self) -> (usize, Tok) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn err(&self, message: String) -> ParseError {
        ParseError {
            at: self.at(),
            message,
        }
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Tok::Punct(q) if *q == p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat(p) {
            Ok(())
        } else {
            let t = describe(self.peek());
            Err(self.err(format!("expected `{p}`, found {t}")))
        }
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }

    /// An expression; `lambda_ok` where a lambda may stand (call arguments).
    fn expr(&mut self, lambda_ok: bool) -> Result<Ast, ParseError> {
        if let Some(l) = self.lambda()? {
            if !lambda_ok {
                return Err(ParseError {
                    at: l.at,
                    message: "a lambda (`x => ...`) may only be an argument of a function such as map or filter".into(),
                });
            }
            return Ok(l);
        }
        self.ternary()
    }

    fn lambda(&mut self) -> Result<Option<Ast>, ParseError> {
        let at = self.at();
        let params = match (self.peek(), self.peek_at(1)) {
            (Tok::Ident(name), Tok::Punct("=>")) => {
                let name = name.clone();
                self.bump();
                self.bump();
                vec![(at, name)]
            }
            (Tok::Punct("("), _) => {
                // `(a, b) =>`: look ahead for the arrow before committing.
                let mut k = 1;
                let mut names = Vec::new();
                if !matches!(self.peek_at(k), Tok::Punct(")")) {
                    loop {
                        match self.peek_at(k) {
                            Tok::Ident(n) => names.push((self.toks[self.pos + k].0, n.clone())),
                            _ => return Ok(None),
                        }
                        k += 1;
                        match self.peek_at(k) {
                            Tok::Punct(",") => k += 1,
                            Tok::Punct(")") => break,
                            _ => return Ok(None),
                        }
                    }
                }
                // peek_at(k) is `)`.
                if !matches!(self.peek_at(k + 1), Tok::Punct("=>")) {
                    return Ok(None);
                }
                for _ in 0..k + 2 {
                    self.bump();
                }
                names
            }
            _ => return Ok(None),
        };
        let body = self.expr(false)?;
        Ok(Some(Ast {
            at,
            kind: AstKind::Lambda(params, Box::new(body)),
        }))
    }

    fn ternary(&mut self) -> Result<Ast, ParseError> {
        let c = self.binary(0)?;
        if self.is_punct("?") {
            let at = self.at();
            self.bump();
            let t = self.expr(false)?;
            self.expect(":")?;
            let e = self.expr(false)?;
            return Ok(Ast {
                at,
                kind: AstKind::Ternary(Box::new(c), Box::new(t), Box::new(e)),
            });
        }
        Ok(c)
    }

    fn binary(&mut self, level: usize) -> Result<Ast, ParseError> {
        const LEVELS: &[&[&str]] = &[
            &["??"],
            &["||"],
            &["&&"],
            &["==", "!=", "===", "!=="],
            &["<", "<=", ">", ">=", "in"],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        loop {
            let op = match self.peek() {
                Tok::Punct(p) if LEVELS[level].contains(p) => *p,
                Tok::Ident(i) if i == "in" && LEVELS[level].contains(&"in") => "in",
                _ => break,
            };
            let at = self.at();
            if op == "===" || op == "!==" {
                return Err(self.err(format!(
                    "`{op}` is not needed: `{}` is already strict (there is no loose equality)",
                    &op[..2]
                )));
            }
            self.bump();
            let right = self.binary(level + 1)?;
            left = Ast {
                at,
                kind: AstKind::Binary(op, Box::new(left), Box::new(right)),
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Ast, ParseError> {
        let at = self.at();
        for op in ["!", "-", "+"] {
            if self.is_punct(op) {
                self.bump();
                let x = self.unary()?;
                return Ok(Ast {
                    at,
                    kind: AstKind::Unary(op, Box::new(x)),
                });
            }
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Ast, ParseError> {
        let mut e = self.primary()?;
        loop {
            let at = self.at();
            if self.eat(".") {
                let name = match self.bump().1 {
                    Tok::Ident(n) | Tok::Num(n) => n,
                    t => {
                        self.pos -= 1;
                        return Err(
                            self.err(format!("expected a name after `.`, found {}", describe(&t)))
                        );
                    }
                };
                if self.is_punct("(") {
                    return Err(ParseError {
                        at,
                        message: format!(
                            "methods are not called with `.{name}(...)`: call the function by name, `{name}(x, ...)`"
                        ),
                    });
                }
                e = Ast {
                    at,
                    kind: AstKind::Member(Box::new(e), name),
                };
            } else if self.eat("[") {
                let key = self.expr(false)?;
                self.expect("]")?;
                e = Ast {
                    at,
                    kind: AstKind::Index(Box::new(e), Box::new(key)),
                };
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Ast, ParseError> {
        let (at, t) = self.bump();
        let kind = match t {
            Tok::Num(n) => AstKind::Num(n),
            Tok::Str(s) => AstKind::Str(s),
            Tok::Ident(i) => match i.as_str() {
                "true" => AstKind::Bool(true),
                "false" => AstKind::Bool(false),
                "null" => AstKind::Null,
                "undefined" => AstKind::Undefined,
                _ if self.is_punct("(") => {
                    self.bump();
                    let args = self.args()?;
                    AstKind::Call(i, args)
                }
                _ => AstKind::Ident(i),
            },
            Tok::At => match self.bump().1 {
                Tok::Ident(name) => AstKind::Alias(name),
                t => {
                    self.pos -= 1;
                    return Err(self.err(format!(
                        "expected an alias name after `@`, found {}",
                        describe(&t)
                    )));
                }
            },
            Tok::Punct("(") => {
                let e = self.expr(false)?;
                self.expect(")")?;
                return Ok(e);
            }
            Tok::Punct("[") => {
                let mut items = Vec::new();
                while !self.is_punct("]") {
                    let spread = self.eat("...");
                    items.push((spread, self.expr(false)?));
                    if !self.eat(",") {
                        break;
                    }
                }
                self.expect("]")?;
                AstKind::Array(items)
            }
            Tok::Punct("{") => {
                let mut props = Vec::new();
                while !self.is_punct("}") {
                    if self.eat("...") {
                        props.push(Prop::Spread(self.expr(false)?));
                    } else {
                        let (kat, key) = self.bump();
                        let key = match key {
                            Tok::Ident(k) | Tok::Str(k) | Tok::Num(k) => k,
                            t => {
                                self.pos -= 1;
                                return Err(
                                    self.err(format!("expected a key, found {}", describe(&t)))
                                );
                            }
                        };
                        if self.eat(":") {
                            props.push(Prop::Key(kat, key, self.expr(false)?));
                        } else {
                            // Shorthand `{a}` means `{a: a}`.
                            let value = Ast {
                                at: kat,
                                kind: AstKind::Ident(key.clone()),
                            };
                            props.push(Prop::Key(kat, key, value));
                        }
                    }
                    if !self.eat(",") {
                        break;
                    }
                }
                self.expect("}")?;
                AstKind::Object(props)
            }
            t => {
                self.pos -= 1;
                return Err(self.err(format!("expected a value, found {}", describe(&t))));
            }
        };
        Ok(Ast { at, kind })
    }

    fn args(&mut self) -> Result<Vec<Arg>, ParseError> {
        let mut args = Vec::new();
        while !self.is_punct(")") {
            let name = match (self.peek(), self.peek_at(1)) {
                (Tok::Ident(n), Tok::Punct("=")) => {
                    let n = (self.at(), n.clone());
                    self.bump();
                    self.bump();
                    Some(n)
                }
                _ => None,
            };
            let value = self.expr(true)?;
            args.push(Arg { name, value });
            if !self.eat(",") {
                break;
            }
        }
        self.expect(")")?;
        Ok(args)
    }
}

/// A text with `{{ expression }}` holes: its literal parts and the expressions with their
/// offsets in the text.
#[derive(Debug, Clone, PartialEq)]
pub enum TextPart {
    Lit(String),
    Hole(usize, Ast),
}

/// Splits a text into literal parts and parsed `{{ }}` holes.
pub fn parse_text(src: &str) -> Result<Vec<TextPart>, ParseError> {
    let mut parts = Vec::new();
    let mut rest = 0;
    while let Some(k) = src[rest..].find("{{") {
        let open = rest + k;
        if open > rest {
            parts.push(TextPart::Lit(src[rest..open].to_owned()));
        }
        let inner_start = open + 2;
        let close = find_close(src, inner_start).ok_or(ParseError {
            at: open,
            message: "`{{` is not closed by `}}`".into(),
        })?;
        let inner = &src[inner_start..close];
        if inner.trim().is_empty() {
            return Err(ParseError {
                at: open,
                message: "empty `{{ }}`".into(),
            });
        }
        let ast = parse(inner).map_err(|e| ParseError {
            at: inner_start + e.at,
            message: e.message,
        })?;
        parts.push(TextPart::Hole(inner_start, shift(ast, inner_start)));
        rest = close + 2;
    }
    if rest < src.len() || parts.is_empty() {
        parts.push(TextPart::Lit(src[rest..].to_owned()));
    }
    Ok(parts)
}

/// The offset of the `}}` closing a hole that starts at `from`, skipping quoted strings and
/// the braces of object literals.
fn find_close(src: &str, from: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = from;
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                i = string_literal(src, i).ok()?.1;
                continue;
            }
            b'{' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn shift(mut a: Ast, by: usize) -> Ast {
    a.at += by;
    a.kind = match a.kind {
        AstKind::Member(b, n) => AstKind::Member(Box::new(shift(*b, by)), n),
        AstKind::Index(b, k) => AstKind::Index(Box::new(shift(*b, by)), Box::new(shift(*k, by))),
        AstKind::Call(n, args) => AstKind::Call(
            n,
            args.into_iter()
                .map(|a| Arg {
                    name: a.name.map(|(at, n)| (at + by, n)),
                    value: shift(a.value, by),
                })
                .collect(),
        ),
        AstKind::Unary(o, x) => AstKind::Unary(o, Box::new(shift(*x, by))),
        AstKind::Binary(o, l, r) => {
            AstKind::Binary(o, Box::new(shift(*l, by)), Box::new(shift(*r, by)))
        }
        AstKind::Ternary(c, t, e) => AstKind::Ternary(
            Box::new(shift(*c, by)),
            Box::new(shift(*t, by)),
            Box::new(shift(*e, by)),
        ),
        AstKind::Array(items) => {
            AstKind::Array(items.into_iter().map(|(s, x)| (s, shift(x, by))).collect())
        }
        AstKind::Object(props) => AstKind::Object(
            props
                .into_iter()
                .map(|p| match p {
                    Prop::Key(at, k, v) => Prop::Key(at + by, k, shift(v, by)),
                    Prop::Spread(v) => Prop::Spread(shift(v, by)),
                })
                .collect(),
        ),
        AstKind::Lambda(ps, body) => AstKind::Lambda(
            ps.into_iter().map(|(at, n)| (at + by, n)).collect(),
            Box::new(shift(*body, by)),
        ),
        other => other,
    };
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Ast {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn precedence_and_shapes() {
        let a = ok("a ?? b || c && d == 1 + 2 * 3");
        assert!(matches!(a.kind, AstKind::Binary("??", _, _)));
        let t = ok("x ? 'a' : y ? 1 : 2");
        assert!(matches!(t.kind, AstKind::Ternary(..)));
        let m = ok("message.context.externalId.0.id");
        assert!(matches!(m.kind, AstKind::Member(_, ref n) if n == "id"));
        let c = ok("map(message.products, p => p.price * 2)");
        let AstKind::Call(name, args) = c.kind else {
            panic!()
        };
        assert_eq!(name, "map");
        assert!(matches!(args[1].value.kind, AstKind::Lambda(..)));
        let n = ok("rows_to_object(config.rows, lowercase = false)");
        let AstKind::Call(_, args) = n.kind else {
            panic!()
        };
        assert_eq!(
            args[1].name.as_ref().map(|n| n.1.as_str()),
            Some("lowercase")
        );
        let o = ok("{a: 1, 'b-c': x, ...rest, d}");
        assert!(matches!(o.kind, AstKind::Object(ref p) if p.len() == 4));
        assert!(parse("(k, v) => k").is_err());
        ok("map(x, (k, v) => k)");
        ok("map(x, () => 1)");
        ok("(a + b) * c");
        ok("'it\\'s' + \"x\"");
        ok("x in ['a', 'b']");
        ok("!present(@email)");
    }

    #[test]
    fn errors_point_at_the_mistake() {
        assert_eq!(parse("a +").unwrap_err().at, 3);
        assert_eq!(parse("a === b").unwrap_err().at, 2);
        assert_eq!(parse("a.toLowerCase()").unwrap_err().at, 1);
        assert_eq!(parse("'open").unwrap_err().at, 0);
        assert!(parse("x => 1").is_err());
    }

    #[test]
    fn texts_split_into_holes() {
        let p = parse_text("https://{{config.region}}.x/{{ payload.kind }}s").unwrap();
        assert_eq!(p.len(), 5);
        assert!(matches!(&p[1], TextPart::Hole(10, _)));
        let q = parse_text("{{ {a: {b: 1}} }}").unwrap();
        assert_eq!(q.len(), 1);
        assert!(parse_text("a {{ b").is_err());
        assert_eq!(
            parse_text("plain").unwrap(),
            vec![TextPart::Lit("plain".into())]
        );
    }
}
