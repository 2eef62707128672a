"""The scikit-learn estimators and their persistence (JSON + safetensors)."""
