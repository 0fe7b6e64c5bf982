"""``repro build``: build or reuse the run image; ``--dry-run`` renders only."""
import typer


def build(project: str = typer.Option('.', help='project directory'),
          dry_run: bool = typer.Option(False, '--dry-run',
                                       help='print the rendered Dockerfile, build nothing')):
    """Build (or reuse) the content-keyed run image for the project's lock."""
    from repro.config import load_config
    from repro.dockerfile import read_template, render_dockerfile
    from repro.locking import LOCK_NAME
    from repro.project import find_project_root
    root = find_project_root(project)
    config = load_config(root)
    if dry_run:
        typer.echo(render_dockerfile(read_template(config.template), config.base,
                                     config.python, LOCK_NAME, config.env), nl=False)
        return
    from repro.engine import DockerEngine
    from repro.image import ensure_image, plan_image
    from repro.locking import check_lock
    _path, lock_bytes = check_lock(root)
    engine = DockerEngine.connect()
    plan = plan_image(engine, config, LOCK_NAME, lock_bytes)
    image_id, built = ensure_image(engine, plan, progress=lambda m: typer.echo(m, err=True))
    typer.echo(f'{"built" if built else "reused"} {image_id} key={plan.key}')
