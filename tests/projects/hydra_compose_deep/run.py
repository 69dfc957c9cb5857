"""Hydra's compose API, as a notebook or a test uses it: initialize, then compose with an
override that picks the model group's option."""

from hydra import compose, initialize
from nets import SigmoidMLP

initialize(version_base=None, config_path="conf")
cfg = compose(config_name="config", overrides=["model=deep", "train.lr=0.01"])

model = SigmoidMLP(cfg.model.width, cfg.model.n_layers)
