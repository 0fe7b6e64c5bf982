"""What a wheel ships: every subpackage, the templates and the schemas."""
import tomllib

import repro
from repro import _version
from repro.images import dockerfile
from tests.conftest import ROOT

SETUPTOOLS = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['setuptools']


def test_every_subpackage_is_listed_for_the_wheel():
    found = {'.'.join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / 'repro').rglob('__init__.py') if '__pycache__' not in p.parts}
    assert found - set(SETUPTOOLS['packages']) == set(), 'add it to pyproject.toml'


def test_templates_and_schemas_are_package_data():
    source = ROOT / SETUPTOOLS['package-dir']['repro.templates']
    assert 'repro.templates' in SETUPTOOLS['packages']
    assert {p.name for p in source.glob('Dockerfile.*')} == {'Dockerfile.cpu', 'Dockerfile.cuda'}
    assert SETUPTOOLS['package-data']['repro.templates'] == ['Dockerfile.*']
    assert list((ROOT / 'repro').glob(SETUPTOOLS['package-data']['repro'][0]))


def test_the_run_browser_ships_its_page_script_and_styles():
    from repro.ui import launch
    assert 'repro.ui' in SETUPTOOLS['packages']
    assert SETUPTOOLS['package-data']['repro.ui'] == ['static/*']
    static = {p.name for p in (ROOT / 'repro' / 'ui' / 'static').iterdir()}
    assert static == {'index.html', 'app.js', 'chart.js', 'style.css'}
    assert launch.__file__  # importable without the extra: it imports no web stack


def test_templates_are_found_in_a_wheel_and_in_a_checkout(tmp_path):
    (tmp_path / 'site' / 'repro' / 'templates').mkdir(parents=True)
    assert dockerfile.templates_dir(str(tmp_path / 'site' / 'repro')) == \
        str(tmp_path / 'site' / 'repro' / 'templates')
    assert dockerfile.templates_dir(str(ROOT / 'repro')) == str(ROOT / 'templates')


def test_the_version_has_one_home():
    assert SETUPTOOLS['dynamic']['version'] == {'attr': 'repro._version.__version__'}
    assert repro.__version__ == _version.__version__
