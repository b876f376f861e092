"""The gallery's templates and static files, installed as the package `pipeline.site_files`
(pyproject.toml maps it here) and read through importlib.resources."""
