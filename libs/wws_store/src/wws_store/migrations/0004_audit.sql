-- Audit projection: one flat, indexed row per event for compliance queries.
CREATE TABLE audit_log (
    position       bigint PRIMARY KEY,
    event_id       uuid        NOT NULL UNIQUE,
    event_type     text        NOT NULL,
    stream_type    text        NOT NULL,
    stream_id      text        NOT NULL,
    workspace_id   uuid,
    org_id         text        NOT NULL,
    actor_type     text        NOT NULL,
    actor_id       text        NOT NULL,
    source_ip      inet,
    host_id        text,
    outcome        text        NOT NULL,
    reason         text,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    correlation_id uuid        NOT NULL,
    summary        text        NOT NULL,
    data           jsonb       NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, position);
CREATE INDEX audit_log_actor ON audit_log (actor_id, position);
CREATE INDEX audit_log_type ON audit_log (event_type, position);
CREATE INDEX audit_log_time ON audit_log (occurred_at);

-- Signed heads of the hash chain (Ed25519 over position || hash).
CREATE TABLE wws_audit_checkpoints (
    position  bigint PRIMARY KEY,
    hash      bytea       NOT NULL,
    signed_at timestamptz NOT NULL,
    key_id    text        NOT NULL,
    signature bytea       NOT NULL
);
