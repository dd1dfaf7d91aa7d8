-- Identity and tenancy.
--
-- id_* tables are the "identity" projection of user.*, org.* events (rebuildable from
-- the log). auth_* tables hold what must never be in the log: token and session hashes,
-- login state. Both are written in the transaction that appends the matching event.

CREATE TABLE id_users (
    user_id        text PRIMARY KEY,
    login          text        NOT NULL,
    name           text        NOT NULL DEFAULT '',
    email          text,
    instance_admin boolean     NOT NULL DEFAULT false,
    suspended      boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX id_users_login ON id_users (lower(login));

CREATE TABLE id_identities (
    provider       text    NOT NULL,
    subject        text    NOT NULL,
    user_id        text    NOT NULL,
    login          text,
    email          text,
    email_verified boolean NOT NULL DEFAULT false,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX id_identities_user ON id_identities (user_id);

CREATE TABLE id_orgs (
    org_id       text PRIMARY KEY,
    name         text        NOT NULL UNIQUE,
    display_name text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL
);

CREATE TABLE id_members (
    org_id    text        NOT NULL,
    user_id   text        NOT NULL,
    role      text        NOT NULL,
    joined_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX id_members_user ON id_members (user_id);

CREATE TABLE id_teams (
    team_id   text PRIMARY KEY,
    org_id    text NOT NULL,
    name      text NOT NULL,
    idp_group text,
    UNIQUE (org_id, name)
);

CREATE TABLE id_team_members (
    team_id text NOT NULL,
    user_id text NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX id_team_members_user ON id_team_members (user_id);

CREATE TABLE id_invitations (
    invitation_id text PRIMARY KEY,
    org_id        text        NOT NULL,
    email         text,
    github_login  text,
    role          text        NOT NULL,
    teams         jsonb       NOT NULL DEFAULT '[]',
    expires_at    timestamptz NOT NULL,
    status        text        NOT NULL,
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL,
    answered_by   text,
    answered_at   timestamptz
);
CREATE INDEX id_invitations_email ON id_invitations (lower(email)) WHERE status = 'pending';
CREATE INDEX id_invitations_login ON id_invitations (lower(github_login)) WHERE status = 'pending';

CREATE TABLE id_quotas (
    org_id text  NOT NULL,
    scope  text  NOT NULL,   -- org | default_user | user:<id>
    limits jsonb NOT NULL,
    PRIMARY KEY (org_id, scope)
);

CREATE TABLE id_tokens (
    token_id   text PRIMARY KEY,
    user_id    text        NOT NULL,
    name       text        NOT NULL,
    scopes     text[]      NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX id_tokens_user ON id_tokens (user_id);

CREATE TABLE id_user_secrets (
    user_id    text        NOT NULL,
    name       text        NOT NULL,
    inject     text        NOT NULL,
    target     text        NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, name)
);

-- ---------------------------------------------------------------- never in the log

-- API tokens: "wws_<token_id>_<secret>"; only SHA-256(secret) is kept (the secret is 256
-- random bits, so a plain hash is enough). last_used_at is not an event: too spammy.
CREATE TABLE auth_token_hashes (
    token_id     text PRIMARY KEY,
    user_id      text        NOT NULL,
    hash         bytea       NOT NULL,
    last_used_at timestamptz
);

-- Browser sessions: the cookie holds "<session_id>.<secret>"; the CSRF token is bound to
-- the session and must come back in X-CSRF-Token on cookie-authenticated writes.
CREATE TABLE auth_sessions (
    session_id   text PRIMARY KEY,
    hash         bytea       NOT NULL,
    user_id      text        NOT NULL,
    provider     text        NOT NULL,
    csrf         text        NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    ip           text,
    user_agent   text
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

-- One OAuth/OIDC login in flight: state (hashed), nonce and PKCE verifier, 10 minutes.
CREATE TABLE auth_login_states (
    state_hash    bytea PRIMARY KEY,
    provider      text        NOT NULL,
    nonce         text        NOT NULL,
    code_verifier text        NOT NULL,
    redirect_to   text        NOT NULL,
    expires_at    timestamptz NOT NULL
);

-- One-time login links (the first owner's bootstrap link).
CREATE TABLE auth_one_time (
    token_hash bytea PRIMARY KEY,
    user_id    text        NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- Token buckets for per-user rate limits (one row per user and limit).
CREATE TABLE api_rate_limits (
    key        text PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at timestamptz      NOT NULL
);

-- Quota accounting reads the workspace read model by organization and owner.
CREATE INDEX IF NOT EXISTS api_workspaces_org_owner ON api_workspaces (org_id, owner_id) WHERE status <> 'deleted';
