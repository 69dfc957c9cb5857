import tomllib
from lab.model import Encoder

cfg = tomllib.load(open("settings/config.toml", "rb"))  # noqa: SIM115 (as scripts write it)

if __name__ == "__main__":
    model = Encoder(cfg["model"]["sizes"])
