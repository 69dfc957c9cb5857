from lab.config import NetConfig
from lab.model import SigmoidNet

cfg = NetConfig(n_layers=8)
net = SigmoidNet(cfg)
