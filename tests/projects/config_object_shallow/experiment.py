from lab.config import NetConfig
from lab.model import SigmoidNet

cfg = NetConfig(n_layers=3)
net = SigmoidNet(cfg)
