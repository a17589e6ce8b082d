"""Flower's SecAgg+ on the same sizes as our benchmark, driven in one process.

Flower's own server workflow (`SecAggPlusWorkflow`) and client mod (`secaggplus_mod`) run
unmodified; only the transport is replaced by `LocalGrid`, which hands each message to the
addressed client's mod after a protobuf round trip (so serialisation is paid and bytes are
counted as on a real link). Client time is the time inside the client mods (deserialising
what it received and serialising its reply included), averaged over clients that finished
every stage; trainer time is the workflow's wall time minus all client time. The clients in
`--drop` fraction stop answering at the masked-vector stage, as in our benchmark.

Usage: flower_secaggplus.py CLIENTS PARAMS DROPOUT NUM_SHARES  -> prints one JSON line.
"""

import json
import logging
import random
import sys
import time
from uuid import uuid4

import numpy as np

from flwr.app import Context, Message, RecordDict, ConfigRecord
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters
from flwr.common.serde import message_from_proto, message_to_proto
from flwr.compat.common import recorddict_compat as compat
from flwr.client.mod.secure_aggregation.secaggplus_mod import secaggplus_mod
from flwr.server import ServerConfig
from flwr.server.client_manager import SimpleClientManager
from flwr.server.compat.grid_client_proxy import GridClientProxy
from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.strategy import FedAvg
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD, Key
from flwr.server.workflow.secure_aggregation.secaggplus_workflow import SecAggPlusWorkflow
from flwr.serverapp.grid.grid import Grid
from flwr.supercore.task_identity import TaskIdentity

MASKED_STAGE = "collect_masked_vectors"


class LocalGrid(Grid):
    """In-process transport: every message is serialised, delivered and timed."""

    def __init__(self, clients, params, dropout, seed=0):
        rng = np.random.default_rng(seed)
        self.node_ids = list(range(1, clients + 1))
        self.contexts = {
            nid: Context(run_id=1, node_id=nid, node_config={}, state=RecordDict(), run_config={})
            for nid in self.node_ids
        }
        self.updates = {nid: rng.uniform(-1.2, 1.2, params).astype(np.float32) for nid in self.node_ids}
        self.samples = {nid: int(rng.integers(1, 1001)) for nid in self.node_ids}
        self.dropped = set(random.Random(seed).sample(self.node_ids, round(dropout * clients)))
        self.client_time = {nid: 0.0 for nid in self.node_ids}
        self.client_sent = {nid: 0 for nid in self.node_ids}
        self.completed = set()

    def set_run(self, run):
        self._run = run

    @property
    def run(self):
        return self._run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self):
        return list(self.node_ids)

    def push_messages(self, messages):
        raise NotImplementedError("LocalGrid delivers in send_and_receive")

    def pull_messages(self, message_ids):
        raise NotImplementedError("LocalGrid delivers in send_and_receive")

    def _fit(self, nid):
        def call_next(msg, ctxt):
            params = ndarrays_to_parameters([self.updates[nid]])
            fitres = FitRes(Status(Code.OK, ""), params, self.samples[nid], {})
            return Message(compat.fitres_to_recorddict(fitres, keep_input=True), reply_to=msg)

        return call_next

    def send_and_receive(self, messages, *, timeout=None):
        replies = []
        for msg in messages:
            nid = msg.metadata.dst_node_id
            msg.metadata.__dict__["_message_id"] = str(uuid4())
            msg.metadata.__dict__["_src_node_id"] = 0
            wire = message_to_proto(msg).SerializeToString()
            stage = msg.content.config_records["secaggplus_configs"]["stage"]
            if nid in self.dropped and stage == MASKED_STAGE:
                continue
            if nid in self.dropped and stage == "unmask":
                continue
            start = time.perf_counter()
            proto = type(message_to_proto(msg))()
            proto.ParseFromString(wire)
            received = message_from_proto(proto)
            reply = secaggplus_mod(received, self.contexts[nid], self._fit(nid))
            reply_wire = message_to_proto(reply).SerializeToString()
            self.client_time[nid] += time.perf_counter() - start
            self.client_sent[nid] += len(reply_wire)
            if stage == "unmask":
                self.completed.add(nid)
            back = type(message_to_proto(reply))()
            back.ParseFromString(reply_wire)
            replies.append(message_from_proto(back))
        return replies


def main():
    clients, params, dropout, num_shares = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    num_shares = float(num_shares) if "." in num_shares else int(num_shares)
    logging.disable(logging.WARNING)
    # What a SuperLink would set for the ServerApp's process.
    TaskIdentity.run_id = 1
    TaskIdentity.node_id = 0
    TaskIdentity.task_id = 1
    grid = LocalGrid(clients, params, dropout)
    manager = SimpleClientManager()
    for nid in grid.node_ids:
        manager.register(GridClientProxy(nid, grid, 1))
    strategy = FedAvg(fraction_fit=1.0, min_fit_clients=clients, min_available_clients=clients, fraction_evaluate=0.0)
    context = LegacyContext(
        context=Context(run_id=1, node_id=0, node_config={}, state=RecordDict(), run_config={}),
        config=ServerConfig(num_rounds=1),
        strategy=strategy,
        client_manager=manager,
    )
    context.state.config_records[MAIN_CONFIGS_RECORD] = ConfigRecord({Key.CURRENT_ROUND: 1})
    initial = ndarrays_to_parameters([np.zeros(params, dtype=np.float32)])
    context.state.array_records[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(initial, keep_input=True)
    # Threshold: a strict majority of each client's shares, as in our SecAgg+.
    workflow = SecAggPlusWorkflow(num_shares=num_shares, reconstruction_threshold=0.5, clipping_range=1.0)
    start = time.perf_counter()
    workflow(grid, context)
    wall = time.perf_counter() - start
    done = sorted(grid.completed)
    if not done:
        raise SystemExit("Flower's SecAgg+ round did not complete")
    total_client = sum(grid.client_time.values())
    print(json.dumps({
        "case": "flower-secagg+",
        "clients": clients,
        "params": params,
        "num_shares": num_shares,
        "completed": len(done),
        "client_ms": 1e3 * sum(grid.client_time[n] for n in done) / len(done),
        "trainer_ms": 1e3 * (wall - total_client),
        "client_bytes_sent": sum(grid.client_sent[n] for n in done) // len(done),
        "max_error": max_error(grid, context, params),
    }))


def max_error(grid, context, params):
    """Largest gap between Flower's aggregate and the exact weighted mean of the survivors'
    updates (Flower scales each update by samples / max_weight, then clips to the range):
    a check that the round really aggregated."""
    record = context.state.array_records[MAIN_PARAMS_RECORD]
    got = compat.arrayrecord_to_parameters(record, keep_input=True)
    from flwr.common import parameters_to_ndarrays
    got = parameters_to_ndarrays(got)[0]
    survivors = [n for n in grid.node_ids if n not in grid.dropped]
    ratios = np.array([grid.samples[n] / 1000.0 for n in survivors], dtype=np.float64)
    stacked = np.stack([grid.updates[n] for n in survivors]).astype(np.float64)
    expected = np.clip(ratios[:, None] * stacked, -1.0, 1.0).sum(axis=0) / ratios.sum()
    return float(np.abs(got - expected).max())


if __name__ == "__main__":
    main()
