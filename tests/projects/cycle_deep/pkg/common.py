from pkg.model import WIDTH

LAYER_COUNT = 8
HIDDEN = WIDTH * 2
