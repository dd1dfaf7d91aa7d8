"""Settings from the environment: precedence, types, clear errors, secrets stay hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from wws_api.settings import ApiSettings
from wws_provisioner.settings import ProvisionerSettings
from wws_service.settings import ConfigError, Secret, load_settings

BASE = {"WWS_DATABASE_URL": "postgresql://x", "WWS_API_ADMIN_TOKEN": "s3cret-token"}


def test_service_specific_variable_beats_shared_one() -> None:
    s = load_settings(
        ApiSettings, service="api", environ={**BASE, "WWS_NATS_URL": "nats://a:1", "WWS_API_NATS_URL": "nats://b:2"}
    )
    assert s.nats_url == "nats://b:2"


def test_strings_become_typed_values() -> None:
    s = load_settings(
        ApiSettings, service="api", environ={**BASE, "WWS_API_HTTP_PORT": "9000", "WWS_API_RUN_WORKERS": "false"}
    )
    assert s.http_port == 9000 and s.run_workers is False


def test_typo_in_a_service_variable_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="WWS_API_HTTP_PROT"):
        load_settings(ApiSettings, service="api", environ={**BASE, "WWS_API_HTTP_PROT": "1"})


def test_out_of_range_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="WWS_API_HTTP_PORT"):
        load_settings(ApiSettings, service="api", environ={**BASE, "WWS_API_HTTP_PORT": "70000"})


def test_missing_required_setting_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="WWS_API_DATABASE_URL"):
        load_settings(ApiSettings, service="api", environ={"WWS_API_ADMIN_TOKEN": "x"})


def test_secret_never_shows_in_repr() -> None:
    s = load_settings(ApiSettings, service="api", environ=BASE)
    assert "s3cret-token" not in repr(s)
    assert isinstance(s.admin_token, Secret) and s.admin_token.reveal() == "s3cret-token"


def test_secret_from_file(tmp_path: Path) -> None:
    f = tmp_path / "token"
    f.write_text("from-file\n")
    s = load_settings(ApiSettings, service="api", environ={"WWS_DATABASE_URL": "x", "WWS_API_ADMIN_TOKEN_FILE": str(f)})
    assert s.admin_token.reveal() == "from-file"


def test_agent_has_no_database_setting() -> None:
    """The per-host agent speaks only NATS: it cannot even be given Postgres settings."""
    with pytest.raises(ConfigError, match="WWS_PROVISIONER_DATABASE_URL"):
        load_settings(ProvisionerSettings, service="provisioner", environ={"WWS_PROVISIONER_DATABASE_URL": "x"})
    assert "database_url" not in ProvisionerSettings.__struct_fields__


def test_invalid_host_id_is_refused() -> None:
    with pytest.raises(ConfigError, match="WWS_PROVISIONER_HOST_ID"):
        load_settings(ProvisionerSettings, service="provisioner", environ={"WWS_PROVISIONER_HOST_ID": "Bad.Host"})
