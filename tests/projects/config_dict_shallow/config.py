DEFAULT_CONFIG = {"n_neurons": 20, "n_layers": 3, "lr": 1e-3}
