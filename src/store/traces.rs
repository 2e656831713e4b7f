//! Decision traces: one per processed event, bounded by age and count. Also what `explain`
//! and the operator page read: follow-ups due, when a `once` action ran, filtered event lists,
//! the last sweep run. The values are in `trace_types.rs`.

/// The trace queries, shared by both backends: `store_impl!` expands this into an inherent
/// `impl` (`#[async_trait]` cannot see methods a macro makes inside the trait `impl`), and the
/// `Store` methods call these.
macro_rules! trace_methods {
    ($ty:ty, $read:ident, $write:ident) => {
        impl $ty {
        async fn trace_put_sql(&self, t: crate::store::StoredTrace) -> crate::store::StoreResult<()> {
            crate::store::writes::Write::new(
                "INSERT INTO event_traces (event_id, issue_key, issue_ref, outcome, body, recorded_at, workflows)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (event_id) DO UPDATE SET outcome = excluded.outcome,
                     body = excluded.body, recorded_at = excluded.recorded_at,
                     issue_ref = excluded.issue_ref, workflows = excluded.workflows",
            )
            .bind(t.event_id)
            .bind(&t.issue_key)
            .bind(&t.issue_ref)
            .bind(&t.outcome)
            .bind(&t.body)
            .bind(crate::store::rows::to_millis(t.recorded_at))
            .bind(&t.workflows)
            .execute_on(self)
            .await?;
            Ok(())
        }

        async fn trace_get_sql(&self, event_id: i64) -> crate::store::StoreResult<Option<crate::store::StoredTrace>> {
            let row = sqlx::query(
                "SELECT event_id, issue_key, issue_ref, outcome, body, recorded_at, workflows
                 FROM event_traces WHERE event_id = $1",
            )
            .bind(event_id)
            .fetch_optional(&self.$read)
            .await?;
            Ok(row.as_ref().map(crate::store::rows::stored_trace).transpose()?)
        }

        async fn traces_for_issue_sql(
            &self,
            issue_ref: &str,
            newest: i64,
        ) -> crate::store::StoreResult<Vec<crate::store::StoredTrace>> {
            let found = sqlx::query(
                "SELECT event_id, issue_key, issue_ref, outcome, body, recorded_at, workflows
                 FROM event_traces WHERE issue_ref = $1 ORDER BY event_id DESC LIMIT $2",
            )
            .bind(issue_ref)
            .bind(newest.max(0))
            .fetch_all(&self.$read)
            .await?;
            let mut out = found
                .iter()
                .map(crate::store::rows::stored_trace)
                .collect::<Result<Vec<_>, _>>()?;
            out.reverse();
            Ok(out)
        }

        async fn prune_traces_sql(
            &self,
            retention: crate::store::TraceRetention,
            now: chrono::DateTime<chrono::Utc>,
        ) -> crate::store::StoreResult<crate::store::Pruned> {
            let cutoff = crate::store::rows::to_millis(now - retention.max_age);
            let old = crate::store::writes::Write::new("DELETE FROM event_traces WHERE recorded_at < $1")
                .bind(cutoff)
                .execute_on(self)
                .await?
                .rows_affected();
            // Past the count: everything older than the newest `max_count`.
            let over = crate::store::writes::Write::new(
                "DELETE FROM event_traces WHERE event_id <= (
                     SELECT event_id FROM event_traces ORDER BY event_id DESC
                     LIMIT 1 OFFSET $1)",
            )
            .bind(retention.max_count.max(0))
            .execute_on(self)
            .await?
            .rows_affected();
            // A finished plan only answers redeliveries of its change, which come within
            // hours; the retention age is far past that.
            let plans = crate::store::writes::Write::new(
                "DELETE FROM plans WHERE finished_at IS NOT NULL AND finished_at < $1",
            )
            .bind(cutoff)
            .execute_on(self)
            .await?
            .rows_affected();
            Ok(crate::store::Pruned {
                traces: old + over,
                plans,
            })
        }

        async fn ledger_entry_sql(
            &self,
            issue_key: &str,
            key: &str,
        ) -> crate::store::StoreResult<Option<crate::store::LedgerEntry>> {
            let at: Option<i64> = sqlx::query_scalar(
                "SELECT recorded_at FROM action_ledger WHERE key = $1",
            )
            .bind(key)
            .fetch_optional(&self.$read)
            .await?;
            let Some(at) = at else {
                return Ok(None);
            };
            // The plan that held the key names its event. Keys contain no `%` or `_` that
            // matter: a wildcard match there could only find the same plan.
            let event_id: Option<Option<i64>> = sqlx::query_scalar(
                "SELECT event_id FROM plans WHERE issue_key = $1
                 AND actions LIKE '%\"' || $2 || '\"%' ORDER BY created_at LIMIT 1",
            )
            .bind(issue_key)
            .bind(key)
            .fetch_optional(&self.$read)
            .await?;
            Ok(Some(crate::store::LedgerEntry {
                recorded_at: crate::store::rows::from_millis(at)?,
                event_id: event_id.flatten(),
            }))
        }

        async fn list_event_rows_sql(
            &self,
            filter: &crate::store::EventFilter,
            limit: i64,
        ) -> crate::store::StoreResult<Vec<crate::store::EventRow>> {
            // Only the conditions asked for, so each backend can use its indexes: a filter
            // on the record drives the query from `event_traces` (by issue, then newest).
            let mut conditions: Vec<String> = Vec::new();
            let mut binds: Vec<&str> = Vec::new();
            for (sql, value) in [
                ("e.status = ?", filter.status.as_deref()),
                ("t.issue_ref LIKE ? || '#%'", filter.project.as_deref()),
                ("t.issue_ref = ?", filter.issue.as_deref()),
                ("t.workflows LIKE '%,' || ? || ',%'", filter.workflow.as_deref()),
            ] {
                if let Some(v) = value {
                    binds.push(v);
                    conditions.push(sql.replace('?', &format!("${}", binds.len())));
                }
            }
            let by_record =
                filter.project.is_some() || filter.issue.is_some() || filter.workflow.is_some();
            let (from, order) = if by_record {
                (
                    "event_traces t JOIN inbox_events e ON e.id = t.event_id",
                    "t.event_id",
                )
            } else {
                (
                    "inbox_events e LEFT JOIN event_traces t ON t.event_id = e.id",
                    "e.id",
                )
            };
            let filter_sql = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            };
            let sql = format!(
                "SELECT e.id, e.delivery_id, e.event_kind, e.issue_key, e.status, e.attempts,
                        e.last_error, e.received_at, e.updated_at, e.detail,
                        t.issue_ref AS trace_issue_ref, t.body AS trace_body
                 FROM {from} {filter_sql} ORDER BY {order} DESC LIMIT ${}",
                binds.len() + 1
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for b in binds {
                query = query.bind(b);
            }
            let found = query.bind(limit.max(0)).fetch_all(&self.$read).await?;
            let mut out = Vec::with_capacity(found.len());
            for row in &found {
                use sqlx::Row;
                out.push(crate::store::EventRow {
                    event: crate::store::rows::event_record(row)?,
                    issue_ref: row.try_get("trace_issue_ref")?,
                    body: row.try_get("trace_body")?,
                });
            }
            Ok(out)
        }

        async fn sweep_run_put_sql(
            &self,
            report: &str,
            at: chrono::DateTime<chrono::Utc>,
        ) -> crate::store::StoreResult<()> {
            crate::store::writes::Write::new("INSERT INTO sweep_runs (finished_at, report) VALUES ($1, $2)")
                .bind(crate::store::rows::to_millis(at))
                .bind(report)
                .execute_on(self)
                .await?;
            Ok(())
        }

        async fn last_sweep_run_sql(
            &self,
        ) -> crate::store::StoreResult<Option<(chrono::DateTime<chrono::Utc>, String)>> {
            let row: Option<(i64, String)> = sqlx::query_as(
                "SELECT finished_at, report FROM sweep_runs ORDER BY id DESC LIMIT 1",
            )
            .fetch_optional(&self.$read)
            .await?;
            match row {
                Some((at, report)) => Ok(Some((crate::store::rows::from_millis(at)?, report))),
                None => Ok(None),
            }
        }

        async fn followups_for_issue_sql(&self, issue_key: &str) -> crate::store::StoreResult<Vec<crate::store::PendingFollowup>> {
            let found: Vec<(String, i64)> = sqlx::query_as(
                "SELECT payload, due_at FROM followups
                 WHERE issue_key = $1 AND fired_at IS NULL ORDER BY due_at, key",
            )
            .bind(issue_key)
            .fetch_all(&self.$read)
            .await?;
            let mut out = Vec::new();
            for (payload, due) in found {
                let name = serde_json::from_str::<crate::store::FollowupPayload>(&payload)
                    .map(|p| p.followup)
                    .unwrap_or_else(|_| "a follow-up".to_string());
                out.push(crate::store::PendingFollowup {
                    name,
                    due_at: crate::store::rows::from_millis(due)?,
                });
            }
            Ok(out)
        }
        }
    };
}
pub(crate) use trace_methods;
