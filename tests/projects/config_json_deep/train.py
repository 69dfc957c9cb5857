import json

from model import GateNet

with open("configs/model.json") as f:
    cfg = json.load(f)


def main():
    model_cfg = cfg["model"]
    return GateNet(model_cfg["width"], n_layers=model_cfg.get("n_layers", 4))


if __name__ == "__main__":
    main()
