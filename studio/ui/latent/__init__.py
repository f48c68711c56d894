"""The Latent tab: its workspace and panel."""
