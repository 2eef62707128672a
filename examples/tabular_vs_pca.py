"""A table of measurements, compressed by an autoencoder and by PCA at the same code size.

Breast cancer (569 tumours x 30 measurements, bundled with scikit-learn): ``hourglass.compare``
fits PCA and an autoencoder at each code size on one train / held-out split and scores both on
the held-out rows in the same units. The columns range from 0.001 to 4000, so both are scored
in standardized units (per-feature z-scores from the training rows); the raw-unit errors, which
the largest columns decide alone, are printed beside them.

Run: ``python examples/tabular_vs_pca.py`` (about 30 s on one core).
"""

from sklearn.datasets import load_breast_cancer

import hourglass

data = load_breast_cancer(as_frame=True)
X, y = data.data, data.target  # a DataFrame; y only colours the code maps of a report

# The default AutoEncoder (two hidden layers of 256 and 128 GELU units, AdamW, early stopping),
# refitted at each code size; random_state fixes the split and the weights.
result = hourglass.compare(X, code_sizes=[2, 5], random_state=0, y=y)

print(f"held-out MSE in {result.units} units (ratio below 1: the autoencoder wins)")
columns = ["code_size", "ae_mse", "pca_mse", "ratio", "ae_mse_raw", "pca_mse_raw"]
print(result.table[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
if result.note:
    print(result.note)  # which columns dominate the raw-unit error
