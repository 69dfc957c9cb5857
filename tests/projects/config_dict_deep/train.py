from config import DEFAULT_CONFIG
from network import Solver

n_neurons, n_layers = DEFAULT_CONFIG["n_neurons"], DEFAULT_CONFIG["n_layers"]
solver = Solver(n_neurons=n_neurons, n_layers=n_layers)
