"""Deep Painterly Harmonization and the quick modes (colour transfer, masked Gatys, Poisson)."""
