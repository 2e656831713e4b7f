//! Mutations shared by the fuzz targets: hostile text, text edits at character boundaries,
//! byte edits, and JSON structure edits (values, keys, types, sizes, nesting).

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::{Map, Value};

/// Pieces hostile text is made of: quick actions, mentions, markers, HTML, Markdown that
/// breaks out of tables and fences, line breaks of every kind, bidi controls, invisible and
/// multi-byte characters, e-mail addresses.
const PIECES: &[&str] = &[
    "/close",
    "/label ~pwned",
    "/assign @eve",
    " /unlabel ~x",
    "\n/confidential\n",
    "@all",
    "@here",
    "@everyone",
    "@eve",
    "@grp/sub",
    "@labelflow",
    "@LabelFlow claim",
    "@labelflow buy-in approve",
    "@labelflow buy-in decline",
    "@labelflow cla recheck",
    "@labelflow claim",
    "@\u{2060}all",
    "@@",
    "eve@example.com",
    "x@all",
    "<!-- labelflow:0123456789abcdef -->",
    "<!--",
    "-->",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<details>",
    "&lt;",
    "&amp;",
    "&#96;",
    "`",
    "```",
    "~~~",
    "|",
    "| a | b |",
    "> ",
    "#",
    "\n",
    "\r\n",
    "\r",
    "\u{2028}",
    "\u{2029}",
    "\u{85}",
    "\u{202E}",
    "\u{2066}",
    "\u{200B}",
    "\u{2060}",
    "\u{FEFF}",
    "\u{0}",
    "\t",
    "  ",
    "é",
    "Ünïcødé",
    "🚀",
    "👩‍💻",
    "\u{10FFFF}",
    "طلب",
    "{{issue.title}}",
    "{{{x}}}",
    "\\",
    "\"",
    "'",
    "Customer: Acme",
    "## Customer",
    "- [x] done",
    "~\"cocreate::triage\"",
    "cocreate::presented",
];

/// Hostile text: up to `max_pieces` pieces and random characters.
pub fn text(rng: &mut StdRng, max_pieces: usize) -> String {
    let n = rng.random_range(0..=max_pieces);
    let mut out = String::new();
    for _ in 0..n {
        match rng.random_range(0..10) {
            0..=5 => out.push_str(PIECES.choose(rng).expect("pieces")),
            6 | 7 => {
                for _ in 0..rng.random_range(1..8) {
                    out.push(rng.random_range(' '..='~'));
                }
            }
            8 => out.push(rng.random::<char>()),
            _ => out.push_str(&"x".repeat(rng.random_range(0..300))),
        }
    }
    out
}

/// The char boundaries of `s` (0 and `s.len()` included).
fn boundaries(s: &str) -> Vec<usize> {
    let mut b: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
    b.push(s.len());
    b
}

/// `s` with one to three edits: hostile text inserted, a range deleted or repeated, lines
/// swapped or repeated, case changed.
pub fn edit_text(rng: &mut StdRng, s: &str) -> String {
    let mut s = s.to_string();
    for _ in 0..rng.random_range(1..=3) {
        let b = boundaries(&s);
        let i = *b.choose(rng).expect("a boundary");
        let j = *b.choose(rng).expect("a boundary");
        let (lo, hi) = (i.min(j), i.max(j));
        match rng.random_range(0..7) {
            0..=2 => s.insert_str(i, &text(rng, 4)),
            3 => s.replace_range(lo..hi, ""),
            4 => {
                let piece = s[lo..hi].repeat(rng.random_range(2..6));
                s.insert_str(lo, &piece);
            }
            5 => {
                let mut lines: Vec<&str> = s.lines().collect();
                if lines.len() > 1 {
                    let a = rng.random_range(0..lines.len());
                    let c = rng.random_range(0..lines.len());
                    if rng.random_bool(0.5) {
                        lines.swap(a, c);
                    } else {
                        lines.insert(a, lines[c]);
                    }
                }
                s = lines.join("\n");
            }
            _ => {
                let part = if rng.random_bool(0.5) {
                    s[lo..hi].to_uppercase()
                } else {
                    s[lo..hi].to_lowercase()
                };
                s.replace_range(lo..hi, &part);
            }
        }
    }
    s
}

/// Byte-level tokens worth inserting into JSON text.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\\udfff\\ud800",
    b"1e999",
    b"-0",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"null",
    b"true",
    b"\xFF",
    b"\xC0\x80",
    b"\xED\xA0\x80",
    b"\xEF\xBB\xBF",
    b"\xE2\x80\xAE",
    b" ",
    b"\n",
    b"\t",
    b"\0",
];

/// `bytes` with one to four edits: bits flipped, bytes set, tokens or random bytes inserted,
/// ranges deleted, repeated or moved, the end cut off.
pub fn edit_bytes(rng: &mut StdRng, bytes: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..=4) {
        let len = bytes.len();
        let i = rng.random_range(0..=len);
        let j = rng.random_range(0..=len);
        let (lo, hi) = (i.min(j), i.max(j).min(lo_plus(i.min(j), 64)));
        match rng.random_range(0..8) {
            0 if len > 0 => bytes[i.min(len - 1)] ^= 1 << rng.random_range(0..8),
            1 if len > 0 => bytes[i.min(len - 1)] = rng.random(),
            2 => {
                let token = TOKENS.choose(rng).expect("tokens");
                bytes.splice(i..i, token.iter().copied());
            }
            3 => {
                let random: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
                bytes.splice(i..i, random);
            }
            4 => {
                bytes.drain(lo..hi);
            }
            5 => {
                let piece = bytes[lo..hi].to_vec();
                let at = rng.random_range(0..=len);
                bytes.splice(at..at, piece);
            }
            6 => bytes.truncate(i),
            _ => {
                let piece = text(rng, 2).into_bytes();
                bytes.splice(i..i, piece);
            }
        }
    }
}

fn lo_plus(lo: usize, n: usize) -> usize {
    lo.saturating_add(n)
}

/// A random JSON value, at most `depth` levels deep.
pub fn value(rng: &mut StdRng, depth: u32) -> Value {
    let top = if depth == 0 { 7 } else { 9 };
    match rng.random_range(0..top) {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => Value::from(
            *[0i64, -1, 1, i64::MIN, i64::MAX, 14, 23]
                .choose(rng)
                .expect("ints"),
        ),
        3 => Value::from(u64::MAX),
        4 => serde_json::Number::from_f64(*[0.5, -1.5, 1e300, -0.0].choose(rng).expect("f"))
            .map_or(Value::Null, Value::Number),
        5 | 6 => Value::String(text(rng, 4)),
        7 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| value(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.random_range(0..4))
                .map(|_| (text(rng, 1), value(rng, depth - 1)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// JSON pointers of every node of `v` (the root is `""`).
pub fn pointers(v: &Value) -> Vec<String> {
    fn walk(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let key = k.replace('~', "~0").replace('/', "~1");
                    walk(child, format!("{at}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }
    let mut out = Vec::new();
    walk(v, String::new(), &mut out);
    out
}

/// `v` with one to three structural edits at random nodes: a value replaced (any type,
/// extreme numbers, hostile text), a string edited, a key removed or added, a node wrapped
/// in arrays or objects (nesting), an array grown (sizes), one node copied over another.
pub fn edit_json(rng: &mut StdRng, v: &mut Value) {
    for _ in 0..rng.random_range(1..=3) {
        let all = pointers(v);
        let at = all.choose(rng).expect("the root at least").clone();
        let other = v.pointer(all.choose(rng).expect("a node")).cloned();
        let Some(node) = v.pointer_mut(&at) else {
            continue;
        };
        match rng.random_range(0..9) {
            0 | 1 => *node = value(rng, 3),
            2 => {
                if let Value::String(s) = node {
                    *s = edit_text(rng, s);
                } else {
                    *node = Value::String(text(rng, 3));
                }
            }
            3 => match node {
                Value::Object(m) if !m.is_empty() => {
                    let keys: Vec<String> = m.keys().cloned().collect();
                    m.remove(keys.choose(rng).expect("a key"));
                }
                Value::Array(items) if !items.is_empty() => {
                    items.remove(rng.random_range(0..items.len()));
                }
                _ => *node = Value::Null,
            },
            4 => {
                if let Value::Object(m) = node {
                    m.insert(text(rng, 1), value(rng, 2));
                }
            }
            5 => {
                let depth = *[2usize, 10, 127, 129, 1_000].choose(rng).expect("depth");
                let mut wrapped = node.take();
                for _ in 0..depth {
                    wrapped = if rng.random_bool(0.5) {
                        Value::Array(vec![wrapped])
                    } else {
                        Value::Object(Map::from_iter([("x".to_string(), wrapped)]))
                    };
                }
                *node = wrapped;
            }
            6 => {
                if let Value::Array(items) = node
                    && let Some(first) = items.first().cloned()
                {
                    let n = rng.random_range(1..200);
                    items.extend(std::iter::repeat_n(first, n));
                }
            }
            7 => {
                if let Some(copy) = other {
                    *node = copy;
                }
            }
            _ => {
                if let Value::String(s) = node {
                    *s = s.repeat(rng.random_range(2..50));
                }
            }
        }
    }
}
