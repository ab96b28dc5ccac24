"""deploy/: the Prometheus alert rules pass `promtool check rules` and fire in `promtool test rules`
(each on series made to trip it, none on healthy ones), and every metric the rules and the Grafana
dashboard name is one that mediajobs exposes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from helpers.settings import make_settings
from mediajobs.engines import Engines
from mediajobs.hooks.metrics import event_metrics
from mediajobs.monitoring.state import StateCollector
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.store import create_db_engine, migrate
from mediajobs.wiring import build_services

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "mediajobs.json"
METRIC = re.compile(r"\bmediajobs_[a-z_]+")


def promtool() -> str:
    found = shutil.which("promtool") or shutil.which("promtool", path=str(Path(sys.executable).parent))
    assert found, "promtool is missing: scripts/bootstrap unpacks it from Debian's prometheus package"
    return found


def test_promtool_checks_the_rules() -> None:
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 7 rules found" in done.stdout


def test_every_alert_fires_on_its_test_series_and_not_on_healthy_ones() -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", "alerts.test.yaml"], cwd=RULES.parent, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tested = {
        case["alertname"]
        for test in yaml.safe_load((RULES.parent / "alerts.test.yaml").read_text())["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert tested == {rule["alert"] for rule in _rules()}


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name mediajobs exposes: the event metrics and the state gauges."""
    tmp = tmp_path_factory.mktemp("exposed")
    db = tmp / "jobs.sqlite3"
    settings = make_settings(tmp, MEDIAJOBS_DATABASE_URL=f"sqlite:///{db}")
    engine = create_db_engine(settings.resolved_database_url)
    migrate(engine)
    engine.dispose()
    services = build_services(settings, InMemoryPublisher(), engines=Engines())
    try:
        state = StateCollector(
            services.store,
            services.dispatcher.publisher,
            services.registry.queue_table(),
            worker_silence=timedelta(seconds=30),
        )
        families = [*event_metrics().registry.collect(), *state.collect()]
    finally:
        services.close()
    names: set[str] = set()
    for family in families:
        if family.type == "counter":
            names |= {f"{family.name}_total", f"{family.name}_created"}
        elif family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum"}
        else:
            names.add(family.name)
    return names


def _rules() -> list[dict[str, object]]:
    rules: list[dict[str, object]] = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    return rules


def test_the_rules_name_only_metrics_that_exist(exposed: set[str]) -> None:
    for rule in _rules():
        named = set(METRIC.findall(str(rule["expr"])))
        assert named, rule["alert"]
        assert named <= exposed, (rule["alert"], named - exposed)


def test_the_dashboard_names_only_metrics_that_exist(exposed: set[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    used: set[str] = set()
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            named = set(METRIC.findall(target["expr"]))
            assert named <= exposed, (panel["title"], named - exposed)
            used |= named
    # the list: each is on the dashboard
    for name in (
        "mediajobs_tasks_completed_total",
        "mediajobs_task_duration_seconds_bucket",
        "mediajobs_queue_length",
        "mediajobs_active_workers",
        "mediajobs_jobs",
        "mediajobs_lane_oldest_waiting_seconds",
        "mediajobs_admission_wait_seconds_bucket",
        "mediajobs_outbox_backlog",
        "mediajobs_hook_deliveries_total",
        "mediajobs_stage_retries_total",
        "mediajobs_leases_lost_total",
        "mediajobs_media_processed_seconds_total",
    ):
        assert name in used, name
