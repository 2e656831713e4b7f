//! Reading a listing page by page, knowing which kind of pagination GitLab answered with.
//!
//! The sweep asks for keyset pages, but GitLab pages group issue listings by number only, and
//! a GitLab older than keyset support for project issues ignores `pagination=keyset` too. The
//! `gitlab` crate follows either kind of `Link` without saying which; the sweep must know,
//! because a page-number listing shifts when the run's own steps move items out of it.

use super::listing::{IssueListing, PAGE_SIZE};
use crate::forge::ForgeError;
use crate::forge::retry::RetryingClient;
use gitlab::api::{AsyncClient, Endpoint, RestClient};
use serde_json::Value;
use url::Url;

/// How GitLab pages a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `Link rel="next"` with an opaque cursor: a run's own changes cannot shift it.
    Keyset,
    /// `page=N`: items leaving the listing shift the later pages.
    PageNumber,
}

/// One listing's pages, fetched one at a time.
pub struct Pages<'c> {
    client: &'c RetryingClient,
    next: Option<Url>,
    paging: Option<Paging>,
}

impl<'c> Pages<'c> {
    pub fn new(client: &'c RetryingClient, listing: &IssueListing<'_>) -> Result<Self, ForgeError> {
        let mut url = client
            .rest_endpoint(&listing.endpoint())
            .map_err(ForgeError::from)?;
        listing.parameters().add_to_url(&mut url);
        url.query_pairs_mut()
            .append_pair("per_page", &PAGE_SIZE.to_string())
            .append_pair("pagination", "keyset");
        Ok(Pages {
            client,
            next: Some(url),
            paging: None,
        })
    }

    /// The pagination GitLab answered with (known after the first page).
    pub fn paging(&self) -> Option<Paging> {
        self.paging
    }

    /// The next page's items; `None` after the last page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Value>>, ForgeError> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let request = http::Request::builder()
            .method(http::Method::GET)
            .uri(url.as_str());
        let rsp = self
            .client
            .rest_async(request, Vec::new())
            .await
            .map_err(ForgeError::from)?;
        let status = rsp.status();
        if !status.is_success() {
            return Err(ForgeError::from(gitlab::api::ApiError::<
                crate::forge::retry::TransportError,
            >::GitlabService {
                status,
                data: rsp.body().to_vec(),
            }));
        }
        let items: Vec<Value> = serde_json::from_slice(rsp.body()).map_err(|_| {
            ForgeError::Transient(format!(
                "GitLab sent a malformed page ({}, {} bytes; not shown)",
                status.as_u16(),
                rsp.body().len()
            ))
        })?;
        let next = next_link(rsp.headers());
        let page_number = rsp.headers().contains_key("x-page")
            || next
                .as_ref()
                .is_some_and(|u| u.query_pairs().any(|(k, _)| k == "page"));
        if self.paging.is_none() {
            self.paging = Some(if page_number {
                Paging::PageNumber
            } else {
                Paging::Keyset
            });
        }
        self.next = next.filter(|_| !items.is_empty());
        Ok(Some(items))
    }
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &http::HeaderMap) -> Option<Url> {
    headers
        .get_all(http::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find(|part| {
            part.split(';')
                .skip(1)
                .any(|p| p.trim().eq_ignore_ascii_case("rel=\"next\""))
        })
        .and_then(|part| {
            let target = part.split(';').next()?.trim();
            Url::parse(target.strip_prefix('<')?.strip_suffix('>')?).ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link_among_others() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::LINK,
            "<http://g/api/v4/x?page=1>; rel=\"first\", <http://g/api/v4/x?page=2&per_page=100>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).map(|u| u.to_string()),
            Some("http://g/api/v4/x?page=2&per_page=100".to_string())
        );
        h.insert(
            http::header::LINK,
            "<http://g/x?page=1>; rel=\"first\"".parse().unwrap(),
        );
        assert_eq!(next_link(&h), None);
    }
}
