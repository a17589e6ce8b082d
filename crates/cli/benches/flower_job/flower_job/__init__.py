"""The Adult MLP federated job as a Flower app (the Flower peer of our benchmark)."""
