"""``repro base``: make the Debian-based Python base image, print its digest."""
from typing import Optional

import typer


def base(tag: str = typer.Option('repro-base:bookworm', help='tag for the image'),
         mirror: Optional[str] = typer.Option(
             None, help='Debian mirror URL (default: from the host apt sources)')):
    """Build the base image with debootstrap (no registry needed)."""
    from repro.images.base import build_base
    from repro.engines.interface import connect_engine
    image_id = build_base(connect_engine(), tag=tag, mirror=mirror,
                          progress=lambda msg: typer.echo(msg, err=True))
    typer.echo(f'{tag} {image_id}')
