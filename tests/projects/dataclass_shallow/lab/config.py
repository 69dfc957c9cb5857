from dataclasses import dataclass, field


@dataclass
class TrainConfig:
    lr: float = 1e-3
    sizes: list = field(default_factory=lambda: [16, 16, 16, 16])
    probe_sizes = (16, 16)
