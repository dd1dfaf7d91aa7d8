"""The workspace owner's secrets, end to end on real Podman: handed to the agent by the
control plane at every start, they reach the processes and shells of the workspace (env)
and its home directory (a symlink to the tmpfs), and appear nowhere they must not be.

Choice of set-up: the API's own responder on ``wws.ctl.secrets.<host>`` would race one of
the test's (both subscribe; the first answer wins), and the API's user-secret endpoints are
not the subject here. So only the agent runs as a real process (``ProcessStack`` without
the API, no Postgres); the test stands in for the control plane — it answers the desired
state and secrets requests on NATS and publishes the agent's orders on
``wws.cmd.host.<host>`` itself, as the API's fast path does
(``test_failures.py::test_duplicate_order_delivery_makes_one_container`` replays orders the
same way) — and reads the agent's events from ``wws.evt.>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from tests.fixtures.services import ProcessStack
from tests.timeouts import WAIT_LONG
from wws_events import commands as c
from wws_events import encode, subjects
from wws_events._base import Actor, tag_of
from wws_events.commands import CommandEnvelope
from wws_events.host import DesiredStateReply, DesiredWorkspace, InjectedSecret, SecretsReply, SecretsRequest
from wws_events.workspace import Resources, Script, WorkspaceSpec
from wws_service import bus
from wws_stack.natsd import NatsServer

pytestmark = pytest.mark.e2e

ENV_VALUE = f"sk-wws-env-{uuid.uuid4().hex}"
FILE_VALUE = f"wws-file-{uuid.uuid4().hex}"
ROTATED = f"sk-wws-rotated-{uuid.uuid4().hex}"
VALUES = (ENV_VALUE, FILE_VALUE, ROTATED)
# the bootstrap script proves it saw the secrets by leaving their hashes, never the values
BOOTSTRAP = (
    'printf %s "$OPENAI_API_KEY" | sha256sum > "$HOME/boot-env.sha"\n'
    'rm -f "$HOME/boot-file.sha"\n'
    'if [ -e "$HOME/.config/openai/key" ]; then sha256sum < "$HOME/.config/openai/key" > "$HOME/boot-file.sha"; fi\n'
)


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class ControlPlane:
    """The test's stand-in for the API's NATS responders, and a log of what it was asked."""

    def __init__(self, host_id: str, workspace_id: uuid.UUID) -> None:
        self.host_id = host_id
        self.workspace_id = workspace_id
        self.user_secrets: list[InjectedSecret] = []
        self.asked: list[uuid.UUID] = []
        self.events: list[tuple[str, bytes]] = []

    async def desired(self, msg: Msg) -> None:
        # the agent removes what no desired state wants: keep the test's workspace wanted
        wanted = DesiredWorkspace(workspace_id=self.workspace_id, status="scheduled", generation=1, seq=1)
        await msg.respond(encode(DesiredStateReply(host_id=self.host_id, workspaces=[wanted], as_of_position=0)))

    async def secrets(self, msg: Msg) -> None:
        request = msgspec.json.decode(msg.data, type=SecretsRequest)
        self.asked.append(request.workspace_id)
        reply = SecretsReply(workspace_id=request.workspace_id, user_secrets=list(self.user_secrets))
        await msg.respond(encode(reply))

    async def event(self, msg: Msg) -> None:
        self.events.append(((msg.headers or {}).get(subjects.HEADER_EVENT_TYPE, ""), msg.data))

    def of_type(self, tag: str) -> list[dict[str, object]]:
        return [json.loads(data)["data"] for t, data in self.events if t == tag]


def _order(host_id: str, ws: uuid.UUID, seq: int, data: c.AgentCommand) -> CommandEnvelope:
    now = datetime.now(UTC)
    return CommandEnvelope(
        command_id=uuid.uuid4(),
        type=tag_of(type(data)),
        schema_version=type(data).SCHEMA_VERSION,
        workspace_id=ws,
        host_id=host_id,
        seq=seq,
        org_id="default",
        actor=Actor(type="user", id="alice"),
        correlation_id=uuid.uuid4(),
        issued_at=now,
        deadline=now + timedelta(minutes=10),
        data=data,
    )


async def _send(js: JetStreamContext, order: CommandEnvelope) -> None:
    await bus.publish(
        js,
        subjects.host_commands(order.host_id),
        encode(order),
        msg_id=str(order.command_id),
        headers={subjects.HEADER_COMMAND_TYPE: order.type},
    )


async def _until_finished(plane: ControlPlane, run: uuid.UUID, stack: ProcessStack) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + WAIT_LONG
    while asyncio.get_running_loop().time() < deadline:
        for tag in ("workspace.provision_failed", "workspace.restart_failed"):
            if plane.of_type(tag):
                raise AssertionError(f"{tag}: {plane.of_type(tag)}")
        done = [e for e in plane.of_type("workspace.init_finished") if e["run_id"] == str(run)]
        if done:
            return done[0]
        agent = stack.procs["provisioner"]
        if agent.proc is not None and agent.proc.poll() is not None:
            raise AssertionError(f"the agent exited:\n{agent.output()[-3000:]}")
        await asyncio.sleep(0.2)
    raise AssertionError(
        f"the init of run {run} did not finish; agent log:\n{stack.procs['provisioner'].output()[-3000:]}"
    )


def _run(*argv: str) -> str:
    out = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    assert out.returncode == 0, (argv, out.stdout, out.stderr)
    return out.stdout


async def _in(container: str, *argv: str) -> str:
    return await asyncio.to_thread(_run, "podman", "exec", container, *argv)


async def _eventually_step(plane: ControlPlane, run: uuid.UUID, step: str) -> list[dict[str, object]]:
    for _ in range(50):
        found = [
            e for e in plane.of_type("workspace.init_step_succeeded") if e["run_id"] == str(run) and e["step"] == step
        ]
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {step} step event for run {run}")


def _nowhere(stack: ProcessStack, plane: ControlPlane, ws: uuid.UUID, image: str, values: tuple[str, ...]) -> None:
    """The values are in none of the places the hard rule lists."""
    name = f"wws-{ws}"
    volume = _run("podman", "volume", "inspect", f"wws-home-{ws}", "--format", "{{.Mountpoint}}").strip()
    places = {
        "container inspect": _run("podman", "inspect", name),
        "image inspect": _run("podman", "image", "inspect", image),
        "container env config": _run("podman", "inspect", name, "--format", "{{json .Config.Env}}"),
        "agent log": stack.procs["provisioner"].output(),
        "workspace ps": _run("podman", "exec", name, "ps", "-eo", "args"),
        "host ps": _run("ps", "-eo", "args"),
        "events": "\n".join(data.decode() for _, data in plane.events),
    }
    logs = subprocess.run(["podman", "logs", name], capture_output=True, text=True, check=False)
    places["container log"] = logs.stdout + logs.stderr
    for value in values:
        for where, text in places.items():
            assert value not in text, f"a secret value in the {where}"
        found = subprocess.run(["grep", "-rl", "--", value, volume], capture_output=True, text=True, check=False)
        assert found.returncode == 1, f"a secret value on the home volume: {found.stdout}{found.stderr}"


@pytest.mark.timeout(240)
async def test_user_secrets_reach_processes_shells_and_home_and_nothing_else(
    tmp_path: Path, nats_server: NatsServer, podman_socket: str, host_id: str, base_image: str
) -> None:
    stack = ProcessStack(tmp=tmp_path, nats_url=nats_server.url, pg_dsn="", podman_url=podman_socket, host_id=host_id)
    ws = uuid.uuid4()
    name = f"wws-{ws}"
    plane = ControlPlane(host_id, ws)
    plane.user_secrets = [
        InjectedSecret(name="openai", inject="env", target="OPENAI_API_KEY", value=ENV_VALUE),
        InjectedSecret(name="openai-key", inject="file", target=".config/openai/key", value=FILE_VALUE),
    ]
    spec = WorkspaceSpec(
        image=base_image,
        resources=Resources(cpu=1, memory_mb=256, disk_gb=1),
        bootstrap=[Script(source="workspace", script=BOOTSTRAP)],
    )
    try:
        async with bus.connect(nats_server.url, name="test-control-plane") as nc:
            js = nc.jetstream()
            await bus.ensure_streams(js)
            await nc.subscribe(subjects.desired_state(host_id), cb=plane.desired)
            await nc.subscribe(subjects.secrets_request(host_id), cb=plane.secrets)
            await nc.subscribe(subjects.EVT_SUBJECTS, cb=plane.event)
            stack.start("provisioner")

            provision = _order(
                host_id, ws, 1, c.AgentProvision(name="secrets", owner_id="alice", generation=1, spec=spec)
            )
            await _send(js, provision)
            finished = await _until_finished(plane, provision.command_id, stack)
            assert finished["degraded"] is False, finished
            assert plane.asked == [ws]  # no repository, and still asked

            # shells: zsh (the login shell; zshenv) and bash login shells (profile.d)
            assert await _in(name, "zsh", "-lc", 'printf %s "$OPENAI_API_KEY"') == ENV_VALUE
            assert await _in(name, "bash", "-lc", 'printf %s "$OPENAI_API_KEY"') == ENV_VALUE
            # the file: a symlink into the tmpfs, with the value behind it
            link = "/home/dev/.config/openai/key"
            assert (await _in(name, "readlink", link)).strip() == "/run/wws/secrets/files/openai-key"
            assert await _in(name, "cat", link) == FILE_VALUE
            # the init's processes had both (the bootstrap script left their hashes)
            assert (await _in(name, "cat", "/home/dev/boot-env.sha")).split()[0] == _sha(ENV_VALUE)
            assert (await _in(name, "cat", "/home/dev/boot-file.sha")).split()[0] == _sha(FILE_VALUE)
            # the agent relays the init's secrets step as an event (never a value)
            inject = await _eventually_step(plane, provision.command_id, "secrets")
            assert [x["detail"] for x in inject] == ["1 env, 1 file"]
            await asyncio.to_thread(_nowhere, stack, plane, ws, base_image, VALUES)

            # the next start gets what the owner has then: a rotated key, the file secret gone
            plane.user_secrets = [
                InjectedSecret(name="openai", inject="env", target="OPENAI_API_KEY", value=ROTATED),
            ]
            restart = _order(host_id, ws, 2, c.AgentRestart(name="secrets", owner_id="alice", generation=1, spec=spec))
            await _send(js, restart)
            finished = await _until_finished(plane, restart.command_id, stack)
            assert finished["degraded"] is False, finished
            assert plane.asked == [ws, ws]
            assert await _in(name, "zsh", "-lc", 'printf %s "$OPENAI_API_KEY"') == ROTATED
            gone = await asyncio.to_thread(
                subprocess.run, ["podman", "exec", name, "test", "-L", link], capture_output=True, check=False
            )
            assert gone.returncode == 1, "the link of a deleted secret is still there"
            assert (await _in(name, "cat", "/home/dev/boot-env.sha")).split()[0] == _sha(ROTATED)
            assert "boot-file.sha" not in await _in(name, "ls", "/home/dev")
            assert not (stack.runtime_dir / str(ws) / "secrets" / "files" / "openai-key").exists()
            await asyncio.to_thread(_nowhere, stack, plane, ws, base_image, VALUES)
    finally:
        stack.stop()
