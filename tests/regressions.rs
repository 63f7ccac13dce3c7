//! Regression cases, named after what broke, kept forever.

use std::path::Path;

use eventmap::value::Value;
use eventmap::{Engine, Mappings};

fn engine() -> Engine {
    let m = Mappings::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings"));
    Engine::load(&m, "bluecore").unwrap().unwrap()
}

fn fast(text: &str) -> Vec<Value> {
    let e = engine();
    let mut b = e.batch();
    let mut out = Vec::new();
    b.push(text, &mut out);
    out.iter().map(|r| r.to_value()).collect()
}

/// Found by the `any_text_as_an_item` property: the message for invalid JSON called itself
/// until the stack overflowed.
#[test]
fn invalid_json_item_overflowed_the_stack() {
    for text in ["{", "{\"message\":", "nul", "\u{0}", "[1,"] {
        let r = fast(text);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["statusCode"], 400);
        assert!(
            r[0]["error"]
                .as_str()
                .unwrap()
                .starts_with("request item is not valid JSON"),
            "{}",
            r[0]
        );
    }
}

/// Found by the `any_json_as_a_request_item` property: serde reads a struct from a list, so
/// `[]` took the fast path and was answered as an item without a message, unlike the parsed
/// path.
#[test]
fn list_item_was_read_as_an_object() {
    for text in ["[]", "[{\"type\":\"identify\"}]", " [1, 2, 3]"] {
        let r = fast(text);
        assert_eq!(r[0]["statusCode"], 400);
        assert_eq!(
            r[0]["error"], "request item must be a JSON object, found array",
            "{text}"
        );
    }
}

/// Found while writing the closing note: serde_json refuses an unpaired UTF-16 surrogate
/// escape (`"\ud800"`) that JavaScript accepts, so such an item got a 400. It is now mapped,
/// the lone surrogate becoming U+FFFD; paired surrogates are untouched.
#[test]
fn lone_surrogate_escape_refused_its_item() {
    let text = r#"{"message":{"type":"identify","userId":"u","traits":{"email":"a@b.c","x":"\ud800","y":"\ud83d\ude00"}},"destination":{"Config":{"bluecoreNamespace":"n"}},"metadata":{"jobId":1}}"#;
    let r = fast(text);
    assert_eq!(r[0]["statusCode"], 200, "{}", r[0]);
    let customer = &r[0]["output"]["body"]["JSON"]["properties"]["customer"];
    assert_eq!(customer["x"], "\u{fffd}");
    assert_eq!(customer["y"], "\u{1f600}");
}
