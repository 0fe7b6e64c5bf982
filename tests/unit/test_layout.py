"""The package layout is the architecture: host groups import only the groups
before them, and the README's module map names exactly the modules there are."""
import ast
import re

from tests.conftest import ROOT

PKG = ROOT / 'repro'
LIBRARY = ('experiment', 'log', 'sampler')
# Host groups, lowest first; core/ is shared with the image (it may use the library).
LAYERS = ('core', 'store', 'record', 'images', 'engines', 'execute', 'audit', 'ui', 'cli')
TOP = ('__init__', '__main__', '_version', 'errors', 'contract', 'runtime', 'contentcheck')


def _repro_imports(path):
    """Top-level repro packages/modules ``path`` imports, lazily ones too."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            if node.module == 'repro':  # modules only, not names like __version__
                names.update(f'repro.{a.name}' for a in node.names
                             if (PKG / a.name).is_dir() or (PKG / f'{a.name}.py').is_file())
    return {n.split('.')[1] for n in names if n.startswith('repro.')}


def _layout_section():
    text = (ROOT / 'README.md').read_text(encoding='utf-8')
    start = text.index('- Layout.')
    return text[start:text.index('\n- ', start + 1)]


def test_the_tree_has_exactly_these_packages():
    packages = {p.name for p in PKG.iterdir() if (p / '__init__.py').is_file()}
    modules = {p.stem for p in PKG.glob('*.py')}
    assert packages == set(LIBRARY) | set(LAYERS)
    assert modules == set(TOP)


def test_each_group_imports_only_the_groups_before_it():
    wrong = []
    for i, layer in enumerate(LAYERS):
        allowed = set(LAYERS[:i + 1]) | set(LIBRARY) | set(TOP)
        for path in sorted((PKG / layer).glob('*.py')):
            wrong += [f'{layer}/{path.name} imports repro.{name}'
                      for name in sorted(_repro_imports(path) - allowed)]
    assert wrong == []


def test_the_library_and_entry_points_import_no_host_group():
    host = set(LAYERS) - {'core'}
    files = [p for lib in LIBRARY for p in (PKG / lib).glob('*.py')]
    files += [PKG / f'{m}.py' for m in ('runtime', 'contentcheck', 'errors', 'contract')]
    assert [f'{p.relative_to(PKG)}' for p in files if _repro_imports(p) & host] == []


def test_readme_module_map_matches_the_tree():
    section = _layout_section()
    named = set(re.findall(r'`(?:repro/)?((?:[a-z_]+/)?[a-z_]+\.py)`', section))
    actual = {f'{layer}/{p.name}' for layer in LAYERS if layer != 'cli'
              for p in (PKG / layer).glob('*.py') if p.name != '__init__.py'}
    actual |= {f'{m}.py' for m in TOP if m != '__main__'}
    assert sorted(actual - named) == []   # every module is in the map
    assert sorted(named - actual) == []   # the map names no module that is gone
    order = [section.index(f'`repro/{layer}/`') for layer in LAYERS]
    assert order == sorted(order)          # groups are listed lowest first
