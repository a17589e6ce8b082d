"""ServerApp: FedAvg weighted by examples over all providers, the same seeded initial model for
all, test accuracy of the global model after each round, the result written as JSON.

Both variants run Flower's legacy `DefaultWorkflow` (SecAgg+ exists only there in 1.42); the
secure one swaps its fit step for `SecAggPlusWorkflow`, so that is the only difference.
"""

import json
import os
from logging import INFO

import torch
from flwr.app import Context
from flwr.common import log, ndarrays_to_parameters
from flwr.server import Grid, LegacyContext, ServerApp, ServerConfig
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

from flower_job.task import evaluate, get_weights, load_test, mlp, set_weights

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    rc = context.run_config
    providers, rounds = int(rc["num-providers"]), int(rc["num-server-rounds"])
    x_test, y_test = load_test(str(rc["adult-dir"]))
    torch.manual_seed(int(rc["seed"]))
    model = mlp()
    initial = ndarrays_to_parameters(get_weights(model))

    accuracy: dict[int, float] = {}  # round -> test accuracy (0: the initial model)
    clients: dict[int, int] = {}  # round -> providers whose update was aggregated
    current = {"round": 0}

    def evaluate_global(server_round, weights, _config):
        set_weights(model, weights)
        loss, accuracy[server_round] = evaluate(model, x_test, y_test)
        return loss, {"accuracy": accuracy[server_round]}

    def fit_config(server_round):
        current["round"] = server_round
        return {"server-round": server_round}

    def count_fit(metrics):
        clients[current["round"]] = len(metrics)
        return {"clients": len(metrics)}

    strategy = FedAvg(
        fraction_fit=1.0,
        fraction_evaluate=0.0,  # the test set lives on the server only
        min_fit_clients=providers,
        min_evaluate_clients=0,
        min_available_clients=providers,
        initial_parameters=initial,
        evaluate_fn=evaluate_global,
        on_fit_config_fn=fit_config,
        fit_metrics_aggregation_fn=count_fit,
    )
    fit_workflow = None
    if rc["secure"]:
        fit_workflow = SecAggPlusWorkflow(
            num_shares=int(rc["secagg-num-shares"]),
            reconstruction_threshold=int(rc["secagg-reconstruction-threshold"]),
            max_weight=float(rc["secagg-max-weight"]),
            clipping_range=float(rc["secagg-clipping-range"]),
            quantization_range=int(rc["secagg-quantization-range"]),
        )
    legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=rounds), strategy=strategy)
    DefaultWorkflow(fit_workflow=fit_workflow)(grid, legacy)

    result = {
        "secure": bool(rc["secure"]),
        "accuracy": accuracy.get(rounds),
        "initial_accuracy": accuracy.get(0),
        "round_accuracy": [accuracy.get(r) for r in range(1, rounds + 1)],
        "round_clients": [clients.get(r, 0) for r in range(1, rounds + 1)],
        # SecAgg+ clips each parameter times num_examples / max-weight to the clipping range.
        "max_abs_weight": max(float(w.abs().max()) for w in model.state_dict().values()),
    }
    log(INFO, "flower_job result: %s", json.dumps(result))
    path = str(rc["result-file"]) or os.environ.get("FLOWER_JOB_RESULT", "")
    if path:
        with open(path + ".tmp", "w") as f:
            json.dump(result, f)
        os.replace(path + ".tmp", path)  # the driver never reads a half-written file
