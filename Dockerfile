# Placeholder until the container issue (#3): `repro build` will render the
# run image from templates/ and build it offline from a hashed wheelhouse.
# This file documents the intended shape; it is not used by any command yet.
ARG BASE_IMAGE=repro-base:bookworm
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0 CUBLAS_WORKSPACE_CONFIG=:4096:8
COPY requirements.lock /tmp/requirements.lock
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels --require-hashes -r /tmp/requirements.lock
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
