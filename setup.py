"""Only what pyproject.toml cannot say: the zoo in the top-level specs/ folder (the models
and their template libraries, specs/library/) is installed as the package data folder
archcalc/zoo, named apart from the code package archcalc/spec that reads it
(archcalc/spec/catalog.py looks in both places). Likewise the published JSON Schema in
schema/ is installed as archcalc/schema (render/export.py's schema_path looks in both),
and py.typed marks the package as typed (PEP 561)."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["archcalc", "archcalc.*"]) + ["archcalc.zoo",
                                                                   "archcalc.schema"],
    package_dir={"archcalc.zoo": "specs", "archcalc.schema": "schema"},
    package_data={"archcalc.zoo": ["*.yaml", "library/*.yaml"], "archcalc": ["py.typed"],
                  "archcalc.schema": ["*.json"]},
)
