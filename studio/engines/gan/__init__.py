"""DCGAN / Wasserstein GAN: models, checkpoints, training, latent exploration and projection."""
