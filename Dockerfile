# Rendered by `repro build` from templates/Dockerfile.cpu: the readable
# description of the run image. repro produces this content itself, with
# normalised layers and fixed timestamps, so equal inputs give an equal image
# ID; `docker build` of this file gives the same files, not the same ID.
# The base is pinned by digest in the image key and the manifest.
ARG BASE=repro-base:bookworm
FROM ${BASE}
COPY requirements.lock /tmp/requirements.lock
COPY wheelhouse/ /tmp/wheels/
RUN SOURCE_DATE_EPOCH=0 python3.11 -m venv /opt/venv \
 && SOURCE_DATE_EPOCH=0 /opt/venv/bin/pip install --no-index --find-links /tmp/wheels \
        --require-hashes --no-deps -r /tmp/requirements.lock
# repro/: only the runtime closure (repro/images/closure.py), the part of repro that
# runs in the container, with a _version.py naming it.
COPY repro/ /opt/venv/lib/python3.11/site-packages/repro/
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 HOME=/tmp PYTHONDONTWRITEBYTECODE=1 \
    CUBLAS_WORKSPACE_CONFIG=:4096:8
WORKDIR /repro/run
