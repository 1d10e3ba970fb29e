"""The notebooks' widgets in a real browser: JupyterLab driven by headless Chromium (``make browser-test``).

For notebooks 01, 02 and 06: open a fresh copy (outputs cleared) in JupyterLab, Run → Run All Cells in quick
mode, check that no cell failed, then move each control of the notebook's explorer (slider keys, a value
typed into the slider's readout, the dropdown) and check that its picture changes.

One JupyterLab server (random port, token, everything it writes in a temporary directory: root, workspaces,
settings, runtime, HOME) and one Chromium session serve the whole module; both are stopped at teardown, also
after a failure. A failing test leaves a screenshot, the page's HTML and the server's log in
``browser-screenshots/`` and names them in its message.

The browser tests skip, saying what is missing, without Chromium, chromedriver or selenium
(``apt-get install chromium chromium-driver``; ``pip install selenium``). The last tests check without a
browser what a reader without a kernel sees of an explorer: its text/plain form.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SHOTS = ROOT / "browser-screenshots"

RUN_ALL_TIMEOUT = 240  # seconds for Run All Cells (06 takes about a minute in quick mode on 2 busy cores)
CHANGE_TIMEOUT = 20  # seconds for a picture to change after a control moved
UI_TIMEOUT = 60  # seconds for JupyterLab to show a notebook, a menu, a kernel

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
except ImportError:  # the browser tests skip
    webdriver = None


def _chromium() -> str | None:
    # Debian's /usr/bin/chromium is a shell wrapper around /usr/lib/chromium/chromium
    for path in ("/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser"):
        if os.access(path, os.X_OK):
            return path
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


CHROMIUM, CHROMEDRIVER = _chromium(), shutil.which("chromedriver")
_MISSING = [name for name, ok in (("chromium (apt-get install chromium)", CHROMIUM),
                                  ("chromedriver (apt-get install chromium-driver)", CHROMEDRIVER),
                                  ("selenium (pip install selenium)", webdriver is not None)) if not ok]
needs_browser = pytest.mark.skipif(bool(_MISSING), reason=f"browser test: missing {', '.join(_MISSING)}")


# ---------------------------------------------------------------- the JupyterLab server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_copy(src: Path, dest: Path) -> None:
    """``src`` with outputs, execution counts and saved widget state removed, so nothing stored shows."""
    nb = json.loads(src.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nb["metadata"].pop("widgets", None)
    dest.write_text(json.dumps(nb, indent=1))


def _own_group_dying_with_parent() -> None:
    """In a child before exec: a process group of its own (stopped as one at teardown) that gets SIGTERM if
    the test process dies without a teardown (killed by a timeout, say), on Linux."""
    os.setsid()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Lab:
    """A JupyterLab server in its own process group, with all its state under ``tmp``."""

    def __init__(self, tmp: Path, notebooks):
        self.tmp, self.root = tmp, tmp / "root"
        self.root.mkdir()
        for name in notebooks:
            _fresh_copy(NOTEBOOKS / name, self.root / name)
        home = tmp / "home"
        # fresh settings with two changes: every cell in the DOM (JupyterLab 4 may otherwise detach or skip
        # rendering cells out of view), and no "get notified about Jupyter news?" toast over the page
        for plugin, values in {"notebook-extension/tracker": {"windowingMode": "none"},
                               "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}
                               }.items():
            path = tmp / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        import matplotlib

        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MPLBACKEND", "IPYTHON"))}
        env.update(
            DIFFUSION_QUICK="1", OMP_WAIT_POLICY="PASSIVE", HOME=str(home), IPYTHONDIR=str(home / ".ipython"),
            JUPYTER_CONFIG_DIR=str(home / ".jupyter"), JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
            JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
            # the data caches and matplotlib's font cache stay where they are (a new HOME would hide them)
            XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")),
            MPLCONFIGDIR=matplotlib.get_configdir(),
            PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
               f"--LabApp.user_settings_dir={tmp / 'settings'}", "--LabApp.news_url=",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.expose_app_in_browser=True"]  # window.jupyterapp, to read the cells' outputs
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI runs as root
        self.log_path = tmp / "jupyterlab.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=env, cwd=self.root, stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=_own_group_dying_with_parent)
        self._wait_up()

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def _wait_up(self, timeout: float = 90) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                self.api("status")
                return
            time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def kernels_idle(self) -> bool:
        return all(k["execution_state"] == "idle" for k in self.api("kernels"))

    def stop_kernels(self) -> None:
        """Shut down every session and kernel (one notebook's kernel must not slow down the next)."""
        with contextlib.suppress(OSError):
            for s in self.api("sessions"):
                self.api(f"sessions/{s['id']}", "DELETE")
            for k in self.api("kernels"):
                self.api(f"kernels/{k['id']}", "DELETE")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)  # the server and its kernels
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self._log.close()


NOTEBOOKS_UNDER_TEST = ("01_noise_schedules.ipynb", "02_forward_noising.ipynb", "06_ddpm_sampling.ipynb")


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="module")
def sigterm_tears_down():
    """While the module runs, SIGTERM (``timeout``, a CI runner cancelling) raises KeyboardInterrupt, so pytest
    still stops the server and the browser. (If the test process is killed outright, the server and chromedriver
    get SIGTERM from the kernel, see _own_group_dying_with_parent; Chromium itself may then be left running.)"""
    old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, sigterm_tears_down):
    server = Lab(tmp_path_factory.mktemp("lab"), NOTEBOOKS_UNDER_TEST)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def driver(tmp_path_factory, sigterm_tears_down):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium")
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    # HOME: Chromium's crash-report folder and other state go to the temporary profile too
    kw = dict(log_output=str(profile / "chromedriver.log"), env={**os.environ, "HOME": str(profile)})
    try:  # selenium >= 4.11 passes popen_kw on to chromedriver's Popen
        service = Service(CHROMEDRIVER, popen_kw={"preexec_fn": _own_group_dying_with_parent}, **kw)
    except TypeError:
        service = Service(CHROMEDRIVER, **kw)
    d = webdriver.Chrome(service=service, options=opts)
    try:
        d.set_page_load_timeout(UI_TIMEOUT)
        d.set_script_timeout(30)
        yield d
    finally:
        d.quit()


# ---------------------------------------------------------------- driving JupyterLab


@contextlib.contextmanager
def evidence_on_failure(driver, lab, name: str):
    """On a failure inside the block: keep a screenshot, the page's HTML and the server log, and re-raise
    with their paths in the message."""
    try:
        yield
    except BaseException as err:
        SHOTS.mkdir(exist_ok=True)
        stem = SHOTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        kept = []
        with contextlib.suppress(Exception):
            driver.save_screenshot(f"{stem}.png")
            kept.append(f"{stem}.png")
        with contextlib.suppress(Exception):
            Path(f"{stem}.html").write_text(driver.page_source)
            kept.append(f"{stem}.html")
        with contextlib.suppress(Exception):
            shutil.copy(lab.log_path, f"{stem}-jupyterlab.log")
            kept.append(f"{stem}-jupyterlab.log")
        if not isinstance(err, Exception):  # KeyboardInterrupt (or SIGTERM, see sigterm_tears_down): stop
            print(f"\n{name} interrupted; kept: {', '.join(kept) or 'nothing'}", file=sys.stderr)
            raise
        raise AssertionError(f"{name}: {type(err).__name__}: {err}\nkept: {', '.join(kept) or 'nothing'}") from err


def wait_for(what: str, condition, timeout: float, interval: float = 0.5):
    """Poll ``condition()`` until it returns something truthy (returned); fail after ``timeout`` seconds."""
    end, last = time.monotonic() + timeout, None
    while time.monotonic() < end:
        try:
            value = condition()
        except WebDriverException as err:  # e.g. an element replaced while we looked at it
            value, last = None, err
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s" + (f" (last error: {last.msg})" if last else ""))


# The open notebook's code cells, read from JupyterLab's model (window.jupyterapp, exposed by
# --LabApp.expose_app_in_browser; the shell's current widget, or the visible one in the main area, since JupyterLab
# 4.6 leaves currentWidget null in a headless window without focus): execution count, whether the source is
# empty, and the error outputs (output_type "error": tracebacks, not the warnings a cell may print to stderr).
# Also the text of widget outputs that failed to render, which only the page shows.
PANEL_JS = r"""
const shell = window.jupyterapp && window.jupyterapp.shell;
const panel = shell && (shell.currentWidget || Array.from(shell.widgets('main')).find(w => w.isVisible && w.content));
"""
CELLS_JS = PANEL_JS + r"""
const model = panel && panel.content && panel.content.model;
if (!model || !panel.context.isReady) return null;
const cells = [];
for (let i = 0; i < model.cells.length; i++) {
  const c = model.cells.get(i);
  if (c.type !== 'code') continue;
  const source = c.sharedModel ? c.sharedModel.getSource() : c.value.text;
  const errors = [];
  for (let j = 0; j < c.outputs.length; j++) {
    const o = c.outputs.get(j).toJSON();
    if (o.output_type === 'error')
      errors.push((o.traceback || []).join('\n').replace(/\x1b\[[0-9;]*m/g, '') || `${o.ename}: ${o.evalue}`);
  }
  cells.push({index: i, count: c.executionCount, empty: !source.trim(), errors: errors});
}
const widgetErrors = Array.from(panel.node.querySelectorAll('.jp-OutputArea-output'))
  .filter(o => /Error displaying widget|Failed to load model class|Error rendering/.test(o.innerText))
  .map(o => o.innerText.slice(0, 1000));
return {cells: cells, widgetErrors: widgetErrors};
"""


def open_notebook(driver, lab, name: str) -> None:
    # ?reset: an empty workspace, so the previous test's notebook is not reopened
    driver.get(f"{lab.url}/lab/tree/{name}?reset&token={lab.token}")
    wait_for(f"{name} shown with its cells", lambda: driver.execute_script(CELLS_JS), UI_TIMEOUT)
    wait_for(f"{name}: kernel started", lambda: lab.api("kernels") and lab.kernels_idle(), UI_TIMEOUT)


def run_all_cells(driver, lab, name: str) -> dict:
    """Run → Run All Cells from the menu bar; wait until every code cell has an execution count and the kernel
    is idle; fail at the first error output. Returns the cells' state (CELLS_JS)."""
    driver.find_element(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").click()
    run_menu = wait_for("the Run menu", lambda: [e for e in driver.find_elements(
        By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if e.text.strip() == "Run"], UI_TIMEOUT)
    run_menu[0].click()
    wait_for("Run → Run All Cells", lambda: [e for e in driver.find_elements(
        By.CSS_SELECTOR, ".lm-Menu-itemLabel") if e.text.strip() == "Run All Cells"], UI_TIMEOUT)[0].click()

    def finished():
        state = driver.execute_script(CELLS_JS) or {"cells": [], "widgetErrors": []}
        for c in state["cells"]:
            if c["errors"]:
                raise AssertionError(f"{name}: cell {c['index']} (In [{c['count']}]) failed:\n{c['errors'][0][-3000:]}")
        if state["widgetErrors"]:
            raise AssertionError(f"{name}: a widget did not render:\n{state['widgetErrors'][0]}")
        todo = [c for c in state["cells"] if not c["empty"] and c["count"] is None]
        return state if state["cells"] and not todo and lab.kernels_idle() else None

    wait_for(f"{name}: Run All Cells finished", finished, RUN_ALL_TIMEOUT, interval=1.0)
    time.sleep(1.0)  # then check once more: idle between two cells would be a false end
    return wait_for(f"{name}: Run All Cells finished", finished, RUN_ALL_TIMEOUT, interval=1.0)


def explorer(driver, kind: str):
    """The one top-level VBox output of the notebook that holds a slider and a picture (the explorer)."""
    boxes = [b for b in driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output .widget-vbox")
             if b.find_elements(By.CSS_SELECTOR, ".widget-slider") and b.find_elements(By.TAG_NAME, "img")
             and not driver.execute_script("return !!arguments[0].parentElement.closest('.widget-vbox')", b)]
    assert len(boxes) == 1, f"expected one {kind} on the page, found {len(boxes)}"
    return boxes[0]


def picture_srcs(box) -> list:
    return [img.get_attribute("src") for img in box.find_elements(By.TAG_NAME, "img")]


def readout(box):
    return box.find_element(By.CSS_SELECTOR, ".widget-readout")


def expect_change(driver, box, action: str, do, readout_after: str | None) -> None:
    """Run ``do()``; wait until every picture of ``box`` shows something new and the slider's readout (if given)
    reads ``readout_after``."""
    before = picture_srcs(box)
    assert all(before), f"{action}: a picture of the explorer is empty before the move"
    value = readout(box).text
    do()
    wait_for(f"{action}: the picture did not change (readout {value!r} → {readout(box).text!r})",
             lambda: all(a != b for a, b in zip(picture_srcs(box), before)) and all(picture_srcs(box)),
             CHANGE_TIMEOUT, interval=0.25)
    if readout_after is not None:
        wait_for(f"{action}: the readout shows {readout(box).text!r}, not {readout_after!r}",
                 lambda: readout(box).text.strip() == readout_after, CHANGE_TIMEOUT, interval=0.25)


def press_on_slider(driver, box, *keys) -> None:
    handle = box.find_element(By.CSS_SELECTOR, ".noUi-handle")
    driver.execute_script("arguments[0].focus()", handle)
    handle.send_keys(*keys)


def type_into_readout(driver, box, value: int) -> None:
    """The IntSlider's readout is editable (ipywidgets 8): select its text, type a number, press Enter."""
    r = readout(box)
    r.click()
    driver.execute_script("const r = document.createRange(); r.selectNodeContents(arguments[0]);"
                          "const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);", r)
    r.send_keys(str(value), Keys.ENTER)
    wait_for(f"readout shows {value}", lambda: readout(box).text.strip() == str(value), CHANGE_TIMEOUT)


def choose(box, option: str) -> None:
    Select(box.find_element(By.CSS_SELECTOR, ".widget-dropdown select")).select_by_visible_text(option)


def check_notebook(driver, lab, name: str, kind: str, moves) -> None:
    with evidence_on_failure(driver, lab, name.removesuffix(".ipynb")):
        try:
            open_notebook(driver, lab, name)
            run_all_cells(driver, lab, name)
            assert driver.execute_script(PANEL_JS + "return panel.node.innerText.includes('quick mode')"), \
                f"{name} did not print 'quick mode'"
            box = explorer(driver, kind)
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
            for action, do, readout_after in moves:
                expect_change(driver, box, f"{kind}: {action}", lambda do=do: do(box), readout_after)
        finally:
            lab.stop_kernels()


# ---------------------------------------------------------------- the tests


# Each move: what is done, how, and what the slider's readout then shows (None: not checked).


# A move is (what is done, how: "keys" on the slider, "type" into the readout or "choose" from the menu, with what).
NOTEBOOK_MOVES = {
    "01_noise_schedules.ipynb": ("schedule_explorer", [
        ("End key on the T slider", "keys", (Keys.END,), "2000"),
        ("Left arrow on the T slider", "keys", (Keys.ARROW_LEFT,), "1990"),
        ("T = 1000 typed into the readout", "type", 1000, "1000"),
    ]),
    "02_forward_noising.ipynb": ("forward_explorer", [
        ("Right arrow ×3 on the t slider", "keys", (Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT), "3"),
        ("t = 150 typed into the readout", "type", 150, "150"),
        ("schedule menu → cosine", "choose", "cosine", "150"),
        ("schedule menu → linear", "choose", "linear", "150"),
        ("End key on the t slider", "keys", (Keys.END,), "299"),
    ]),
    "06_ddpm_sampling.ipynb": ("trajectory_explorer", [
        ("Right arrow on the step slider", "keys", (Keys.ARROW_RIGHT,), "1"),
        ("End key on the step slider", "keys", (Keys.END,), "299"),
        ("step 150 typed into the readout", "type", 150, "150"),
    ]),
}


def _do(driver, how: str, what):
    """The move ``how`` with ``what`` as a function of the explorer's box."""
    return {"keys": lambda box: press_on_slider(driver, box, *what),
            "type": lambda box: type_into_readout(driver, box, what),
            "choose": lambda box: choose(box, what)}[how]


@pytest.mark.browser
@needs_browser
@pytest.mark.parametrize("name", list(NOTEBOOK_MOVES))
def test_explorer_in_notebook(lab, driver, name):
    kind, moves = NOTEBOOK_MOVES[name]
    check_notebook(driver, lab, name, kind, [(action, _do(driver, how, what), readout)
                                             for action, how, what, readout in moves])


# ---------------------------------------------------------------- without a browser: the text/plain form

PREFIX = "Interactive explorer (run the notebook to use it): "


class _TinyConditional(nn.Module):
    """ε̂ = 0.9 x + 0.1 y (null label 3): enough for the explorers to sample something that the class changes."""

    in_channels, num_classes = 1, 3

    def forward(self, x, t, y=None):
        y = torch.full((x.shape[0],), self.num_classes) if y is None else y
        return 0.9 * x + 0.1 * y.to(x.dtype).reshape(-1, 1, 1, 1)


def _explorers():
    """(name, builder, words its text must hold, a move of one control) for every explorer of the notebooks."""
    from helpers.sampling import ddim_sample
    from helpers.schedules import DiffusionSchedule
    from helpers.viz import sampling_plots, widgets

    schedule = DiffusionSchedule.from_name("report", 300)
    x0 = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1

    def trajectory():
        x_T = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
        traj = ddim_sample(_TinyConditional(), schedule, x_T, steps=10, y=torch.tensor([0, 1, 2]),
                           return_trajectory=True)[1]
        return sampling_plots.trajectory_explorer(traj, nrow=3)

    return [
        ("schedule_explorer", lambda: widgets.schedule_explorer(T=100), ["ᾱ_t", "slider over the number of steps T"],
         lambda box: setattr(box.children[0], "value", 1000)),
        ("forward_explorer", lambda: widgets.forward_explorer(x0, T=50), ["x_t", "4 images", "menu of schedules"],
         lambda box: setattr(box.children[0].children[1], "value", 49)),
        ("trajectory_explorer", trajectory, ["x̂_0", "10 recorded steps"],
         lambda box: setattr(box.children[0], "value", 9)),
        ("guidance_explorer", lambda: sampling_plots.guidance_explorer(
            _TinyConditional(), schedule, ["a", "b", "c"], scales=(0.0, 1.0, 3.0), steps_options=(2, 4), n=3,
            value=(1, 3.0, 2), shape=(1, 6, 6)), ["classifier-free guidance", "guidance scale s (0, 1, 3)"],
         lambda box: setattr(box.children[1], "value", 0.0)),
    ]


@pytest.mark.parametrize("name,build,words,move", _explorers(), ids=[e[0] for e in _explorers()])
def test_explorer_says_what_it_is_without_a_kernel(name, build, words, move):
    import ipywidgets

    from helpers.viz import Explorer

    box = build()
    text = repr(box)
    assert isinstance(box, Explorer) and isinstance(box, ipywidgets.VBox), name
    assert text.startswith(PREFIX) and text.endswith("A static figure of the same view is next to it."), text
    assert all(w in text for w in words), (words, text)
    assert "VBox(" not in text
    # what Jupyter stores in the notebook: the whole text (ipywidgets would cut it at 110 characters) and the view
    bundle = box._repr_mimebundle_()
    assert bundle["text/plain"] == text
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == box.model_id
    # still a working widget: moving a control redraws the picture
    picture = [w for w in _walk(box) if isinstance(w, ipywidgets.Image)][0]
    before = bytes(picture.value)
    move(box)
    assert bytes(picture.value) != before, name


def _walk(w):
    yield w
    for child in getattr(w, "children", ()):
        yield from _walk(child)
