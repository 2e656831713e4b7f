//! The store contract, run against both backends: every case below runs once on SQLite (a
//! temp file) and once on PostgreSQL (a fresh database, when LABELFLOW_TEST_POSTGRES_URL is
//! set; otherwise the PostgreSQL half prints a loud SKIPPED line and passes).

#[path = "store/concurrency.rs"]
mod concurrency;
#[path = "store/followups.rs"]
mod followups;
#[path = "store/harness.rs"]
mod harness;
#[path = "store/holds.rs"]
mod holds;
#[path = "store/ledger.rs"]
mod ledger;
#[path = "store/plans.rs"]
mod plans;
#[path = "store/postgres_only.rs"]
mod postgres_only;
#[path = "store/queue.rs"]
mod queue;
#[path = "store/sqlite_only.rs"]
mod sqlite_only;
#[path = "store/traces.rs"]
mod traces;

/// Expands each case into `sqlite::<case>` and `postgres::<case>` tests.
macro_rules! on_both_backends {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::harness::with_sqlite(crate::$module::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::harness::with_postgres(crate::$module::$case).await;
                }
            )*
        }
    };
}

on_both_backends!(
    queue::enqueue_detects_duplicates,
    queue::claims_follow_arrival_order_within_an_issue,
    queue::different_issues_are_claimed_in_parallel,
    queue::retry_wait_blocks_the_issue_and_keeps_the_head,
    queue::expired_lease_is_taken_over_and_the_old_holder_loses,
    queue::parked_events_do_not_block_later_ones,
    queue::retry_parked_requeues_without_a_second_holder,
    queue::release_leases_returns_a_workers_events,
    queue::list_and_get_events,
    queue::queue_stats_count_each_status,
    queue::data_survives_closing_and_reopening,
    queue::migrations_apply_once_even_when_replicas_start_together,
    ledger::ledger_keeps_the_first_result,
    ledger::actions_since_counts_one_issue_in_a_window,
    followups::followups_are_scheduled_and_promoted_once,
    followups::promoted_followup_is_claimable_as_a_followup_event,
    followups::concurrent_promoters_fire_each_followup_once,
    concurrency::concurrent_claimers_keep_one_holder_per_issue,
    concurrency::claim_stays_fast_with_a_large_history,
    holds::holds_and_claims_exclude_each_other,
    holds::a_dead_sweeps_hold_expires,
    holds::of_many_sweeps_at_once_one_holds,
    plans::a_plan_is_stored_once_and_replaced_only_while_unfinished,
    plans::unfinished_plans_are_listed_by_source_oldest_first,
    plans::snapshots_keep_the_last_labels_seen,
    plans::a_finished_event_keeps_its_detail_and_its_earlier_failure,
    traces::traces_are_kept_per_event_and_read_per_issue,
    traces::traces_are_pruned_by_age_and_count_with_old_finished_plans,
    traces::explain_reads_followups_and_when_a_key_was_recorded,
    traces::the_operator_pages_filters_find_events_by_their_records,
);
