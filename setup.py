"""Only what pyproject.toml cannot say: the zoo in the top-level specs/ folder (the models
and their template libraries, specs/library/) is installed as the package data folder
archcalc/zoo, named apart from the code package archcalc/spec that reads it
(archcalc/spec/catalog.py looks in both places)."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["archcalc", "archcalc.*"]) + ["archcalc.zoo"],
    package_dir={"archcalc.zoo": "specs"},
    package_data={"archcalc.zoo": ["*.yaml", "library/*.yaml"]},
)
