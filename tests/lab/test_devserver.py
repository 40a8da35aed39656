"""The lab as people use it, on oTree's development server: a real headless browser (the
system's Chromium driven by Playwright) walks one participant through every page, and 20
participants at once (plain HTTP clients submitting the forms) lose no row. Skipped without
oTree, Playwright or Chromium. Screenshots go to ``$LAB_SCREENSHOTS`` (docs/figures/lab for the
docs) or to the test's temporary folder."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from persuaders.lab.cli import main as lab_main
from tests.lab.helpers import create, otree, read_csv

pytest.importorskip("otree")
requests = pytest.importorskip("requests")

CHROMIUM = os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium")
TRIALS = 2
#: kg with the prosecutor's optimal scheme (docs/science.md, "Reference numbers"): "A" always when
#: guilty, with probability 3/7 when innocent.
KG_SCHEME = {"prosecutor": [[4 / 7, 3 / 7], [0.0, 1.0]]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path):
    """A project for kg (schemes shown or not) served by ``otree devserver``; ``stop()`` ends it with
    SIGINT, as Control+C does, which saves its in-memory database to db.sqlite3."""
    tmp = tmp_path / "devserver"
    tmp.mkdir()
    (tmp / "schemes.yaml").write_text(yaml.safe_dump(KG_SCHEME))
    project = tmp / "lab"
    create(
        project,
        "--game",
        "kg",
        "--schemes",
        str(tmp / "schemes.yaml"),
        "--trials",
        str(TRIALS),
        "--show-schemes",
        "both",
    )
    port = _free_port()
    proc = subprocess.Popen(
        [otree(), "devserver", str(port)],
        cwd=project,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if requests.get(f"{url}/api/otree_version", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            pytest.fail("the development server did not start")

        def stop() -> None:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(timeout=60)

        yield url, project, stop
    finally:
        stop()


def _session(url: str, config: str, n: int) -> list[str]:
    """Create a session through oTree's REST API; the participants' start links."""
    code = requests.post(f"{url}/api/sessions", json={"session_config_name": config, "num_participants": n}).json()[
        "code"
    ]
    info = requests.post(f"{url}/api/get_session/{code}", json={}).json()
    return [f"{url}/InitializeParticipant/{p['code']}" for p in info["participants"]]


def _rows(project: Path) -> list[tuple]:
    """The decisions in db.sqlite3 (the development server writes it when it stops)."""
    con = sqlite3.connect(project / "db.sqlite3")
    try:
        return con.execute(
            "SELECT pt.code, p.round_number, p.action, p.trial_state, p.messages, p.points, s.code "
            "FROM persuade_player p JOIN otree_participant pt ON p.participant_id = pt.id "
            "JOIN otree_session s ON p.session_id = s.id"
        ).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_a_participant_walks_every_page_in_a_real_browser(server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    url, project, stop = server
    shots = Path(os.environ.get("LAB_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    (start,) = _session(url, "persuade_all__shown", 1)
    code = start.rsplit("/", 1)[1]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(start)
        assert "Instructions" in page.inner_text("h2")
        assert "innocent 70%, guilty 30%" in page.inner_text("body")
        assert page.inner_text("#speakers") == "prosecutor"
        snap(page, shots / "1_instructions.png")
        page.click(".otree-btn-next")
        page.check("input[name=q_points][value='1']")  # a wrong answer is refused
        page.check("input[name=q_state][value='1']")
        page.click(".otree-btn-next")
        assert "Not quite" in page.inner_text("body")
        snap(page, shots / "2_comprehension_refused.png")
        page.check("input[name=q_points][value='2']")
        page.check("input[name=q_state][value='1']")
        page.click(".otree-btn-next")
        for trial in range(1, TRIALS + 1):
            assert f"Trial {trial} of {TRIALS}: your choice" in page.inner_text("h2")
            html = page.content()
            assert "The state was" not in html and "trial_state" not in html
            bars = page.locator(".lab-chart[data-speaker=prosecutor] .lab-text").all_inner_texts()
            assert bars == ["57.1%", "42.9%", "0%", "100%"]  # P(A|innocent), P(B|innocent), P(A|guilty), P(B|guilty)
            shown = page.locator(".lab-round .lab-message").all_inner_texts()
            assert len(shown) == 1 and shown[0] in ("A", "B")
            if trial == 1:
                snap(page, shots / "3_choice.png")
            page.check("input[name=action][value='1']")
            page.click(".otree-btn-next")
            assert "Trial result" in page.inner_text("h2")
            state = page.inner_text("#state")
            assert page.inner_text("#action") == "convict"
            assert float(page.inner_text("#points")) == (10.0 if state == "guilty" else 0.0)
            if trial == 1:
                snap(page, shots / "4_outcome.png")
                # Back to the submitted choice page and submit another action: refused (redirected).
                page.go_back()
                if page.locator("input[name=action]").count():
                    page.check("input[name=action][value='0']")
                    page.click(".otree-btn-next")
                page.goto(start)
                assert "Trial result" in page.inner_text("h2")
            else:
                assert page.locator("#final").count() == 1
                snap(page, shots / "5_last_outcome.png")
            page.click(".otree-btn-next")
        browser.close()
    stop()
    mine = sorted((r for r in _rows(project) if r[0] == code), key=lambda r: r[1])
    assert [r[1] for r in mine] == list(range(1, TRIALS + 1))
    assert all(r[2] == 1 for r in mine)  # convict, and the second submission did not change it
    assert [r[5] for r in mine] == [10.0 if r[3] == 1 else 0.0 for r in mine]


def snap(page, path: Path) -> None:
    """A screenshot of what the participant sees (the development server's debug panel hidden)."""
    page.add_style_tag(content=".debug-info { display: none !important; }")
    page.screenshot(path=str(path), full_page=True)


_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def _play(start: str, answers: dict[str, str], done: list[str], errors: list[str]) -> None:
    """One participant over HTTP: get each page and post its form until the session ends."""
    s = requests.Session()
    try:
        r = s.get(start, timeout=60)
        for _ in range(50):
            page = r.url.rstrip("/").split("/")[-2] if "/p/" in r.url else ""
            if not page:
                break
            data = dict(_HIDDEN.findall(r.text))
            data.update({"Comprehension": {"q_points": "2", "q_state": "1"}, "Choice": answers}.get(page, {}))
            r = s.post(r.url, data=data, timeout=60)
            r.raise_for_status()
        done.append(start)
    except Exception as exc:  # reported by the test
        errors.append(f"{start}: {exc!r}")


@pytest.mark.slow
def test_twenty_participants_at_once_lose_no_row(server, tmp_path):
    url, project, stop = server
    starts = _session(url, "persuade", 20)
    done: list[str] = []
    errors: list[str] = []
    threads = [
        threading.Thread(target=_play, args=(s, {"action": str(k % 2)}, done, errors)) for k, s in enumerate(starts)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and len(done) == 20
    codes = {s.rsplit("/", 1)[1]: k for k, s in enumerate(starts)}
    stop()
    rows = [r for r in _rows(project) if r[0] in codes]
    assert len(rows) == 20 * TRIALS
    assert all(r[2] == codes[r[0]] % 2 for r in rows)  # every choice is the one submitted
    out = tmp_path / "choices.csv"
    assert lab_main(["export", str(project), "--out", str(out)]) == 0
    exported = [r for r in read_csv(out) if r["participant"] in codes]
    assert len(exported) == 20 * TRIALS
    assert {r["treatment"] for r in exported} == {"all__shown", "all__hidden"}
    assert all(r["show_schemes"] == ("1" if r["treatment"] == "all__shown" else "0") for r in exported)
    for r in exported:  # kg: the prosecutor sees the state, so lik(y) = pi[y, m]
        (m,) = json.loads(r["messages"])[0]
        assert float(r["likelihood_innocent"]) == pytest.approx(KG_SCHEME["prosecutor"][0][m], abs=1e-15)
        assert float(r["likelihood_guilty"]) == pytest.approx(KG_SCHEME["prosecutor"][1][m], abs=1e-15)
