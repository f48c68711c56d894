"""Gatys style transfer: the coarse-to-fine L-BFGS run, its parameters, metrics and preconditioner."""
