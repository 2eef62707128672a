"""Data: reading files and built-in sets, training sources, scaling, images, safe file writes."""
