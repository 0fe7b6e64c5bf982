"""Forged and broken manifests, as an attacker or bit rot would leave them.

Every command either refuses with one line on stderr (no traceback) or,
for ``show`` and ``ls``, marks the run loudly; nothing outside the project
is read or written.
"""
import json
import os
import subprocess

import pytest

from repro.cli import main
from repro.errors import ReplayError


def run_cli(capsys, *args):
    """(exit code, stdout, stderr) of ``repro ARGS`` in-process."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *args, needle='', code=None):
    rc, out, err = run_cli(capsys, *args)
    assert rc != 0 and (code is None or rc == code), (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in err, err
    assert needle in lines[0] or needle in out, (out, err)  # verify lists problems on stdout
    return out + err


def test_artifact_path_escaping_the_run_is_malformed_everywhere(forger, capsys, host_secret):
    rel = os.path.relpath(host_secret, forger.run_dir)
    forger.reseal(artifacts=forger.manifest['artifacts'] + [
        {'path': rel, 'size': 10, 'sha256': '0' * 64}])
    for command in (['verify'], ['export'], ['replay'], ['show']):
        text = refused(capsys, *command, forger.run_id, needle='not a plain relative path')
        assert 'HOST-SECRET' not in text
    assert run_cli(capsys, 'ls')[1].splitlines()[1].split()[1] == 'broken'


def test_edited_seed_is_not_exported_or_replayed_and_show_marks_it(forger, capsys):
    forger.edit(seed=7)  # not re-sealed: the integrity digest no longer matches
    refused(capsys, 'export', forger.run_id, needle='failed verification', code=3)
    refused(capsys, 'replay', forger.run_id, needle='tampered manifest', code=3)
    rc, out, err = run_cli(capsys, 'show', forger.run_id)
    assert rc == 0 and out.startswith('UNVERIFIED RUN') and 'UNVERIFIED' in err
    assert run_cli(capsys, 'ls')[1].split('\n')[1].split()[1] == 'broken'


@pytest.mark.parametrize('text, needle', [
    ('{"format": 1}', '"run_id" is missing'),
    ('{"format": 2}', 'format 2 is not supported'),
    ('[1, 2]', 'not a JSON object'),
    ('{"format": 1, "x": NaN}', 'not valid JSON'),
    ('\xff\xfe', 'not UTF-8'),
])
def test_malformed_manifests_are_one_line_errors(forger, capsys, text, needle):
    with open(forger.manifest_path, 'wb') as f:
        f.write(text.encode('utf-8', 'surrogateescape') if text != '\xff\xfe'
                else b'\xff\xfe')
    for command in ('show', 'replay', 'export', 'verify'):
        refused(capsys, command, forger.run_id, needle=needle)
    rc, out, _ = run_cli(capsys, 'ls')
    assert rc == 0 and 'broken' in out


@pytest.mark.parametrize('field, value', [
    ('seed', 'zero'), ('args', 'rm -rf /'), ('artifacts', {}), ('network', 'yes'),
    ('image', None), ('gpus', 'all; echo'), ('launcher', '/etc/passwd'),
    ('launcher', '../outside.py'), ('lock', {'path': '../../x', 'sha256': '0' * 64}),
])
def test_wrongly_typed_or_dangerous_fields_are_refused(forger, capsys, field, value):
    forger.reseal(**{field: value})
    for command in ('show', 'replay', 'export'):
        refused(capsys, command, forger.run_id, needle=f'manifest.{field}')


def test_manifest_as_a_directory_does_not_hide_other_runs(forger, capsys):
    other = forger.store.create_run('train.py', 1)
    os.mkdir(os.path.join(forger.store.run_dir(other), 'manifest.json'))
    rc, out, _ = run_cli(capsys, 'ls')
    assert rc == 0 and forger.run_id in out
    row = next(ln for ln in out.splitlines() if ln.startswith(other))
    assert 'broken' in row and 'dir' in row
    refused(capsys, 'show', other, needle='not a regular file')


def test_manifest_link_to_a_host_file_is_never_followed(forger, capsys, host_secret):
    os.unlink(forger.manifest_path)
    os.symlink(host_secret, forger.manifest_path)
    for command in ('show', 'export', 'replay', 'verify'):
        text = refused(capsys, command, forger.run_id, needle='manifest.json')
        assert 'HOST-SECRET' not in text
    assert 'HOST-SECRET' not in run_cli(capsys, 'ls', '--json')[1]


def test_rewritten_source_diff_fails_verify(forger, capsys):
    with open(os.path.join(forger.run_dir, 'meta', 'source.diff'), 'wb') as f:
        f.write(b'+evil\n')
    from repro.store.manifest import artifacts
    forger.reseal(artifacts=artifacts(forger.run_dir))  # hashes re-computed, too
    out = refused(capsys, 'verify', forger.run_id, code=3, needle='failed verification')
    assert 'modified: meta/source.diff' in out


def test_links_and_fifos_are_reported_by_verify_not_read(forger, capsys, host_secret):
    outputs = os.path.join(forger.run_dir, 'outputs')
    os.symlink(host_secret, os.path.join(outputs, 'progress2.csv'))
    os.mkfifo(os.path.join(outputs, 'pipe'))
    out = refused(capsys, 'verify', forger.run_id, code=3)
    assert 'unexpected: outputs/pipe (a fifo, not read)' in out
    assert f'unexpected: outputs/progress2.csv (a link to {host_secret}' in out
    assert 'HOST-SECRET' not in out


def test_newline_in_a_launcher_cannot_forge_an_ls_row(forger, capsys):
    fake = f'x.py\n{forger.run_id[:-4]}beef  succeeded  0'
    forger.reseal(launcher=fake)
    rc, out, _ = run_cli(capsys, 'ls')
    assert rc == 0 and len(out.strip().splitlines()) == 2  # header + the one run


def test_network_recorded_by_a_forger_is_not_turned_on(forger, capsys):
    forger.reseal(network=True)
    refused(capsys, 'replay', forger.run_id, needle='--network')


def test_forged_image_id_is_refused_when_the_rebuild_differs(forger, monkeypatch):
    """The recorded key rebuilds to another ID: the manifest's image never runs."""
    import repro.images.image
    from repro.audit.replay import ensure_recorded_image

    class Engine:
        def image_id(self, ref):
            return ref  # every image "exists", the forged one included

        def image_layers(self, ref):
            return []
    monkeypatch.setattr(repro.images.image, 'ensure_image',
                        lambda engine, plan, progress, guard: ('sha256:' + '9' * 64, True))
    monkeypatch.setenv('REPRO_CACHE', str(forger.root / 'cache'))
    from repro.images import closure
    image = {**forger.manifest['image'], 'python': '3.11',
             'closure': closure.keep(forger.store, closure.runtime_files())}
    with pytest.raises(ReplayError, match='is not the recorded'):
        ensure_recorded_image(Engine(), forger.store, {**forger.manifest, 'image': image},
                              b'lock', 'FROM x\n', progress=lambda m: None)


def test_store_committed_to_git_is_not_replayed(forger, capsys):
    git = ['git', '-C', str(forger.root), '-c', 'user.name=t', '-c', 'user.email=t@e']
    subprocess.run([*git, 'add', '-f', '.repro'], check=True)
    subprocess.run([*git, 'commit', '-qm', 'share my runs'], check=True)
    refused(capsys, 'replay', forger.run_id, needle='tracked by git')


def test_show_json_of_a_forged_run_keeps_its_content_out_of_other_files(forger, capsys):
    """``show --json`` prints the manifest; a forged one is marked on stderr."""
    forger.edit(seed=9)
    rc, out, err = run_cli(capsys, 'show', forger.run_id, '--json')
    assert rc == 0 and json.loads(out)['seed'] == 9 and err.startswith('UNVERIFIED')


def test_verify_names_recorded_links_even_when_they_match(forger, capsys):
    from repro.store.manifest import artifacts
    os.symlink('/etc/hostname', os.path.join(forger.run_dir, 'outputs', 'hostname'))
    forger.reseal(artifacts=artifacts(forger.run_dir))
    rc, out, _ = run_cli(capsys, 'verify', forger.run_id)
    assert rc == 0 and 'not a regular file: outputs/hostname (a link to /etc/hostname' in out


def test_a_lone_surrogate_in_a_manifest_is_a_broken_run_not_a_crash(forger, capsys):
    text = open(forger.manifest_path, encoding='utf-8').read()
    forger.write_text(text.replace('"args": []', '"args": ["\\ud800"]'))
    other = forger.store.create_run('train.py', 1)
    rc, out, _ = run_cli(capsys, 'ls')
    assert rc == 0 and other in out and 'not valid Unicode' in out
    for command in ('show', 'verify', 'export', 'replay'):
        refused(capsys, command, forger.run_id, needle='not valid Unicode')


def test_a_forged_base_digest_cannot_become_a_cache_path(forger, capsys):
    forger.reseal(image={**forger.manifest['image'],
                         'base_digest': 'q:/../../../images/cc7c4abc2a70'})
    refused(capsys, 'replay', forger.run_id, needle='manifest.image.base_digest')


def test_deeply_nested_outputs_do_not_crash_verify(forger, capsys):
    outputs = os.path.join(forger.run_dir, 'outputs')
    fds = [os.open(outputs, os.O_RDONLY)]
    try:
        for _ in range(1100):  # deeper than Python's recursion limit (os.makedirs recurses)
            os.mkdir('d', dir_fd=fds[-1])
            fds.append(os.open('d', os.O_RDONLY, dir_fd=fds[-1]))
        os.close(os.open('leaf', os.O_CREAT | os.O_WRONLY, dir_fd=fds[-1]))
        out = refused(capsys, 'verify', forger.run_id, code=3)
        assert 'unexpected: outputs/d/d/' in out and 'RecursionError' not in out
    finally:  # shutil.rmtree would recurse too deep: remove bottom-up
        os.unlink('leaf', dir_fd=fds[-1])
        for parent in reversed(fds[:-1]):
            os.rmdir('d', dir_fd=parent)
        for fd in fds:
            os.close(fd)


def test_setuid_and_world_writable_outputs_fail_verify(forger, capsys):
    tool = os.path.join(forger.run_dir, 'outputs', 'tool')
    open(tool, 'w').close()
    from repro.store.manifest import artifacts
    forger.reseal(artifacts=artifacts(forger.run_dir))
    os.chmod(tool, 0o4755)
    out = refused(capsys, 'verify', forger.run_id, code=3)
    assert 'unsafe mode: outputs/tool is setuid/setgid' in out
    os.chmod(tool, 0o666)
    assert 'unsafe mode: outputs/tool is writable by anyone' in refused(
        capsys, 'verify', forger.run_id, code=3)


def test_export_of_a_run_with_a_link_names_it_without_a_subject(forger, capsys):
    os.symlink('progress.csv', os.path.join(forger.run_dir, 'outputs', 'latest.csv'))
    from repro.store.manifest import artifacts
    forger.reseal(artifacts=artifacts(forger.run_dir))
    rc, out, err = run_cli(capsys, 'export', forger.run_id)
    assert rc == 0, err
    statement = json.loads(out)
    assert 'outputs/latest.csv' not in [s['name'] for s in statement['subject']]
    byproduct = statement['predicate']['runDetails']['byproducts'][0]['annotations']
    assert byproduct['not_regular_files'] == [
        {'path': 'outputs/latest.csv', 'type': 'link', 'target': 'progress.csv'}]


def test_a_forged_tree_listing_is_refused_by_its_tree_id(forger):
    """Same paths, another blob: the listing no longer hashes to the tree."""
    from repro.errors import StoreError
    from repro.record.gitsource import blob_id, tree_id
    honest = b'print("honest")\n'
    files = [('train.py', '100644', blob_id(honest))]
    tree = tree_id(files)
    forger.store.put_tree(tree, files)
    assert forger.store.get_tree(tree) == files
    evil = b'print("forged")\n'
    forger.store.put_object(blob_id(evil), evil)
    path = os.path.join(forger.store.root, 'trees', f'{tree}.json')
    with open(path, 'w') as f:
        json.dump([['train.py', '100644', blob_id(evil)]], f)
    with pytest.raises(StoreError, match='does not hash to tree'):
        forger.store.get_tree(tree)
    with open(path, 'w') as f:
        json.dump([['\ud800x', '100644', blob_id(evil)]], f)
    with pytest.raises(StoreError, match='invalid Unicode'):
        forger.store.get_tree(tree)
