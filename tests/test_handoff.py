"""Hand-off lists (``custlens list``) and posting them to a real webhook on a loopback port.

The workspace is test_profile's fixture on DuckDB; its health scores are worked out
in test_health_scores: u 55.5 (paying, at-risk, NPS 6), w 81.1 (paying, no NPS),
v 57.6 (churned), z 52.75 (prospect).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from custlens.cli import app
from custlens.config import CONFIG_FILE
from custlens.handoff import HandoffError, hand_off_list, idempotency_key, payload, post
from custlens.workspace import Workspace
from tests.facts.test_churn_features import AS_OF
from tests.test_profile import FIXTURE

DUCKDB = pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
"""The lists read facts the fact tests check on both engines; here DuckDB is enough."""

THRESHOLDS = "{handoff: {at_risk_below: 60, expansion_health: 55, expansion_nps: 6}}"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One DuckDB workspace for the module: the lists only read it."""
    folder = tmp_path_factory.mktemp("handoff")
    (folder / CONFIG_FILE).write_text(f"analytics: {THRESHOLDS}\n")
    with Workspace(folder) as ws:
        ws.warehouse.write_tables({f"src_{n}": f for n, f in FIXTURE.items()})
        ws.run(as_of=AS_OF, only=["health_scores", "customer_mrr"])
        yield ws


class Webhook:
    """A real HTTP server on 127.0.0.1 (port 0): answers with the queued statuses, then 200."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append((dict(self.headers), body))
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def test_lists_follow_the_thresholds(ws):
    at_risk = hand_off_list(ws, "low-health")
    # Paying (active or at-risk) and health < 60: u only (v churned, z a prospect,
    # w 81.1).
    assert at_risk.rows(named=True) == [
        {
            "customer_id": "u",
            "name": "Umbrella",
            "segment": "Enterprise",
            "health_score": 55.5,
            "band": "At Risk",
            "lifecycle_stage": "at-risk",
            "nps": 6,
            "current_mrr": 100.0,
            "reason": "health 56; weakest: support 30",
        }
    ]
    # Health ≥ 55 and NPS ≥ 6: u (55.5, 6); w has no NPS answer, v and z are under 55.
    expansion = hand_off_list(ws, "expansion")
    assert expansion["customer_id"].to_list() == ["u"]
    assert expansion["reason"].to_list() == ["health 56 and NPS 6"]


@DUCKDB
def test_default_thresholds_give_empty_lists(make_workspace):
    ws = make_workspace()
    ws.warehouse.write_tables({f"src_{n}": f for n, f in FIXTURE.items()})
    ws.run(as_of=AS_OF, only=["health_scores"])
    # Nobody paying is under 40; nobody has health ≥ 80 and NPS ≥ 8.
    assert hand_off_list(ws, "low-health").height == 0
    assert hand_off_list(ws, "expansion").height == 0


def test_cli_prints_csv_and_json(ws):
    runner = CliRunner()
    csv = runner.invoke(app, ["-w", str(ws.path), "list", "low-health", "--format", "csv"])
    assert csv.exit_code == 0, csv.output
    assert csv.stdout.splitlines()[0] == (
        "customer_id,name,segment,health_score,band,lifecycle_stage,nps,current_mrr,reason"
    )
    assert csv.stdout.splitlines()[1].startswith("u,Umbrella,Enterprise,55.5,At Risk,at-risk,6,")
    out = runner.invoke(app, ["-w", str(ws.path), "list", "expansion", "--format", "json"])
    assert [r["customer_id"] for r in json.loads(out.stdout)] == ["u"]
    table = runner.invoke(app, ["-w", str(ws.path), "list", "low-health"])
    assert table.exit_code == 0 and "Umbrella" in table.output


def test_post_retries_after_a_503_with_the_same_idempotency_key(ws, webhook):
    webhook.statuses = [503]
    body = payload("low-health", hand_off_list(ws, "low-health"), "2024-06-30")
    waits: list[float] = []
    delivery = post(webhook.url, body, sleep=waits.append)
    assert (delivery.status, delivery.attempts) == (200, 2)
    assert waits == [0.5]
    assert len(webhook.requests) == 2
    keys = {headers["Idempotency-Key"] for headers, _ in webhook.requests}
    assert keys == {delivery.key}
    sent = json.loads(webhook.requests[1][1])
    assert sent["list"] == "low-health" and sent["count"] == 1 and sent["as_of"] == "2024-06-30"
    assert sent["customers"][0]["customer_id"] == "u"
    # The key is the content's: the same list again has the same key, another list not.
    again = payload("low-health", hand_off_list(ws, "low-health"), "2024-06-30")
    assert idempotency_key(again) == delivery.key
    other = payload("expansion", hand_off_list(ws, "expansion"), "2024-06-30")
    assert idempotency_key(other) != delivery.key


def test_post_gives_up_after_bounded_retries(webhook):
    webhook.statuses = [503] * 10
    waits: list[float] = []
    with pytest.raises(HandoffError, match=r"after 5 attempts \(HTTP 503\)"):
        post(webhook.url, {"list": "x"}, retries=4, backoff=1.0, max_wait=3.0, sleep=waits.append)
    assert waits == [1.0, 2.0, 3.0, 3.0]  # doubling, capped at max_wait
    assert len(webhook.requests) == 5


def test_post_does_not_retry_a_client_error(webhook):
    webhook.statuses = [400]
    with pytest.raises(HandoffError, match="HTTP 400"):
        post(webhook.url, {"list": "x"}, sleep=lambda s: None)
    assert len(webhook.requests) == 1


def test_post_retries_a_refused_connection():
    hook = Webhook()
    url = hook.url
    hook.close()  # nothing listens on that port any more
    with pytest.raises(HandoffError, match="ConnectError"):
        post(url, {"list": "x"}, retries=2, sleep=lambda s: None, timeout=2.0)


def test_cli_posts_to_the_webhook(ws, webhook):
    webhook.statuses = [503]
    argv = ["-w", str(ws.path), "list", "low-health", "--post", webhook.url]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "Posted 1 low-health customers" in result.output
    assert "HTTP 200 after 2 attempts" in result.output
