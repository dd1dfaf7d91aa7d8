-- API read model: a projection of the log (rebuildable, compared with a replay in tests).
CREATE TABLE api_workspaces (
    workspace_id      uuid PRIMARY KEY,
    org_id            text             NOT NULL,
    name              text             NOT NULL,
    owner_id          text             NOT NULL,
    status            text             NOT NULL,
    host_id           text,
    image             text             NOT NULL,
    template          text,
    cpu               double precision NOT NULL,
    memory_mb         integer          NOT NULL,
    disk_gb           integer          NOT NULL,
    generation        integer          NOT NULL,
    version           bigint           NOT NULL,
    container_id      text,
    last_command_id   uuid,
    last_operation    text,
    last_error        jsonb,
    created_at        timestamptz      NOT NULL,
    updated_at        timestamptz      NOT NULL,
    status_changed_at timestamptz      NOT NULL,
    last_activity_at  timestamptz,
    position          bigint           NOT NULL,
    state             jsonb            NOT NULL
);
CREATE INDEX api_workspaces_org ON api_workspaces (org_id, created_at);
CREATE INDEX api_workspaces_host ON api_workspaces (host_id) WHERE status <> 'deleted';

CREATE TABLE api_hosts (
    host_id        text PRIMARY KEY,
    status         text        NOT NULL,
    agent_version  text        NOT NULL,
    runtime        text        NOT NULL,
    capacity       jsonb       NOT NULL,
    address        text,
    registered_at  timestamptz NOT NULL,
    lost_at        timestamptz,
    orphans_removed integer    NOT NULL DEFAULT 0,
    position       bigint      NOT NULL
);
