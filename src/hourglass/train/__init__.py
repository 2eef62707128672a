"""Training: the Trainer, losses, regularizers, corruptions and tasks, checkpoints, DDP."""
