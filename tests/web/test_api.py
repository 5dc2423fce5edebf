"""The JSON API over real HTTP, against the emulator: sign-in, uploads, mapping, jobs, undo."""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import requests

from importer.journal import Journal
from tests.web.conftest import PASSWORD, SAMPLES, USER, Web, sign_in


def _upload(session: requests.Session, url: str, *names: str) -> dict[str, Any]:
    files = [("file", (name, (SAMPLES / name).read_bytes())) for name in names]
    answer = session.post(f"{url}/api/uploads", files=files, timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _wait(session: requests.Session, url: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = session.get(f"{url}/api/jobs/{job_id}", timeout=10).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_without_a_session_the_api_answers_401(web: Web) -> None:
    answer = requests.get(f"{web.url}/api/session", timeout=10)
    assert answer.status_code == 401
    assert set(answer.json()) == {"error", "hint"}
    assert requests.post(f"{web.url}/api/uploads", timeout=10).status_code == 401


def test_a_non_get_call_without_the_csrf_header_is_403(web: Web) -> None:
    session = sign_in(web.url)
    del session.headers["X-CSRF-Token"]
    answer = session.post(f"{web.url}/api/uploads", files=[("file", ("a.csv", b"x"))], timeout=10)
    assert answer.status_code == 403
    assert "X-CSRF-Token" in answer.json()["error"]
    session.headers["X-CSRF-Token"] = "not-the-token"
    assert session.put(f"{web.url}/api/session", json={"language": "he"}, timeout=10
                       ).status_code == 403


def test_session_and_cookie_flags(web: Web) -> None:
    answer = requests.post(f"{web.url}/login", data={"username": USER, "password": PASSWORD},
                           allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    session = sign_in(web.url)
    me = session.get(f"{web.url}/api/session", timeout=10).json()
    assert me["user"] == USER and me["csrf_token"] == session.csrf  # type: ignore[attr-defined]
    assert "script-src 'self'" in answer.headers["content-security-policy"]


def test_login_attempts_are_rate_limited(web: Web) -> None:
    for _ in range(5):
        answer = requests.post(f"{web.url}/login", data={"username": USER, "password": "wrong"},
                               headers={"Accept": "application/json"}, timeout=10)
        assert answer.status_code == 401
    answer = requests.post(f"{web.url}/login", data={"username": USER, "password": PASSWORD},
                           headers={"Accept": "application/json"}, timeout=10)
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) > 0


def test_upload_shows_what_the_reader_saw(web: Web, signed_in: requests.Session) -> None:
    upload = _upload(signed_in, web.url, "crm_export_he.csv")
    (info,) = upload["files"]
    assert info["name"] == "crm_export_he.csv"
    assert info["format"] == "csv" and info["encoding"] == "windows-1255"
    assert "טלפון נייד" in info["columns"] and info["row_count"] == 24
    # Kept under a random name in a private folder, never the browser's name.
    folder = web.config.data_dir / "uploads" / upload["upload_id"]
    (stored,) = folder.iterdir()
    assert stored.name != "crm_export_he.csv" and stored.suffix == ".csv"
    assert folder.stat().st_mode & 0o777 == 0o700


def test_a_browser_file_name_is_never_a_path(web: Web, signed_in: requests.Session) -> None:
    data = (SAMPLES / "generic_leads_en.csv").read_bytes()
    answer = signed_in.post(f"{web.url}/api/uploads",
                            files=[("file", ("../../evil/../x.csv", data))], timeout=30)
    assert answer.status_code == 201
    assert answer.json()["files"][0]["name"] == "x.csv"
    assert not (web.config.data_dir / "evil").exists()


def test_a_bad_file_is_422_with_a_hint(web: Web, signed_in: requests.Session) -> None:
    answer = signed_in.post(f"{web.url}/api/uploads",
                            files=[("file", ("leads.xlsx", b"PK\x03\x04 not a workbook"))],
                            timeout=30)
    assert answer.status_code == 422
    body = answer.json()
    assert set(body) == {"error", "hint"} and "leads.xlsx" in body["error"]
    assert "Traceback" not in answer.text
    assert not list((web.config.data_dir / "uploads").iterdir())


def test_too_big_is_413(emulator_env: Any, tmp_path: Any) -> None:
    from tests.web.conftest import make_config, serving

    with serving(make_config(tmp_path, max_upload_bytes=100_000)) as server:
        session = sign_in(server.url)
        answer = session.post(f"{server.url}/api/uploads",
                              files=[("file", ("big.csv", b"phone\n" + b"0521234567\n" * 20_000))],
                              timeout=30)
        assert answer.status_code == 413
        assert "MB" in answer.json()["error"]


def test_mapping_suggest_edit_and_problems(web: Web, signed_in: requests.Session) -> None:
    upload = _upload(signed_in, web.url, "crm_export_he.csv")
    base = f"{web.url}/api/uploads/{upload['upload_id']}/mapping"
    mapping = signed_in.get(base, timeout=30).json()
    assert mapping["problems"] == []
    roles = {c["column"]: c["role"] for c in mapping["columns"]}
    assert roles["טלפון נייד"] == "phone" and roles["שם פרטי"] == "CustomerName"
    # A column the file does not have: the problem names it.
    bad = mapping["yaml"].replace("[טלפון נייד, טלפון]", "[Mobile phone]")
    assert bad != mapping["yaml"]
    answer = signed_in.put(base, json={"yaml": bad}, timeout=30).json()
    assert any("Mobile phone" in p for p in answer["problems"])
    assert signed_in.put(base, json={"yaml": mapping["yaml"]}, timeout=30).json()["problems"] == []
    # Column choices: the city becomes ignored; the phone stays.
    answer = signed_in.put(base, json={"columns": [{"column": "עיר", "role": "ignore"}]},
                           timeout=30).json()
    assert answer["problems"] == []
    assert "var_City" not in answer["yaml"]
    roles = {c["column"]: c["role"] for c in answer["columns"]}
    assert roles["עיר"] == "ignore" and roles["טלפון נייד"] == "phone"


def test_preview_import_rows_reports_and_undo(web: Web, signed_in: requests.Session) -> None:
    upload = _upload(signed_in, web.url, "crm_export_he.csv")
    jobs = f"{web.url}/api/uploads/{upload['upload_id']}/jobs"
    answer = signed_in.post(jobs, json={"campaign": "Hot leads", "dry_run": True}, timeout=30)
    assert answer.status_code == 202, answer.text
    preview = _wait(signed_in, web.url, answer.json()["job_id"])
    assert preview["state"] == "done", preview
    assert preview["counts"]["would_add"] > 0
    problems = signed_in.get(f"{web.url}/api/jobs/{preview['job_id']}/rows",
                             params={"status": "problems", "limit": 5}, timeout=30).json()
    assert problems["total"] >= 1 and len(problems["rows"]) <= 5
    assert all(r["status"] in {"missing_phone", "invalid_phone", "type_rejected"}
               for r in problems["rows"])
    assert web.emulator.demo is not None

    answer = signed_in.post(jobs, json={"campaign": "Hot leads", "dry_run": False}, timeout=30)
    job = _wait(signed_in, web.url, answer.json()["job_id"])
    assert job["state"] == "done", job
    assert job["counts"]["added"] == preview["counts"]["would_add"]
    assert job["run_id"]
    report = signed_in.get(web.url + job["reports"]["csv"], timeout=30)
    assert report.status_code == 200
    assert re.search(r"crm_export_he\.[0-9TZ]+\.report\.csv", report.headers["content-disposition"])
    assert "status" in report.content.decode("utf-8-sig").splitlines()[0]

    runs = signed_in.get(f"{web.url}/api/runs", timeout=30).json()["runs"]
    assert runs[0]["run_id"] == job["run_id"] and runs[0]["by"] == USER
    assert runs[0]["source_file"] == "crm_export_he.csv"

    answer = signed_in.post(f"{web.url}/api/runs/{job['run_id']}/undo", json={}, timeout=30)
    assert answer.status_code == 202
    undone = _wait(signed_in, web.url, answer.json()["job_id"])
    assert undone["state"] == "done", undone
    assert undone["counts"]["removed"] == job["counts"]["added"]
    runs = signed_in.get(f"{web.url}/api/runs", timeout=30).json()["runs"]
    assert runs[0]["undo"]["outcome"] == "finished"


def test_campaigns_by_name_never_code(web: Web, signed_in: requests.Session) -> None:
    answer = signed_in.get(f"{web.url}/api/campaigns", timeout=30)
    names = {c["name"] for c in answer.json()["campaigns"]}
    assert {"Hot leads", "Callbacks"} <= names
    assert web.emulator.demo is not None
    for code in web.emulator.demo.campaigns.values():
        assert code not in answer.text
    assert "code" not in json.dumps(answer.json()).lower()


def test_progress_arrives_as_server_sent_events(web: Web, signed_in: requests.Session) -> None:
    from importer.emulator.faults import FaultConfig

    upload = _upload(signed_in, web.url, "crm_export_he.csv")
    web.emulator.set_faults(FaultConfig(latency_ms=1500, methods={"AddCallsBulk"}))
    answer = signed_in.post(f"{web.url}/api/uploads/{upload['upload_id']}/jobs",
                            json={"campaign": "Hot leads", "dry_run": False}, timeout=30)
    job_id = answer.json()["job_id"]
    started = time.monotonic()
    events: list[tuple[str, float]] = []
    with signed_in.get(f"{web.url}/api/jobs/{job_id}/events", stream=True, timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, time.monotonic() - started))
                data = json.loads(line.removeprefix("data: "))
                if kind == "done":
                    break
    assert events[0][0] == "progress" and events[0][1] < 1.0  # not held back by a buffer
    assert events[-1][0] == "done" and data["state"] == "done"
    assert data["counts"]["added"] == 21


def test_old_uploads_are_removed(web: Web, signed_in: requests.Session) -> None:
    upload = _upload(signed_in, web.url, "generic_leads_en.csv")
    state = web.server.app.state.web
    folder = web.config.data_dir / "uploads" / upload["upload_id"]
    assert folder.is_dir()
    state.uploads.keep_days = -1  # everything is "older" than a day from now
    assert state.uploads.remove_old(set()) == 1
    assert not folder.exists()
    answer = signed_in.get(f"{web.url}/api/uploads/{upload['upload_id']}", timeout=10)
    assert answer.status_code == 404 and answer.json()["hint"]


def test_pages_redirect_to_sign_in_and_errors_are_json(web: Web) -> None:
    answer = requests.get(f"{web.url}/runs", allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/runs"
    session = sign_in(web.url)
    missing = session.get(f"{web.url}/api/jobs/nope", timeout=10)
    assert missing.status_code == 404 and set(missing.json()) == {"error", "hint"}
    bad = session.post(f"{web.url}/api/uploads/nope/jobs", data="{", timeout=10,
                       headers={"Content-Type": "application/json"})
    assert bad.status_code == 404
    page = session.get(f"{web.url}/jobs/nope?lang=he", timeout=10)
    assert page.status_code == 404 and 'dir="rtl"' in page.text


def test_a_mapping_cannot_name_server_files(web: Web, signed_in: requests.Session) -> None:
    upload = _upload(signed_in, web.url, "generic_leads_en.csv")
    base = f"{web.url}/api/uploads/{upload['upload_id']}/mapping"
    text = signed_in.get(base, timeout=30).json()["yaml"]
    text += "\n" if not text.endswith("\n") else ""
    text = text.replace("dedupe:\n", "dedupe:\n  suppression: [/etc/passwd]\n")
    answer = signed_in.put(base, json={"yaml": text}, timeout=30).json()
    assert any("suppression" in p for p in answer["problems"])
    job = signed_in.post(f"{web.url}/api/uploads/{upload['upload_id']}/jobs",
                         json={"campaign": "Hot leads", "dry_run": True, "mapping_yaml": text},
                         timeout=30)
    assert job.status_code == 422


def test_saved_mappings(web: Web, signed_in: requests.Session) -> None:
    upload = _upload(signed_in, web.url, "crm_export_he.csv")
    base = f"{web.url}/api/uploads/{upload['upload_id']}/mapping"
    text = signed_in.get(base, timeout=30).json()["yaml"]
    saved = signed_in.post(f"{web.url}/api/mappings", json={"name": "CRM ייצוא", "yaml": text},
                           timeout=30)
    assert saved.status_code == 201
    assert signed_in.get(f"{web.url}/api/mappings", timeout=10).json()["mappings"] == ["CRM ייצוא"]
    bad = signed_in.post(f"{web.url}/api/mappings", json={"name": "../x", "yaml": text},
                         timeout=30)
    assert bad.status_code == 422
    again = _upload(signed_in, web.url, "crm_export_he.csv")
    job = signed_in.post(f"{web.url}/api/uploads/{again['upload_id']}/jobs",
                         json={"campaign": "Hot leads", "dry_run": True,
                               "mapping_name": "CRM ייצוא"}, timeout=30)
    assert job.status_code == 202
    assert _wait(signed_in, web.url, job.json()["job_id"])["state"] == "done"


def test_a_file_from_the_drop_folder(emulator_env: Any, tmp_path: Any) -> None:
    from importer.inbox.config import parse_inbox_config
    from tests.web.conftest import make_config, serving

    for folder in ("inbox", "failed", "done"):
        (tmp_path / "leads" / folder).mkdir(parents=True)
    failed = tmp_path / "leads" / "failed" / "לידים מאתמול.csv"
    failed.write_bytes((SAMPLES / "crm_export_he.csv").read_bytes())
    (tmp_path / "leads" / "failed" / "לידים מאתמול.csv.error.txt").write_text("note")
    (tmp_path / "leads" / "inbox" / "~$open.xlsx").write_bytes(b"lock")
    inbox = parse_inbox_config({"inboxes": [{"name": "Leads", "path": "leads"}]},
                               base_dir=tmp_path)
    with serving(make_config(tmp_path, inbox=inbox)) as server:
        session = sign_in(server.url)
        (listed,) = session.get(f"{server.url}/api/inbox/files", timeout=10).json()["files"]
        assert listed["name"] == "לידים מאתמול.csv" and listed["folder"] == "failed"
        answer = session.post(f"{server.url}/api/uploads", json={"inbox_files": [listed["id"]]},
                              timeout=30)
        assert answer.status_code == 201
        assert answer.json()["files"][0]["row_count"] == 24
        assert failed.exists()  # a copy: the drop folder is left as it was
        wrong = session.post(f"{server.url}/api/uploads",
                             json={"inbox_files": ["../../etc/passwd"]}, timeout=30)
        assert wrong.status_code == 404
        page = session.get(f"{server.url}/?lang=he", timeout=10).text
        assert "לידים מאתמול.csv" in page


def test_sign_in_from_another_site_is_refused(web: Web) -> None:
    answer = requests.post(f"{web.url}/login", data={"username": USER, "password": PASSWORD},
                           headers={"Origin": "https://evil.example"}, allow_redirects=False,
                           timeout=10)
    assert answer.status_code == 403 and "set-cookie" not in answer.headers
    same = requests.post(f"{web.url}/login", data={"username": USER, "password": PASSWORD},
                         headers={"Origin": web.url}, allow_redirects=False, timeout=10)
    assert same.status_code == 303


def test_several_files_in_one_upload(web: Web, signed_in: requests.Session) -> None:
    data = (SAMPLES / "crm_export_he.csv").read_bytes()
    files = [("file", ("ינואר.csv", data)), ("file", ("פברואר.csv", data))]
    upload = signed_in.post(f"{web.url}/api/uploads", files=files, timeout=30).json()
    assert [f["name"] for f in upload["files"]] == ["ינואר.csv", "פברואר.csv"]
    answer = signed_in.post(f"{web.url}/api/uploads/{upload['upload_id']}/jobs",
                            json={"campaign": "Hot leads", "dry_run": True}, timeout=30)
    job = _wait(signed_in, web.url, answer.json()["job_id"])
    assert [f["name"] for f in job["files"]] == ["ינואר.csv", "פברואר.csv"]
    assert job["files"][1]["counts"]["duplicate_in_batch"] >= 21
    second = signed_in.get(f"{web.url}/api/jobs/{job['job_id']}/rows",
                           params={"file": 1, "status": "duplicate_in_batch"}, timeout=30).json()
    assert second["total"] >= 21 and second["rows"][0]["source_file"] == "פברואר.csv"
    page = signed_in.get(f"{web.url}/jobs/{job['job_id']}?file=1&lang=he", timeout=30)
    assert page.status_code == 200 and "פברואר.csv" in page.text


def test_one_import_per_campaign_at_a_time(web: Web, signed_in: requests.Session) -> None:
    from importer.emulator.faults import FaultConfig

    first = _upload(signed_in, web.url, "crm_export_he.csv")
    second = _upload(signed_in, web.url, "generic_leads_en.csv")
    web.emulator.set_faults(FaultConfig(latency_ms=1500, methods={"AddCallsBulk"}))
    running = signed_in.post(f"{web.url}/api/uploads/{first['upload_id']}/jobs",
                             json={"campaign": "Hot leads", "dry_run": False}, timeout=30)
    assert running.status_code == 202
    busy = signed_in.post(f"{web.url}/api/uploads/{second['upload_id']}/jobs",
                          json={"campaign": "hot leads", "dry_run": False}, timeout=30)
    assert busy.status_code == 409 and busy.json()["hint"]
    preview = signed_in.post(f"{web.url}/api/uploads/{second['upload_id']}/jobs",
                             json={"campaign": "Hot leads", "dry_run": True}, timeout=30)
    assert preview.status_code == 202  # a dry run adds nothing and takes no lock
    assert _wait(signed_in, web.url, running.json()["job_id"])["state"] == "done"
    web.emulator.set_faults(FaultConfig())


def test_a_mapping_that_does_not_fit_is_refused(web: Web, signed_in: requests.Session) -> None:
    upload = _upload(signed_in, web.url, "generic_leads_en.csv")
    answer = signed_in.post(f"{web.url}/api/uploads/{upload['upload_id']}/jobs",
                            json={"campaign": "Hot leads", "dry_run": True,
                                  "mapping_yaml": "name: x\nphone: {columns: [Nope]}\n"},
                            timeout=30)
    assert answer.status_code == 422 and "Nope" in answer.json()["error"]
    missing = signed_in.post(f"{web.url}/api/uploads/{upload['upload_id']}/jobs",
                             json={"dry_run": True}, timeout=30)
    assert missing.status_code == 422


def test_errors_speak_the_users_language(web: Web, signed_in: requests.Session) -> None:
    answer = signed_in.post(f"{web.url}/api/uploads?lang=he",
                            files=[("file", ("לידים.xlsx", b"PK\x03\x04 not a workbook"))],
                            timeout=30)
    assert answer.status_code == 422
    body = answer.json()
    assert "לידים.xlsx" in body["error"]
    assert any("\u0590" <= ch <= "\u05ff" for ch in body["hint"])  # the library's Hebrew
    english = signed_in.post(f"{web.url}/api/uploads?lang=en",
                             files=[("file", ("leads.xlsx", b"PK\x03\x04 not a workbook"))],
                             timeout=30).json()
    assert english["hint"].isascii() and english["error"].isascii()


def test_reports_and_runs_name_the_uploaded_file(web: Web, signed_in: requests.Session) -> None:
    """The library writes the browser's name into the reports, their names and the journal:
    never the server's random name for the file."""
    name = "לידים מרץ.csv"
    data = (SAMPLES / "crm_export_he.csv").read_bytes()
    upload = signed_in.post(f"{web.url}/api/uploads", files=[("file", (name, data))],
                            timeout=30).json()
    stored = web.config.data_dir / "uploads"
    stored_stems = {p.stem for p in stored.rglob("*.csv")}
    assert stored_stems and name.rsplit(".", 1)[0] not in stored_stems
    jobs = f"{web.url}/api/uploads/{upload['upload_id']}/jobs"
    misfit = signed_in.post(jobs, json={"campaign": "Hot leads", "dry_run": True,
                                        "mapping_yaml": "name: x\nphone: {columns: [Nope]}\n"},
                            timeout=30)
    assert misfit.status_code == 422 and name in misfit.json()["error"]
    assert not any(stem in misfit.text for stem in stored_stems)
    answer = signed_in.post(jobs, json={"campaign": "Hot leads", "dry_run": False}, timeout=30)
    job = _wait(signed_in, web.url, answer.json()["job_id"])
    assert job["state"] == "done", job

    report = signed_in.get(web.url + job["reports"]["csv"], timeout=30)
    disposition = report.headers["content-disposition"]
    match = re.search(r"filename\*=utf-8''(\S+)", disposition)
    assert match, disposition
    assert re.fullmatch(r"לידים מרץ\.[0-9TZ]+\.report\.csv", unquote(match.group(1)))
    lines = report.content.decode("utf-8-sig").splitlines()
    rows = list(csv.DictReader(lines))
    assert rows and {r["source_file"] for r in rows} == {name}
    text = report.content.decode("utf-8-sig")
    assert not any(stem in text for stem in stored_stems)
    page = signed_in.get(f"{web.url}/api/jobs/{job['job_id']}/rows", timeout=30).json()
    assert {r["source_file"] for r in page["rows"]} == {name}

    runs = signed_in.get(f"{web.url}/api/runs", timeout=30).json()["runs"]
    assert runs[0]["run_id"] == job["run_id"] and runs[0]["source_file"] == name
    with Journal.open(web.config.settings.resolved_state_dir()) as journal:
        run = journal.get_run(job["run_id"])
    assert run.source_file == name and Path(run.source_path).stem in stored_stems
