DEFAULT_CONFIG = {"n_neurons": 20, "n_layers": 8, "lr": 1e-3}
