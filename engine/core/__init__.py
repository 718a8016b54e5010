"""Core: what every layer may use. Plan inputs as arrays (:mod:`engine.core.inputs`) and
fiscal periods (:mod:`engine.core.periods`); errors, atomic writes and text helpers live at
the package top level (:mod:`engine.errors`, :mod:`engine.atomic`, :mod:`engine.text`).

Layers only look down: core < plan < data < sim < jobs < report < app
(``tests/test_layers.py`` enforces it).
"""
