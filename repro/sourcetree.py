"""Source trees exported from the run store for a container's ``/src``."""
import os
import shutil
import tempfile

from repro.errors import StoreError


def export_files(store, tree, files):
    """The snapshot's files under ``<store>/src/<tree>`` (made once per tree)."""
    from repro.gitsource import export_tree
    dest = os.path.join(store.root, 'src', tree)
    if not os.path.isdir(dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = tempfile.mkdtemp(prefix='.tmp-', dir=os.path.dirname(dest))
        try:
            export_tree(store, files, tmp)
        except BaseException as exc:  # nothing half-exported stays behind
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise StoreError(f'cannot write the source snapshot into {store.root}: '
                                 f'{exc.strerror}', 'free some space or set REPRO_HOME') \
                    from None
            raise
        try:
            os.rename(tmp, dest)
        except OSError:  # another run exported the same tree first
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
