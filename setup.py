"""The one native part of Tessera: the lean cell verifier's scalar field arithmetic
(`da/_scalar_field.c`). Everything else about the package is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "da._scalar_field",
            ["da/_scalar_field.c"],
            extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wextra"],
        )
    ]
)
