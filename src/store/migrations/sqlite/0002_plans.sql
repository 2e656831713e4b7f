-- Plans decided once (DESIGN §1.5): the actions one change of one issue planned, stored before
-- the first of them runs, so a retry finishes them instead of planning again from a state the
-- step itself changed. `plan_key` is the change's identity (issue + change), so a second
-- delivery of the same change (a resent webhook under a new id) finds the plan too.
CREATE TABLE plans (
    plan_key    TEXT    PRIMARY KEY,
    issue_key   TEXT    NOT NULL,
    -- `event` (a webhook or follow-up) or `sweep`.
    source      TEXT    NOT NULL,
    -- The inbox event that decided it (NULL for sweeps).
    event_id    INTEGER,
    -- JSON array of planned actions, with their idempotency keys.
    actions     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    -- Set once every action is in the ledger.
    finished_at INTEGER
);

CREATE INDEX plans_unfinished ON plans (source, created_at) WHERE finished_at IS NULL;

-- What labelflow last saw of each issue's labels: an update delivered without `changes`
-- (GitLab before 8.x) is diffed against it.
CREATE TABLE issue_snapshots (
    issue_key TEXT    PRIMARY KEY,
    labels    TEXT    NOT NULL,
    seen_at   INTEGER NOT NULL
);

-- A plain-words note on how an event ended (for example "the change could not be known").
ALTER TABLE inbox_events ADD COLUMN detail TEXT;
