"""Applications: the command line (:mod:`engine.app.cli`, ``incentive``) and the what-if
studio (:mod:`engine.app.studio`). The top layer: it may use every other one, none uses it.
"""
