"""Measure a built module and compare it with the analysis (imports torch)."""
