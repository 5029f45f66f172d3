"""The playground in headless Chromium, end to end (issue 15, L-PLAY-1).

Open the page, press play, wait until ``test-accuracy`` >= 0.95, check the region is drawn
(its pixels, not only its element), switch the hidden unit and the mode while it trains,
refuse a bad learning rate on the page, export the model and open it with ``ff.load``,
then lecture mode (XOR by hand, a polygon clicked on the canvas, square pulses). Screenshots
of the main view and of lecture mode are written into the test's tmp dir (and into
``$FF_PLAYGROUND_SHOTS`` when set).

Needs Debian's ``chromium`` and ``chromium-driver`` and Selenium (a test extra); skipped with
the reason when one is missing. L-SGD-3, L-ACT, L-OUT, L-XOR-3, L-CLS-1, L-REG-1.
"""

from __future__ import annotations

import base64
import os
import shutil
import struct
import threading
import time

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytest.importorskip("starlette", reason='the playground needs its extra: pip install "feedforward[playground]"')
pytest.importorskip("uvicorn", reason='the playground needs its extra: pip install "feedforward[playground]"')
selenium = pytest.importorskip("selenium", reason="the browser test needs selenium (a test extra)")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("the browser test needs Debian's chromium and chromium-driver "
                "(apt-get install -y chromium chromium-driver)", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

import feedforward as ff  # noqa: E402
from feedforward.playground.command import make_server  # noqa: E402

# As root in a closed network: no sandbox, and none of the background traffic Chromium makes.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,950")


@pytest.fixture(scope="module")
def url():
    server, sock, address = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not server.started and time.monotonic() < end:
        time.sleep(0.05)
    assert server.started, "the playground server did not start within 20 s"
    yield address
    server.should_exit = True
    thread.join(15)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def by(driver, tid):
    return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{tid}"]')


def number(driver, tid) -> float:
    text = by(driver, tid).text
    return float(text) if text else float("nan")


def wait(driver, condition, seconds=60, message=""):
    # The page rebuilds its per-layer controls on every settings message: a found element may go stale.
    return WebDriverWait(driver, seconds, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
                         ).until(lambda d: condition(d), message)


def region_pixels(driver) -> dict:
    """What the region canvas holds: the share of non-white pixels and of orange- and blue-ish ones."""
    return driver.execute_script("""
        const c = document.querySelector('[data-testid="region"]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let painted = 0, orange = 0, blue = 0; const n = d.length / 4;
        for (let i = 0; i < d.length; i += 4) {
          const [r, g, b, a] = [d[i], d[i + 1], d[i + 2], d[i + 3]];
          if (a > 0 && !(r > 245 && g > 245 && b > 245)) painted++;
          if (r > 200 && b < 150) orange++;
          if (b > 150 && r < 120) blue++;
        }
        return {painted: painted / n, orange: orange / n, blue: blue / n};
    """)


def screenshot(driver, path) -> None:
    driver.save_screenshot(str(path))
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert width >= 800 and height >= 600
    shots = os.environ.get("FF_PLAYGROUND_SHOTS")
    if shots:
        os.makedirs(shots, exist_ok=True)
        shutil.copy(path, os.path.join(shots, path.name))


def test_play_learn_switch_export(url, browser, tmp_path):
    """Issue 15: play until test accuracy >= 0.95; the region is drawn; switching the unit and the
    mode while training keeps training; a bad lr is refused on the page; the export loads."""
    d = browser
    d.get(url)
    wait(d, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true", 30,
         "the page did not connect")
    assert by(d, "epoch").text == "0"
    by(d, "play").click()
    wait(d, lambda d: number(d, "test-accuracy") >= 0.95, 90, "test accuracy stayed below 0.95")
    assert int(by(d, "epoch").text) > 0 and by(d, "play").text == "pause"
    for tid in ("train-loss", "test-loss", "grad-norm"):
        float(by(d, tid).text)  # plain numbers
    pixels = region_pixels(d)
    assert pixels["painted"] > 0.9 and pixels["orange"] > 0.1 and pixels["blue"] > 0.05, pixels
    assert len(d.find_elements(By.CSS_SELECTOR, '[data-testid="units"] canvas[data-testid="unit"]')) == 12
    screenshot(d, tmp_path / "playground-main.png")

    # Switch the hidden unit while training: every layer becomes ReLU, training goes on.
    Select(by(d, "activation")).select_by_value("relu")
    wait(d, lambda d: Select(by(d, "activation-1")).first_selected_option.get_attribute("value") == "relu", 20)
    e0 = int(by(d, "epoch").text)
    wait(d, lambda d: int(by(d, "epoch").text) > e0 + 5, 30, "training stopped after switching the unit")
    # Switch the mode while training: stochastic (Algorithm 1), the batch-size box goes away.
    Select(by(d, "mode")).select_by_value("stochastic")
    wait(d, lambda d: not by(d, "batch-size").is_displayed(), 20)
    e1 = int(by(d, "epoch").text)
    wait(d, lambda d: int(by(d, "epoch").text) > e1 + 3, 30, "training stopped after switching the mode")
    assert by(d, "play").text == "pause"

    # A bad learning rate: the page says why and keeps the old one.
    lr = by(d, "lr")
    lr.clear()
    lr.send_keys("NaN\t")
    wait(d, lambda d: by(d, "error").is_displayed() and "lr" in by(d, "error").text, 20)
    wait(d, lambda d: by(d, "lr").get_attribute("value") == "0.03", 20)

    by(d, "play").click()  # pause
    wait(d, lambda d: by(d, "play").text == "play", 20)
    href = by(d, "export").get_attribute("href")
    assert "/export/" in href
    data = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => {
          let s = ''; const u = new Uint8Array(b);
          for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]);
          done(btoa(s));
        }).catch(e => done('error: ' + e));
    """, href)
    path = tmp_path / "exported.safetensors"
    path.write_bytes(base64.b64decode(data))
    model, meta = ff.load(path, return_metadata=True)
    assert model.sizes == [2, 6, 6, 1] and model.output.name == "bernoulli"
    assert [type(m).name for m in model.layers if isinstance(m, ff.nn.activation.Unit)] == ["relu", "relu"]
    assert meta["playground.features"] == "x1,x2"
    # Load the file back into the page: it is shown (region, units), not trained.
    by(d, "load").send_keys(str(path))
    wait(d, lambda d: "showing exported.safetensors" in by(d, "status").text, 20)
    assert region_pixels(d)["painted"] > 0.9

    centre_and_corner = model.predict(np.array([[0.0, 0.0], [1.9, 1.9]], np.float32))
    assert centre_and_corner[0] != centre_and_corner[1]  # the circles: the centre and the corner are different classes


def test_lecture_mode(url, browser, tmp_path):
    """Issue 15: XOR's hand solution layer by layer, a polygon from clicked vertices, square pulses."""
    d = browser
    d.get(url)
    wait(d, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true", 30)
    by(d, "tab-lecture").click()
    wait(d, lambda d: "max(0, XW + c)" in by(d, "xor-tables").text, 20)
    assert by(d, "xor-region").is_displayed()

    by(d, "lecture-polygon").click()
    canvas = by(d, "poly-canvas")
    for dx, dy in [(-100, 60), (100, 60), (110, -50), (0, -120), (-110, -50)]:  # a convex pentagon
        ActionChains(d).move_to_element_with_offset(canvas, dx, dy).click().perform()
    by(d, "poly-build").click()
    wait(d, lambda d: "[2,10,1,1]" in by(d, "poly-story").text, 20)
    blue = d.execute_script("""
        const c = document.querySelector('[data-testid="poly-canvas"]');
        const p = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < p.length; i += 4) if (p[i + 2] > 150 && p[i] < 60) n++;
        return n / (p.length / 4);
    """)
    assert 0.1 < blue < 0.6, blue  # the pentagon is filled, the rest is not
    screenshot(d, tmp_path / "playground-lecture-polygon.png")

    by(d, "lecture-pulses").click()
    wait(d, lambda d: "largest error" in by(d, "pulse-story").text, 20)
    first = float(by(d, "pulse-story").text.rsplit(" ", 1)[1])
    d.execute_script("const s = arguments[0]; s.value = 40; s.dispatchEvent(new Event('input'));", by(d, "pulse-n"))
    wait(d, lambda d: "[1,160,1]" in by(d, "pulse-story").text, 20)
    assert float(by(d, "pulse-story").text.rsplit(" ", 1)[1]) < first
    by(d, "lecture-xor").click()
    wait(d, lambda d: by(d, "xor-tables").is_displayed(), 10)
    screenshot(d, tmp_path / "playground-lecture-xor.png")
    by(d, "lecture-pulses").click()
    wait(d, lambda d: "[1,160,1]" in by(d, "pulse-story").text, 20)
    screenshot(d, tmp_path / "playground-lecture-pulses.png")
