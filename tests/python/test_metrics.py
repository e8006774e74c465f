"""`/metrics` read as Prometheus reads it: every line parses with the
reference client's strict text parser (route templates in labels carry
braces, which lenient parsers drop), and the counters move under load."""
import base64

import requests
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "a metrics token of more than twenty characters"


def scrape(server):
    answer = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 200
    lines = [line for line in answer.text.splitlines() if line and not line.startswith("#")]
    samples = [sample for family in text_string_to_metric_families(answer.text) for sample in family.samples]
    assert len(samples) == len(lines), "every sample line parses"
    return samples


def encrypts(samples):
    return sum(
        s.value
        for s in samples
        if s.name == "strongroom_http_requests_total"
        and s.labels.get("route") == "/v1/transit/encrypt/{name}"
        and s.labels.get("status") == "200"
    )


def test_metrics_parse_strictly_and_counters_move_under_load(make_server):
    server = make_server(metrics_token=TOKEN)
    key = server.api_key("transit:use", "transit:manage")
    headers = {"X-Vault-Token": key}
    assert requests.post(server.url + "/v1/transit/keys/orders", headers=headers, timeout=10).status_code == 200
    before = encrypts(scrape(server))
    body = {"plaintext": base64.b64encode(b"an order").decode()}
    for _ in range(5):
        answer = requests.post(server.url + "/v1/transit/encrypt/orders", json=body, headers=headers, timeout=10)
        assert answer.status_code == 200
    samples = scrape(server)
    assert encrypts(samples) == before + 5
    names = {s.name for s in samples}
    assert "strongroom_http_request_duration_seconds_bucket" in names
    assert any(s.name == "strongroom_audit_events_total" and s.labels.get("type") == "transit.encrypt" for s in samples)
