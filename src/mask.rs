//! Secrets in text eventmap prints itself: the values of the config keys a destination marks
//! `secret: true`, masked wherever they occur, whole or inside longer text (a header, an
//! endpoint, a body, an error text), in each form a value takes once printed: as it is,
//! JSON-escaped, URL-encoded, and inside base64 (HTTP Basic credentials are
//! `base64(key + ":")`). Used by `diff`, `transform --explain`, `test`, and for the error texts
//! the engine composes. The answers sent on towards destinations are never masked: they are
//! the product.

use std::borrow::Cow;

use crate::value::Value;

use crate::eval::func::{base64, url_encode};
use crate::plan::Plan;

/// The shortest value masked where it occurs inside longer text. A shorter value (`"1"`,
/// `"eu"`) turns up by chance in ordinary text (numbers, words, other keys), so masking it
/// everywhere would garble every line it touches while protecting a value that can be
/// guessed anyway; such a value is masked only where a whole printed value equals it.
pub const MIN_SECRET_LEN: usize = 4;

/// The shortest base64 run masked: a secret's base64 form is matched by the characters that
/// depend on its bytes alone, and a run shorter than this could match by chance.
const MIN_BASE64_CORE: usize = 6;

/// The secret values of one item (or several), each with the config key it came from.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// Each secret's value and key, longest first.
    values: Vec<(String, String)>,
    /// Every form masked inside text, with its key, longest first.
    forms: Vec<(String, String)>,
}

impl Secrets {
    /// The values the config has at the keys the plan marks secret (strings and numbers).
    pub fn of_config(plan: &Plan, config: &Value) -> Secrets {
        let mut s = Secrets::default();
        s.add_config(plan, config);
        s
    }

    /// Adds the secret values of another config (a dynamic config resolved, the other side
    /// of a diff).
    pub fn add_config(&mut self, plan: &Plan, config: &Value) {
        for key in &plan.secrets {
            match config.get(key) {
                Some(Value::String(v)) => self.add(key, v),
                Some(n @ Value::Number(_)) => self.add(key, &n.to_string()),
                _ => {}
            }
        }
    }

    /// Adds one secret value.
    pub fn add(&mut self, key: &str, value: &str) {
        if value.is_empty() || self.values.iter().any(|(v, _)| v == value) {
            return;
        }
        self.values.push((value.to_owned(), key.to_owned()));
        self.values.sort_by_key(|v| std::cmp::Reverse(v.0.len()));
        if value.chars().count() < MIN_SECRET_LEN {
            return;
        }
        let json = serde_json::to_string(value).unwrap_or_default();
        let json = json[1..json.len() - 1].to_owned();
        let mut forms = vec![value.to_owned(), json, url_encode(value)];
        forms.extend(base64_cores(value.as_bytes()));
        for f in forms {
            if !f.is_empty() && !self.forms.iter().any(|(g, _)| *g == f) {
                self.forms.push((f, key.to_owned()));
            }
        }
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.0.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The key a whole value is the secret of, when it is one (any length).
    pub fn key_of(&self, whole: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(v, _)| v == whole)
            .map(|(_, k)| k.as_str())
    }

    /// The text with every secret in it replaced by `<secret:KEY>`.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if let Some(k) = self.key_of(text) {
            return Cow::Owned(placeholder(k));
        }
        let present: Vec<&(String, String)> = self
            .forms
            .iter()
            .filter(|(f, _)| text.contains(f.as_str()))
            .collect();
        if present.is_empty() {
            return Cow::Borrowed(text);
        }
        // One pass, longest form first at each place, so that a placeholder is never masked
        // again and overlapping secrets do not leave parts of either.
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            match present.iter().find(|(f, _)| rest.starts_with(f.as_str())) {
                Some((f, key)) => {
                    out.push_str(&placeholder(key));
                    rest = &rest[f.len()..];
                }
                None => {
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        Cow::Owned(out)
    }

    /// Masks a text in place.
    pub fn mask_in(&self, text: &mut String) {
        if let Cow::Owned(m) = self.mask(text) {
            *text = m;
        }
    }
}

/// A URL with its user info (`http://user:password@host`) masked, for logs, `/health` and
/// error texts; the URL itself still connects with it.
pub fn url_credentials(url: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Cow::Borrowed(url);
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => Cow::Owned(format!("{scheme}://<secret>@{}", &rest[at + 1..])),
        None => Cow::Borrowed(url),
    }
}

fn placeholder(key: &str) -> String {
    format!("<secret:{key}>")
}

/// The base64 characters that depend on the secret's bytes alone, for each of the three
/// alignments it can have inside longer encoded text.
fn base64_cores(secret: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for offset in 0..3usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret);
        let enc = base64(&bytes);
        // Character j carries bits [6j, 6j + 6) of the input: keep those inside the secret.
        let first = (8 * offset).div_ceil(6);
        let end = 8 * (offset + secret.len()) / 6;
        if end > first
            && end - first >= MIN_BASE64_CORE
            && let Some(core) = enc.get(first..end)
        {
            out.push(core.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(v: &str) -> Secrets {
        let mut s = Secrets::default();
        s.add("apiKey", v);
        s
    }

    #[test]
    fn inside_longer_text() {
        let s = secrets("sekret1");
        assert_eq!(
            s.mask(r#""Bearer sekret1" -> "Token sekret1""#),
            r#""Bearer <secret:apiKey>" -> "Token <secret:apiKey>""#
        );
        assert_eq!(s.mask("sekret1"), "<secret:apiKey>");
        assert_eq!(s.mask("nothing here"), "nothing here");
    }

    #[test]
    fn escaped_and_encoded_forms() {
        let s = secrets("a\"b/c d+e");
        assert_eq!(
            s.mask(r#"{"k":"x a\"b/c d+e"}"#),
            r#"{"k":"x <secret:apiKey>"}"#
        );
        assert_eq!(
            s.mask("?key=a%22b%2Fc%20d%2Be&x=1"),
            "?key=<secret:apiKey>&x=1"
        );
    }

    #[test]
    fn inside_base64_at_any_alignment() {
        for prefix in ["", "u", "us", "user:"] {
            let s = secrets("sekret2-key");
            let basic = format!(
                "Basic {}",
                base64(format!("{prefix}sekret2-key:").as_bytes())
            );
            let masked = s.mask(&basic);
            assert!(masked.contains("<secret:apiKey>"), "{prefix}: {masked}");
        }
    }

    #[test]
    fn short_values_only_whole() {
        let s = secrets("eu1");
        assert_eq!(s.mask("eu1"), "<secret:apiKey>");
        assert_eq!(s.mask("region eu1 of 3"), "region eu1 of 3");
    }

    #[test]
    fn url_user_info() {
        assert_eq!(
            url_credentials("http://ann:pa55word@127.0.0.1:9091/x?y=1"),
            "http://<secret>@127.0.0.1:9091/x?y=1"
        );
        assert_eq!(
            url_credentials("http://127.0.0.1:9091"),
            "http://127.0.0.1:9091"
        );
        assert_eq!(url_credentials("http://h/p@q"), "http://h/p@q");
    }

    #[test]
    fn longest_first() {
        let mut s = Secrets::default();
        s.add("short", "abcd");
        s.add("long", "abcdefgh");
        assert_eq!(s.mask("x abcdefgh abcd"), "x <secret:long> <secret:short>");
    }
}
