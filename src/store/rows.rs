//! Conversions shared by both backends: timestamps (Unix milliseconds in the database) and the
//! decoding of rows into the store's record types. The column lists are the same on both
//! backends, so the decoding is written once, generic over the row type.

use super::{ClaimedEvent, EventRecord, EventStatus, FollowupRecord, StoredPlan};
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Row, Type};
use std::time::Duration;

pub(crate) fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stored timestamp back as a `DateTime`; out-of-range values are reported, not clamped.
pub(crate) fn from_millis(ms: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| sqlx::Error::Decode(format!("timestamp {ms} ms is out of range").into()))
}

/// `now + lease` in milliseconds, saturating (a huge lease must not wrap into the past).
pub(crate) fn lease_until_millis(now: DateTime<Utc>, lease: Duration) -> i64 {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    to_millis(now).saturating_add(lease_ms)
}

fn status(s: &str) -> Result<EventStatus, sqlx::Error> {
    EventStatus::parse(s)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown event status `{s}`").into()))
}

pub(crate) fn claimed_event<'r, R>(row: &'r R) -> Result<ClaimedEvent, sqlx::Error>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(ClaimedEvent {
        id: row.try_get("id")?,
        delivery_id: row.try_get("delivery_id")?,
        event_kind: row.try_get("event_kind")?,
        issue_key: row.try_get("issue_key")?,
        payload: row.try_get("payload")?,
        attempts: row.try_get("attempts")?,
        received_at: from_millis(row.try_get("received_at")?)?,
    })
}

/// Columns `event_record` reads.
pub(crate) const RECORD_COLUMNS: &str = "id, delivery_id, event_kind, issue_key, status, attempts, \
     last_error, received_at, updated_at, detail";

pub(crate) fn event_record<'r, R>(row: &'r R) -> Result<EventRecord, sqlx::Error>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let status_text: String = row.try_get("status")?;
    Ok(EventRecord {
        id: row.try_get("id")?,
        delivery_id: row.try_get("delivery_id")?,
        event_kind: row.try_get("event_kind")?,
        issue_key: row.try_get("issue_key")?,
        status: status(&status_text)?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get::<Option<String>, _>("last_error")?,
        received_at: from_millis(row.try_get("received_at")?)?,
        updated_at: from_millis(row.try_get("updated_at")?)?,
        detail: row.try_get::<Option<String>, _>("detail")?,
    })
}

/// Columns `stored_plan` reads.
pub(crate) const PLAN_COLUMNS: &str =
    "plan_key, issue_key, event_id, actions, created_at, finished_at";

pub(crate) fn stored_plan<'r, R>(row: &'r R) -> Result<StoredPlan, sqlx::Error>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(StoredPlan {
        plan_key: row.try_get("plan_key")?,
        issue_key: row.try_get("issue_key")?,
        event_id: row.try_get::<Option<i64>, _>("event_id")?,
        actions: row.try_get("actions")?,
        created_at: from_millis(row.try_get("created_at")?)?,
        finished: row.try_get::<Option<i64>, _>("finished_at")?.is_some(),
    })
}

pub(crate) fn followup_record<'r, R>(row: &'r R) -> Result<FollowupRecord, sqlx::Error>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let payload: String = row.try_get("payload")?;
    let payload = serde_json::from_str::<super::FollowupPayload>(&payload).ok();
    let issue_key: String = row.try_get("issue_key")?;
    Ok(FollowupRecord {
        key: row.try_get("key")?,
        name: payload
            .as_ref()
            .map_or_else(|| "(unreadable)".to_string(), |p| p.followup.clone()),
        issue_ref: payload
            .as_ref()
            .filter(|p| !p.project_path.is_empty())
            .map_or_else(
                || issue_key.clone(),
                |p| format!("{}#{}", p.project_path, p.iid),
            ),
        issue_key,
        due_at: from_millis(row.try_get("due_at")?)?,
        fired: row.try_get::<Option<i64>, _>("fired_at")?.is_some(),
    })
}

/// Fills `QueueStats` from `(status, count)` pairs.
pub(crate) fn queue_stats(
    counts: Vec<(String, i64)>,
    oldest_pending_ms: Option<i64>,
) -> Result<super::QueueStats, sqlx::Error> {
    let mut stats = super::QueueStats {
        oldest_pending_received_at: oldest_pending_ms.map(from_millis).transpose()?,
        ..Default::default()
    };
    for (status_text, count) in counts {
        match status(&status_text)? {
            EventStatus::Pending => stats.pending = count,
            EventStatus::Running => stats.running = count,
            EventStatus::Done => stats.done = count,
            EventStatus::Parked => stats.parked = count,
        }
    }
    Ok(stats)
}

pub(crate) fn stored_trace<'r, R>(
    row: &'r R,
) -> Result<super::trace_types::StoredTrace, sqlx::Error>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(super::trace_types::StoredTrace {
        event_id: row.try_get("event_id")?,
        issue_key: row.try_get("issue_key")?,
        issue_ref: row.try_get("issue_ref")?,
        outcome: row.try_get("outcome")?,
        body: row.try_get("body")?,
        recorded_at: from_millis(row.try_get("recorded_at")?)?,
        workflows: row.try_get("workflows")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_trip_and_range_errors() {
        let t = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        assert_eq!(to_millis(t), 1_700_000_000_123);
        assert_eq!(from_millis(1_700_000_000_123).unwrap(), t);
        assert!(from_millis(i64::MAX).is_err());
    }

    #[test]
    fn lease_saturates_instead_of_wrapping() {
        let t = DateTime::from_timestamp_millis(1_000).unwrap();
        assert_eq!(lease_until_millis(t, Duration::from_secs(2)), 3_000);
        assert_eq!(lease_until_millis(t, Duration::MAX), i64::MAX);
    }
}
