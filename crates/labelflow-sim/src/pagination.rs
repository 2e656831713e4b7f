//! GitLab's two pagination modes. Offset: `page`/`per_page` (default 20, max 100) with `Link`
//! (prev/next/first/last) and the `x-*` headers, totals left out above 10,000 records. Keyset
//! (`pagination=keyset`): only `Link rel="next"` with an opaque `cursor`, absent on the last page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::state::SimError;

/// Above this many records GitLab stops counting (no `x-total`, `x-total-pages`, `rel="last"`).
pub const COUNT_LIMIT: usize = 10_000;
pub const DEFAULT_PER_PAGE: usize = 20;
pub const MAX_PER_PAGE: usize = 100;

/// One page of results plus the headers GitLab would send with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub headers: Vec<(&'static str, String)>,
}

/// The request URL pieces a `Link` header is rebuilt from.
#[derive(Debug, Clone, Default)]
pub struct RequestUrl {
    /// `http://127.0.0.1:PORT/api/v4/projects/1/issues`
    pub base: String,
    /// Query pairs as received, in order.
    pub query: Vec<(String, String)>,
}

impl RequestUrl {
    /// The same URL with `replace` keys set (and `drop` keys removed).
    fn with(&self, replace: &[(&str, String)], drop: &[&str]) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.query {
            if !replace.iter().any(|(r, _)| r == k) && !drop.contains(&k.as_str()) {
                ser.append_pair(k, v);
            }
        }
        for (k, v) in replace {
            ser.append_pair(k, v);
        }
        format!("{}?{}", self.base, ser.finish())
    }
}

/// `per_page` as GitLab reads it: default 20, clamped to 1..=100.
pub fn per_page(raw: Option<&str>) -> usize {
    raw.and_then(|v| v.trim().parse::<usize>().ok())
        .map(|n| n.clamp(1, MAX_PER_PAGE))
        .unwrap_or(DEFAULT_PER_PAGE)
}

/// Cuts one offset page out of `items` (already filtered and sorted).
pub fn offset_page<T>(
    items: Vec<T>,
    page: Option<&str>,
    per_page: usize,
    url: &RequestUrl,
) -> Page<T> {
    let page = page
        .and_then(|p| p.trim().parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let total = items.len();
    let total_pages = total.div_ceil(per_page).max(1);
    let counted = total <= COUNT_LIMIT;
    let has_next = page.saturating_mul(per_page) < total;
    let items: Vec<T> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();

    let link = |p: usize, rel: &str| {
        format!(
            "<{}>; rel=\"{rel}\"",
            url.with(
                &[("page", p.to_string()), ("per_page", per_page.to_string())],
                &[]
            )
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    if has_next {
        links.push(link(page + 1, "next"));
    }
    links.push(link(1, "first"));
    if counted {
        links.push(link(total_pages, "last"));
    }
    let mut headers = vec![
        ("link", links.join(", ")),
        (
            "x-next-page",
            if has_next {
                (page + 1).to_string()
            } else {
                String::new()
            },
        ),
        ("x-page", page.to_string()),
        ("x-per-page", per_page.to_string()),
        (
            "x-prev-page",
            if page > 1 {
                (page - 1).to_string()
            } else {
                String::new()
            },
        ),
    ];
    if counted {
        headers.push(("x-total", total.to_string()));
        headers.push(("x-total-pages", total_pages.to_string()));
    }
    Page { items, headers }
}

/// Position in a keyset-ordered list: the sort key and id of the last record served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    key: String,
    id: u64,
}

fn encode_cursor(c: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).unwrap_or_default())
}

fn decode_cursor(raw: &str) -> Result<Cursor, SimError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.trim())
        .map_err(|_| SimError::BadRequest("400 Bad request - Invalid cursor".into()))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| SimError::BadRequest("400 Bad request - Invalid cursor".into()))
}

/// The `(sort key, id)` position a keyset cursor stands for (for callers that narrow the
/// candidates before [`keyset_page`]).
pub fn cursor_position(raw: &str) -> Result<(String, u64), SimError> {
    decode_cursor(raw).map(|c| (c.key, c.id))
}

/// Cuts one keyset page out of `items`, which must be sorted by `(key, id)` ascending, or
/// descending when `desc`. Keys must compare correctly as strings (fixed-width timestamps,
/// zero-padded numbers).
pub fn keyset_page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> (String, u64),
    desc: bool,
    cursor: Option<&str>,
    per_page: usize,
    url: &RequestUrl,
) -> Result<Page<T>, SimError> {
    let after = cursor.map(decode_cursor).transpose()?;
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|item| match &after {
            None => true,
            Some(c) => {
                let k = key(item);
                let pos = (k.0.as_str(), k.1);
                let at = (c.key.as_str(), c.id);
                if desc { pos < at } else { pos > at }
            }
        })
        .collect();
    let more = rest.len() > per_page;
    rest.truncate(per_page);
    let mut headers = vec![("x-per-page", per_page.to_string())];
    if more && let Some(last) = rest.last() {
        let (k, id) = key(last);
        let next = encode_cursor(&Cursor { key: k, id });
        headers.push((
            "link",
            format!(
                "<{}>; rel=\"next\"",
                url.with(&[("cursor", next)], &["page"])
            ),
        ));
    }
    Ok(Page {
        items: rest,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> RequestUrl {
        RequestUrl {
            base: "http://h/api/v4/things".into(),
            query: vec![
                ("state".into(), "opened".into()),
                ("page".into(), "2".into()),
            ],
        }
    }

    fn header<'a, T>(p: &'a Page<T>, name: &str) -> Option<&'a str> {
        p.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn offset_middle_page_has_all_links_and_totals() {
        let p = offset_page((1..=45).collect::<Vec<u32>>(), Some("2"), 20, &url());
        assert_eq!(p.items, (21..=40).collect::<Vec<u32>>());
        assert_eq!(header(&p, "x-total"), Some("45"));
        assert_eq!(header(&p, "x-total-pages"), Some("3"));
        assert_eq!(header(&p, "x-next-page"), Some("3"));
        assert_eq!(header(&p, "x-prev-page"), Some("1"));
        assert_eq!(
            header(&p, "link"),
            Some(
                "<http://h/api/v4/things?state=opened&page=1&per_page=20>; rel=\"prev\", \
                 <http://h/api/v4/things?state=opened&page=3&per_page=20>; rel=\"next\", \
                 <http://h/api/v4/things?state=opened&page=1&per_page=20>; rel=\"first\", \
                 <http://h/api/v4/things?state=opened&page=3&per_page=20>; rel=\"last\""
            )
        );
    }

    #[test]
    fn offset_omits_totals_above_ten_thousand() {
        let p = offset_page(vec![0u8; COUNT_LIMIT + 1], Some("1"), 100, &url());
        assert_eq!(p.items.len(), 100);
        assert_eq!(header(&p, "x-total"), None);
        assert_eq!(header(&p, "x-total-pages"), None);
        assert_eq!(header(&p, "x-next-page"), Some("2"));
        assert!(!header(&p, "link").unwrap_or("").contains("rel=\"last\""));
    }

    #[test]
    fn per_page_defaults_and_clamps() {
        assert_eq!(per_page(None), 20);
        assert_eq!(per_page(Some("500")), 100);
        assert_eq!(per_page(Some("0")), 1);
        assert_eq!(per_page(Some("x")), 20);
    }

    #[test]
    fn keyset_walks_every_item_once_and_ends_without_next() {
        let items: Vec<(String, u64)> = (1..=5).map(|i| (format!("{:03}", i % 3), i)).collect();
        let mut sorted = items.clone();
        sorted.sort();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let p = keyset_page(
                sorted.clone(),
                |x| x.clone(),
                false,
                cursor.as_deref(),
                2,
                &url(),
            )
            .expect("page");
            seen.extend(p.items.iter().map(|x| x.1));
            match header(&p, "link") {
                Some(l) => {
                    let start = l.find("cursor=").expect("cursor") + 7;
                    let end = l.find('>').expect("end");
                    cursor = Some(l[start..end].to_string());
                    assert!(!l.contains("page=2"));
                }
                None => break,
            }
        }
        assert_eq!(seen, vec![3, 1, 4, 2, 5]);
        assert!(keyset_page(sorted, |x| x.clone(), false, Some("!!"), 2, &url()).is_err());
    }
}
