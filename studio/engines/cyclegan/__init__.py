"""CycleGAN translation: the official models, their checkpoint files, inference and training."""
