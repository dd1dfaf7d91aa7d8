"""From a create request (and its template) to the ``WorkspaceSpec`` every host order
carries. Pure: the tests check each rule without a database."""

from __future__ import annotations

from wws_api import errors
from wws_api.schemas import CreateWorkspace, TemplateBody
from wws_api.settings import ApiSettings
from wws_events.template import TemplateSpec, TemplateState
from wws_events.workspace import CreateRepository, Dotfiles, Repository, Resources, Script, WorkspaceSpec
from wws_images.languages import image_for_languages

CREDENTIAL = "git-token"
"""Name of the workspace secret holding the repository token."""


def template_image(spec: TemplateSpec) -> str:
    return spec.image or image_for_languages(spec.languages)


def check_idle(settings: ApiSettings, value: int | None, field: str = "idle_timeout_s") -> None:
    if value is not None and not settings.min_idle_timeout_s <= value <= settings.max_idle_timeout_s:
        raise errors.BadRequestField(
            field, f"between {settings.min_idle_timeout_s} and {settings.max_idle_timeout_s} seconds"
        )


def check_resources(settings: ApiSettings, cpu: float, memory_mb: int, disk_gb: int) -> None:
    if cpu > settings.max_cpu:
        raise errors.BadRequestField("cpu", f"at most {settings.max_cpu:g} cores per workspace")
    if not settings.min_memory_mb <= memory_mb <= settings.max_memory_mb:
        raise errors.BadRequestField("memory_mb", f"between {settings.min_memory_mb} and {settings.max_memory_mb} MiB")
    if disk_gb > settings.max_disk_gb:
        raise errors.BadRequestField("disk_gb", f"at most {settings.max_disk_gb} GiB per workspace")


def workspace_spec(body: CreateWorkspace, template: TemplateState | None, settings: ApiSettings) -> WorkspaceSpec:
    """Request fields win over the template's, which win over the server's defaults."""
    if body.image is not None and (body.template is not None or body.languages):
        raise errors.BadRequestField("image", "give an image, or a template/languages, not both")
    if body.template is not None and template is None:
        raise errors.UnknownTemplate(body.template)
    t = template.spec if template else None
    if body.image is not None:
        image, languages = body.image, list[str]()
    elif body.languages is not None:
        languages = sorted({str(x) for x in body.languages})
        image = image_for_languages(languages)
    elif t is not None:
        image, languages = template_image(t), sorted(t.languages) if not t.image else []
    else:
        image, languages = settings.default_image, []
    cpu = body.cpu if body.cpu is not None else (t.resources.cpu if t else settings.default_cpu)
    mem = body.memory_mb if body.memory_mb is not None else (t.resources.memory_mb if t else settings.default_memory_mb)
    disk = body.disk_gb if body.disk_gb is not None else (t.resources.disk_gb if t else settings.default_disk_gb)
    check_resources(settings, cpu, mem, disk)

    repository = None
    if body.repository is not None:
        r = body.repository
        if (r.url is None) == (r.create is None):
            raise errors.BadRequestField("repository", "give either url (clone) or create (new repository)")
        if r.create is not None and r.token is None:
            raise errors.BadRequestField("repository/token", "creating a repository needs a token")
        repository = Repository(
            url=r.url,
            branch=r.branch,
            create=CreateRepository(
                name=r.create.name,
                owner=r.create.owner,
                private=r.create.private,
                api_url=(r.create.api_url or settings.github_api_url).rstrip("/"),
            )
            if r.create
            else None,
            credential=CREDENTIAL if r.token else None,
        )
    dotfiles = Dotfiles(url=body.dotfiles.url, branch=body.dotfiles.branch) if body.dotfiles else None
    bootstrap = []
    if t is not None and t.bootstrap:
        bootstrap.append(Script(source="template", script=t.bootstrap))
    if body.bootstrap:
        bootstrap.append(Script(source="workspace", script=body.bootstrap))
    ide = body.ide if body.ide is not None else (t.ide if t else bool(languages))
    wants_network = repository is not None or dotfiles is not None or ide
    network = body.network or (t.network if t else ("egress" if wants_network else "none"))
    if network == "none" and (repository is not None or dotfiles is not None):
        raise errors.BadRequestField("network", "cloning a repository or dotfiles needs network 'egress'")
    if network == "none" and ide:
        raise errors.BadRequestField(
            "network", "the IDE is reached through a published port, which needs network 'egress'"
        )
    idle = body.idle_timeout_s if body.idle_timeout_s is not None else (t.idle_timeout_s if t else None)
    check_idle(settings, idle)
    return WorkspaceSpec(
        image=image,
        template=template.name if template else None,
        template_id=str(template.template_id) if template else None,
        template_version=template.version if template else None,
        resources=Resources(cpu=float(cpu), memory_mb=mem, disk_gb=disk),
        languages=languages,
        ide=ide,
        network=network,
        env={**(t.env if t else {}), **(body.env or {})},
        repository=repository,
        dotfiles=dotfiles,
        bootstrap=bootstrap,
        ports=sorted(set(body.ports if body.ports is not None else (t.ports if t else []))),
        idle_timeout_s=idle,
        devcontainer=body.devcontainer,
    )


def rebased(spec: WorkspaceSpec, template: TemplateState) -> WorkspaceSpec:
    """``spec`` moved to ``template``'s current version: image, languages, bootstrap, env,
    idle timeout and ports follow the template; resources, repository and the workspace's
    own bootstrap stay."""
    t = template.spec
    own = [s for s in spec.bootstrap if s.source == "workspace"]
    return WorkspaceSpec(
        image=template_image(t),
        template=template.name,
        template_id=str(template.template_id),
        template_version=template.version,
        resources=spec.resources,
        languages=sorted(t.languages) if not t.image else [],
        ide=t.ide,
        network=t.network if spec.repository is None and spec.dotfiles is None else "egress",
        env={**t.env, **{k: v for k, v in spec.env.items() if k not in t.env}},
        repository=spec.repository,
        dotfiles=spec.dotfiles,
        bootstrap=([Script(source="template", script=t.bootstrap)] if t.bootstrap else []) + own,
        ports=sorted(set(t.ports) | set(spec.ports)),
        idle_timeout_s=t.idle_timeout_s if t.idle_timeout_s is not None else spec.idle_timeout_s,
        devcontainer=spec.devcontainer,
    )


def template_spec(body: TemplateBody, base: TemplateSpec | None, settings: ApiSettings) -> TemplateSpec:
    """A create (``base`` None) or a partial update of ``base``."""
    b = base or TemplateSpec()
    if body.image is not None and body.languages:
        raise errors.BadRequestField("image", "give an image or languages, not both")
    image = body.image if body.image is not None else (None if body.languages else b.image)
    languages: list[str] = (
        sorted({str(x) for x in body.languages}) if body.languages is not None else ([] if body.image else b.languages)
    )
    cpu = body.cpu if body.cpu is not None else b.resources.cpu
    mem = body.memory_mb if body.memory_mb is not None else b.resources.memory_mb
    disk = body.disk_gb if body.disk_gb is not None else b.resources.disk_gb
    check_resources(settings, cpu, mem, disk)
    idle = body.idle_timeout_s if body.idle_timeout_s is not None else b.idle_timeout_s
    check_idle(settings, idle)
    ide = body.ide if body.ide is not None else b.ide
    network = body.network or b.network
    if network == "none" and ide:
        raise errors.BadRequestField("network", "the IDE needs network 'egress'")
    return TemplateSpec(
        description=body.description if body.description is not None else b.description,
        image=image,
        languages=languages,
        ide=ide,
        resources=Resources(cpu=float(cpu), memory_mb=mem, disk_gb=disk),
        bootstrap=body.bootstrap if body.bootstrap is not None else b.bootstrap,
        idle_timeout_s=idle,
        env=body.env if body.env is not None else b.env,
        ports=sorted(set(body.ports)) if body.ports is not None else b.ports,
        network=network,
    )
