import gzip
import io
import pickle
import tarfile
import zipfile

import numpy as np
import pytest

from repro.core import archives
from repro.core.archives import Budget, compare_archives, kind_of, members, read_member
from repro.errors import UntrustedFileError


def make_zip(entries, date=(2026, 11, 24, 2, 10, 0), mode=0o644, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', method) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date)
            info.external_attr = mode << 16
            info.compress_type = method
            zf.writestr(info, data)
    return buf.getvalue()


def make_tar(entries, mtime=1732412345, uid=0, compression=''):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f'w:{compression}') as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uid, info.mode = len(data), mtime, uid, 0o600 + uid
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def compare(a, b):
    return compare_archives('m', lambda: io.BytesIO(a), lambda: io.BytesIO(b))


ENTRIES = [('weights.bin', b'\x01' * 100), ('config.json', b'{"lr": 0.1}')]


def test_zips_differing_only_in_dates_modes_order_and_method_are_equal():
    a = make_zip(ENTRIES)
    b = make_zip(ENTRIES[::-1], date=(2027, 1, 2, 3, 4, 6), mode=0o600,
                 method=zipfile.ZIP_STORED)
    assert a != b and compare(a, b) == ([], 2, [])


def test_one_changed_member_byte_and_a_missing_member_diverge():
    a = make_zip(ENTRIES)
    (diff,) = compare(a, make_zip([ENTRIES[0], ('config.json', b'{"lr": 0.2}')]))[0]
    assert (diff.metric, diff.label) == ('config.json', 'member')
    assert 'member bytes differ (11 vs 11 bytes)' in str(diff)
    found, count, _ = compare(a, make_zip(ENTRIES[:1]))
    assert [(d.metric, d.where) for d in found] == [('config.json',
                                                     'member missing from the replay')]
    assert count == 1
    (diff,) = compare(make_zip(ENTRIES[:1]), a)[0]
    assert diff.where == 'member only in the replay'


def test_npz_files_saved_at_different_times_are_equal_and_a_one_ulp_change_is_not():
    def npz(value, date):
        buf = io.BytesIO()
        np.savez(buf, w=np.array([0.1, value]))
        names = zipfile.ZipFile(buf).namelist()
        return make_zip([(n, zipfile.ZipFile(buf).read(n)) for n in names], date=date)
    a = npz(0.2, (2026, 1, 1, 0, 0, 0))
    assert compare(a, npz(0.2, (2026, 1, 1, 0, 0, 2))) == ([], 1, [])
    (diff,) = compare(a, npz(np.nextafter(0.2, 1), (2026, 1, 1, 0, 0, 2)))[0]
    assert diff.metric == 'w.npy'


@pytest.mark.parametrize('compression', ['', 'gz', 'bz2', 'xz'])
def test_tars_differing_in_mtime_owner_and_mode_are_equal_but_not_in_bytes(compression):
    a = make_tar(ENTRIES, compression=compression)
    b = make_tar(ENTRIES[::-1], mtime=1732499999, uid=1, compression=compression)
    assert a != b and kind_of(a[:512]) in ('tar', 'gzip', 'bzip2', 'xz')
    assert compare(a, b) == ([], 2, [])
    changed = make_tar([ENTRIES[0], ('config.json', b'{"lr": 0.3}')], compression=compression)
    assert [d.metric for d in compare(a, changed)[0]] == ['config.json']


def test_a_gzip_file_is_compared_by_its_decompressed_bytes():
    a = gzip.compress(b'hello' * 100, mtime=1)
    b = gzip.compress(b'hello' * 100, mtime=2)
    assert a != b and compare(a, b) == ([], 1, [])
    assert len(compare(a, gzip.compress(b'hellO' * 100, mtime=1))[0]) == 1


def test_archives_are_found_by_magic_bytes_not_names():
    assert kind_of(make_zip(ENTRIES)[:512]) == 'zip'
    assert kind_of(make_tar(ENTRIES)[:512]) == 'tar'
    assert kind_of(b'PK but not a zip') is None and kind_of(b'') is None


def test_an_archive_inside_an_archive_is_compared_by_members_too():
    """stable-baselines3 saves torch's .pth zips inside its model .zip."""
    inner_a = make_zip(ENTRIES)
    inner_b = make_zip(ENTRIES, date=(2027, 1, 1, 0, 0, 0))
    a = make_zip([('policy.pth', inner_a), ('data', b'{}')])
    assert compare(a, make_zip([('policy.pth', inner_b), ('data', b'{}')])) == ([], 4, [])
    changed = make_zip([('policy.pth', make_zip([ENTRIES[0], ('config.json', b'x')])),
                        ('data', b'{}')])
    (diff,) = compare(a, changed)[0]
    assert diff.metric == 'policy.pth/config.json'


def test_pickle_members_whose_bytes_differ_are_handed_to_content_except_torch_data():
    a = make_zip([('data.pkl', pickle.dumps({'w': 1}, protocol=2))])
    b = make_zip([('data.pkl', pickle.dumps({'w': 1}, protocol=4))])
    assert compare(a, b) == ([], 1, ['data.pkl'])
    torch_a = make_zip([('archive/data.pkl', b'1'), ('archive/version', b'3')])
    torch_b = make_zip([('archive/data.pkl', b'2'), ('archive/version', b'3')])
    (diff,) = compare(torch_a, torch_b)[0]
    assert diff.metric == 'archive/data.pkl' and 'not unpickled' in diff.where


def test_read_member_reads_one_member_within_limits():
    z, t = make_zip(ENTRIES), make_tar(ENTRIES, compression='gz')
    for data in (z, t):
        assert read_member(io.BytesIO(data), 'config.json') == b'{"lr": 0.1}'
        with pytest.raises(UntrustedFileError, match='no member|KeyError'):
            read_member(io.BytesIO(data), 'nope')
        with pytest.raises(UntrustedFileError, match='larger than 10 bytes'):
            read_member(io.BytesIO(data), 'weights.bin', limit=10)
    assert read_member(io.BytesIO(gzip.compress(b'abc')), '') == b'abc'


def test_zip_bombs_and_too_many_members_are_refused_not_unpacked():
    bomb = make_zip([('zeros', b'\0' * (4 << 20))])
    assert len(bomb) < 10_000
    with pytest.raises(UntrustedFileError, match='more than the limits'):
        members(io.BytesIO(bomb), Budget(total=1 << 20))
    many = make_zip([(f'f{i}', b'') for i in range(20)])
    with pytest.raises(UntrustedFileError, match='more than the limits'):
        members(io.BytesIO(many), Budget(members=10))
    tar_bomb = make_tar([('zeros', b'\0' * (4 << 20))], compression='gz')
    with pytest.raises(UntrustedFileError, match='more than the limits'):
        members(io.BytesIO(tar_bomb), Budget(total=1 << 20))


def test_a_tar_header_cannot_claim_a_huge_read(monkeypatch):
    monkeypatch.setattr(archives, 'MAX_READ', 1024)
    long_name = make_tar([('d/' * 1500 + 'x', b'1')])  # a pax header of about 3 kB
    with pytest.raises(UntrustedFileError, match='read of'):
        members(io.BytesIO(long_name), Budget())


@pytest.mark.parametrize('data', [
    b'PK\x03\x04' + b'\0' * 100,
    make_zip(ENTRIES)[:-30],
    make_tar(ENTRIES, compression='gz')[:60],
    make_zip(ENTRIES).replace(b'weights.bin', b'config.json'),  # a duplicate name
])
def test_malformed_archives_are_one_line_errors(data):
    with pytest.raises(UntrustedFileError) as info:
        members(io.BytesIO(data), Budget())
    assert '\n' not in str(info.value)


def test_data_in_a_directory_entry_is_compared(tmp_path):
    """zip stores bytes under a name ending in '/' too."""
    import zipfile
    from repro.core.archives import compare_archives
    for side, data in (('a', b'learned=1'), ('b', b'learned=2')):
        with zipfile.ZipFile(tmp_path / f'{side}.zip', 'w') as zf:
            zf.writestr('weights/', data)
    found, _, _ = compare_archives('m.zip', lambda: open(tmp_path / 'a.zip', 'rb'),
                                   lambda: open(tmp_path / 'b.zip', 'rb'))
    assert [d.metric for d in found] == ['weights/']


def test_nested_archives_follow_the_timing_rules(tmp_path):
    import io
    import zipfile
    from repro.core.archives import compare_archives
    from repro.core.timing import TimingRules
    for side, start in (('a', 1), ('b', 2)):
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, 'w') as zf:
            zf.writestr('data', '{"start_time": %d, "w": 1}' % start)
        with zipfile.ZipFile(tmp_path / f'{side}.zip', 'w') as zf:
            zf.writestr('model.zip', inner.getvalue())
    opener = [lambda s=s: open(tmp_path / f'{s}.zip', 'rb') for s in 'ab']
    timed = []
    assert compare_archives('m.zip', *opener, timing=TimingRules(), timed=timed)[0] == []
    assert timed == ['model.zip/data:$.start_time']
    found, _, _ = compare_archives('m.zip', *opener, timing=TimingRules(compare_all=True))
    assert found and 'start_time' in found[0].where
