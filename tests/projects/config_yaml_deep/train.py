import hydra
from nets.mlp import SigmoidMLP
from omegaconf import DictConfig


def build(model_cfg):
    return SigmoidMLP(model_cfg.width, model_cfg.n_layers)


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    build(cfg.model)


if __name__ == "__main__":
    main()
