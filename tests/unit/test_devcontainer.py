"""devcontainer.json support: lookup, parsing real template shapes, errors, variables, wire format."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

import wws_init.devcontainer as devcontainer_module
import wws_init.jsonc as jsonc_module
from wws_init.devcontainer import (
    LIFECYCLE_KEYS,
    Build,
    Command,
    DevcontainerConfig,
    DevcontainerError,
    Lifecycle,
    find,
    from_json,
    load,
    parse,
    substitute,
    to_json,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "devcontainers"
VALID = sorted(FIXTURES.glob("*.jsonc"))
MALFORMED = sorted((FIXTURES / "malformed").glob("*.jsonc"))
SOURCE = ".devcontainer/devcontainer.json"


def _fixture(name: str, source: str = SOURCE) -> DevcontainerConfig:
    return parse((FIXTURES / name).read_text(encoding="utf-8"), source=source)


def _error(text: str, source: str = SOURCE) -> DevcontainerError:
    with pytest.raises(DevcontainerError) as caught:
        parse(text, source=source)
    return caught.value


# --- the standard library only ---------------------------------------------------------


@pytest.mark.parametrize("module", [jsonc_module, devcontainer_module], ids=lambda m: m.__name__)
def test_module_imports_only_the_standard_library(module: object) -> None:
    """wws_init runs in workspaces with only python3, so these modules import nothing else."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    roots = {name.split(".")[0] for name in imported}
    assert roots - set(sys.stdlib_module_names) - {"__future__", "wws_init"} == set()


# --- real template shapes --------------------------------------------------------------


def test_every_fixture_cites_the_public_file_it_mirrors() -> None:
    """Each fixture starts with a comment naming the repository and path it mirrors."""
    for path in VALID + MALFORMED:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(("// Mirrors devcontainers/", "// Mirrors microsoft/")), path.name


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_every_real_shape_parses(path: Path) -> None:
    """Every well-formed fixture parses without error."""
    config = parse(path.read_text(encoding="utf-8"), source=SOURCE)
    assert config.source == SOURCE


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.name)
def test_every_malformed_shape_fails(path: Path) -> None:
    """Every malformed fixture raises DevcontainerError naming a key or a position."""
    with pytest.raises(DevcontainerError) as caught:
        parse(path.read_text(encoding="utf-8"), source=SOURCE)
    assert caught.value.key_path is not None or caught.value.line is not None


def test_python_image_template() -> None:
    """The python template is an image, with everything else commented out."""
    assert _fixture("python-image.jsonc") == DevcontainerConfig(
        source=SOURCE,
        name="Python 3",
        image="mcr.microsoft.com/devcontainers/python:3-3.12-bookworm",
    )


def test_dockerfile_with_build_args() -> None:
    """build.dockerfile/context resolve from the file's folder to repository-root paths; args are kept."""
    assert _fixture("dockerfile-build-args.jsonc") == DevcontainerConfig(
        source=SOURCE,
        name="Python 3",
        build=Build(
            dockerfile=".devcontainer/Dockerfile",
            context=".",
            args={"VARIANT": "3.10-bullseye", "NODE_VERSION": "lts/*"},
        ),
        remote_user="vscode",
        extensions=["ms-python.python", "ms-python.vscode-pylance"],
        unsupported=["customizations.vscode.settings"],
    )


def test_dockerfile_with_target_and_options() -> None:
    """build.target is kept; build.options is reported; the default context is the file's folder."""
    assert _fixture("dockerfile-target-options.jsonc") == DevcontainerConfig(
        source=SOURCE,
        build=Build(
            dockerfile=".devcontainer/Dockerfile",
            context=".devcontainer",
            args={"VARIANT": "18-bookworm"},
            target="desired-image",
        ),
        post_create=Lifecycle([Command("touch /tmp/postCreateCommand.testmarker")]),
        post_start=Lifecycle([Command("touch /tmp/postStartCommand.testmarker")]),
        post_attach=Lifecycle([Command("touch /tmp/postAttachCommand.testmarker")]),
        unsupported=["build.options", "features"],
    )


def test_legacy_top_level_dockerfile_and_context() -> None:
    """The older top-level dockerFile/context (still in the schema) read as build.dockerfile/context."""
    assert _fixture("legacy-dockerfile.jsonc") == DevcontainerConfig(
        source=SOURCE,
        name="Python 3",
        build=Build(dockerfile=".devcontainer/Dockerfile", context="."),
        unsupported=["extensions", "settings"],
    )


def test_docker_compose_template() -> None:
    """A compose configuration keeps workspaceFolder and reports the compose keys."""
    assert _fixture("docker-compose.jsonc") == DevcontainerConfig(
        source=SOURCE,
        name="Existing Docker Compose (Extend)",
        workspace_folder="/workspaces/${localWorkspaceFolderBasename}",
        unsupported=["dockerComposeFile", "service"],
    )


def test_compose_template_with_extensions_and_post_create() -> None:
    """The dotnet-mssql compose template keeps its extensions and its postCreateCommand string."""
    config = _fixture("compose-mssql.jsonc")
    assert config.extensions == ["ms-dotnettools.csharp", "ms-mssql.mssql"]
    assert config.post_create == Lifecycle(
        [Command("bash .devcontainer/mssql/postCreateCommand.sh 'P@ssw0rd' './bin/Debug/' './.devcontainer/mssql/'")]
    )
    assert config.unsupported == ["customizations.vscode.settings", "dockerComposeFile", "service"]


def test_features_template() -> None:
    """The kubernetes-helm template keeps image and remoteEnv and reports features, mounts, initializeCommand."""
    assert _fixture("features-kubernetes-helm.jsonc") == DevcontainerConfig(
        source=SOURCE,
        name="Kubernetes - Local Configuration",
        image="mcr.microsoft.com/devcontainers/base:bullseye",
        remote_env={"SYNC_LOCALHOST_KUBECONFIG": "true"},
        unsupported=["features", "initializeCommand", "mounts"],
    )


def test_image_definition_with_features_users_and_privileges() -> None:
    """The universal image's definition keeps both users; features and install order are reported."""
    config = _fixture("features-universal.jsonc")
    assert (config.remote_user, config.container_user) == ("codespace", "codespace")
    assert config.extensions == ["GitHub.vscode-pull-request-github"]
    assert config.unsupported == ["customizations.vscode.settings", "features", "overrideFeatureInstallOrder"]
    assert _fixture("features-cpp-image.jsonc").unsupported == [
        "capAdd",
        "customizations.vscode.settings",
        "features",
        "securityOpt",
    ]


def test_all_three_lifecycle_forms() -> None:
    """A string is a shell command, an array an argv, an object named parallel commands."""
    assert _fixture("lifecycle-forms.jsonc") == DevcontainerConfig(
        source=SOURCE,
        name="Node.js",
        image="mcr.microsoft.com/devcontainers/javascript-node:4-24-trixie",
        on_create=Lifecycle([Command("apt-get update && apt-get install -y curl")]),
        update_content=Lifecycle([Command(["yarn", "install"])]),
        post_create=Lifecycle(
            [
                Command("npm start", name="server"),
                Command(["mysql", "-u", "root", "-p", "my database"], name="db"),
            ]
        ),
        post_start=Lifecycle([Command("echo foo='bar'")]),
        post_attach=Lifecycle([Command(["echo", "foo='bar'"])]),
    )


def test_parallel_commands_with_a_trailing_comma() -> None:
    """The CLI's parallel-commands test file (trailing comma included) gives named commands in order."""
    config = _fixture("parallel-commands.jsonc")
    assert [c.name for c in config.post_create.commands] == ["post-create-command-1", "post-create-command-2"]
    assert config.post_start.parallel and config.post_attach.parallel
    assert config.build == Build(
        dockerfile=".devcontainer/Dockerfile", context=".devcontainer", args={"VARIANT": "16-bullseye"}
    )


def test_object_form_entry_may_be_an_argv() -> None:
    """A named entry given as an array (the CLI's poetry example) is an argv with its name."""
    config = _fixture("poetry-example.jsonc")
    (command,) = config.post_start.commands
    assert command.name == "poetry setup"
    assert command.argv()[:3] == ["/bin/bash", "-i", "-c"]
    assert not command.shell


def test_comments_and_trailing_commas() -> None:
    """Block and line comments and trailing commas everywhere do not change what is read."""
    assert _fixture("comments-trailing-commas.jsonc") == DevcontainerConfig(
        source=SOURCE,
        name="PowerShell // not a comment /* nor this */",
        image="mcr.microsoft.com/powershell:lts-debian-11",
        remote_user="vscode",
        forward_ports=[8080, "db:5432"],
        post_create=Lifecycle([Command('sudo chsh vscode -s "$(which pwsh)"')]),
        extensions=["ms-vscode.powershell"],
        unsupported=["customizations.vscode.settings", "features"],
    )


def test_unknown_and_removed_keys_are_reported() -> None:
    """Keys from older formats and keys no spec knows (devPort) are reported, not dropped."""
    config = _fixture("compose-legacy-keys.jsonc")
    assert config.unsupported == ["devPort", "dockerComposeFile", "extensions", "service", "settings", "userEnvProbe"]
    assert (config.remote_user, config.remote_env, config.workspace_folder) == ("bar", {"bar": "baz"}, "/")


# --- malformed files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message", "line", "column"),
    [
        ("malformed/missing-comma.jsonc", "expected ',' or '}' after an object member", 9, 2),
        ("malformed/single-quotes.jsonc", "strings must be in double quotes, not single quotes", 6, 23),
        ("malformed/unterminated-comment.jsonc", "unterminated /* comment: no closing */", 8, 2),
        (
            "malformed/unterminated-string.jsonc",
            "unterminated string: no closing '\"' before the end of the line",
            4,
            10,
        ),
        (
            "malformed/unclosed-object.jsonc",
            "unexpected end of input: missing '}' to close the object from line 3, column 1",
            10,
            1,
        ),
    ],
)
def test_syntax_errors_carry_line_and_column(name: str, message: str, line: int, column: int) -> None:
    """A JSONC syntax error surfaces as DevcontainerError with the position in the file."""
    with pytest.raises(DevcontainerError) as caught:
        _fixture(name)
    error = caught.value
    assert (error.message, error.line, error.column, error.key_path) == (message, line, column, None)
    assert str(error) == f"{SOURCE}: {message} at line {line}, column {column}"


@pytest.mark.parametrize(
    ("name", "key_path", "message"),
    [
        (
            "malformed/forward-ports-string.jsonc",
            "forwardPorts",
            'must be an array of port numbers or "host:port" strings, not a string',
        ),
        (
            "malformed/forward-ports-bad-entry.jsonc",
            "forwardPorts[1]",
            'must be a port number or a "host:port" string, not "5432" (write 5432 without quotes)',
        ),
        ("malformed/container-env-array.jsonc", "containerEnv", "must be an object, not an array"),
        (
            "malformed/lifecycle-number.jsonc",
            "postCreateCommand.setup",
            "must be a command string or an array of arguments, not a number",
        ),
        ("malformed/build-outside-repo.jsonc", "build.context", '"../.." points outside the repository'),
        (
            "malformed/build-without-dockerfile.jsonc",
            "build.dockerfile",
            "is required when build is set (the Dockerfile's path from this file's folder)",
        ),
    ],
)
def test_wrong_shapes_name_the_key(name: str, key_path: str, message: str) -> None:
    """A wrong shape raises DevcontainerError naming the key path."""
    with pytest.raises(DevcontainerError) as caught:
        _fixture(name)
    error = caught.value
    assert (error.key_path, error.message, error.line) == (key_path, message, None)
    assert str(error) == f"{SOURCE}: {key_path}: {message}"


@pytest.mark.parametrize(
    ("text", "key_path"),
    [
        ('{"forwardPorts": "x"}', "forwardPorts"),
        ('{"forwardPorts": [70000]}', "forwardPorts[0]"),
        ('{"forwardPorts": [-1]}', "forwardPorts[0]"),
        ('{"forwardPorts": [true]}', "forwardPorts[0]"),
        ('{"forwardPorts": [3000.5]}', "forwardPorts[0]"),
        ('{"forwardPorts": [3000, "db:99999"]}', "forwardPorts[1]"),
        ('{"forwardPorts": ["DB:5432"]}', "forwardPorts[0]"),
        ('{"forwardPorts": [":5432"]}', "forwardPorts[0]"),
        ('{"containerEnv": []}', "containerEnv"),
        ('{"containerEnv": {"PORT": 3000}}', "containerEnv.PORT"),
        ('{"containerEnv": {"A": null}}', "containerEnv.A"),
        ('{"remoteEnv": {"A": 1}}', "remoteEnv.A"),
        ('{"remoteEnv": "A=1"}', "remoteEnv"),
        ('{"postCreateCommand": 42}', "postCreateCommand"),
        ('{"postCreateCommand": null}', "postCreateCommand"),
        ('{"onCreateCommand": ["make", 1]}', "onCreateCommand[1]"),
        ('{"postCreateCommand": {"setup": 42}}', "postCreateCommand.setup"),
        ('{"postStartCommand": {"setup": ["a", null]}}', "postStartCommand.setup[1]"),
        ('{"postAttachCommand": {"poetry setup": {}}}', 'postAttachCommand["poetry setup"]'),
        ('{"updateContentCommand": {"a.b": 1}}', 'updateContentCommand["a.b"]'),
        ('{"image": 3}', "image"),
        ('{"image": ""}', "image"),
        ('{"name": 1}', "name"),
        ('{"$schema": 1}', "$schema"),
        ('{"remoteUser": 0}', "remoteUser"),
        ('{"containerUser": ""}', "containerUser"),
        ('{"workspaceFolder": null}', "workspaceFolder"),
        ('{"build": []}', "build"),
        ('{"build": {}}', "build.dockerfile"),
        ('{"build": {"dockerfile": 1}}', "build.dockerfile"),
        ('{"build": {"dockerfile": ""}}', "build.dockerfile"),
        ('{"build": {"dockerfile": "/etc/Dockerfile"}}', "build.dockerfile"),
        ('{"build": {"dockerfile": "../../Dockerfile"}}', "build.dockerfile"),
        ('{"build": {"dockerfile": "D", "context": "/"}}', "build.context"),
        ('{"build": {"dockerfile": "D", "args": {"UID": 1000}}}', "build.args.UID"),
        ('{"build": {"dockerfile": "D", "args": []}}', "build.args"),
        ('{"build": {"dockerfile": "D", "target": 1}}', "build.target"),
        ('{"dockerFile": 1}', "dockerFile"),
        ('{"dockerFile": "D", "context": 1}', "context"),
        ('{"dockerFile": "D", "build": {"dockerfile": "E"}}', "dockerFile"),
        ('{"customizations": []}', "customizations"),
        ('{"customizations": {"vscode": []}}', "customizations.vscode"),
        ('{"customizations": {"vscode": {"extensions": "ms-python.python"}}}', "customizations.vscode.extensions"),
        ('{"customizations": {"vscode": {"extensions": [1]}}}', "customizations.vscode.extensions[0]"),
    ],
)
def test_invalid_shapes_raise_with_their_key_path(text: str, key_path: str) -> None:
    """Each wrong type or value names the key it is under."""
    error = _error(text)
    assert error.key_path == key_path
    assert error.source == SOURCE
    assert str(error).startswith(f"{SOURCE}: {key_path}: ")


@pytest.mark.parametrize("text", ["[]", '"x"', "null", "1"])
def test_document_must_be_an_object(text: str) -> None:
    """A document that is not an object is refused, with no key path."""
    error = _error(text)
    assert error.key_path is None
    assert error.message.startswith("the document must be an object, not ")


def test_unknown_tools_customizations_are_not_validated() -> None:
    """Other tools' customizations are reported whatever their shape."""
    config = parse('{"customizations": {"jetbrains": 1, "codespaces": []}}', source=SOURCE)
    assert config.unsupported == ["customizations.codespaces", "customizations.jetbrains"]


# --- what is supported and what is not -------------------------------------------------

_EVERY_SUPPORTED_KEY = """{
    "$schema": "https://raw.githubusercontent.com/devcontainers/spec/main/schemas/devContainer.schema.json",
    "name": "all",
    "image": "debian:bookworm",
    "build": {"dockerfile": "Dockerfile", "context": "..", "args": {"A": "1"}, "target": "dev"},
    "containerEnv": {"A": "1"},
    "remoteEnv": {"PATH": "${containerEnv:PATH}:/x", "UNSET_ME": null},
    "remoteUser": "vscode",
    "containerUser": "root",
    "forwardPorts": [3000, "db:5432", 0, 65535],
    "onCreateCommand": "a",
    "updateContentCommand": ["b"],
    "postCreateCommand": {"c": "c"},
    "postStartCommand": "d",
    "postAttachCommand": ["e"],
    "customizations": {"vscode": {"extensions": ["ms-python.python"]}},
    "workspaceFolder": "/workspaces/x"
}"""


def test_every_supported_key_is_acted_on_and_none_is_reported() -> None:
    """A file using every supported key reports nothing unsupported and keeps every value."""
    config = parse(_EVERY_SUPPORTED_KEY, source=SOURCE)
    assert config == DevcontainerConfig(
        source=SOURCE,
        name="all",
        image="debian:bookworm",
        build=Build(dockerfile=".devcontainer/Dockerfile", context=".", args={"A": "1"}, target="dev"),
        container_env={"A": "1"},
        remote_env={"PATH": "${containerEnv:PATH}:/x", "UNSET_ME": None},
        remote_user="vscode",
        container_user="root",
        forward_ports=[3000, "db:5432", 0, 65535],
        on_create=Lifecycle([Command("a")]),
        update_content=Lifecycle([Command(["b"])]),
        post_create=Lifecycle([Command("c", name="c")]),
        post_start=Lifecycle([Command("d")]),
        post_attach=Lifecycle([Command(["e"])]),
        extensions=["ms-python.python"],
        workspace_folder="/workspaces/x",
    )


def test_every_unsupported_key_is_reported_sorted() -> None:
    """Keys WWS ignores, nested ones spelled out, are all listed in sorted order."""
    unsupported = [
        "features",
        "dockerComposeFile",
        "service",
        "runServices",
        "mounts",
        "runArgs",
        "capAdd",
        "privileged",
        "init",
        "shutdownAction",
        "hostRequirements",
        "portsAttributes",
        "otherPortsAttributes",
        "overrideCommand",
        "updateRemoteUserUID",
        "userEnvProbe",
        "waitFor",
        "initializeCommand",
        "securityOpt",
        "appPort",
        "secrets",
        "workspaceMount",
        "overrideFeatureInstallOrder",
        "somethingNobodyDefined",
        "context",
    ]
    document: dict[str, object] = dict.fromkeys(unsupported)
    document["build"] = {"dockerfile": "Dockerfile", "cacheFrom": "x", "options": [], "futureOption": 1}
    document["customizations"] = {"vscode": {"settings": {}, "extensions": []}, "jetbrains": {}}
    config = parse(json.dumps(document), source=SOURCE)
    expected = [
        *unsupported,
        "build.cacheFrom",
        "build.options",
        "build.futureOption",
        "customizations.jetbrains",
        "customizations.vscode.settings",
    ]
    assert config.unsupported == sorted(expected)


def test_image_and_build_together_are_both_kept() -> None:
    """With both image and build, both are kept for the host to choose (the reference CLI builds)."""
    config = parse('{"image": "a", "build": {"dockerfile": "D"}}', source=SOURCE)
    assert (config.image, config.build) == ("a", Build(dockerfile=".devcontainer/D", context=".devcontainer"))


# --- build paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "build", "dockerfile", "context"),
    [
        (".devcontainer/devcontainer.json", {"dockerfile": "Dockerfile"}, ".devcontainer/Dockerfile", ".devcontainer"),
        (
            ".devcontainer/devcontainer.json",
            {"dockerfile": "Dockerfile", "context": ".."},
            ".devcontainer/Dockerfile",
            ".",
        ),
        (
            ".devcontainer/devcontainer.json",
            {"dockerfile": "./Dockerfile", "context": "."},
            ".devcontainer/Dockerfile",
            ".devcontainer",
        ),
        (
            ".devcontainer/devcontainer.json",
            {"dockerfile": "../docker/dev.Dockerfile", "context": "../"},
            "docker/dev.Dockerfile",
            ".",
        ),
        (".devcontainer.json", {"dockerfile": "Dockerfile"}, "Dockerfile", "."),
        (".devcontainer.json", {"dockerfile": "build/Dockerfile", "context": "build"}, "build/Dockerfile", "build"),
        (
            ".devcontainer/python/devcontainer.json",
            {"dockerfile": "../Dockerfile", "context": "../.."},
            ".devcontainer/Dockerfile",
            ".",
        ),
    ],
)
def test_build_paths_become_relative_to_the_repository_root(
    source: str, build: dict[str, str], dockerfile: str, context: str
) -> None:
    """build.dockerfile and build.context are resolved from the file's folder and kept relative to the root."""
    config = parse(json.dumps({"build": build}), source=source)
    assert config.build == Build(dockerfile=dockerfile, context=context)


@pytest.mark.parametrize(
    ("source", "build", "key_path"),
    [
        (".devcontainer.json", {"dockerfile": "Dockerfile", "context": ".."}, "build.context"),
        (".devcontainer/devcontainer.json", {"dockerfile": "../../Dockerfile"}, "build.dockerfile"),
        (".devcontainer/a/devcontainer.json", {"dockerfile": "D", "context": "../../.."}, "build.context"),
        (".devcontainer/devcontainer.json", {"dockerfile": "D", "context": "/srv"}, "build.context"),
    ],
)
def test_build_paths_may_not_leave_the_repository(source: str, build: dict[str, str], key_path: str) -> None:
    """A Dockerfile or context outside the checkout (or absolute) is refused: the host builds under its own path."""
    assert _error(json.dumps({"build": build}), source=source).key_path == key_path


@pytest.mark.parametrize("source", ["/repo/.devcontainer.json", "../.devcontainer.json", ".."])
def test_source_must_be_inside_the_repository(source: str) -> None:
    """parse refuses a source that is not a path relative to the repository root."""
    with pytest.raises(ValueError, match="source must be a path relative to the repository root"):
        parse("{}", source=source)


# --- commands --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ['""', '"   "', "[]", "{}", '{"a": "", "b": []}'])
def test_empty_commands_are_nothing_to_run(value: str) -> None:
    """An empty string, array or object (or empty entries) gives an empty step, as the reference CLI skips them."""
    assert parse(f'{{"postCreateCommand": {value}}}', source=SOURCE).post_create == Lifecycle()


def test_empty_object_entries_are_skipped_and_others_kept() -> None:
    """In the object form, only the empty entries are dropped."""
    config = parse('{"postCreateCommand": {"a": "", "b": "make"}}', source=SOURCE)
    assert config.post_create == Lifecycle([Command("make", name="b")])


def test_string_command_runs_in_sh_and_array_is_its_own_argv() -> None:
    """A string is run as /bin/sh -c STRING; an array is executed as given."""
    shell = Command("apt-get update && apt-get install -y curl")
    argv = Command(["echo", "foo='bar'"])
    assert (shell.shell, shell.argv()) == (True, ["/bin/sh", "-c", "apt-get update && apt-get install -y curl"])
    assert (argv.shell, argv.argv()) == (False, ["echo", "foo='bar'"])


def test_argv_is_a_copy() -> None:
    """Changing the list argv() returns does not change the command."""
    command = Command(["make"])
    command.argv().append("x")
    assert command.command == ["make"]


def test_only_the_object_form_is_parallel() -> None:
    """Lifecycle.parallel is true for named commands and false for a single unnamed one or none."""
    assert Lifecycle([Command("a", name="a")]).parallel
    assert not Lifecycle([Command("a")]).parallel
    assert not Lifecycle().parallel


def test_lifecycle_steps_come_in_running_order() -> None:
    """DevcontainerConfig.lifecycle() gives the five steps with their keys, in the order they run."""
    config = _fixture("lifecycle-forms.jsonc")
    steps = config.lifecycle()
    assert (
        [key for key, _ in steps]
        == list(LIFECYCLE_KEYS)
        == [
            "onCreateCommand",
            "updateContentCommand",
            "postCreateCommand",
            "postStartCommand",
            "postAttachCommand",
        ]
    )
    assert [step for _, step in steps] == [
        config.on_create,
        config.update_content,
        config.post_create,
        config.post_start,
        config.post_attach,
    ]


# --- finding the file ------------------------------------------------------------------


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}", encoding="utf-8")
    return path


def test_find_returns_none_without_a_devcontainer(tmp_path: Path) -> None:
    """A repository with no devcontainer.json anywhere gives None."""
    (tmp_path / "src").mkdir()
    assert find(tmp_path) is None


def test_find_prefers_the_devcontainer_folder(tmp_path: Path) -> None:
    """.devcontainer/devcontainer.json wins over .devcontainer.json and sub-folders."""
    first = _touch(tmp_path / ".devcontainer" / "devcontainer.json")
    _touch(tmp_path / ".devcontainer.json")
    _touch(tmp_path / ".devcontainer" / "a" / "devcontainer.json")
    assert find(tmp_path) == first


def test_find_then_tries_the_root_file(tmp_path: Path) -> None:
    """.devcontainer.json wins over sub-folders of .devcontainer."""
    root = _touch(tmp_path / ".devcontainer.json")
    _touch(tmp_path / ".devcontainer" / "a" / "devcontainer.json")
    assert find(tmp_path) == root


def test_find_then_takes_the_first_sub_folder_in_sorted_order(tmp_path: Path) -> None:
    """Among .devcontainer/<folder>/devcontainer.json, the first folder in sorted order wins."""
    _touch(tmp_path / ".devcontainer" / "python" / "devcontainer.json")
    _touch(tmp_path / ".devcontainer" / "go" / "devcontainer.json")
    (tmp_path / ".devcontainer" / "docs").mkdir()  # a folder without one is skipped
    assert find(tmp_path) == tmp_path / ".devcontainer" / "go" / "devcontainer.json"


def test_find_looks_only_one_level_deep(tmp_path: Path) -> None:
    """A devcontainer.json two folders below .devcontainer is not found."""
    _touch(tmp_path / ".devcontainer" / "a" / "b" / "devcontainer.json")
    assert find(tmp_path) is None


def test_find_ignores_directories_named_like_the_file(tmp_path: Path) -> None:
    """A directory called devcontainer.json or .devcontainer.json is not the file."""
    (tmp_path / ".devcontainer" / "devcontainer.json").mkdir(parents=True)
    (tmp_path / ".devcontainer.json").mkdir()
    (tmp_path / ".devcontainer" / "a" / "devcontainer.json").mkdir(parents=True)
    sub = _touch(tmp_path / ".devcontainer" / "b" / "devcontainer.json")
    assert find(tmp_path) == sub


def test_find_handles_a_devcontainer_file_instead_of_a_folder(tmp_path: Path) -> None:
    """A plain file named .devcontainer is neither a folder to search nor the config."""
    (tmp_path / ".devcontainer").write_text("x", encoding="utf-8")
    assert find(tmp_path) is None


# --- loading ---------------------------------------------------------------------------


def test_load_reads_the_file_with_its_repository_relative_source(tmp_path: Path) -> None:
    """load names the source relative to the repository root and resolves build paths from it."""
    path = tmp_path / ".devcontainer" / "python" / "devcontainer.json"
    path.parent.mkdir(parents=True)
    path.write_text((FIXTURES / "dockerfile-build-args.jsonc").read_text(encoding="utf-8"), encoding="utf-8")
    config = load(path, repo_dir=tmp_path)
    assert config.source == ".devcontainer/python/devcontainer.json"
    assert config.build is not None
    assert (config.build.dockerfile, config.build.context) == (".devcontainer/python/Dockerfile", ".devcontainer")


def test_load_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    """A UTF-8 file starting with a byte order mark loads."""
    path = tmp_path / ".devcontainer.json"
    path.write_bytes(b'\xef\xbb\xbf{"image": "debian"}')
    assert load(path, repo_dir=tmp_path).image == "debian"


def test_load_reports_invalid_utf8_with_its_position(tmp_path: Path) -> None:
    """A file that is not UTF-8 fails with the line and column of the first bad byte."""
    path = tmp_path / ".devcontainer.json"
    path.write_bytes(b'{\n  "name": "caf\xe9"\n}')
    with pytest.raises(DevcontainerError) as caught:
        load(path, repo_dir=tmp_path)
    assert (caught.value.message, caught.value.line, caught.value.column) == ("the file is not valid UTF-8", 2, 15)
    assert caught.value.source == ".devcontainer.json"


def test_load_reports_syntax_errors_with_the_source(tmp_path: Path) -> None:
    """Syntax errors from load name the file relative to the repository."""
    path = _touch(tmp_path / ".devcontainer" / "devcontainer.json")
    path.write_text('{"image": "x",, }', encoding="utf-8")
    with pytest.raises(DevcontainerError) as caught:
        load(path, repo_dir=tmp_path)
    assert str(caught.value).startswith(".devcontainer/devcontainer.json: expected a property name")


def test_load_refuses_a_file_outside_the_repository(tmp_path: Path) -> None:
    """A path that is not under repo_dir is refused."""
    path = _touch(tmp_path / "elsewhere" / "devcontainer.json")
    with pytest.raises(DevcontainerError, match="is not inside the repository"):
        load(path, repo_dir=tmp_path / "repo")
    with pytest.raises(DevcontainerError, match="is not inside the repository"):
        load(tmp_path / "repo" / ".." / "elsewhere" / "devcontainer.json", repo_dir=tmp_path / "repo")


# --- variables -------------------------------------------------------------------------


def _sub(value: str, **overrides: object) -> str:
    arguments: dict[str, object] = {
        "local_env": {"HOME": "/home/me", "EMPTY": ""},
        "container_env": {"PATH": "/usr/bin:/bin"},
        "local_folder": "/srv/checkouts/my-repo",
        "container_folder": "/workspaces/my-repo",
        "devcontainer_id": "0abc123",
    }
    arguments.update(overrides)
    return substitute(value, **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("${localEnv:HOME}/.kube", "/home/me/.kube"),
        ("${env:HOME}", "/home/me"),
        ("[${localEnv:MISSING}]", "[]"),
        ("${localEnv:MISSING:fallback}", "fallback"),
        ("${localEnv:HOME:fallback}", "/home/me"),
        ("${localEnv:EMPTY:fallback}", ""),
        ("${localEnv:MISSING:default:a:b:c}", "default"),
        ("${containerEnv:PATH}:/some/other/path", "/usr/bin:/bin:/some/other/path"),
        ("${containerEnv:MISSING}", ""),
        ("${containerEnv:MISSING:x}", "x"),
        ("${localWorkspaceFolder}", "/srv/checkouts/my-repo"),
        ("${localWorkspaceFolderBasename}", "my-repo"),
        ("${containerWorkspaceFolder}/src", "/workspaces/my-repo/src"),
        ("${containerWorkspaceFolderBasename}", "my-repo"),
        ("dind-var-lib-docker-${devcontainerId}", "dind-var-lib-docker-0abc123"),
        ("${localEnv:HOME}${localEnv:USERPROFILE}", "/home/me"),
        ("a ${localWorkspaceFolderBasename} b ${devcontainerId} c", "a my-repo b 0abc123 c"),
    ],
)
def test_spec_variables_are_replaced(value: str, expected: str) -> None:
    """Each variable of the spec is replaced as the reference CLI replaces it."""
    assert _sub(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "${templateOption:imageVariant}",
        "${unknownVariable}",
        "${localEnv}",
        "${containerEnv}",
        "$HOME and ${ unclosed",
        "plain text",
        "$${localEnvX:HOME}",
    ],
)
def test_unknown_variables_are_left_as_written(value: str) -> None:
    """Variables the spec does not define, and ones without a name, are left unchanged."""
    assert _sub(value) == value


def test_container_folder_may_itself_use_local_variables() -> None:
    """A container folder written with ${localWorkspaceFolderBasename} is resolved first, as in the CLI."""
    value = "${containerWorkspaceFolder}|${containerWorkspaceFolderBasename}"
    assert _sub(value, container_folder="/baz/${localWorkspaceFolderBasename}") == "/baz/my-repo|my-repo"


def test_basenames_ignore_a_trailing_slash() -> None:
    """Folder basenames are the last path component, as Node's path.basename gives them."""
    assert _sub("${localWorkspaceFolderBasename}", local_folder="/srv/repo/") == "repo"
    assert _sub("${containerWorkspaceFolderBasename}", container_folder="/") == ""


def test_substituted_values_are_not_substituted_again() -> None:
    """A value that itself contains ${...} is inserted literally, not expanded again."""
    assert _sub("${localEnv:TRICK}", local_env={"TRICK": "${localEnv:HOME}"}) == "${localEnv:HOME}"


# --- wire format -----------------------------------------------------------------------


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_json_round_trip_of_every_real_shape(path: Path) -> None:
    """to_json gives plain JSON, and from_json of it gives back an equal config."""
    config = parse(path.read_text(encoding="utf-8"), source=SOURCE)
    wire = json.loads(json.dumps(to_json(config)))
    assert from_json(wire) == config


def test_json_round_trip_with_every_field_set() -> None:
    """Every field, including None remoteEnv values and both port forms, survives the round trip."""
    config = parse(_EVERY_SUPPORTED_KEY, source=SOURCE)
    assert from_json(json.loads(json.dumps(to_json(config)))) == config


def test_wire_shape_is_explicit() -> None:
    """The wire format has snake_case keys and lists lifecycle commands with their names."""
    config = _fixture("lifecycle-forms.jsonc")
    wire = to_json(config)
    assert wire == {
        "source": SOURCE,
        "name": "Node.js",
        "image": "mcr.microsoft.com/devcontainers/javascript-node:4-24-trixie",
        "build": None,
        "container_env": {},
        "remote_env": {},
        "remote_user": None,
        "container_user": None,
        "forward_ports": [],
        "on_create": [{"name": None, "command": "apt-get update && apt-get install -y curl"}],
        "update_content": [{"name": None, "command": ["yarn", "install"]}],
        "post_create": [
            {"name": "server", "command": "npm start"},
            {"name": "db", "command": ["mysql", "-u", "root", "-p", "my database"]},
        ],
        "post_start": [{"name": None, "command": "echo foo='bar'"}],
        "post_attach": [{"name": None, "command": ["echo", "foo='bar'"]}],
        "extensions": [],
        "workspace_folder": None,
        "unsupported": [],
    }


def test_to_json_does_not_share_lists_with_the_config() -> None:
    """Changing what to_json returned does not change the config."""
    config = _fixture("lifecycle-forms.jsonc")
    wire = to_json(config)
    wire["update_content"][0]["command"].append("--frozen")
    assert config.update_content.commands[0].command == ["yarn", "install"]


def _wire(**changes: object) -> dict[str, object]:
    wire = to_json(parse(_EVERY_SUPPORTED_KEY, source=SOURCE))
    wire.update(changes)
    return wire


@pytest.mark.parametrize(
    ("wire", "key_path"),
    [
        (_wire(source=1), "source"),
        (_wire(image=[]), "image"),
        (_wire(container_env={"A": 1}), "container_env.A"),
        (_wire(remote_env=[]), "remote_env"),
        (_wire(forward_ports=[True]), "forward_ports[0]"),
        (_wire(forward_ports=["x"]), "forward_ports[0]"),
        (_wire(on_create="make"), "on_create"),
        (_wire(post_create=[{"name": None}]), "post_create[0]"),
        (_wire(post_create=[{"name": 1, "command": "x"}]), "post_create[0].name"),
        (_wire(post_start=[{"name": None, "command": 5}]), "post_start[0].command"),
        (_wire(post_start=[{"name": None, "command": ["a", 5]}]), "post_start[0].command[1]"),
        (_wire(post_start=["x"]), "post_start[0]"),
        (_wire(extensions=None), "extensions"),
        (_wire(unsupported=[1]), "unsupported[0]"),
        (_wire(build=[]), "build"),
        (_wire(build={"dockerfile": "D", "context": "."}), "build"),
        (_wire(build={"dockerfile": "../D", "context": ".", "args": {}, "target": None}), "build.dockerfile"),
        (_wire(build={"dockerfile": "/D", "context": ".", "args": {}, "target": None}), "build.dockerfile"),
        (_wire(build={"dockerfile": "D", "context": "a/../..", "args": {}, "target": None}), "build.context"),
        (_wire(build={"dockerfile": "./D", "context": ".", "args": {}, "target": None}), "build.dockerfile"),
        (_wire(build={"dockerfile": "D", "context": ".", "args": {"A": 1}, "target": None}), "build.args.A"),
    ],
)
def test_from_json_checks_every_field(wire: dict[str, object], key_path: str) -> None:
    """from_json refuses wrong types and build paths that leave the repository, naming the key."""
    with pytest.raises(DevcontainerError) as caught:
        from_json(wire)
    assert caught.value.key_path == key_path


@pytest.mark.parametrize(
    "wire",
    [
        [],
        None,
        {k: v for k, v in _wire().items() if k != "image"},
        {**_wire(), "extra": 1},
    ],
)
def test_from_json_refuses_other_documents(wire: object) -> None:
    """from_json needs exactly the keys to_json writes."""
    with pytest.raises(DevcontainerError):
        from_json(wire)
