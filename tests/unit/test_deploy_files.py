"""The deployment files, checked statically (no container engine runs here): Dockerfile,
deploy/compose.yaml, deploy/.env.example, deploy/systemd/*.service, deploy/kubernetes/*.yaml.

Every command they run is a real `mediajobs` command with real flags (parsed by the CLI's own Typer
app), every MEDIAJOBS_/CELERY_ variable they set is a real setting, the worker pools together serve
every queue, and the safety properties the issue asks for hold (a broker that never evicts, one
beat, a migration first, stop grace longer than the drain). `docker compose config` runs when a
docker client is present.
"""

from __future__ import annotations

import re
import runpy
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from pydantic import AliasChoices

from mediajobs.cli import app
from mediajobs.registry import build_registry
from mediajobs.settings import Settings
from mediajobs.worker import worker_queues

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
KUBERNETES = sorted((DEPLOY / "kubernetes").glob("*.yaml"))

# Defaults that depend on the machine (scripts/env_example.py lists them empty).
MACHINE_DEFAULTS = {"MEDIAJOBS_DATA_DIR", "MEDIAJOBS_WORKER_NAME"}
VARIABLE = re.compile(r"^(MEDIAJOBS|CELERY)_[A-Z0-9_]+$")


def setting_names() -> dict[str, str]:
    """Every environment variable Settings reads (each alias) -> its field."""
    names: dict[str, str] = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        for name in alias.choices if isinstance(alias, AliasChoices) else [alias]:
            assert isinstance(name, str)
            names[name] = field
    return names


def assert_real_settings(variables: Mapping[str, object], where: str) -> None:
    known = setting_names()
    for name in variables:
        if VARIABLE.match(name):
            assert name in known, f"{where}: {name} is not a setting"


# -- commands -------------------------------------------------------------------------------------

CLI = typer.main.get_command(app)


def assert_real_command(argv: list[str], where: str) -> dict[str, Any]:
    """`argv` (without the leading `mediajobs`) parses as the CLI's: a real (sub)command, real flags,
    values of the right type. Returns the parsed parameters."""
    assert argv, f"{where}: no command"
    command: Any = CLI
    path: list[str] = []
    args = list(argv)
    while hasattr(command, "commands"):
        name = args.pop(0)
        assert name in command.commands, f"{where}: `mediajobs {' '.join([*path, name])}` is no command"
        command = command.commands[name]
        path.append(name)
    try:
        ctx = command.make_context(" ".join(path), args)
    except Exception as exc:  # click's UsageError and friends
        raise AssertionError(f"{where}: `mediajobs {' '.join(argv)}`: {exc}") from None
    params: dict[str, Any] = dict(ctx.params)
    params["__command__"] = path
    return params


def served_queues(params: Mapping[str, Any]) -> list[str]:
    """The queues a parsed `mediajobs worker` command consumes (the worker's own computation)."""
    registry = build_registry(Settings(_env_file=None))

    def split(value: str | None) -> list[str] | None:
        return value.split(",") if value else None

    return worker_queues(
        registry,
        kinds=split(params["queues"]),
        exclude=split(params["exclude"]) or (),
        lanes=split(params["lane"]),
    )


def all_queues() -> set[str]:
    return set(build_registry(Settings(_env_file=None)).queues())


def seconds(value: str | int) -> float:
    """A compose/systemd duration: 45s, 1m30s, 45."""
    if isinstance(value, int):
        return float(value)
    total, found = 0.0, False
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)?", value):
        found = True
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "": 1}[unit]
    assert found, value
    return total


DRAIN_DEFAULT = Settings.model_fields["drain_seconds"].default


# -- .env.example ---------------------------------------------------------------------------------


def env_example() -> dict[str, tuple[str, bool]]:
    """NAME -> (value, set): `NAME=value` lines are set, `# NAME=value` lines show a default."""
    entries: dict[str, tuple[str, bool]] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^(# )?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            name = match.group(2)
            assert name not in entries, f".env.example lists {name} twice"
            entries[name] = (match.group(3), match.group(1) is None)
    return entries


def test_env_example_lists_every_setting_with_its_default() -> None:
    entries = env_example()
    known = setting_names()
    defaults = Settings(_env_file=None).to_env()
    for _field, info in Settings.model_fields.items():
        alias = info.validation_alias
        name = alias.choices[0] if isinstance(alias, AliasChoices) else alias
        assert isinstance(name, str)
        assert name in entries, f".env.example does not list {name}"
        value, is_set = entries[name]
        if not is_set and name not in MACHINE_DEFAULTS:
            shown = defaults.get(name, "")
            assert value.replace(" ", "") == shown.replace(" ", ""), (
                f"{name}: {value!r} is not the default {shown!r}"
            )
    assert_real_settings(entries, ".env.example")
    # the values it sets are valid settings
    Settings(_env_file=None, **{known[n]: v for n, (v, s) in entries.items() if s and n in known})  # type: ignore[arg-type]


def test_env_example_is_what_the_generator_writes() -> None:
    render = runpy.run_path(str(ROOT / "scripts" / "env_example.py"))["render"]
    assert ENV_EXAMPLE.read_text() == render(), (
        "run: .venv/bin/python scripts/env_example.py > deploy/.env.example"
    )


# -- compose --------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def ours(services: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The services running the mediajobs image."""
    for name, service in services.items():
        if "mediajobs" in str(service.get("image", "")):
            yield name, service


def test_compose_commands_are_real_and_the_workers_serve_every_queue() -> None:
    services = compose()["services"]
    served: set[str] = set()
    roles: dict[str, list[str]] = {}
    for name, service in ours(services):
        params = assert_real_command([str(a) for a in service["command"]], f"compose service {name}")
        roles.setdefault(params["__command__"][0], []).append(name)
        if params["__command__"] == ["worker"]:
            served.update(served_queues(params))
            assert params["metrics_port"] is not None, f"{name}: its health check reads the metrics port"
    assert served == all_queues(), f"no worker serves {sorted(all_queues() - served)}"
    assert set(roles) == {"migrate", "api", "worker", "beat", "flower"}
    assert len(roles["beat"]) == 1, "exactly one beat"
    assert len(roles["worker"]) >= 3, "workers per lane and stage kind"


def test_compose_variables_are_real_settings() -> None:
    for name, service in compose()["services"].items():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        assert_real_settings(environment, f"compose service {name}")


def test_compose_redis_is_a_broker_that_never_evicts_and_persists() -> None:
    command = " ".join(str(a) for a in compose()["services"]["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command


def test_compose_safety() -> None:
    services = compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    s3 = [
        n
        for n, s in services.items()
        if "minio" in str(s.get("image", "")) and "server" in s.get("command", [])
    ]
    assert s3, "an S3-compatible object store"
    assert env_example()["MEDIAJOBS_S3_ENDPOINT_URL"][0].startswith(f"http://{s3[0]}:")
    for name, service in ours(services):
        assert ".env" in service["env_file"], f"{name}: secrets from the env file"
        if name == "migrate":
            continue
        assert service["restart"] in ("always", "unless-stopped"), name
        depends = service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        check = service.get("healthcheck", {})
        assert check.get("test") or (name == "beat" and check.get("disable")), f"{name}: no health check"
        if service["command"][0] == "worker":
            drain = float(env_example()["MEDIAJOBS_DRAIN_SECONDS"][0])
            assert seconds(service["stop_grace_period"]) > max(drain, DRAIN_DEFAULT) + 10, name
    assert services["beat"]["deploy"]["replicas"] == 1
    for name in ("redis", "postgres", "minio"):
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["restart"] == "unless-stopped", name
    flower = services["flower"]
    assert env_example()["FLOWER_BASIC_AUTH"][1], "Flower behind basic auth"
    assert all(str(port).startswith("127.0.0.1:") for port in flower["ports"]), "Flower on loopback only"
    assert "ports" in services["api"]
    assert "container_name" not in services["api"], "a scalable API has no fixed container name"


def compose_client() -> str | None:
    """Why `docker compose` cannot run here, or None when it can."""
    if shutil.which("docker") is None:
        return "no docker client on this machine"
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    return None if done.returncode == 0 else "the docker client has no compose plugin"


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    missing = compose_client()
    if missing:
        pytest.skip(missing)
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    shutil.copy(ENV_EXAMPLE, copy / ".env")
    done = subprocess.run(
        ["docker", "compose", "-f", str(copy / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


# -- Dockerfile -----------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile() -> None:
    steps = dockerfile()
    bases = [args for op, args in steps if op == "FROM"]
    assert all(re.match(r"python:3\.1[1-9]-slim-(bookworm|trixie)\b", base) for base in bases), bases
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    installs = " ".join(args for op, args in final if op == "RUN" and "apt-get install" in args).split()
    pairs = re.search(r"for pair in ([^;]+);", (ROOT / "scripts" / "bootstrap").read_text())
    assert pairs is not None
    for package in [
        "ffmpeg",
        "espeak-ng",
        "flite",
        "apertium",
        "fonts-dejavu-core",
        "tini",
        *pairs.group(1).split(),
    ]:
        assert package in installs, f"the image lacks {package}"
    users = [args for op, args in final if op == "USER"]
    assert users, "runs as root"
    assert users[-1] not in ("root", "0")
    last_user = max(i for i, (op, _) in enumerate(final) if op == "USER")
    assert all(op != "RUN" for op, _ in final[last_user:]), "nothing runs as root after USER"
    assert any(op == "HEALTHCHECK" for op, _ in final)
    for op, args in steps:
        if op == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: no such file"
    entrypoint = yaml.safe_load(next(args for op, args in final if op == "ENTRYPOINT"))
    command = yaml.safe_load(next(args for op, args in final if op == "CMD"))
    assert entrypoint == ["tini", "--", "mediajobs"], "tini forwards SIGTERM to mediajobs alone"
    assert_real_command(command, "Dockerfile CMD")
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(args for op, args in final if op == "ENV")))
    assert_real_settings(env, "Dockerfile ENV")
    assert "'.[flower]'" in " ".join(a for _, a in steps), "the image runs `mediajobs flower` too"


# -- systemd --------------------------------------------------------------------------------------


def unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
            continue
        key, _, value = line.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


def test_systemd_units() -> None:
    commands: dict[str, list[str]] = {}
    for path in UNITS:
        service = unit(path)["Service"]
        values = dict(service)
        argv = shlex.split(values["ExecStart"])
        assert argv[0] == "/opt/mediajobs/bin/mediajobs", path.name
        params = assert_real_command(argv[1:], path.name)
        commands[path.name] = params["__command__"]
        assert values["EnvironmentFile"] == "/etc/mediajobs/env", path.name
        environment = dict(v.split("=", 1) for k, v in service if k == "Environment")
        assert_real_settings(environment, path.name)
        assert values["User"] == "mediajobs", path.name
        if params["__command__"] == ["worker"]:
            assert values["KillMode"] == "mixed", f"{path.name}: SIGTERM to the main process only (drain)"
            assert seconds(values["TimeoutStopSec"]) > DRAIN_DEFAULT + 10, path.name
            assert values["Restart"] == "always", path.name
        if params["__command__"] == ["migrate"]:
            assert values["Type"] == "oneshot"
        else:
            assert "mediajobs-migrate.service" in dict(unit(path)["Unit"])["Requires"], path.name
    assert sorted(c[0] for c in commands.values()) == ["api", "beat", "migrate", "worker", "worker"]
    served: set[str] = set()
    for path in UNITS:
        argv = shlex.split(dict(unit(path)["Service"])["ExecStart"])[1:]
        if argv[0] == "worker":
            served.update(served_queues(assert_real_command(argv, path.name)))
    assert served == all_queues()


# -- Kubernetes -----------------------------------------------------------------------------------


def test_kubernetes_worker_scaled_on_its_redis_lists() -> None:
    assert KUBERNETES
    for path in KUBERNETES:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
        deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
        scaled = [d for d in documents if d["kind"] == "ScaledObject"]
        assert scaled, path.name
        for scaler in scaled:
            target = deployments[scaler["spec"]["scaleTargetRef"]["name"]]
            pod = target["spec"]["template"]["spec"]
            assert pod["terminationGracePeriodSeconds"] > DRAIN_DEFAULT + 10
            assert pod["securityContext"]["runAsNonRoot"] is True
            (container,) = pod["containers"]
            params = assert_real_command([str(a) for a in container["args"]], path.name)
            assert params["__command__"] == ["worker"]
            assert_real_settings({e["name"]: e.get("value") for e in container.get("env", [])}, path.name)
            assert scaler["spec"]["minReplicaCount"] >= 1, "never to zero under running stages"
            lists = {t["metadata"]["listName"] for t in scaler["spec"]["triggers"] if t["type"] == "redis"}
            stage_queues = {q for q in served_queues(params) if q not in ("maintenance", "hooks")}
            assert lists == stage_queues, f"{path.name}: triggers on {lists}, the pool serves {stage_queues}"


def test_the_health_checks_ask_real_routes() -> None:
    """The API paths the image's and the compose file's health checks fetch are the API's own."""
    routes = set(
        re.findall(r'@router\.get\("([^"]+)"', (ROOT / "src/mediajobs/api/routes/health.py").read_text())
    )
    checks = [" ".join(args) for op, args in dockerfile() if op == "HEALTHCHECK"]
    checks += [
        " ".join(map(str, s.get("healthcheck", {}).get("test", []))) for s in compose()["services"].values()
    ]
    paths = {path for check in checks for path in re.findall(r"127\.0\.0\.1:8000(/[a-z]+)", check)}
    assert paths, checks
    assert paths <= routes, f"{paths - routes} are no routes of the API"
