"""Benchmarks, run on demand (`make bench`); results go to bench/results/ and the README."""
