"""The Jobs page in headless Chromium against the real local Apache Livy: a new user submits
the sample job's three files (examples/jobs) from the page, watches the log, and sees
``success`` with the job's result line. Screenshots of the list, the form and the finished
job land in test-artifacts/."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from livy.models import Batch
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.notebook_helpers import csp_violations, watch_csp

pytestmark = [pytest.mark.e2e, pytest.mark.livy, pytest.mark.django_db(transaction=True)]

JOBS = Path(__file__).resolve().parents[2] / "examples" / "jobs"
#: Milliseconds for the job to end (15-30 s on 2 idle cores; minutes on busy shared ones).
JOB_TIMEOUT = 600_000


def test_submit_the_sample_job_from_the_page(real_livy, live_server, page, sign_in, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    zip_path = tmp_path / "packages.zip"
    subprocess.run([str(JOBS / "build_dependencies.sh"), str(zip_path)], check=True, capture_output=True)
    output = tmp_path / "etl-output"
    watch_csp(page)
    sign_in(page)
    page.click("text=Jobs")
    expect(page.locator("h1")).to_have_text("Spark jobs")
    page.screenshot(path=str(ARTIFACTS / "jobs-list-empty.png"), full_page=True)
    page.click("#new-job")
    page.set_input_files("input[name=file_upload]", str(JOBS / "etl_job.py"))
    page.set_input_files("input[name=py_files_upload]", str(zip_path))
    page.set_input_files("input[name=files_upload]", str(JOBS / "configs" / "etl_config.json"))
    page.fill("input[name=label]", "sample etl")
    page.fill("textarea[name=args]", f"--output\n{output}")
    expect(page.locator("#args-preview")).to_have_text(f'["--output","{output}"]')
    page.screenshot(path=str(ARTIFACTS / "jobs-submit-form.png"), full_page=True)
    page.click("#submit-job")
    expect(page.locator("#job-request")).to_contain_text('"pyFiles"')
    expect(page.locator("#job-state")).to_have_attribute("data-state", re.compile("starting|running|success"))
    # The page follows the job by itself (jobs.js): the log grows, the state ends in success.
    expect(page.locator("#job-stdout")).to_contain_text("ETL_JOB_RESULT rows=100 total=14850", timeout=JOB_TIMEOUT)
    expect(page.locator("#job-state")).to_have_attribute("data-state", "success", timeout=60_000)
    expect(page.locator("#kill-job")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "jobs-detail-success.png"), full_page=True)
    row = Batch.objects.get()
    assert row.state == "success" and row.owner.username == "erin"
    page.click("text=← Jobs")
    expect(page.locator("#jobs-table [data-state=success]")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "jobs-list.png"), full_page=True)
    assert csp_violations(page) == []
