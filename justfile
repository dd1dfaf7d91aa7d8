# WWS tasks. On a fresh machine run them through ./just (it installs what is missing).
set quiet
set dotenv-load := false
export UV_PYTHON_DOWNLOADS := "never"

default:
    just --list

# Start NATS, PostgreSQL, every service and a demo workspace; Ctrl-C stops everything.
[group("run")]
up:
    uv run wws-stack up

# Print shell exports for talking to a running stack (eval "$(./just env)").
[group("run")]
env:
    uv run wws-stack env

# The whole suite: lint, types, then unit, integration and end-to-end tests.
[group("test")]
test *args: lint typecheck
    uv run pytest {{args}}

# Only the fast, pure tests.
[group("test")]
unit *args:
    uv run pytest tests/unit {{args}}

[group("check")]
lint:
    uv run ruff format --check
    uv run ruff check

[group("check")]
typecheck:
    uv run mypy

[group("check")]
fmt:
    uv run ruff format
    uv run ruff check --fix

# Build the workspace images (unchanged inputs: no-op).
[group("images")]
images *names="base":
    uv run wws-images build {{names}}

# Benchmarks against the raw baseline in the same run (see docs/PERFORMANCE.md).
[group("bench")]
bench *args:
    uv run python -m bench.run {{args}}

# Rewrite the golden wire-format files after an intended wire change.
[group("contracts")]
golden:
    uv run python -m tests.golden.regenerate
