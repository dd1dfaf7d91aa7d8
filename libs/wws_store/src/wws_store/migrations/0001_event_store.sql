-- The record: every change of state, hash-chained, append-only.
CREATE TABLE wws_events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    schema_version  smallint    NOT NULL,
    stream_type     text        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    org_id          text        NOT NULL,
    actor_type      text        NOT NULL,
    actor_id        text        NOT NULL,
    source_ip       inet,
    host_id         text,
    outcome         text        NOT NULL,
    reason          text,
    correlation_id  uuid        NOT NULL,
    causation_id    uuid,
    workspace_id    uuid,
    body            text        NOT NULL,   -- exact canonical envelope bytes (hashed)
    data            jsonb       NOT NULL,   -- query copy of the payload
    nats_stream_seq bigint,
    prev_hash       bytea       NOT NULL,
    hash            bytea       NOT NULL,   -- sha256(prev_hash || body)
    UNIQUE (stream_id, stream_version)
);
CREATE INDEX wws_events_tx ON wws_events (tx_id, global_position);
CREATE INDEX wws_events_stream_type ON wws_events (stream_type, global_position);
CREATE INDEX wws_events_org_time ON wws_events (org_id, recorded_at);
CREATE INDEX wws_events_workspace ON wws_events (workspace_id, global_position) WHERE workspace_id IS NOT NULL;

CREATE FUNCTION wws_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'wws_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER wws_events_no_update_delete BEFORE UPDATE OR DELETE ON wws_events
    FOR EACH ROW EXECUTE FUNCTION wws_events_refuse_change();
CREATE TRIGGER wws_events_no_truncate BEFORE TRUNCATE ON wws_events
    FOR EACH STATEMENT EXECUTE FUNCTION wws_events_refuse_change();

-- Transactional outbox: commands for host agents, written in the same transaction as
-- the events that decided them; the relay publishes and marks them.
CREATE TABLE wws_commands (
    position     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    command_id   uuid        NOT NULL UNIQUE,   -- = Nats-Msg-Id
    command_type text        NOT NULL,
    workspace_id uuid        NOT NULL,
    host_id      text        NOT NULL,
    subject      text        NOT NULL,
    body         text        NOT NULL,
    traceparent  text,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    deadline     timestamptz NOT NULL,
    published_at timestamptz,
    publish_seq  bigint,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text
);
CREATE INDEX wws_commands_pending ON wws_commands (position) WHERE published_at IS NULL;
CREATE INDEX wws_commands_workspace ON wws_commands (workspace_id, position);

-- Where each projection has got to; updated in the same transaction as its tables.
CREATE TABLE wws_checkpoints (
    name       text PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Events the recorder could not decode; kept, never dropped.
CREATE TABLE wws_dead_letters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    subject     text        NOT NULL,
    stream_seq  bigint,
    payload     bytea       NOT NULL,
    error       text        NOT NULL
);

-- Command-side uniqueness of names among live workspaces (not a projection: it is
-- written in the deciding transaction so two creates cannot both take a name).
CREATE TABLE wws_workspace_names (
    org_id       text NOT NULL,
    name         text NOT NULL,
    workspace_id uuid NOT NULL UNIQUE,
    PRIMARY KEY (org_id, name)
);

-- Idempotency-Key replay store: same key + same request -> same answer.
CREATE TABLE wws_idempotency (
    actor_id     text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status       integer     NOT NULL,
    response     bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (actor_id, key)
);
