"""Records epsilon from Google's dp-accounting RdpAccountant as test vectors.

Run (not in CI; the test only reads the committed JSON):
    python3 -m venv /tmp/dpvenv && /tmp/dpvenv/bin/pip install dp-accounting==0.4.4
    /tmp/dpvenv/bin/python crates/learn/tests/vectors/rdp_vectors.py > crates/learn/tests/vectors/rdp_vectors.json
"""
import itertools
import json

import dp_accounting
from dp_accounting.rdp import rdp_privacy_accountant


def epsilon(q, sigma, steps, delta):
    acc = rdp_privacy_accountant.RdpAccountant()
    event = dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma))
    acc.compose(event, steps)
    return acc.get_epsilon(delta)


def main():
    rates = [0.001, 0.004, 0.01, 0.05, 0.2, 1.0]
    sigmas = [0.6, 0.8, 1.0, 1.3, 2.0, 5.0]
    steps = [1, 10, 100, 1000, 10000]
    deltas = [1e-3, 1e-5, 1e-7]
    vectors = []
    for i, (q, s, t, d) in enumerate(itertools.product(rates, sigmas, steps, deltas)):
        if i % 3 != 0:  # a spread, not the full product, keeps the file small
            continue
        e = epsilon(q, s, t, d)
        if e == float("inf") or e > 1e4:
            continue
        vectors.append({"sample_rate": q, "noise_multiplier": s, "steps": t, "delta": d, "epsilon": e})
    print(json.dumps({"source": "dp-accounting " + dp_accounting.__version__ if hasattr(dp_accounting, "__version__") else "dp-accounting 0.4.4",
                      "accountant": "RdpAccountant, PoissonSampledDpEvent(GaussianDpEvent)",
                      "vectors": vectors}, indent=1))


if __name__ == "__main__":
    main()
