-- Reaper projection: when each workspace last showed a sign of work.
CREATE TABLE reaper_workspaces (
    workspace_id     uuid PRIMARY KEY,
    org_id           text        NOT NULL,
    status           text        NOT NULL,
    last_activity_at timestamptz NOT NULL,
    last_signal      text        NOT NULL,
    running_since    timestamptz,
    position         bigint      NOT NULL,
    state            jsonb       NOT NULL
);
CREATE INDEX reaper_workspaces_running ON reaper_workspaces (last_activity_at) WHERE status = 'running';
