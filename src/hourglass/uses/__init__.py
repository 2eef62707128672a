"""What a fitted autoencoder is used for: PCA comparison, clustering, restoration and tiling."""
