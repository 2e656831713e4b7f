-- The decision trace of each processed event: why labelflow acted, or did not, and what its
-- actions created. Kept for a bounded time and count (`serve --trace-retention-days`,
-- `--trace-retention-max`), pruned in the background together with finished plans.
CREATE TABLE event_traces (
    event_id    INTEGER PRIMARY KEY,
    issue_key   TEXT    NOT NULL,
    -- `group/project#iid`, as people name the issue (`events list --issue`).
    issue_ref   TEXT    NOT NULL,
    -- done, ignored, retry or parked.
    outcome     TEXT    NOT NULL,
    -- `,cocreate,mdf,`: the workflows whose rules acted (the operator page filters by it).
    workflows   TEXT    NOT NULL DEFAULT '',
    -- JSON: the planner's trace plus the actions taken and their results.
    body        TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL
);

CREATE INDEX event_traces_by_issue ON event_traces (issue_ref, event_id);
CREATE INDEX event_traces_by_time ON event_traces (recorded_at);
CREATE INDEX plans_finished ON plans (finished_at) WHERE finished_at IS NOT NULL;

-- What each `labelflow sweep` run did (the operator page shows the last one).
CREATE TABLE sweep_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    finished_at INTEGER NOT NULL,
    -- JSON: the run's report.
    report      TEXT    NOT NULL
);
