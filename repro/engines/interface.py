"""What repro asks of a container engine, and the one place that picks one.

Core code (run, replay, image building, content checks, the reaper) gets a
:class:`ContainerEngine` as an argument and never connects by itself: the
command line calls :func:`connect_engine`, and unit tests pass a fake with
the same methods. So the core can be tested without a daemon, and another
engine (or a remote one, for sweeps) is one new implementation, not an edit
of every caller. The Docker implementation is :mod:`repro.engines.dockerengine`.
"""
from typing import IO, Callable, Iterable, Mapping, Optional, Protocol, Sequence, Tuple

Mount = Tuple[str, str, str]  # (host path, container path, 'ro' | 'rw')


class ContainerEngine(Protocol):
    """The operations repro needs; engine-specific words stay in the implementation."""

    def version(self) -> Optional[str]:
        """The engine's version, recorded in the manifest's ``host``."""

    def image_id(self, ref: str) -> Optional[str]:
        """The image ID of ``ref`` (name, tag or ID), or None if absent."""

    def repo_digests(self, ref: str) -> Sequence[str]:
        """``name@sha256:…`` digests that pin a registry image."""

    def image_layers(self, ref: str) -> Sequence[str]:
        """The image's layer diff ids, base first."""

    def load(self, archive_path: str) -> Sequence[str]:
        """Load an image archive (as ``save_image`` writes); the loaded image IDs."""

    def save_image(self, ref: str, out: IO[bytes]) -> None:
        """Write an archive of the image to the open binary file ``out``."""

    def load_image(self, write_archive: Callable[[IO[bytes]], bytes]) -> str:
        """Load the image archive ``write_archive(out)`` writes as it is
        written (it returns the image's config; the archive lists layers
        the engine holds without their tars); returns the image ID, which
        must be the config's digest."""

    def image_history(self, ref: str) -> Sequence[Mapping]:
        """The image's history, newest first: a ``CreatedBy`` for each step."""

    def images(self, label: str) -> Sequence[Mapping]:
        """Images that carry ``label`` (``key`` or ``key=value``): ``Id``,
        ``RepoTags``, ``Labels`` and ``Size`` of each."""

    def layer_chains(self, label: str) -> set:
        """Diff-id prefixes of every image labelled ``label``."""

    def run(self, image: str, command: Sequence[str], *, env: Optional[Mapping] = None,
            mounts: Iterable[Mount] = (), user: Optional[str] = None, network: bool = False,
            workdir: Optional[str] = None, gpus: Optional[str] = None,
            on_output: Optional[Callable[[bytes], None]] = None,
            read_only_root: bool = False, labels: Optional[Mapping] = None,
            on_start: Optional[Callable[[str], None]] = None,
            hostname: Optional[str] = None, cpuset: Optional[str] = None) -> Tuple[int, str]:
        """Run a container to completion; (exit code, container id).

        Capabilities dropped, no new privileges, networking off unless
        ``network``. ``cpuset`` (``'0-1'``) pins it to those CPUs.
        ``on_start(container_id)`` is called before it starts;
        Ctrl-C stops it and re-raises KeyboardInterrupt; the container is
        removed in every case. EngineError if the engine refuses it,
        EngineLostError if the engine goes away while it runs.
        """

    def containers(self, labels: Mapping) -> Sequence[str]:
        """Ids of the containers (running or not) that carry all ``labels``."""

    def stop_container(self, container_id: str) -> bool:
        """Stop and remove a container if it still exists; True if it did."""

    def remove_image(self, ref: str) -> None:
        """Remove an image; nothing if it is absent."""


def connect_engine() -> ContainerEngine:
    """The engine repro uses, connected; EngineError if it is unreachable.

    The only place an engine is constructed (a test checks this), so the
    choice of engine is made once, here.
    """
    from repro.engines.dockerengine import DockerEngine
    return DockerEngine.connect()
