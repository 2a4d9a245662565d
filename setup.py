"""Only what pyproject.toml cannot say: the zoo in the top-level specs/ folder is
installed as the package data folder archcalc/specs, next to the code that reads it
(archcalc/spec/catalog.py looks in both places)."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["archcalc", "archcalc.*"]) + ["archcalc.specs"],
    package_dir={"archcalc.specs": "specs"},
    package_data={"archcalc.specs": ["*.yaml"]},
)
