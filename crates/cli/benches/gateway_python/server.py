"""The Python peer of `scripts/bench-gateway`: onnxruntime behind FastAPI, served by uvicorn.

`POST /v1/predict/{model}` takes the gateway's request body (`{"voucher": ..., "input": CSV}`),
ignores the voucher (no payment, no receipt: the fairest reading of a plain model server),
runs the ONNX file `$BENCH_ONNX` on the CSV's rows and answers each row's class and
probabilities (sigmoid of the one logit), as the gateway does.
"""
import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from pydantic import BaseModel

options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(os.environ["BENCH_ONNX"], options, providers=["CPUExecutionProvider"])
app = FastAPI()


class Request(BaseModel):
    voucher: dict
    input: str


@app.get("/health")
def health():
    return {"ok": True}


@app.post("/v1/predict/{model}")
def predict(model: int, request: Request):
    lines = [line for line in request.input.splitlines()[1:] if line.strip()]
    x = np.array([[float(v) for v in line.split(",")] for line in lines], dtype=np.float32)
    logits = session.run(None, {"x": x})[0][:, 0]
    p = 1.0 / (1.0 + np.exp(-logits))
    return {"rows": [{"class": int(q > 0.5), "probabilities": [float(1 - q), float(q)]} for q in p]}
