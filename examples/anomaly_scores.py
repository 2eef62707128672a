"""Anomaly scores: an autoencoder trained on handwritten digits flags what is not a digit.

An autoencoder reconstructs well what it was trained on and badly anything else, so its
reconstruction error is an anomaly score. ``AnomalyDetector`` trains one on normal data (8 x 8
digits), sets the threshold on digits held out from training, and is then shown new digits and
8 x 8 patches of scikit-image's photos, which it never saw.

Both conventions are there: scikit-learn's (``predict`` gives +1 normal / -1 anomaly,
``decision_function`` is negative for anomalies) and PyOD's (``labels_`` 0 / 1,
``decision_scores_`` higher for more abnormal, ``threshold_`` on that scale, ``predict_proba``).

Run: ``python examples/anomaly_scores.py`` (about 20 s on one core).
"""

import numpy as np
from skimage import data
from skimage.transform import rescale
from skimage.util import img_as_float
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import hourglass

digits = load_digits().data / 16  # (1797, 64), pixels in [0, 1]
normal, new_digits = train_test_split(digits, test_size=300, random_state=0)

# 300 patches of photos, shrunk 4x first so a patch holds edges and texture at a digit's scale.
rng = np.random.default_rng(0)
photos = [
    rescale(img_as_float(p), 0.25, anti_aliasing=True) for p in (data.camera(), data.coins(), data.moon())
]
patches = []
for _ in range(300):
    photo = photos[rng.integers(len(photos))]
    top, left = rng.integers(photo.shape[0] - 8), rng.integers(photo.shape[1] - 8)
    patches.append(photo[top : top + 8, left : left + 8].ravel())
patches = np.clip(np.array(patches), 0, 1)  # (300, 64), like the digits

# The AutoEncoder's settings go straight to the detector; 20% of the normal data is held out to
# calibrate the threshold: the 99th percentile of their anomaly scores (the default score: the
# reconstruction error plus half the code's distance from the normal codes, each in medians of
# the held-out normal rows, so a typical normal digit scores about 1.5).
detector = hourglass.AnomalyDetector(code_size=8, epochs=40, quantile=0.99, random_state=0)
detector.fit(normal)
print(f"threshold_ (anomaly score, in medians of normal rows): {detector.threshold_:.4f}")
print(f"data given to fit flagged (labels_ == 1): {detector.labels_.mean():.1%} of {len(detector.labels_)}")
print(f"decision_scores_ (their anomaly scores): median {np.median(detector.decision_scores_):.4f}")

# New data: unseen digits and photo patches.
X = np.vstack([new_digits, patches])
is_anomaly = np.r_[np.zeros(len(new_digits)), np.ones(len(patches))]
flagged = detector.predict(X) == -1  # scikit-learn's sign: -1 is an outlier
digits_flagged, patches_flagged = flagged[is_anomaly == 0].mean(), flagged[is_anomaly == 1].mean()
print(f"flagged: {digits_flagged:.1%} of new digits, {patches_flagged:.1%} of photo patches")

scores = detector.anomaly_score(X)  # PyOD's decision_function: higher is more abnormal
print(f"AUROC digits vs photo patches: {roc_auc_score(is_anomaly, scores):.3f}")

abnormal = detector.predict_proba(X)[:, 1]  # columns P(normal), P(abnormal): PyOD's 'linear' method
print(f"mean P(abnormal): digits {abnormal[:300].mean():.2f}, photo patches {abnormal[300:].mean():.2f}")
