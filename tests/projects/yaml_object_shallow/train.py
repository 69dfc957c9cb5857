import yaml
from net import Net

with open("config.yaml") as handle:
    cfg = yaml.safe_load(handle)
model = Net(cfg)
