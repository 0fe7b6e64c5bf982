"""Finding the project (git work tree) and its run store, without GitPython."""
import os

from repro.errors import SourceError


def find_project_root(start='.'):
    """The nearest directory at or above ``start`` that holds ``.git``."""
    path = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(path, '.git')):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            raise SourceError(f'{os.path.abspath(start)} is not inside a git repository',
                              'run repro from your project, or set REPRO_HOME')
        path = parent


def project_root_or_none(start='.'):
    """The project at or above ``start`` (for its [tool.repro]); None outside one."""
    try:
        return find_project_root(start)
    except SourceError:
        return None


def open_store(start='.'):
    """The run store: ``$REPRO_HOME`` or ``<project root>/.repro``."""
    from repro.store.runs import RunStore
    if os.environ.get('REPRO_HOME'):
        return RunStore(os.environ['REPRO_HOME'])
    return RunStore.for_project(find_project_root(start))
