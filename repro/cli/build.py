"""``repro build``: build or reuse the run image; ``--dry-run`` renders only."""
import typer


def build(project: str = typer.Option('.', help='project directory'),
          dry_run: bool = typer.Option(False, '--dry-run',
                                       help='print the rendered Dockerfile, build nothing')):
    """Build (or reuse) the content-keyed run image for the project's lock."""
    from repro.record.project import find_project_root
    root = find_project_root(project)
    if dry_run:
        from repro.record.config import load_config
        from repro.images.dockerfile import read_template, render_dockerfile
        from repro.record.locking import LOCK_NAME
        config = load_config(root)
        typer.echo(render_dockerfile(read_template(config.template), config.base,
                                     config.python, LOCK_NAME, config.env), nl=False)
        return
    from repro.engines.interface import connect_engine
    from repro.execute.prepare import build as build_image, read_inputs
    inputs = read_inputs(root)  # a stale lock is reported before the engine is asked
    plan, image_id, built = build_image(connect_engine(), inputs,
                                        progress=lambda m: typer.echo(m, err=True))
    typer.echo(f'{"built" if built else "reused"} {image_id} key={plan.key}')
