from dataclasses import dataclass


@dataclass
class NetConfig:
    hidden: int = 16
    n_layers: int = 2
