-- Snapshots of folded aggregate state, so deciding a command reads only the events after
-- the snapshot. Derived data: deleting every row only makes loads slower.
CREATE TABLE wws_snapshots (
    stream_id      text PRIMARY KEY,
    stream_version bigint      NOT NULL,
    state_schema   integer     NOT NULL,
    state          text        NOT NULL,
    taken_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
