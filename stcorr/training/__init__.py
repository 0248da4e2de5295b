"""Training: pair clips, the loop (single process or torchrun), checkpoints."""
