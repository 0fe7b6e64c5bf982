"""`repro ui` in a real browser: Debian's headless chromium, driven by Selenium
through Debian's chromedriver, on a store of real runs: a sweep of two seeds,
a replay of one, and a third run whose progress.csv is then tampered with.

The screenshots go into the test's temp directory; with
``REPRO_UI_SCREENSHOTS=docs/img`` the run and compare pages are also copied
there (the README's pictures). Without chromium the tests skip, and fail
where ``REPRO_REQUIRE_BROWSER=1`` (``.ci/run``) says they must run.
"""
import csv
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import wait_for
from tests.support import ROOT, git_project, progress_csv, repro, run_id_of, small_lock_files

pytestmark = [pytest.mark.docker, pytest.mark.browser]

EPOCHS = 6
TAMPERED_ROW = 3
MARKUP = '<img src=x id=injected onerror=alert(1)>'
TRAIN = f'''
from repro import logger, tabular, wrap_experiment
@wrap_experiment(archive_launch_repo=False)
def train(ctxt=None, seed=0, n_epochs={EPOCHS}):
    import numpy as np
    rng = np.random.default_rng(seed)
    total = 0.0
    for epoch in range(n_epochs):
        total += float(rng.normal())
        tabular.record('Epoch', epoch)
        tabular.record('TotalEnvSteps', (epoch + 1) * 100)
        tabular.record('AverageReturn', total)
        logger.log(tabular)
        logger.dump_all(epoch)
        tabular.clear()
    open(MARKUP, 'w').close()  # a name a container chose: shown as text, never as markup

MARKUP = {MARKUP!r}
train()
'''


def _missing_browser(problem):
    if os.environ.get('REPRO_REQUIRE_BROWSER'):
        pytest.fail(f'{problem} (REPRO_REQUIRE_BROWSER is set: the browser tests must run)')
    pytest.skip(problem)


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    """Headless chromium under Selenium, pointed at Debian's binaries."""
    binary, driver = shutil.which('chromium'), shutil.which('chromedriver')
    if not (binary and driver):
        _missing_browser('no chromium: apt-get install chromium chromium-driver')
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing_browser('selenium is not installed (pip install -e .[dev])')
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                '--window-size=1280,1700', '--hide-scrollbars'):
        options.add_argument(arg)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    yield chrome
    chrome.quit()


@pytest.fixture(scope='module')
def store(tmp_path_factory, base_image):
    """Real runs: sweep members a (seed 0) and b (seed 1), r replaying a, and
    t (seed 0 again) whose progress.csv row 3 is then edited."""
    tmp = tmp_path_factory.mktemp('ui')
    project = git_project(tmp / 'proj', {**small_lock_files('ui-browser'), 'train.py': TRAIN})
    home = tmp / 'home'
    last = repro('sweep', 'train.py', '--seeds', '0-1', cwd=project, home=home)
    sweep_id = last.stdout.strip().splitlines()[-1].split()[1]
    status = json.loads(repro('sweep', 'status', sweep_id, '--json', cwd=project,
                              home=home).stdout)
    a, b = (m['run_id'] for m in status['members'])
    replayed = repro('replay', a, cwd=project, home=home).stdout.strip().splitlines()
    assert replayed[-1].startswith('REPRODUCED'), replayed[-3:]
    r = replayed[-2].split()[1]
    t, _ = run_id_of(repro('run', 'train.py', '--seed', '0', cwd=project, home=home))
    path = progress_csv(home, t)
    rows = list(csv.DictReader(path.open()))
    rows[TAMPERED_ROW]['AverageReturn'] = str(float(rows[TAMPERED_ROW]['AverageReturn']) + 1)
    with path.open('w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator='\n')
        writer.writeheader()
        writer.writerows(rows)
    return {'project': project, 'home': home, 'sweep': sweep_id, 'a': a, 'b': b, 'r': r,
            't': t, 'tmp': tmp}


@pytest.fixture(scope='module')
def server(store):
    """`repro ui --port 0` as a user starts it; its URL from its first line."""
    proc = subprocess.Popen([sys.executable, '-m', 'repro', 'ui', '--port', '0'],
                            cwd=store['project'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, REPRO_HOME=str(store['home'])), text=True)
    line = proc.stdout.readline()
    assert 'read-only at http://127.0.0.1:' in line, line + proc.stderr.read()
    yield line.split(' at ')[-1].strip().rstrip('/')
    proc.terminate()
    proc.wait(timeout=30)


def open_page(browser, url):
    """Load a page and wait until its script has drawn it, without an error."""
    from selenium.webdriver.common.by import By
    browser.get(url)
    ready = shown(lambda: browser.find_element(By.TAG_NAME, 'body').get_attribute('data-ready'),
                  f'{url} to be drawn')
    assert ready == 'true', browser.find_element(By.ID, 'main').text
    assert [e for e in browser.get_log('browser') if e['level'] == 'SEVERE'] == []


def shown(find, what='the page to show it'):
    return wait_for(find, what, timeout=30, every=0.05)


README_SHOTS = ('run.png', 'compare.png')


def shot(browser, store, name):
    """A screenshot into the test's temp directory; the README's ones also into
    $REPRO_UI_SCREENSHOTS (relative to the repository) when it is set."""
    path = store['tmp'] / name
    assert browser.save_screenshot(str(path))
    if os.environ.get('REPRO_UI_SCREENSHOTS') and name in README_SHOTS:
        target = ROOT / os.environ['REPRO_UI_SCREENSHOTS']
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / name)
    return path


def rows_of(browser):
    from selenium.webdriver.common.by import By
    return [row.get_attribute('data-run')
            for row in browser.find_elements(By.CSS_SELECTOR, '#runs tbody tr')]


def test_the_runs_table_lists_every_run_sorts_and_filters(browser, server, store):
    from selenium.webdriver.common.by import By
    open_page(browser, server + '/')
    assert rows_of(browser) == sorted(store[k] for k in 'abrt')
    cells = {row.get_attribute('data-run'): row for row in
             browser.find_elements(By.CSS_SELECTOR, '#runs tbody tr')}
    verdict = cells[store['a']].find_element(By.CSS_SELECTOR, 'td[data-key=verdict]').text
    assert verdict == 'REPRODUCED'  # a's replay says so, and so does r's own row
    sweep = cells[store['b']].find_element(By.CSS_SELECTOR, 'td[data-key=sweep]').text
    assert sweep == store['sweep']
    browser.find_element(By.CSS_SELECTOR, 'th[data-key=seed]').click()
    browser.find_element(By.CSS_SELECTOR, 'th[data-key=seed]').click()  # descending
    assert rows_of(browser)[0] == store['b']
    browser.find_element(By.ID, 'filter').send_keys(store['t'])
    assert rows_of(browser) == [store['t']]
    shot(browser, store, 'runs.png')


def test_the_tampered_run_fails_verify_and_a_clean_one_passes(browser, server, store):
    from selenium.webdriver.common.by import By
    for run, words in ((store['a'], 'verify passed'), (store['t'], 'verify failed')):
        open_page(browser, f'{server}/runs/{run}')
        browser.find_element(By.ID, 'verify').click()
        verdict = shown(lambda: browser.find_elements(By.ID, 'verify-verdict'))[0].text
        assert verdict.startswith(f'{words}: '), verdict
    details = browser.find_element(By.CSS_SELECTOR, '#verify-result pre').text
    assert 'modified: outputs/' in details and 'progress.csv' in details


def test_the_run_page_shows_lineage_and_curves_by_metric(browser, server, store):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    open_page(browser, f'{server}/runs/{store["r"]}')
    lineage = browser.find_element(By.ID, 'lineage').text
    assert f'replay of: {store["a"]}' in lineage and 'REPRODUCED' in lineage
    open_page(browser, f'{server}/runs/{store["a"]}')
    replayed = browser.find_elements(By.CSS_SELECTOR, '#lineage .replayed-by a')
    assert [e.text for e in replayed] == [store['r']]
    curve = browser.find_element(By.CSS_SELECTOR, '#chart polyline.curve')
    assert len(curve.get_attribute('points').split()) == EPOCHS
    assert f'outputs/{MARKUP}' in browser.find_element(By.ID, 'artifacts').text
    assert browser.find_elements(By.ID, 'injected') == []
    picker = Select(browser.find_element(By.ID, 'metric'))
    tags = [o.get_attribute('value') for o in picker.options]
    assert 'AverageReturn' in tags and 'TotalEnvSteps' in tags
    browser.find_element(By.ID, 'verify').click()
    shown(lambda: browser.find_elements(By.ID, 'verify-verdict'))
    shot(browser, store, 'run.png')
    picker.select_by_value('TotalEnvSteps')
    shown(lambda: browser.find_elements(By.CSS_SELECTOR, '#chart[data-metric=TotalEnvSteps]'))
    assert len(browser.find_element(By.CSS_SELECTOR, '#chart polyline.curve')
               .get_attribute('points').split()) == EPOCHS


def test_the_compare_page_marks_the_first_divergence(browser, server, store):
    from selenium.webdriver.common.by import By
    open_page(browser, f'{server}/compare?a={store["a"]}&b={store["t"]}')
    marked = browser.find_element(By.ID, 'curve-divergence').text
    x = (TAMPERED_ROW + 1) * 100
    assert marked.startswith(f'first divergence at TotalEnvSteps={x} '), marked
    assert len(browser.find_elements(By.CSS_SELECTOR, '#chart line.divergence')) == 1
    curves = browser.find_elements(By.CSS_SELECTOR, '#chart polyline.curve')
    assert [len(c.get_attribute('points').split()) for c in curves] == [EPOCHS, EPOCHS]
    first = browser.find_element(By.ID, 'first-divergence').text
    assert f'row {TAMPERED_ROW} (epoch {TAMPERED_ROW}), metric AverageReturn' in first
    sections = browser.find_element(By.ID, 'diff-sections').text
    assert 'metrics' in sections and 'AverageReturn' in sections
    shot(browser, store, 'compare.png')
    open_page(browser, f'{server}/compare?a={store["a"]}&b={store["r"]}')
    assert browser.find_element(By.ID, 'curve-divergence').text == 'the curves do not part'
    assert browser.find_elements(By.CSS_SELECTOR, '#chart line.divergence') == []
    assert 'REPRODUCED' in browser.find_element(By.ID, 'outputs-verdict').text


def test_the_sweep_page_groups_members_with_mean_and_spread(browser, server, store):
    from selenium.webdriver.common.by import By
    open_page(browser, f'{server}/sweeps/{store["sweep"]}')
    finals = [float(list(csv.DictReader(progress_csv(store['home'], store[k]).open()))[-1]
                    ['AverageReturn']) for k in 'ab']
    point = browser.find_element(By.CSS_SELECTOR, '#grid tr[data-point]')
    mean = sum(finals) / 2
    assert float(point.find_element(By.CSS_SELECTOR, 'td.mean').text) == pytest.approx(mean, rel=1e-5)
    assert float(point.find_element(By.CSS_SELECTOR, 'td.std').text) == \
        pytest.approx(abs(finals[0] - mean), rel=1e-5)
    members = point.text
    assert store['a'] in members and store['b'] in members and members.count('succeeded') == 2
    curve = browser.find_element(By.CSS_SELECTOR, '#chart polyline.curve')  # the mean
    assert len(curve.get_attribute('points').split()) == EPOCHS
    assert len(browser.find_elements(By.CSS_SELECTOR, '#chart polygon.band')) == 1
    shot(browser, store, 'sweep.png')
