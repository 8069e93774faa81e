"""Experiment: config, plan (grid → trials), runner, store."""
