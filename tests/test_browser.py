"""Notebook 07's explorers in a real browser: JupyterLab and the Voilà app, driven by Playwright.

The browser is Debian's Chromium (``apt-get install chromium``; ``.ci/run`` installs it in CI), never
one that a tool downloads: Playwright launches it from ``/usr/bin/chromium`` or from the path in
``COURSE_CHROMIUM``. Without it these tests skip, saying how to install it; with ``CI=true`` a missing
browser fails them.

Each test starts its own server on a free localhost port with a token, on a copy of notebook 07 (its
outputs cleared) in a temporary folder, and always stops it; the app is started by ``make app``, with
the token it generates and prints. Without a browser, the app's token is still tested over HTTP. Screenshots of every state go to
``$COURSE_ARTIFACTS`` (default: a temporary folder, printed); the browser-side time from a control
change to the new map image is printed and written to ``browser_latency.json`` there.
``COURSE_UPDATE_SCREENSHOT=1`` also copies the app's screenshot to ``docs/explorer.png``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "07_explorer.ipynb"
BIN = Path(sys.executable).parent
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
INSTALL_HINT = ("install Debian's Chromium (as root: apt-get install -y chromium) or point COURSE_CHROMIUM at a "
                "Chromium binary; do not use `playwright install`, which downloads a browser")
SERVER_START = 180  # seconds for a server to answer
NOTEBOOK_RUN = 900  # seconds for the whole notebook to run in the browser's kernel (generous: CPUs may be busy)
UPDATE = 120  # seconds for one explanation to reach the page


def _chromium() -> str:
    path = os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        message = f"no Chromium at {path}: {INSTALL_HINT}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the browser tests cannot run: {message}")
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    with sync_api.sync_playwright() as playwright:  # Playwright gives the browser a fresh temporary profile
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def artifacts():
    folder = Path(os.environ.get("COURSE_ARTIFACTS") or tempfile.mkdtemp(prefix="course-browser-artifacts-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser test artifacts: {folder}")
    return folder


def _record_latency(artifacts: Path, name: str, seconds: float) -> None:
    path = artifacts / "browser_latency.json"
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures[name] = round(seconds, 3)
    path.write_text(json.dumps(figures, indent=1))
    print(f"browser-side {name}: {seconds * 1000:.0f} ms")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook_copy(folder: Path) -> Path:
    """Notebook 07 with its outputs cleared, so that a finished run is visible (every cell numbered)."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    path = folder / NOTEBOOK.name
    nbformat.write(notebook, path)
    return path


class Server:
    """A server process in its own session, its log in a file; stopped (the whole group) on exit."""

    def __init__(self, command: list[str], folder: Path, port: int, token: str | None, env: dict | None = None):
        self.port, self.token, self.folder = port, token, folder
        self.log_path = folder / "server.log"
        outer = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_TOKEN", "JUPYTER_TOKEN_FILE")}  # ours only
        env = dict(outer, JUPYTER_RUNTIME_DIR=str(folder / "runtime"), JUPYTER_CONFIG_DIR=str(folder / "config"),
                   JUPYTERLAB_SETTINGS_DIR=str(folder / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(folder / "workspaces"),
                   PYTHONHASHSEED="0", **(env or {}))
        self.log = open(self.log_path, "w+")
        self.process = subprocess.Popen(command, cwd=folder, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def log_tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text()[-4000:]

    def wait_for_log(self, pattern: str) -> re.Match:
        """The first match of ``pattern`` in the server's log, once it is there."""
        deadline = time.monotonic() + SERVER_START
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log_tail())
            if found:
                return found
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with code {self.process.returncode}:\n{self.log_tail()}")
            time.sleep(0.5)
        pytest.fail(f"the server's log never matched {pattern!r} within {SERVER_START} s:\n{self.log_tail()}")

    def command_lines(self) -> list[str]:
        """The command lines of the server's processes (its session: make, the shell, Voila), as ps shows them."""
        lines = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                session = int(stat.read_text().rsplit(")", 1)[1].split()[3])
                if session == self.process.pid:
                    lines.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (OSError, IndexError, ValueError):  # a process that ended meanwhile
                pass
        return lines

    def wait_until_up(self, path: str) -> None:
        deadline = time.monotonic() + SERVER_START
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}?token={self.token}", timeout=5)
                return
            except urllib.error.HTTPError:  # an answer all the same (Voila serves no /api/status: 403)
                return
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"the server did not answer on port {self.port} within {SERVER_START} s:\n{self.log_tail()}")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        finally:
            self.log.close()


@pytest.fixture
def workspace():
    folder = Path(tempfile.mkdtemp(prefix="course-browser-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- page helpers

DIGITS = ".course-digitexplorer"


def _src(page, selector: str) -> str:
    return page.eval_on_selector(selector, "img => img.src")


def _wait_src_change(page, selector: str, old: str, what: str, server: Server) -> float:
    start = time.perf_counter()
    try:
        page.wait_for_function("([selector, old]) => { const img = document.querySelector(selector); "
                               "return img && img.src && img.src !== old; }", arg=[selector, old], timeout=UPDATE * 1000)
    except Exception as error:
        status = page.inner_text(f"{DIGITS} .course-status")
        pytest.fail(f"{what}: the image {selector} did not change within {UPDATE} s ({error}); "
                    f"status line: {status!r}\nserver log:\n{server.log_tail()}")
    return time.perf_counter() - start


def _wait_status(page, text: str, what: str, server: Server, present: bool = True) -> str:
    selector = f"{DIGITS} .course-status"
    try:
        page.wait_for_function("([selector, text, present]) => { const s = document.querySelector(selector); "
                               "return s && s.innerText.length > 0 && s.innerText.includes(text) === present; }",
                               arg=[selector, text, present], timeout=UPDATE * 1000)
    except Exception as error:
        status = page.inner_text(selector) if page.query_selector(selector) else "(no status line)"
        pytest.fail(f"{what}: the status line never {'said' if present else 'stopped saying'} {text!r} "
                    f"({error}); it says {status!r}\nserver log:\n{server.log_tail()}")
    return page.inner_text(selector)


def _change_method(page, method: str, server: Server, artifacts: Path, name: str) -> float:
    """Choose a method in the digit explorer's menu; return the seconds until the new map was shown."""
    selector = f"{DIGITS} img.course-map"
    old = _src(page, selector)
    page.select_option(f"{DIGITS} .course-method select", label=method)
    seconds = _wait_src_change(page, selector, old, f"changing the method to {method}", server)
    status = _wait_status(page, method, f"changing the method to {method}", server)
    assert "forward rows" in status and " ms" in status, status
    _record_latency(artifacts, f"{name}: method -> {method}, control change to new map", seconds)
    return seconds


def _draw_seven(page, server: Server, artifacts: Path, name: str) -> None:
    """Switch to drawing, draw a 7 with mouse moves, and check that the prediction and the map follow."""
    page.click(f"{DIGITS} .widget-toggle-buttons button:has-text('draw')")
    canvas = page.wait_for_selector(f"{DIGITS} canvas.course-draw-canvas", state="visible", timeout=UPDATE * 1000)
    # the canvas starts blank, and says so in plain words
    _wait_status(page, "blank", "switching to a blank canvas", server)
    page.screenshot(path=str(artifacts / f"{name}-blank-canvas.png"))
    bars_before = page.inner_text(f"{DIGITS} .course-probabilities") if page.query_selector(
        f"{DIGITS} .course-probabilities") else ""
    map_before = _src(page, f"{DIGITS} img.course-map")
    box = canvas.bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + 90, y0 + 60)
    page.mouse.down()
    for k in range(1, 21):
        page.mouse.move(x0 + 90 + 5.5 * k, y0 + 60)
    for k in range(1, 31):
        page.mouse.move(x0 + 200 - 2.7 * k, y0 + 60 + 6 * k)
    start = time.perf_counter()
    page.mouse.up()
    _wait_src_change(page, f"{DIGITS} img.course-map", map_before, "drawing a stroke", server)
    _record_latency(artifacts, f"{name}: stroke released to new map", time.perf_counter() - start)
    status = _wait_status(page, "blank", "drawing a stroke", server, present=False)
    assert "forward rows" in status, status
    bars_after = page.inner_text(f"{DIGITS} .course-probabilities")
    assert bars_after and bars_after != bars_before, "the prediction bars did not change after drawing"
    assert "your drawing" in page.inner_text(DIGITS)
    page.screenshot(path=str(artifacts / f"{name}-drawn.png"))
    # clearing the canvas gives the plain-words message, and no traceback anywhere in the explorer
    page.click(f"{DIGITS} .course-draw-clear")
    _wait_status(page, "blank", "clearing the canvas", server)
    assert "Traceback" not in page.inner_text(DIGITS)
    page.screenshot(path=str(artifacts / f"{name}-cleared.png"))


# --------------------------------------------------------------------------- JupyterLab


def test_explorer_in_jupyterlab(browser, workspace, artifacts):
    notebook = _notebook_copy(workspace)
    port, token = _free_port(), "course-browser-test"
    command = [str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--ServerApp.token={token}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={workspace}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.getuid() == 0:
        command.append("--allow-root")
    server = Server(command, workspace, port, token)
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    try:
        server.wait_until_up("/api/status")
        page.goto(f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?token={token}&reset", timeout=SERVER_START * 1000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
                               "window.jupyterapp.shell.currentWidget.sessionContext && "
                               "window.jupyterapp.shell.currentWidget.sessionContext.session && "
                               "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                               timeout=SERVER_START * 1000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            page.wait_for_function(
                "() => { const panel = window.jupyterapp.shell.currentWidget; "
                "const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel; "
                "const cells = panel.content.widgets.filter(c => c.model.type === 'code'); "
                "return kernel && kernel.status === 'idle' && "
                "cells.every(c => typeof c.model.executionCount === 'number'); }",
                timeout=NOTEBOOK_RUN * 1000, polling=500)
        except Exception as error:
            page.screenshot(path=str(artifacts / "lab-timeout.png"))
            pytest.fail(f"the notebook did not finish in the browser within {NOTEBOOK_RUN} s ({error})\n{server.log_tail()}")
        errors = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets"
                               ".filter(c => c.model.type === 'code')"
                               ".flatMap(c => c.model.outputs.toJSON()).filter(o => o.output_type === 'error')"
                               ".map(o => o.ename + ': ' + o.evalue)")
        assert not errors, f"cells failed in JupyterLab: {errors}"
        page.wait_for_selector(f"{DIGITS} img.course-map", timeout=UPDATE * 1000)
        page.locator(DIGITS).scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "lab-1-after-run-all.png"))
        for method in ("LIME", "SmoothGrad", "Gradient×Input"):
            _change_method(page, method, server, artifacts, "JupyterLab")
            page.screenshot(path=str(artifacts / f"lab-2-method-{method.replace('×', 'x')}.png"))
        _draw_seven(page, server, artifacts, "lab-3")
    finally:
        page.close()
        server.stop()


# --------------------------------------------------------------------------- the Voilà app


def _start_app(workspace: Path, env: dict | None = None) -> Server:
    """`make app`, as the README says, on a free port; its token is the one it prints (or ``env`` chooses)."""
    port = _free_port()
    command = ["make", "--no-print-directory", "-C", str(ROOT), "app", f"APP_PORT={port}",
               "APP_ARGS=--Voila.port_retries=0"]
    server = Server(command, workspace, port, None, env)
    try:
        address = server.wait_for_log(rf"running at:\s*http://127\.0\.0\.1:{port}/\?token=(\S+)")
        server.token = address.group(1)
        server.wait_until_up("/voila/static/")
    except BaseException:
        server.stop()
        raise
    return server


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _status(url: str) -> tuple[int, str]:
    """The HTTP status of a GET and where it redirects to (redirects are not followed)."""
    try:
        with urllib.request.build_opener(_NoRedirect).open(url, timeout=30) as answer:
            return answer.status, ""
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


@pytest.mark.parametrize("chosen", [False, True], ids=["generated token", "token from a file"])
def test_the_app_needs_its_token(workspace, chosen):
    """`make app` serves only with a token that is on no command line: generated and printed in the address,
    or chosen in a file named by JUPYTER_TOKEN_FILE. No request here runs the notebook."""
    env = None
    if chosen:
        secret = workspace / "token"
        secret.write_text("course-token-from-a-file")
        secret.chmod(0o600)
        env = {"JUPYTER_TOKEN_FILE": str(secret)}
    server = _start_app(workspace, env)
    try:
        token = "course-token-from-a-file" if chosen else server.token
        assert len(token) >= 20 and token != "..."
        lines = server.command_lines()
        assert any("voila" in line for line in lines), lines
        assert not [line for line in lines if token in line], "the token is on a command line (ps shows it)"
        base = f"http://127.0.0.1:{server.port}"
        kernel = "/api/kernels/00000000-0000-0000-0000-000000000000"  # authorised: 404 (no such kernel)
        assert _status(f"{base}{kernel}?token={token}")[0] == 404
        for query in ("", "?token=", "?token=wrong"):
            assert _status(f"{base}{kernel}{query}")[0] == 403
            code, location = _status(f"{base}/{query}")  # the notebook's page: to the login form, or refused
            assert code == 403 or (code == 302 and location.startswith("/login")), (query, code, location)
    finally:
        server.stop()


def test_explorer_in_the_voila_app(browser, workspace, artifacts):
    """`make app`, as the README says, with a free port and the token it prints."""
    server = _start_app(workspace)
    port, token = server.port, server.token
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    try:
        page.goto(f"http://127.0.0.1:{port}/?token={token}", timeout=NOTEBOOK_RUN * 1000)
        try:  # the app is ready when the last explorer (the photo explorer) shows a status line
            page.wait_for_function("() => { const s = document.querySelector('.course-photoexplorer .course-status'); "
                                   "return s && s.innerText.length > 0; }", timeout=NOTEBOOK_RUN * 1000, polling=500)
        except Exception as error:
            page.screenshot(path=str(artifacts / "voila-timeout.png"))
            pytest.fail(f"the app did not show both explorers within {NOTEBOOK_RUN} s ({error})\n{server.log_tail()}")
        assert "Traceback" not in page.inner_text("body")
        page.locator(DIGITS).scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "voila-1-loaded.png"))
        _change_method(page, "LIME", server, artifacts, "Voila")
        _change_method(page, "gradient", server, artifacts, "Voila")
        page.screenshot(path=str(artifacts / "voila-2-method.png"))
        _draw_seven(page, server, artifacts, "voila-3")
        # the README's picture: the digit explorer on a drawn seven explained by LIME
        page.click(f"{DIGITS} .widget-toggle-buttons button:has-text('test digit')")
        _wait_status(page, "blank", "back to the test digits", server, present=False)
        old = _src(page, f"{DIGITS} img.course-map")
        page.select_option(f"{DIGITS} .course-method select", label="LIME")
        _wait_src_change(page, f"{DIGITS} img.course-map", old, "LIME for the screenshot", server)
        _wait_status(page, "LIME", "LIME for the screenshot", server)
        shot = artifacts / "explorer.png"
        page.locator(DIGITS).screenshot(path=str(shot))
        if os.environ.get("COURSE_UPDATE_SCREENSHOT") == "1":
            (ROOT / "docs").mkdir(exist_ok=True)
            shutil.copy(shot, ROOT / "docs" / "explorer.png")
    finally:
        page.close()
        server.stop()
