-- Keys the API signs gateway tokens with (shared by every API replica; the public halves
-- are published to the hosts through NATS KV). The newest is used; older ones verify
-- until they are removed.
CREATE TABLE wws_signing_keys (
    kid         text PRIMARY KEY,
    private_pem text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Shared ports (projection of workspace.port_* events): looked up on every shared request.
CREATE TABLE api_shares (
    share_id     text PRIMARY KEY,
    workspace_id uuid        NOT NULL,
    org_id       text        NOT NULL,
    owner_id     text        NOT NULL,
    port         integer     NOT NULL,
    level        text        NOT NULL,
    expires_at   timestamptz NOT NULL,
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX api_shares_workspace ON api_shares (workspace_id);
CREATE INDEX api_shares_expiry ON api_shares (expires_at);

-- Running intervals per workspace, for usage totals (workspace-hours, CPU-hours).
CREATE TABLE usage_intervals (
    workspace_id uuid             NOT NULL,
    org_id       text             NOT NULL,
    owner_id     text             NOT NULL,
    cpu          double precision NOT NULL,
    started_at   timestamptz      NOT NULL,
    ended_at     timestamptz,
    PRIMARY KEY (workspace_id, started_at)
);
CREATE INDEX usage_intervals_org ON usage_intervals (org_id, started_at);

-- The reaper warns before it stops: which idle period (identified by when it began) was
-- already warned about.
ALTER TABLE reaper_workspaces ADD COLUMN warned_for timestamptz;
