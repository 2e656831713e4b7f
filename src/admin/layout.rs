//! The frame every operator page shares, and the Retry button.

use super::state::AdminState;
use maud::{DOCTYPE, Markup, html};

pub(super) fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · labelflow" }
                link rel="stylesheet" href="/assets/style.css";
            }
            body {
                nav {
                    strong { "labelflow" }
                    a href="/events" { "Events" }
                    a href="/parked" { "Parked" }
                    a href="/followups" { "Follow-ups and sweeps" }
                    a href="/workflows" { "Workflows" }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A Retry button for a parked event.
pub(super) fn retry_button(s: &AdminState, id: i64) -> Markup {
    html! {
        form.retry method="post" action={ "/events/" (id) "/retry" } {
            input type="hidden" name="csrf" value=(s.access.csrf());
            button type="submit" { "Retry" }
        }
    }
}
