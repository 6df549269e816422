"""nbval (``pytest --nbval-lax notebooks``): the analysts' working copies written by
``plancadre-eval lab`` into ``notebooks/exploration/`` are not the project's notebooks."""

collect_ignore_glob = ["exploration/*"]
