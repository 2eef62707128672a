"""Contractive penalty: the encoder's Jacobian norm falls as the weight rises; error stays close.

Protocol (issue 4): digits in [0, 1], 20 % held out; ``AutoEncoder(code_size=16,
hidden_layers=(128,), contractive_penalty=w)`` for w in {0, 1e-5, 1e-4, 1e-3, 1e-2}, same seed and
epochs. On the held-out images: the mean squared Frobenius norm of d code / d x (exact, one
backward pass per code unit), that norm over the code's total variance (a linear code could
shrink its scale and let the decoder grow to fake contraction; this ratio can't be faked that
way), the mean squared norm of d x_hat / d x (the whole autoencoder's sensitivity), and the
reconstruction MSE relative to w = 0. Stated factor: the MSE stays within 1.5x of the
unpenalized model's for every weight up to 1e-3 (the penalty sums 64 x 16 Jacobian entries
while the BCE loss is a per-pixel mean, so useful weights are small).

    python -m benchmarks contractive [--epochs 60]
"""

from __future__ import annotations

import argparse

import torch
from sklearn.model_selection import train_test_split

from benchmarks.common import emit, output_path, parse
from hourglass import AutoEncoder
from hourglass.data.loading import load_data
from hourglass.train.regularizers import jacobian_sq_norm

WEIGHTS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
FACTOR, UP_TO = 1.5, 1e-3


def _reconstruction_jacobian(ae, x: torch.Tensor) -> float:
    """Mean ||d x_hat / d x||_F^2 (exact, one backward pass per output feature): unlike the
    code's Jacobian, a code that merely shrinks while the decoder grows cannot lower it."""
    x = x.clone().requires_grad_(True)
    out = ae.module_(x)["reconstruction"]
    total = torch.zeros(len(x))
    for j in range(out.shape[1]):
        (row,) = torch.autograd.grad(out[:, j].sum(), x, retain_graph=True)
        total += row.pow(2).sum(dim=1)
    return float(total.mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    args = parse(parser, argv, "contractive")
    X = load_data("digits").X
    X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)
    rows = []
    for w in WEIGHTS:
        ae = AutoEncoder(
            code_size=16,
            hidden_layers=(128,),
            contractive_penalty=w,
            epochs=args.epochs,
            random_state=0,
            verbose=0,
        ).fit(X_train)
        x = torch.from_numpy(ae.scaler_.transform(X_test))
        jac = float(jacobian_sq_norm(ae.module_.eval(), x, "exact", create_graph=False).mean())
        code_var = float(ae.transform(X_test).var(axis=0).sum())
        recon_jac = _reconstruction_jacobian(ae, x)
        rows.append(
            {
                "contractive_penalty": w,
                "jacobian_sq_norm": round(jac, 5),
                "jacobian_over_code_variance": round(jac / code_var, 5),
                "reconstruction_jacobian_sq_norm": round(recon_jac, 4),
                "held_out_mse": round(float(ae.reconstruction_error(X_test).mean()), 6),
                "epochs": ae.n_epochs_,
                "fit_seconds": round(ae.fit_seconds_, 1),
            }
        )
    base = rows[0]["held_out_mse"]
    for r in rows:
        r["mse_over_unpenalized"] = round(r["held_out_mse"] / base, 3)
    jac = [r["jacobian_sq_norm"] for r in rows]
    within = all(r["mse_over_unpenalized"] <= FACTOR for r in rows if r["contractive_penalty"] <= UP_TO)
    results = {
        "benchmark": "contractive",
        "results": rows,
        "jacobian_falls_monotonically": all(a > b for a, b in zip(jac, jac[1:], strict=False)),
        "stated_factor": f"MSE <= {FACTOR}x the unpenalized model's for weights <= {UP_TO}",
        "mse_within_factor": within,
        "torch_threads": torch.get_num_threads(),
    }
    emit(results, output_path(args, "contractive"))


if __name__ == "__main__":
    main()
