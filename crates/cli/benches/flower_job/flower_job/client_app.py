"""ClientApp: one provider trains the global model on its partition for the local epochs.

With `secure = true` in the run config, Flower's `secaggplus_mod` wraps training so only
masked, quantised parameters leave the node; otherwise the mod is a pass-through.
"""

from flwr.app import Context, Message
from flwr.client import ClientApp, NumPyClient
from flwr.client.mod import secaggplus_mod

from flower_job.task import get_weights, load_partition, mlp, set_weights, train


class Provider(NumPyClient):
    def __init__(self, context: Context):
        self.run_config = context.run_config
        self.partition = int(context.node_config["partition-id"])
        self.x, self.y = load_partition(
            str(self.run_config["adult-dir"]),
            self.partition,
            int(context.node_config["num-partitions"]),
        )
        self.model = mlp()

    def fit(self, parameters, config):
        set_weights(self.model, parameters)
        rc = self.run_config
        # Shuffling is reproducible: seeded by (seed, round, provider).
        seed = int(rc["seed"]) * 1_000_000 + int(config["server-round"]) * 1_000 + self.partition
        loss = train(
            self.model, self.x, self.y,
            int(rc["local-epochs"]), int(rc["batch-size"]), float(rc["lr"]), seed,
        )
        return get_weights(self.model), len(self.x), {"train-loss": loss}


def secure_only(msg: Message, context: Context, call_next):
    """SecAgg+ on the secure run, nothing on the plain one (mods are fixed at import time)."""
    if context.run_config["secure"]:
        return secaggplus_mod(msg, context, call_next)
    return call_next(msg, context)


app = ClientApp(client_fn=lambda context: Provider(context).to_client(), mods=[secure_only])
