"""The runtime closure: closed under imports, host-free, kept and loaded by content."""
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from repro.images import closure as rc
from repro.errors import StoreError
from repro.store.runs import RunStore
from tests.conftest import ROOT

PKG = ROOT / 'repro'
ENTRY_POINTS = ('repro', 'repro.runtime', 'repro.contentcheck',
                *(f'repro.{p}' for p in rc.PACKAGES))
HOST_ONLY = ('cli/__init__.py', 'engines/dockerengine.py', 'images/image.py', 'images/imageplan.py',
             'store/runs.py', 'record/gitsource.py', 'images/closure.py',
             'images/dockerfile.py', '__main__.py', 'ui/server.py', 'ui/api.py')


def _file_of(module):
    rel = module.split('.')[1:]
    if (PKG.joinpath(*rel) / '__init__.py').exists():
        return '/'.join([*rel, '__init__.py'])
    return '/'.join(rel) + '.py' if rel and PKG.joinpath(*rel[:-1], rel[-1] + '.py').exists() \
        else None


def _imports(rel):
    """repro modules ``rel`` imports anywhere (lazily too, and by string name)."""
    tree = ast.parse((PKG / rel).read_text())
    package = ['repro', *rel.split('/')[:-1]]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = '.'.join(package[:len(package) - node.level + 1] + [node.module or '']) \
                if node.level else node.module
            found.add(base.rstrip('.'))
            found.update(f'{base.rstrip(".")}.{a.name}' for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and re.fullmatch(r'repro(\.\w+)+', node.value):
            found.add(node.value)
    parents = {'.'.join(m.split('.')[:i + 1]) for m in found if m.startswith('repro')
               for i in range(len(m.split('.')))}
    return {f for f in map(_file_of, parents) if f}


def _reachable():
    todo = [_file_of(m) for m in ENTRY_POINTS]
    todo += [f'{p}/{n}' for p in rc.PACKAGES for n in os.listdir(PKG / p) if n.endswith('.py')]
    seen = set()
    while todo:
        rel = todo.pop()
        if rel not in seen:
            seen.add(rel)
            todo.extend(_imports(rel) - seen)
    return seen


def test_closure_is_exactly_what_the_entry_points_import():
    hashed = {rel for rel, _ in rc.runtime_files()}
    in_image = {rel for rel, _ in rc.layer_files(rc.runtime_files())}
    reachable = _reachable()
    assert reachable - in_image == set(), 'imported in the image but not in it'
    assert in_image - reachable == set(), 'in the image but never imported there'
    assert all((PKG / rel).is_file() for rel in HOST_ONLY)  # the list is current
    assert not in_image & set(HOST_ONLY)
    assert in_image - hashed == {'_version.py'}  # generated: the release is not hashed


def test_closure_alone_imports_without_host_packages(tmp_path):
    """Only the closure's files (as the image holds them), typer/docker/git
    blocked: every module imports, and none comes from elsewhere."""
    for rel, data in rc.layer_files(rc.runtime_files()):
        (tmp_path / 'repro' / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / 'repro' / rel).write_bytes(data)
    modules = sorted('repro.' + rel[:-3].replace('/', '.').removesuffix('.__init__')
                     for rel, _ in rc.runtime_files() if rel != '__init__.py')
    code = f'''
import importlib, importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in ('typer', 'docker', 'git', 'torch'):
            raise ImportError(name)
sys.meta_path.insert(0, Block())
import repro
for name in {modules!r}:
    importlib.import_module(name)
outside = [m.__file__ for n, m in sys.modules.items()
           if n.split('.')[0] == 'repro' and not m.__file__.startswith({str(tmp_path)!r})]
assert not outside, outside
print(repro.__version__)
'''
    result = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True,
                            text=True, env={'PYTHONPATH': str(tmp_path), 'PATH': '/usr/bin:/bin'})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f'0+closure.{rc.closure_id(rc.runtime_files())[:12]}'


def test_host_edits_and_version_leave_the_closure_alone(tmp_path):
    copy = tmp_path / 'repro'
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns('__pycache__'))
    before = rc.closure_id(rc.runtime_files(str(copy)))
    (copy / '_version.py').write_text("__version__ = '99.0'\n")
    with open(copy / 'cli' / '__init__.py', 'a') as f:
        f.write('# new help text\n')
    assert rc.closure_id(rc.runtime_files(str(copy))) == before
    with open(copy / 'log' / 'logger.py', 'a') as f:
        f.write('# a library edit\n')
    assert rc.closure_id(rc.runtime_files(str(copy))) != before


def test_kept_closure_loads_back_checked(tmp_path):
    store = RunStore(str(tmp_path / 'store')).ensure()
    files = rc.runtime_files()
    oid = rc.keep(store, files)
    assert oid == rc.closure_id(files)
    assert rc.load(store, oid) == files
    with pytest.raises(StoreError, match='missing'):
        rc.load(store, 'f' * 64)


def _forge(store, pairs):
    text = json.dumps({'format': 1, 'files': pairs}, separators=(',', ':')).encode()
    oid = hashlib.sha256(text).hexdigest()
    store.put_object(oid, text)
    return oid


@pytest.mark.parametrize('path', ['../evil.py', '/etc/x.py', 'a/b/c.py', 'x.sh',
                                  '_version.py', 'log/../../x.py'])
def test_forged_listing_paths_are_refused(tmp_path, path):
    store = RunStore(str(tmp_path / 'store')).ensure()
    data = b'print(1)\n'
    sha = hashlib.sha256(data).hexdigest()
    store.put_object(sha, data)
    with pytest.raises(StoreError, match='malformed'):
        rc.load(store, _forge(store, [[path, sha]]))


def test_a_missing_blob_is_named(tmp_path):
    store = RunStore(str(tmp_path / 'store')).ensure()
    with pytest.raises(StoreError, match='runtime.py of the run is missing'):
        rc.load(store, _forge(store, [['runtime.py', 'a' * 64]]))
