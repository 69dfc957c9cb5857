import numpy as np
from net import FNN

data = np.load("data.npy")
model = FNN([data.shape[1]] + [50] * 2 + [1])
