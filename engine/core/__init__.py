"""Core: what every layer may use. Plan inputs as arrays (:mod:`engine.core.inputs`), fiscal
periods (:mod:`engine.core.periods`), the error types (:mod:`engine.core.errors`), atomic file
writes (:mod:`engine.core.atomic`), the one YAML text editor that changes a few values of a
hand-written file and keeps every other character (:mod:`engine.core.yamledit`) and the text
helpers: did-you-mean and the one way money, shares and a missing value are shown
(:mod:`engine.core.text`).

Layers only look down: core < plan < data < sim < jobs < report < app
(``tests/test_layers.py`` enforces it).
"""
