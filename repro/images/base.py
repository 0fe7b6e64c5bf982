"""``repro base``: a Python base image from Debian packages, no registry needed.

debootstrap (minbase) makes a root filesystem with python3; it becomes one
normalised layer (see :mod:`repro.images.oci`) and is loaded into the engine, so
the image ID depends only on the files. The Debian mirror is taken from
the host's apt sources (or given), never hard-coded.
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile

from repro.images import oci
from repro.errors import BaseImageError

SUITE = 'bookworm'
TAG = f'repro-base:{SUITE}'
PACKAGES = ('python3', 'python3-venv', 'ca-certificates')
ENV = ('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8')
# Contents that differ between two bootstraps of the same packages (logs,
# caches, run-time mounts) are left out of the layer.
VOLATILE = ('proc', 'sys', 'dev', 'tmp', 'run', 'var/log', 'var/cache/apt',
            'var/cache/ldconfig', 'var/lib/apt/lists', 'debootstrap')


def debian_mirror(sources, suite=SUITE):
    """The first Debian archive URL serving ``suite`` in apt sources text (pure).

    Understands one-line ``deb URL SUITE …`` entries and deb822 stanzas.
    """
    for text in sources:
        for line in text.splitlines():
            m = re.match(r'^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)', line)
            if m and m.group(2) == suite:
                return m.group(1).rstrip('/')
        for stanza in re.split(r'\n\s*\n', text):
            fields = dict(re.findall(r'^(\w[\w-]*):\s*(.*)$', stanza, re.MULTILINE))
            if suite in fields.get('Suites', '').split() and \
                    'deb' in fields.get('Types', 'deb').split() and fields.get('URIs'):
                return fields['URIs'].split()[0].rstrip('/')
    return None


def host_debian_mirror(suite=SUITE):
    paths = ['/etc/apt/sources.list', *sorted(glob.glob('/etc/apt/sources.list.d/*'))]
    texts = []
    for path in paths:
        try:
            with open(path, encoding='utf-8') as f:
                texts.append(f.read())
        except OSError:
            continue
    return debian_mirror(texts, suite)


def bootstrap(rootfs, mirror, suite=SUITE, packages=PACKAGES, log=None):
    """Run debootstrap into ``rootfs``; BaseImageError with its last line on failure."""
    if shutil.which('debootstrap') is None:
        raise BaseImageError('debootstrap is not installed',
                             'apt-get install -y debootstrap (as root)')
    if os.geteuid() != 0:
        raise BaseImageError('debootstrap needs root', 'run `repro base` as root')
    cmd = ['debootstrap', '--variant=minbase', f'--include={",".join(packages)}',
           suite, rootfs, mirror]
    env = dict(os.environ, SOURCE_DATE_EPOCH='0', LC_ALL='C')
    proc = subprocess.run(cmd, stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=env, text=True)
    if proc.returncode != 0:
        tail = (proc.stdout or '').strip().splitlines()[-1:] or ['see the log']
        raise BaseImageError(f'debootstrap failed: {tail[0]}')


def build_base(engine, tag=TAG, mirror=None, suite=SUITE, workdir=None, progress=print):
    """Make and load the base image; returns its image ID (``sha256:…``)."""
    mirror = mirror or host_debian_mirror(suite)
    if not mirror:
        raise BaseImageError(f'no Debian mirror for {suite} in the host apt sources',
                             'pass --mirror URL')
    with tempfile.TemporaryDirectory(prefix='repro-base-', dir=workdir) as tmp:
        rootfs = os.path.join(tmp, 'rootfs')
        progress(f'debootstrap {suite} from {mirror} (about a minute) ...')
        bootstrap(rootfs, mirror, suite)
        progress('writing the normalised layer ...')
        layer = os.path.join(tmp, 'layer.tar')
        with open(layer, 'wb') as f:
            diff_id = oci.layer_tar(rootfs, f, exclude=VOLATILE)
        config = oci.image_config([diff_id], env=ENV, cmd=['python3'],
                                  labels={'org.repro.base.suite': suite},
                                  history=[f'repro base: debootstrap --variant=minbase '
                                           f'{suite} + {" ".join(PACKAGES)}'])
        progress('loading the image into the engine ...')
        return engine.load_image(lambda out: oci.docker_archive(config, [layer], tag, out))
