"""The engine interface: one place connects, every implementation matches it."""
import inspect
import pathlib
import re

import pytest

from repro.engines.dockerengine import DockerEngine
from repro.engines.interface import ContainerEngine
from tests.fakes import FakeEngine

REPRO = pathlib.Path(__file__).resolve().parents[3] / 'repro'
PROTOCOL = sorted(name for name, value in vars(ContainerEngine).items()
                  if callable(value) and not name.startswith('_'))


def test_exactly_one_place_constructs_the_engine():
    sites = [(str(path.relative_to(REPRO)), number)
             for path in REPRO.rglob('*.py')
             for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1)
             if re.search(r'DockerEngine(\.connect)?\(', line)]
    assert [path for path, _ in sites] == ['engines/interface.py']
    line = (REPRO / 'engines' / 'interface.py').read_text().splitlines()[sites[0][1] - 1]
    assert line.strip() == 'return DockerEngine.connect()'


@pytest.mark.parametrize('implementation', [DockerEngine, FakeEngine])
@pytest.mark.parametrize('method', PROTOCOL)
def test_implementations_take_what_the_interface_gives(implementation, method):
    expected = inspect.signature(getattr(ContainerEngine, method)).parameters
    actual = inspect.signature(getattr(implementation, method)).parameters
    assert list(actual) == list(expected)
    assert [p.kind for p in actual.values()] == [p.kind for p in expected.values()]


def test_the_interface_covers_what_the_core_calls():
    called = {name for path in REPRO.rglob('*.py') if path.name != 'dockerengine.py'
              for name in re.findall(r'\bengine\.(\w+)\(', path.read_text(encoding='utf-8'))}
    assert called and called <= set(PROTOCOL)
