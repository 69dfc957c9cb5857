from pkg.model import WIDTH

LAYER_COUNT = 3
HIDDEN = WIDTH * 2
