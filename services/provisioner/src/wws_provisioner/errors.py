"""Provisioner errors. Each becomes one ``…Failed`` event with ``code`` and ``retryable``.

* ProvisionerError                 code=internal
  + ImageNotFound                  code=image_not_found        the image is not on this host
  + RuntimeUnavailable             code=runtime_unavailable    Podman's API did not answer (retryable)
  + RuntimeFailure                 code=runtime_error          Podman refused the operation
  + ContainerExited                code=container_exited       started, then died at once
  + InvalidCommand                 code=invalid_command        the order cannot be carried out as given
  + SecretsUnavailable             code=secrets_unavailable    the control plane did not hand over the secrets (retryable)
  + NoIdePort                      code=no_ide_port            every IDE port of the range is taken
  + DevcontainerFailed             code=devcontainer_failed    the devcontainer image could not be built or found
"""

from __future__ import annotations

from typing import ClassVar


class ProvisionerError(Exception):
    code: ClassVar[str] = "internal"
    retryable: ClassVar[bool] = False


class ImageNotFound(ProvisionerError):
    code = "image_not_found"

    def __init__(self, image: str, detail: str = "") -> None:
        self.image = image
        hint = " (build it with `./just images` or name an image present on the host)"
        super().__init__(f"image {image!r} is not available on this host{hint}" + (f": {detail}" if detail else ""))


class RuntimeUnavailable(ProvisionerError):
    code = "runtime_unavailable"
    retryable = True


class RuntimeFailure(ProvisionerError):
    code = "runtime_error"


class ContainerExited(ProvisionerError):
    code = "container_exited"

    def __init__(self, name: str, exit_code: int, logs: str) -> None:
        self.name, self.exit_code, self.logs = name, exit_code, logs
        tail = logs.strip().splitlines()[-5:]
        super().__init__(
            f"container {name} exited with code {exit_code} right after start"
            + (": " + " | ".join(tail) if tail else "")
        )


class InvalidCommand(ProvisionerError):
    code = "invalid_command"


class SecretsUnavailable(ProvisionerError):
    code = "secrets_unavailable"
    retryable = True


class NoIdePort(ProvisionerError):
    code = "no_ide_port"
    retryable = True


class DevcontainerFailed(ProvisionerError):
    code = "devcontainer_failed"
