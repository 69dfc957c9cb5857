from lab.config import TrainConfig
from lab.model import Encoder


def build(cfg: TrainConfig):
    return Encoder(cfg.sizes)


if __name__ == "__main__":
    cfg = TrainConfig()
    model = build(cfg)
    probe = Encoder(TrainConfig.probe_sizes)
