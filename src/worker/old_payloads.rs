//! Updates from GitLab versions before 8.x come without `changes`: which labels a person
//! added or removed is not in the payload. The worker keeps what it last saw of each issue's
//! labels (every Issue Hook lists them) and diffs against that; when it has never seen the
//! issue, it says plainly that the change could not be known instead of ending a silent `done`.

use crate::domain::{Event, EventKind, label_list};
use crate::store::{DynStore, StoreResult};
use chrono::{DateTime, Utc};

/// Records the labels an Issue Hook lists, and fills in the label changes of an update that
/// came without `changes`. Returns a plain-words note for the event record when the payload's
/// shape needed one.
pub async fn reconcile_labels(
    store: &DynStore,
    event: &mut Event,
    now: DateTime<Utc>,
) -> StoreResult<Option<String>> {
    if matches!(
        event.kind,
        EventKind::Comment { .. } | EventKind::Tick { .. }
    ) {
        return Ok(None);
    }
    let Some(now_labels) = event.labels_now.clone() else {
        return Ok(event.changes_unknown.then(|| {
            "GitLab sent this update without `changes` and without the issue's labels (a \
             GitLab version before 8.x), so which labels changed could not be known; label \
             rules were not run for it"
                .to_string()
        }));
    };
    let key = event.issue.to_string();
    let json = serde_json::to_string(&now_labels).unwrap_or_else(|_| "[]".into());
    if !event.changes_unknown {
        // Nothing to diff: record what GitLab lists now (one write, batched with others; no
        // read first).
        store.snapshot_put(&key, &json, now).await?;
        return Ok(None);
    }
    let seen: Option<Vec<String>> = store
        .snapshot_get(&key)
        .await?
        .and_then(|s| serde_json::from_str(&s).ok());
    if seen.as_ref() != Some(&now_labels) {
        store.snapshot_put(&key, &json, now).await?;
    }
    let Some(seen) = seen else {
        return Ok(Some(
            "GitLab sent this update without `changes` (a GitLab version before 8.x) and \
             labelflow had not seen this issue before, so which labels changed could not be \
             known; label rules were not run for it"
                .to_string(),
        ));
    };
    event.labels_added = now_labels
        .iter()
        .filter(|l| !seen.contains(l))
        .cloned()
        .collect();
    event.labels_removed = seen
        .iter()
        .filter(|l| !now_labels.contains(l))
        .cloned()
        .collect();
    Ok(Some(format!(
        "GitLab sent this update without `changes` (a GitLab version before 8.x); the label \
         changes were worked out from what labelflow last saw of the issue: added {}, removed {}",
        label_list(&event.labels_added),
        label_list(&event.labels_removed)
    )))
}
