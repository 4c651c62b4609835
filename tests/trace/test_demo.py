import re
from datetime import datetime

from app.common import clock


def test_the_demo_prints_a_trace_url_that_resolves_genuine(app, client):
    runner = app.test_cli_runner()
    output = runner.invoke(args=["seed-demo"]).output
    again = runner.invoke(args=["seed-demo"]).output

    path = re.search(r"http://127\.0\.0\.1:8000(/01/\d{14}/21/[0-9A-Z]{16})", output).group(1)
    assert path in again
    page = client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
    document = client.get(path, headers={"Accept": "application/json"}).json
    mismatch = client.get(f"{path}?barcode=09506000134352", headers={"Accept": "application/json"}).json
    assert 'data-verdict="genuine"' in page
    assert document["verdict"] == "genuine"
    # The demo's import had an inspection, so a new user sees that step on the chain.
    steps = ["submitted", "accepted", "audited", "inspection", "released"]
    assert [step["step"] for step in document["chain"]] == steps
    assert all(datetime.fromisoformat(step["at"]) <= clock.utcnow() for step in document["chain"])
    assert mismatch["verdict"] == "gtin_mismatch"
