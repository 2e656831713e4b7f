-- labelflow store, SQLite. Timestamps are Unix milliseconds.

-- The webhook inbox and work queue. `id` is the arrival order: events of one issue are
-- processed in `id` order. AUTOINCREMENT so an id is never reused.
CREATE TABLE inbox_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id  TEXT    NOT NULL UNIQUE,
    event_kind   TEXT    NOT NULL,
    issue_key    TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'done', 'parked')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    available_at INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  INTEGER,
    last_error   TEXT,
    received_at  INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Claim scans unfinished events in arrival order; done rows (the vast majority) stay out of it.
CREATE INDEX inbox_unfinished ON inbox_events (id)
    WHERE status IN ('pending', 'running');

-- "Is there an earlier unfinished event of this issue?" (head-of-issue check).
CREATE INDEX inbox_unfinished_by_issue ON inbox_events (issue_key, id)
    WHERE status IN ('pending', 'running');

-- "Is an event of this issue running?" (one holder per issue).
CREATE INDEX inbox_running_by_issue ON inbox_events (issue_key)
    WHERE status = 'running';

-- `events list --status parked` and queue statistics.
CREATE INDEX inbox_by_status ON inbox_events (status, id);

-- Executed actions by idempotency key; the first recorded result wins.
CREATE TABLE action_ledger (
    key         TEXT    PRIMARY KEY,
    issue_key   TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL
);

-- The loop guard counts recent actions per issue.
CREATE INDEX action_ledger_by_issue ON action_ledger (issue_key, recorded_at);

-- Delayed follow-ups; `fired_at` is set when the follow-up was moved into the inbox.
CREATE TABLE followups (
    key        TEXT    PRIMARY KEY,
    issue_key  TEXT    NOT NULL,
    due_at     INTEGER NOT NULL,
    payload    TEXT    NOT NULL,
    fired_at   INTEGER,
    created_at INTEGER NOT NULL
);

CREATE INDEX followups_unfired ON followups (due_at) WHERE fired_at IS NULL;
CREATE INDEX followups_by_due ON followups (due_at, key);
