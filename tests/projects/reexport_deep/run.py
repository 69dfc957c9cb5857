from mlpkg import DeepMLP

model = DeepMLP()
