//! The store queries both backends run alike, written once. SQLite and PostgreSQL read the
//! same SQL (`$N` placeholders, `ON CONFLICT`, `COALESCE`, `||`); only what really differs
//! between the dialects (migrations, the group-committed append, the ordering claim with
//! `SKIP LOCKED` or `BEGIN IMMEDIATE`, follow-up promotion, holds) is written per backend.
//!
//! A macro rather than generic functions: sqlx's executors are typed per database, and the
//! trait bounds a generic query needs for every bound type would be longer than the queries.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// `impl Store for $ty`: the shared queries, then the backend's own methods (`$own`).
/// `$read` / `$write` name the pools for reads and writes; `$db` / `$args` are sqlx's
/// database and argument types; `$migrations` the backend's migration list.
macro_rules! store_impl {
    (
        $ty:ty,
        read: $read:ident,
        write: $write:ident,
        db: $db:ty,
        args: $args:ty,
        migrations: $migrations:expr,
        hold: $hold:path,
        dialect: $dialect:literal,
        { $($own:tt)* }
    ) => {
        impl $ty {
            /// Runs a statement that changes a claimed event (its `WHERE` requires the row to
            /// be running under the caller's worker id): `LeaseLost` when it matched nothing.
            async fn expect_leased(
                &self,
                id: i64,
                statement: crate::store::writes::Write,
            ) -> StoreResult<()> {
                let result = statement.execute_on(self).await?;
                if result.rows_affected() == 1 {
                    Ok(())
                } else {
                    Err(StoreError::LeaseLost(id))
                }
            }
        }

        crate::store::traces::trace_methods!($ty, $read, $write);

        #[async_trait::async_trait]
        impl Store for $ty {
            $($own)*

            async fn trace_put(&self, trace: StoredTrace) -> StoreResult<()> {
                self.trace_put_sql(trace).await
            }

            async fn trace_get(&self, event_id: i64) -> StoreResult<Option<StoredTrace>> {
                self.trace_get_sql(event_id).await
            }

            async fn traces_for_issue(
                &self,
                issue_ref: &str,
                newest: i64,
            ) -> StoreResult<Vec<StoredTrace>> {
                self.traces_for_issue_sql(issue_ref, newest).await
            }

            async fn prune_traces(
                &self,
                retention: TraceRetention,
                now: DateTime<Utc>,
            ) -> StoreResult<Pruned> {
                self.prune_traces_sql(retention, now).await
            }

            async fn ledger_entry(
                &self,
                issue_key: &str,
                key: &str,
            ) -> StoreResult<Option<LedgerEntry>> {
                self.ledger_entry_sql(issue_key, key).await
            }

            async fn list_event_rows(
                &self,
                filter: &EventFilter,
                limit: i64,
            ) -> StoreResult<Vec<EventRow>> {
                self.list_event_rows_sql(filter, limit).await
            }

            async fn sweep_run_put(&self, report: &str, at: DateTime<Utc>) -> StoreResult<()> {
                self.sweep_run_put_sql(report, at).await
            }

            async fn last_sweep_run(&self) -> StoreResult<Option<(DateTime<Utc>, String)>> {
                self.last_sweep_run_sql().await
            }

            async fn followups_for_issue(
                &self,
                issue_key: &str,
            ) -> StoreResult<Vec<PendingFollowup>> {
                self.followups_for_issue_sql(issue_key).await
            }

            async fn claim(
                &self,
                worker_id: &str,
                lease: Duration,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<ClaimedEvent>> {
                self.claim_next(ClaimRequest {
                    worker_id,
                    lease,
                    now,
                })
                .await
            }

            async fn hold_issue(
                &self,
                issue_key: &str,
                holder: &str,
                lease: Duration,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<i64>> {
                $hold(&self.$write, issue_key, holder, lease, now).await
            }

            async fn migrate(&self) -> StoreResult<()> {
                let mut tx = self.begin_migration().await?;
                sqlx::query(CREATE_MIGRATIONS_TABLE)
                    .execute(&mut *tx)
                    .await?;
                let applied: Vec<i64> =
                    sqlx::query_scalar("SELECT version FROM labelflow_schema_migrations")
                        .fetch_all(&mut *tx)
                        .await?;
                for migration in $migrations {
                    if applied.contains(&migration.version) {
                        continue;
                    }
                    sqlx::raw_sql(AssertSqlSafe(migration.sql))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| {
                            StoreError::Migration(format!(
                                "{} migration {} ({}): {e}",
                                $dialect, migration.version, migration.name
                            ))
                        })?;
                    sqlx::query(
                        "INSERT INTO labelflow_schema_migrations (version, name, applied_at)
                         VALUES ($1, $2, $3)",
                    )
                    .bind(migration.version)
                    .bind(migration.name)
                    .bind(to_millis(Utc::now()))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }
            async fn ready(&self) -> StoreResult<()> {
                let version: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(version) FROM labelflow_schema_migrations")
                        .fetch_one(&self.$read)
                        .await?;
                let expected = migrations::latest($migrations);
                match version {
                    Some(v) if v >= expected => Ok(()),
                    found => Err(StoreError::Migration(format!(
                        "schema version {} is behind {expected}: migrations not applied",
                        found.unwrap_or(0)
                    ))),
                }
            }

            async fn complete(&self, id: i64, worker_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
                let statement = crate::store::writes::Write::new(
                    "UPDATE inbox_events
                     SET status = 'done', lease_owner = NULL, lease_until = NULL,
                         detail = CASE WHEN last_error IS NULL THEN detail
                             ELSE COALESCE(detail || '; ', '') || 'an earlier try failed: ' || last_error
                             END,
                         last_error = NULL,
                         updated_at = $3
                     WHERE id = $1 AND status = 'running' AND lease_owner = $2",
                )
                .bind(id)
                .bind(worker_id)
                .bind(to_millis(now));
                self.expect_leased(id, statement).await
            }

            async fn retry_later(
                &self,
                id: i64,
                worker_id: &str,
                retry_at: DateTime<Utc>,
                error: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let statement = crate::store::writes::Write::new(
                    "UPDATE inbox_events
                     SET status = 'pending', lease_owner = NULL, lease_until = NULL,
                         available_at = $4, last_error = $5, updated_at = $3
                     WHERE id = $1 AND status = 'running' AND lease_owner = $2",
                )
                .bind(id)
                .bind(worker_id)
                .bind(to_millis(now))
                .bind(to_millis(retry_at))
                .bind(error);
                self.expect_leased(id, statement).await
            }

            async fn park(
                &self,
                id: i64,
                worker_id: &str,
                reason: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let statement = crate::store::writes::Write::new(
                    "UPDATE inbox_events
                     SET status = 'parked', lease_owner = NULL, lease_until = NULL,
                         last_error = $4, updated_at = $3
                     WHERE id = $1 AND status = 'running' AND lease_owner = $2",
                )
                .bind(id)
                .bind(worker_id)
                .bind(to_millis(now))
                .bind(reason);
                self.expect_leased(id, statement).await
            }

            async fn release_leases(&self, worker_id: &str, now: DateTime<Utc>) -> StoreResult<u64> {
                // The interrupted attempt stays counted: it may have done part of its work unrecorded,
                // so the next attempt (attempts > 1) checks for the bot's markers before creating.
                let result = crate::store::writes::Write::new(
                    "UPDATE inbox_events
                     SET status = 'pending', lease_owner = NULL, lease_until = NULL,
                         available_at = $2, updated_at = $2
                     WHERE status = 'running' AND lease_owner = $1",
                )
                .bind(worker_id)
                .bind(to_millis(now))
                .execute_on(self)
                .await?;
                Ok(result.rows_affected())
            }

            async fn list_events(
                &self,
                status: Option<EventStatus>,
                limit: i64,
            ) -> StoreResult<Vec<EventRecord>> {
                let limit = limit.max(0);
                let found = match status {
                    Some(status) => {
                        sqlx::query(AssertSqlSafe(format!(
                            "SELECT {RECORD_COLUMNS} FROM inbox_events
                             WHERE status = $1 ORDER BY id DESC LIMIT $2"
                        )))
                        .bind(status.as_str())
                        .bind(limit)
                        .fetch_all(&self.$read)
                        .await?
                    }
                    None => {
                        sqlx::query(AssertSqlSafe(format!(
                            "SELECT {RECORD_COLUMNS} FROM inbox_events ORDER BY id DESC LIMIT $1"
                        )))
                        .bind(limit)
                        .fetch_all(&self.$read)
                        .await?
                    }
                };
                Ok(found
                    .iter()
                    .map(rows::event_record)
                    .collect::<Result<_, _>>()?)
            }

            async fn get_event(&self, id: i64) -> StoreResult<Option<EventRecord>> {
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {RECORD_COLUMNS} FROM inbox_events WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&self.$read)
                .await?;
                Ok(row.as_ref().map(rows::event_record).transpose()?)
            }

            async fn retry_parked(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
                let result = crate::store::writes::Write::new(
                    "UPDATE inbox_events
                     SET status = 'pending', attempts = 0, available_at = $2, updated_at = $2
                     WHERE id = $1 AND status = 'parked'",
                )
                .bind(id)
                .bind(to_millis(now))
                .execute_on(self)
                .await?;
                Ok(result.rows_affected() == 1)
            }

            async fn queue_stats(&self) -> StoreResult<QueueStats> {
                let counts: Vec<(String, i64)> =
                    sqlx::query_as("SELECT status, COUNT(*) FROM inbox_events GROUP BY status")
                        .fetch_all(&self.$read)
                        .await?;
                let oldest: Option<i64> = sqlx::query_scalar(
                    "SELECT MIN(received_at) FROM inbox_events WHERE status = 'pending'",
                )
                .fetch_one(&self.$read)
                .await?;
                Ok(rows::queue_stats(counts, oldest)?)
            }

            async fn ledger_get(&self, key: &str) -> StoreResult<Option<String>> {
                Ok(
                    sqlx::query_scalar("SELECT result FROM action_ledger WHERE key = $1")
                        .bind(key)
                        .fetch_optional(&self.$read)
                        .await?,
                )
            }

            async fn ledger_put(
                &self,
                key: &str,
                issue_key: &str,
                result: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                crate::store::writes::Write::new(
                    "INSERT INTO action_ledger (key, issue_key, result, recorded_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(issue_key)
                .bind(result)
                .bind(to_millis(now))
                .execute_on(self)
                .await?;
                Ok(())
            }

            async fn actions_since(&self, issue_key: &str, since: DateTime<Utc>) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT COUNT(*) FROM action_ledger WHERE issue_key = $1 AND recorded_at >= $2",
                )
                .bind(issue_key)
                .bind(to_millis(since))
                .fetch_one(&self.$read)
                .await?)
            }

            async fn schedule_followup(&self, followup: NewFollowup) -> StoreResult<bool> {
                let result = crate::store::writes::Write::new(
                    "INSERT INTO followups (key, issue_key, due_at, payload, fired_at, created_at)
                     VALUES ($1, $2, $3, $4, NULL, $5)
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(&followup.key)
                .bind(&followup.issue_key)
                .bind(to_millis(followup.due_at))
                .bind(serde_json::to_string(&followup.payload).expect("a follow-up payload always serialises"))
                .bind(to_millis(Utc::now()))
                .execute_on(self)
                .await?;
                Ok(result.rows_affected() == 1)
            }

            async fn list_followups(&self, limit: i64) -> StoreResult<Vec<FollowupRecord>> {
                let found = sqlx::query(
                    "SELECT key, issue_key, due_at, fired_at, payload FROM followups
                     ORDER BY due_at, key LIMIT $1",
                )
                .bind(limit.max(0))
                .fetch_all(&self.$read)
                .await?;
                Ok(found
                    .iter()
                    .map(rows::followup_record)
                    .collect::<Result<_, _>>()?)
            }

            async fn plan_get(&self, plan_key: &str) -> StoreResult<Option<StoredPlan>> {
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {PLAN_COLUMNS} FROM plans WHERE plan_key = $1"
                )))
                .bind(plan_key)
                .fetch_optional(&self.$read)
                .await?;
                Ok(row.as_ref().map(rows::stored_plan).transpose()?)
            }

            async fn plan_put(&self, plan: NewPlan, now: DateTime<Utc>) -> StoreResult<bool> {
                let result = crate::store::writes::Write::new(
                    "INSERT INTO plans (plan_key, issue_key, source, event_id, actions, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (plan_key) DO NOTHING",
                )
                .bind(&plan.plan_key)
                .bind(&plan.issue_key)
                .bind(plan.source.as_str())
                .bind(plan.event_id)
                .bind(&plan.actions)
                .bind(to_millis(now))
                .execute_on(self)
                .await?;
                Ok(result.rows_affected() == 1)
            }

            async fn plan_replace(
                &self,
                plan_key: &str,
                actions: &str,
                event_id: Option<i64>,
                now: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let result = crate::store::writes::Write::new(
                    "UPDATE plans SET actions = $2, event_id = $3, created_at = $4
                     WHERE plan_key = $1 AND finished_at IS NULL",
                )
                .bind(plan_key)
                .bind(actions)
                .bind(event_id)
                .bind(to_millis(now))
                .execute_on(self)
                .await?;
                Ok(result.rows_affected() == 1)
            }

            async fn plan_finish(&self, plan_key: &str, now: DateTime<Utc>) -> StoreResult<()> {
                crate::store::writes::Write::new(
                    "UPDATE plans SET finished_at = $2 WHERE plan_key = $1 AND finished_at IS NULL",
                )
                .bind(plan_key)
                .bind(to_millis(now))
                .execute_on(self)
                .await?;
                Ok(())
            }

            async fn unfinished_plans(
                &self,
                source: PlanSource,
                limit: i64,
            ) -> StoreResult<Vec<StoredPlan>> {
                let found = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {PLAN_COLUMNS} FROM plans
                     WHERE source = $1 AND finished_at IS NULL
                     ORDER BY created_at, plan_key LIMIT $2"
                )))
                .bind(source.as_str())
                .bind(limit.max(0))
                .fetch_all(&self.$read)
                .await?;
                Ok(found
                    .iter()
                    .map(rows::stored_plan)
                    .collect::<Result<_, _>>()?)
            }

            async fn snapshot_get(&self, issue_key: &str) -> StoreResult<Option<String>> {
                Ok(
                    sqlx::query_scalar("SELECT labels FROM issue_snapshots WHERE issue_key = $1")
                        .bind(issue_key)
                        .fetch_optional(&self.$read)
                        .await?,
                )
            }

            async fn snapshot_put(
                &self,
                issue_key: &str,
                labels: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                crate::store::writes::Write::new(
                    "INSERT INTO issue_snapshots (issue_key, labels, seen_at) VALUES ($1, $2, $3)
                     ON CONFLICT (issue_key) DO UPDATE SET labels = excluded.labels, seen_at = excluded.seen_at",
                )
                .bind(issue_key)
                .bind(labels)
                .bind(to_millis(now))
                .execute_on(self)
                .await?;
                Ok(())
            }

            async fn set_event_detail(&self, id: i64, detail: &str) -> StoreResult<()> {
                crate::store::writes::Write::new("UPDATE inbox_events SET detail = $2 WHERE id = $1")
                    .bind(id)
                    .bind(detail)
                    .execute_on(self)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use store_impl;

/// What a claim asks for (one argument, so each backend's half reads as one line).
pub(crate) struct ClaimRequest<'a> {
    pub worker_id: &'a str,
    pub lease: Duration,
    pub now: DateTime<Utc>,
}

/// The ordering rule of a claim, written once for both backends: event `e` may be claimed at
/// `$1` (now, in ms) if its lease ran out, or if it is pending, due, the oldest unfinished
/// event of its issue, and no event of its issue is running.
macro_rules! claimable_sql {
    () => {
        "e.status IN ('pending', 'running')
          AND CASE WHEN e.status = 'running' THEN e.lease_until <= $1
              ELSE e.available_at <= $1
                AND NOT EXISTS (
                    SELECT 1 FROM inbox_events p
                    WHERE p.issue_key = e.issue_key
                      AND p.status IN ('pending', 'running')
                      AND p.id < e.id)
                AND NOT EXISTS (
                    SELECT 1 FROM inbox_events r
                    WHERE r.issue_key = e.issue_key AND r.status = 'running')
              END"
    };
}

pub(crate) use claimable_sql;

/// Appends one delivery through `$executor` (a pool or a connection; named twice: the insert,
/// then the lookup of a duplicate's id). A new event is available at once (`available_at` 0),
/// whatever the clock skew between the replica that received it and the one that claims it.
macro_rules! insert_event {
    ($executor:expr, $event:expr) => {{
        let event: &NewInboxEvent = $event;
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO inbox_events
                 (delivery_id, event_kind, issue_key, payload, status, attempts,
                  available_at, received_at, updated_at)
             VALUES ($1, $2, $3, $4, 'pending', 0, 0, $5, $5)
             ON CONFLICT (delivery_id) DO NOTHING
             RETURNING id",
        )
        .bind(&event.delivery_id)
        .bind(&event.event_kind)
        .bind(&event.issue_key)
        .bind(&event.payload)
        .bind(to_millis(event.received_at))
        .fetch_optional($executor)
        .await?;
        match inserted {
            Some(id) => EnqueueOutcome::Accepted(id),
            None => EnqueueOutcome::Duplicate(
                sqlx::query_scalar("SELECT id FROM inbox_events WHERE delivery_id = $1")
                    .bind(&event.delivery_id)
                    .fetch_one($executor)
                    .await?,
            ),
        }
    }};
}

pub(crate) use insert_event;
