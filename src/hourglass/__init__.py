"""hourglass: autoencoders for practitioners."""
