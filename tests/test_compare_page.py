"""The compare page in a real browser: Debian's chromium driven by selenium through Debian's chromium-driver.

Skipped, saying why, when selenium, chromium or chromedriver is absent (apt-get install chromium
chromium-driver; pip install -c constraints.txt selenium). No browser is downloaded.
"""

from __future__ import annotations

import json
import shutil

import pytest

import compare_synthetic as cs
from stcorr.compare import analyse, write_comparison

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -c constraints.txt selenium)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    reference, attempt, pose = cs.synthetic_pair(root)
    comparison = analyse(reference, attempt, key_moments=[12, 24, 36], action="squat", pose=pose)
    return write_comparison(comparison, root / "out", video=False)


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1300,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def open_page(browser, written):
    browser.get((written / "index.html").as_uri())
    assert browser.execute_script("return document.body.dataset.ready") == "1"


def rect(browser, element_id: str) -> dict:
    return browser.execute_script(f"return document.getElementById('{element_id}').getBoundingClientRect().toJSON()")


def click_native(browser, element_id: str, x: float, y: float, size: tuple[int, int]) -> None:
    """Clicks the SVG overlay at native pixel (x, y) of a frame of ``size`` (width, height)."""
    from selenium.webdriver.common.action_chains import ActionChains

    box = rect(browser, element_id)
    dx = (x + 0.5) / size[0] * box["width"] - box["width"] / 2
    dy = (y + 0.5) / size[1] * box["height"] - box["height"] / 2
    element = browser.find_element("id", element_id)
    ActionChains(browser).move_to_element_with_offset(element, round(dx), round(dy)).click().perform()


def marker_centre(browser) -> tuple[float, float]:
    box = rect(browser, "att-marker")
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_click_a_joint_at_a_key_moment_shows_its_match_where_compare_json_says(browser, written):
    record = json.loads((written / "compare.json").read_text())
    moment = record["key_moments"][1]
    (rw, rh), (aw, ah) = record["sizes"]
    open_page(browser, written)
    browser.find_elements("css selector", "button.km")[1].click()
    assert "hips at floor" in browser.find_element("id", "frame-label").text
    point = next(p for p in moment["points"] if p["name"] == "left_wrist")
    click_native(browser, "ref-svg", point["reference"][1], point["reference"][2], (rw, rh))
    marker = browser.find_element("id", "att-marker")
    assert float(marker.get_attribute("data-x")) == pytest.approx(point["attempt"][1], abs=0.01)
    assert float(marker.get_attribute("data-y")) == pytest.approx(point["attempt"][2], abs=0.01)
    frame = rect(browser, "att-svg")
    expected = (frame["x"] + (point["attempt"][1] + 0.5) / aw * frame["width"],
                frame["y"] + (point["attempt"][2] + 0.5) / ah * frame["height"])
    assert marker_centre(browser) == pytest.approx(expected, abs=1.5)
    assert f"attempt frame {moment['attempt_t']}" in browser.find_element("id", "match-label").text


def test_scrubber_shows_the_aligned_attempt_frame_and_a_click_anywhere_finds_a_match(browser, written):
    record = json.loads((written / "compare.json").read_text())
    open_page(browser, written)
    browser.execute_script("const s=document.getElementById('scrub');s.value=30;s.dispatchEvent(new Event('input'))")
    aligned = dict(map(tuple, record["time_alignment"]))[30]
    assert browser.find_element("id", "ref-cap").text.startswith("reference t=30 ")
    assert browser.find_element("id", "att-cap").text.startswith(f"attempt (aligned) t={aligned} ")
    (rw, rh), _ = record["sizes"]
    click_native(browser, "ref-svg", rw * 0.5, rh * 0.6, (rw, rh))
    assert "interpolated from the pose grid" in browser.find_element("id", "match-label").text
    frame, (x, y) = rect(browser, "att-svg"), marker_centre(browser)
    assert frame["left"] <= x <= frame["right"] and frame["top"] <= y <= frame["bottom"]


def test_every_picture_decodes_and_nothing_is_fetched(browser, written):
    open_page(browser, written)
    assert browser.execute_script("return [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [r for r in resources if not r.startswith("data:")] == []


def press(browser, *keys) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    browser.find_element("tag name", "h1").click()  # focus on the page, not a control
    for key in keys:
        ActionChains(browser).send_keys(key).perform()


def test_keys_step_frames_play_and_set_the_speed(browser, written):
    from selenium.webdriver.common.keys import Keys

    open_page(browser, written)
    press(browser, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_LEFT)
    assert browser.find_element("id", "ref-cap").text.startswith("reference t=2 ")
    browser.find_element("id", "next").click()
    assert browser.find_element("id", "ref-cap").text.startswith("reference t=3 ")
    press(browser, "1")
    assert browser.find_element("id", "speed").get_attribute("value") == "0.25"
    press(browser, Keys.SPACE)
    assert browser.find_element("id", "play").text == "pause"
    press(browser, Keys.SPACE)
    assert browser.find_element("id", "play").text == "play"


def test_overlay_ghost_and_split_show_the_warped_attempt_and_traces_toggle(browser, written):
    open_page(browser, written)
    browser.execute_script("const s=document.getElementById('scrub');s.value=30;s.dispatchEvent(new Event('input'))")
    ghost = browser.find_element("id", "ref-ov")
    assert not ghost.is_displayed()
    press(browser, "o")
    assert ghost.is_displayed() and float(ghost.value_of_css_property("opacity")) == pytest.approx(0.5)
    assert ghost.get_attribute("src") == browser.execute_script("return JSON.parse(document.getElementById('data').textContent).frames[30].warp")
    press(browser, "o")
    assert "inset" in ghost.value_of_css_property("clip-path") and browser.find_element("id", "ref-line").is_displayed()
    traced = "return document.querySelectorAll('#ref-svg .trace').length"
    assert browser.execute_script(traced) > 0
    press(browser, "t")
    assert browser.execute_script(traced) == 0


def test_page_has_the_per_rep_table(browser, written):
    open_page(browser, written)
    text = browser.find_element("id", "reps").text
    assert "attempt: 1 rep" in text and "deepest knee flexion" in text


@pytest.fixture(scope="module")
def attempts_written(tmp_path_factory):
    """``stcorr compare REF FOLDER`` on squats of known depths and one clip too short to compare."""
    from unittest import mock

    from test_compare_cli import run

    root = tmp_path_factory.mktemp("attempts-page")
    frames = {name: cs.rep_frames([depth]) for name, depth in ATTEMPT_DEPTHS.items()}
    frames["reference"] = cs.rep_frames([0.7])
    frames["blink"] = frames["deep"][:2]
    for name, joints in frames.items():
        cs.write_frames(root / ("." if name == "reference" else "takes") / name, joints, (200, 220))
    with mock.patch("stcorr.compare.pipeline.default_pose", lambda **_: cs.FakePose(frames)):
        code, err = run("compare", root / "reference", root / "takes", "--out", root / "out", "--action", "squat", "--no-video")
    assert code == 0, err
    return root / "out"


ATTEMPT_DEPTHS = {"deep": 1.0, "mid": 0.7, "shallow": 0.5}


def ranking_names(browser) -> list[str]:
    return [row.find_element("tag name", "td").text for row in browser.find_elements("css selector", "#ranking tbody tr")]


def test_the_attempts_ranking_sorts_by_a_clicked_column_and_opens_each_attempt(browser, attempts_written):
    record = json.loads((attempts_written / "attempts.json").read_text())
    ranked = [r for r in record["attempts"] if "error" not in r]
    browser.get((attempts_written / "index.html").as_uri())
    assert browser.execute_script("return document.body.dataset.ready") == "1"
    assert ranking_names(browser) == ["blink", "deep", "mid", "shallow"]  # by name, as written
    headers = {th.text: th for th in browser.find_elements("css selector", "#ranking th")}
    headers["deepest knee flexion"].click()  # ascending: the shallowest first, the one not compared last
    by_depth = [r["attempt"] for r in sorted(ranked, key=lambda r: r["knee_flexion_max_deg"])]
    assert by_depth == ["shallow", "mid", "deep"]
    assert ranking_names(browser) == [*by_depth, "blink"]
    headers["deepest knee flexion"].click()  # again: descending
    assert ranking_names(browser) == [*by_depth[::-1], "blink"]
    assert headers["deepest knee flexion"].get_attribute("aria-sort") == "descending"
    headers["closeness rank"].click()
    assert ranking_names(browser)[:3] == [r["attempt"] for r in sorted(ranked, key=lambda r: r["closeness_rank"])]
    assert headers["deepest knee flexion"].get_attribute("aria-sort") is None
    first = ranking_names(browser)[0]
    browser.find_element("link text", first).click()  # the attempt's own comparison page
    assert browser.execute_script("return document.body.dataset.ready") == "1"
    assert browser.current_url.endswith(f"/attempts/{first}/index.html")
    assert browser.find_element("css selector", "header code:nth-of-type(2)").text.endswith(f"takes/{first}")
    browser.back()
    assert sorted(ranking_names(browser)) == ["blink", *sorted(ATTEMPT_DEPTHS)]
